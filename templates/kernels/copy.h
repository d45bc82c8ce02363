/*
 * copy: a byte copy between two tensors of the same size, any dtype. RESHAPE and SQUEEZE use it
 * when the memory plan cannot alias their output to the input (e.g. a constant input in flash).
 * The two buffers must not overlap. No scratch.
 */
#ifndef TINYRT_COPY_H
#define TINYRT_COPY_H

#include <stdint.h>
#include <string.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void copy_bytes(const void *input, void *output, int bytes)
{
    memcpy(output, input, (size_t)bytes);
}

#endif /* TINYRT_COPY_H */
