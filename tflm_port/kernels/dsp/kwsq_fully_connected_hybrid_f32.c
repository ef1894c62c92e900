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
#include "kwsq_kernels.h"
#include "kwsq_math.h"

static void quantize_row(const float *x, int32_t n, bool asymmetric, int8_t *q, float *scale,
                         int32_t *offset)
{
    float lo = x[0], hi = x[0];
    for (int32_t i = 1; i < n; ++i) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    *offset = 0;
    if (!asymmetric) {
        float range = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
        if (range == 0.0f) {
            memset(q, 0, (size_t)n);
            *scale = 1.0f;
            return;
        }
        *scale = range / 127.0f;
        float inv = 127.0f / range;
        for (int32_t i = 0; i < n; ++i) {
            q[i] = (int8_t)kwsq_clamp((int32_t)roundf(x[i] * inv), -127, 127);
        }
        return;
    }
    double rmin = (double)(lo < 0.0f ? lo : 0.0f);
    double rmax = (double)(hi > 0.0f ? hi : 0.0f);
    if (rmin == rmax) {
        memset(q, 0, (size_t)n);
        *scale = 1.0f;
        return;
    }
    double s = (rmax - rmin) / 255.0;
    double zp_from_min = -128.0 - rmin / s;
    double zp_from_max = 127.0 - rmax / s;
    double err_min = 128.0 + fabs(rmin / s);
    double err_max = 127.0 + fabs(rmax / s);
    double zp = err_min < err_max ? zp_from_min : zp_from_max;
    int32_t nudged = zp <= -128.0 ? -128 : (zp >= 127.0 ? 127 : (int32_t)(int8_t)round(zp));
    *scale = (float)s;
    *offset = nudged;
    float inv = 1.0f / *scale;
    for (int32_t i = 0; i < n; ++i) {
        q[i] = (int8_t)kwsq_clamp((int32_t)roundf((float)nudged + x[i] * inv), -128, 127);
    }
}

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
        quantize_row(x, accum, asymmetric, q, &scale, &offset);
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
