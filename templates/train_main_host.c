/*
 * Host runner of a generated training library (tinyrt/train/host.py drives it).
 *
 * Reads commands from stdin, answers on stdout, little-endian, until stdin ends:
 *   'I'                                  tinyrt_train_init()                  -> nothing
 *   'B' float momentum, int32 batch      tinyrt_train_begin()                 -> nothing
 *   'S' input[TINYRT_INPUT0_BYTES] int32 label  tinyrt_train_sample()         -> float loss, int32 predicted
 *   'U' float lr, float momentum, int32 batch   tinyrt_train_update()         -> nothing
 *   'E' input[TINYRT_INPUT0_BYTES]       tinyrt_train_eval()                  -> int32 class
 *   'P'                                  the parameters -> uint32 bytes, then the bytes
 * Exit status 0 at the end of stdin, 2 on a short read or an unknown command.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "model_train.h"

static int read_exact(void *dst, size_t n)
{
    return fread(dst, 1, n, stdin) == n;
}

static int read_input(void)
{
    return read_exact(tinyrt_input(0), TINYRT_INPUT0_BYTES);
}

int main(void)
{
    int cmd;
    while ((cmd = getchar()) != EOF) {
        if (cmd == 'I') {
            tinyrt_train_init();
        } else if (cmd == 'B') {
            float momentum;
            int32_t batch;
            if (!read_exact(&momentum, 4) || !read_exact(&batch, 4)) {
                return 2;
            }
            tinyrt_train_begin(momentum, batch);
        } else if (cmd == 'S') {
            int32_t label;
            if (!read_input() || !read_exact(&label, 4)) {
                return 2;
            }
            const float loss = tinyrt_train_sample(label);
            const int32_t predicted = tinyrt_train_predicted();
            fwrite(&loss, 4, 1, stdout);
            fwrite(&predicted, 4, 1, stdout);
        } else if (cmd == 'U') {
            float lr, momentum;
            int32_t batch;
            if (!read_exact(&lr, 4) || !read_exact(&momentum, 4) || !read_exact(&batch, 4)) {
                return 2;
            }
            tinyrt_train_update(lr, momentum, batch);
        } else if (cmd == 'E') {
            if (!read_input()) {
                return 2;
            }
            const int32_t predicted = tinyrt_train_eval();
            fwrite(&predicted, 4, 1, stdout);
        } else if (cmd == 'P') {
            const uint32_t n = tinyrt_train_params_bytes();
            fwrite(&n, 4, 1, stdout);
            fwrite(tinyrt_train_params(), 1, n, stdout);
        } else {
            return 2;
        }
    }
    return 0;
}
