/*
 * kwsq_softmax_f32: SOFTMAX float -> float, exp((x - max) * beta) / sum.
 */
#include <math.h>

#include "kwsq_kernels.h"

kwsq_status kwsq_softmax_f32(float beta, int32_t rows, int32_t depth, const float *input,
                             float *output)
{
    for (int32_t r = 0; r < rows; ++r) {
        const float *x = input + (int64_t)r * depth;
        float *y = output + (int64_t)r * depth;
        float max = x[0];
        for (int32_t c = 1; c < depth; ++c) {
            max = x[c] > max ? x[c] : max;
        }
        float sum = 0.0f;
        for (int32_t c = 0; c < depth; ++c) {
            y[c] = expf((x[c] - max) * beta);
            sum += y[c];
        }
        for (int32_t c = 0; c < depth; ++c) {
            y[c] = y[c] / sum;
        }
    }
    return KWSQ_OK;
}
