/*
 * kwsq_fully_connected_hybrid_f32: float input and output, int8 weights.
 * Each input row is quantized on the fly (LiteRT's SymmetricQuantizeFloats /
 * AsymmetricQuantizeFloats) into the scratch buffer, multiplied in int32 and
 * scaled back by input scale * row scale, as LiteRT's hybrid kernel.
 */
#include <math.h>
#include <string.h>

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
        quantize_row(x, accum, asymmetric, q, &scale, &offset);
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
