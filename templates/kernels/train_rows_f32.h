/*
 * train_rows_f32: the weights of a layer whose output channels train only in part
 * (channel-sparse update, `--train last:K:F`): output channels [0, trained_c) read their rows
 * from `weights` (the trainable parameters, in RAM), channels [trained_c, out_c) from `frozen`
 * (constants in flash; NULL when trained_c == out_c). A row is the `row` floats of one output
 * channel (TFLite's output-channel-major layout of CONV_2D and FULLY_CONNECTED weights). A
 * layer that trains all or none of its weights passes its one array as `weights` and
 * trained_c = out_c.
 */
#ifndef TINYRT_TRAIN_ROWS_F32_H
#define TINYRT_TRAIN_ROWS_F32_H

static inline const float *train_weight_row(const float *weights, const float *frozen,
                                            int trained_c, int o, int row)
{
    return o < trained_c ? weights + o * row : frozen + (o - trained_c) * row;
}

#endif /* TINYRT_TRAIN_ROWS_F32_H */
