/*
 * kwsq_fully_connected_hybrid_f32 for cores with the DSP extension: float
 * input and output, int8 weights. The input row is quantized exactly as
 * kernels/ref does (LiteRT's SymmetricQuantizeFloats /
 * AsymmetricQuantizeFloats, the same scalar float code, so the same
 * roundings), the integer dot products run as the int8 FULLY_CONNECTED's
 * (the quantized row widened once, two weight rows per pass sharing each
 * LDM of it, dsp_fc.h), and each row's sum is scaled back with the
 * reference's float expression in the same order (-std=c99: no contraction
 * into FMA), so the outputs are the reference's bit for bit.
 */
#include <math.h>
#include <string.h>

#include "dsp_fc.h"
#include "kwsq_fc_hybrid_ref.h"
#include "kwsq_kernels.h"
#include "kwsq_math.h"

int32_t kwsq_fully_connected_hybrid_f32_get_buffer_size(const kwsq_fc_dims *dims)
{
    return dims->accum_depth;
}

static inline float out_one(const float *bias, int32_t o, int32_t dot, int32_t row_sum, int32_t offset, float scale,
                            float row_scale, const kwsq_float_range *act)
{
    dot -= row_sum * offset;
    const float start = bias != NULL ? bias[o] : 0.0f;
    return kwsq_clampf(start + (float)dot * (scale * row_scale), act->act_min, act->act_max);
}

kwsq_status kwsq_fully_connected_hybrid_f32(const kwsq_context *ctx, const kwsq_float_range *act,
                                            bool asymmetric, const kwsq_fc_dims *dims,
                                            const float *input, const int8_t *weights,
                                            const int32_t *row_sums, const float *row_scales,
                                            const float *bias, float *output)
{
    const int32_t accum = dims->accum_depth, out_depth = dims->output_depth;
    int8_t *q = ctx->buf;
    const bool wide = accum <= DSP_FC_WIDE_MAX;
    uint32_t xw[wide ? dsp_fc_wide_words(accum, 0) : 1];
    for (int32_t b = 0; b < dims->batches; ++b) {
        const float *x = input + (int64_t)b * accum;
        float *y = output + (int64_t)b * out_depth;
        float scale;
        int32_t offset;
        kwsq_hybrid_quantize_row(x, accum, asymmetric, q, &scale, &offset);
        if (wide) {
            dsp_fc_widen_s8(q, accum, xw);
            for (int32_t o = 0; o < out_depth; o += 2) {
                const int32_t ob = o + 1 < out_depth ? o + 1 : o;
                int32_t acc[2];
                dsp_fc_dot2_s8(weights, accum, out_depth, o, ob, q, xw, acc);
                y[o] = out_one(bias, o, acc[0], row_sums[o], offset, scale, row_scales[o], act);
                y[ob] = out_one(bias, ob, acc[1], row_sums[ob], offset, scale, row_scales[ob], act);
            }
            continue;
        }
        for (int32_t o = 0; o < out_depth; o += 4) {
            const int32_t rows = out_depth - o < 4 ? out_depth - o : 4;
            int32_t acc[4];
            dsp_fc_stream_s8(weights + (int64_t)o * accum, q, accum, rows, acc);
            for (int32_t r = 0; r < rows; ++r) {
                y[o + r] = out_one(bias, o + r, acc[r], row_sums[o + r], offset, scale, row_scales[o + r], act);
            }
        }
    }
    return KWSQ_OK;
}
