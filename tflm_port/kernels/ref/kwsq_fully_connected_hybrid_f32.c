/*
 * kwsq_fully_connected_hybrid_f32: float input and output, int8 weights.
 * Each input row is quantized on the fly (LiteRT's SymmetricQuantizeFloats /
 * AsymmetricQuantizeFloats) into the scratch buffer, multiplied in int32 and
 * scaled back by input scale * row scale, as LiteRT's hybrid kernel.
 */
#include <math.h>
#include <string.h>

#include "kwsq_fc_hybrid_ref.h"
#include "kwsq_kernels.h"
#include "kwsq_math.h"

int32_t kwsq_fully_connected_hybrid_f32_get_buffer_size(const kwsq_fc_dims *dims)
{
    return dims->accum_depth;
}

kwsq_status kwsq_fully_connected_hybrid_f32(const kwsq_context *ctx, const kwsq_float_range *act,
                                            bool asymmetric, const kwsq_fc_dims *dims,
                                            const float *input, const int8_t *weights,
                                            const int32_t *row_sums, const float *row_scales,
                                            const float *bias, float *output)
{
    const int32_t accum = dims->accum_depth, out_depth = dims->output_depth;
    int8_t *q = ctx->buf;
    for (int32_t b = 0; b < dims->batches; ++b) {
        const float *x = input + (int64_t)b * accum;
        float *y = output + (int64_t)b * out_depth;
        float scale;
        int32_t offset;
        kwsq_hybrid_quantize_row(x, accum, asymmetric, q, &scale, &offset);
        for (int32_t o = 0; o < out_depth; ++o) {
            const int8_t *w = weights + (int64_t)o * accum;
            int32_t dot = 0;
            for (int32_t i = 0; i < accum; ++i) {
                dot += (int32_t)w[i] * (int32_t)q[i];
            }
            dot -= row_sums[o] * offset;
            const float start = bias != NULL ? bias[o] : 0.0f;
            y[o] = kwsq_clampf(start + (float)dot * (scale * row_scales[o]), act->act_min, act->act_max);
        }
    }
    return KWSQ_OK;
}
