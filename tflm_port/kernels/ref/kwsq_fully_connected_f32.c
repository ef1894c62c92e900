/*
 * kwsq_fully_connected_f32: float input, weights and output.
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

kwsq_status kwsq_fully_connected_f32(const kwsq_float_range *act, const kwsq_fc_dims *dims,
                                     const float *input, const float *weights, const float *bias,
                                     float *output)
{
    const int32_t accum = dims->accum_depth, out_depth = dims->output_depth;
    for (int32_t b = 0; b < dims->batches; ++b) {
        const float *x = input + (int64_t)b * accum;
        float *y = output + (int64_t)b * out_depth;
        for (int32_t o = 0; o < out_depth; ++o) {
            const float *w = weights + (int64_t)o * accum;
            float acc = 0.0f;
            for (int32_t i = 0; i < accum; ++i) {
                acc += w[i] * x[i];
            }
            y[o] = kwsq_clampf((bias != NULL ? bias[o] : 0.0f) + acc, act->act_min, act->act_max);
        }
    }
    return KWSQ_OK;
}
