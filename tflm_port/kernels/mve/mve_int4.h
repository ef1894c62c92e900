/*
 * Packed int4 weights widened to int8 in registers, shared by the Helium
 * conv and depthwise paths that rearrange their weights once per call or
 * per group anyway.
 */
#ifndef KWSQ_MVE_INT4_H
#define KWSQ_MVE_INT4_H

#include <arm_mve.h>
#include <stdint.h>

#include "kwsq_math.h"

/* Nibbles start .. start + n - 1 (low nibble first) as int8 into buf, which
 * holds n rounded up to 32 (plus one value when start is odd): 32 nibbles
 * per 16-byte load when start is even (VSHL/VSHR give the low and high
 * nibbles sign-extended, VST20/VST21 interleave them back into order),
 * nibble by nibble otherwise. */
static inline void mve_widen_s4(const uint8_t *w, int64_t start, int32_t n, int8_t *buf)
{
    if ((start & 1) == 0) {
        const int8_t *src = (const int8_t *)w + start / 2;
        const int32_t bytes = (n + 1) / 2;
        for (int32_t k = 0; k < bytes; k += 16) {
            const int8x16_t v = vldrbq_z_s8(src + k, vctp8q((uint32_t)(bytes - k)));
            int8x16x2_t lh;
            lh.val[0] = vshrq_n_s8(vshlq_n_s8(v, 4), 4);
            lh.val[1] = vshrq_n_s8(v, 4);
            vst2q_s8(buf + 2 * k, lh);
        }
    } else {
        for (int32_t k = 0; k < n; ++k) {
            buf[k] = (int8_t)kwsq_int4_at(w, start + k);
        }
    }
}

/* A byte-aligned row of n nibbles (packed from p) as int8, 16 values per
 * store at dst, dst + stride, ... up to `col` values (zeros past the row):
 * 8 bytes widened into halfword lanes b, VSLI gives b << 4 | (b & 15), whose
 * low byte holds the low nibble (twice) and high byte the high one, and a
 * shift left / arithmetic right by 4 sign-extends both in place: five
 * instructions per 16 values, no staging buffer. */
static inline void mve_widen_s4_16(const uint8_t *p, int32_t n, int32_t col, int8_t *dst, int32_t stride)
{
    const int32_t bytes = (n + 1) / 2;
    int32_t k = 0;
    for (; k + 16 <= n; k += 16, dst += stride, p += 8) {
        const uint16x8_t b = vldrbq_u16(p);
        const int8x16_t v = vreinterpretq_s8_u16(vsliq_n_u16(b, b, 4));
        vstrbq_s8(dst, vshrq_n_s8(vshlq_n_s8(v, 4), 4));
    }
    for (; k < col; k += 16, dst += stride, p += 8) {
        const int32_t left = bytes - k / 2;
        const uint16x8_t b = vldrbq_z_u16(p, vctp16q((uint32_t)(left > 0 ? left : 0)));
        const int8x16_t v = vreinterpretq_s8_u16(vsliq_n_u16(b, b, 4));
        vstrbq_s8(dst, vshrq_n_s8(vshlq_n_s8(v, 4), 4));
    }
}

#endif /* KWSQ_MVE_INT4_H */
