/*
 * The hybrid FULLY_CONNECTED's input-row quantization (LiteRT's
 * SymmetricQuantizeFloats / AsymmetricQuantizeFloats), shared by every kernel
 * folder's kwsq_fully_connected_hybrid_f32: the optimized kernels must round
 * exactly as the reference does, so they include this one scalar copy instead
 * of repeating it; only the integer dot products differ between folders.
 */
#ifndef KWSQ_FC_HYBRID_REF_H
#define KWSQ_FC_HYBRID_REF_H

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kwsq_kernels.h"
#include "kwsq_math.h"

/* Quantizes the n floats of x into q with a per-row scale (and zero point when asymmetric). */
static void kwsq_hybrid_quantize_row(const float *x, int32_t n, bool asymmetric, int8_t *q,
                                     float *scale, int32_t *offset)
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

#endif /* KWSQ_FC_HYBRID_REF_H */
