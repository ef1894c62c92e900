/*
 * Building blocks shared by the NEON kernels (AArch64 and ARMv7-A).
 *
 * Dot products of 16 int8 pairs into four int32 lanes:
 *   AArch64 with the dot-product extension (-march=armv8.2-a+dotprod): one
 *   `sdot` per 16 pairs;
 *   AArch64 without it, and ARMv7-A NEON: `smull`/`vmull.s8` (8 products
 *   in int16, each at most 128 * 128 = 16384, so exact) then `sadalp`/
 *   `vpadal.s16` (pairwise add into int32): 4 instructions per 16 pairs.
 * Only the sum of the four lanes is meaningful (which pairs land in which
 * lane differs between the two forms).
 *
 * Requantization of four int32 accumulators at once (kwsq_neon_rq4),
 * bit-exact with kwsq_mbqm (TFLite Micro's MultiplyByQuantizedMultiplier,
 * double rounding):
 *   - the left shift wraps, as (uint32_t)x << left does;
 *   - `sqrdmulh` is exactly SaturatingRoundingDoublingHighMul: both compute
 *     floor((a * b + 2^30) / 2^31) and saturate only for INT32_MIN^2;
 *   - RoundingDivideByPOT rounds half away from zero while `srshl` rounds
 *     half up, so negative values are first moved down by one (saturating),
 *     which changes the result only at an exact tie: gemmlowp's fix-up.
 * A power-of-two scale (multiplier 2^30) needs no special path here: the
 * multiply is one instruction either way and the result is the same.
 */
#ifndef KWSQ_NEON_H
#define KWSQ_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "kwsq_kernels.h"
#include "kwsq_math.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#define KWSQ_NEON_SDOT 1
#else
#define KWSQ_NEON_SDOT 0
#endif

#define KWSQ_NEON_INLINE static inline __attribute__((always_inline))

/* acc += the 16 products a[i] * b[i], spread over the four lanes. */
KWSQ_NEON_INLINE int32x4_t kwsq_dot16(int32x4_t acc, int8x16_t a, int8x16_t b)
{
#if KWSQ_NEON_SDOT
    return vdotq_s32(acc, a, b);
#elif defined(__aarch64__)
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
#else
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_s8(vget_high_s8(a), vget_high_s8(b)));
#endif
}

/* acc += the 8 products a[i] * b[i] (two lanes used). */
KWSQ_NEON_INLINE int32x2_t kwsq_dot8(int32x2_t acc, int8x8_t a, int8x8_t b)
{
#if KWSQ_NEON_SDOT
    return vdot_s32(acc, a, b);
#else
    const int32x4_t s = vpaddlq_s16(vmull_s8(a, b));
    return vadd_s32(acc, vadd_s32(vget_low_s32(s), vget_high_s32(s)));
#endif
}

/* acc += the 16 products a[i] * b[i] in eight int16 lanes (`smlal`/`smlal2`,
 * `vmlal.s8`: 8 products per instruction, no pairwise widening step). Each
 * lane sums a subset of the products, wrapping: exact when the layer's
 * accum_bound (kwsq_kernels.h) is at most 32767, the 16-bit-accumulator path. */
KWSQ_NEON_INLINE int16x8_t kwsq_mla16(int16x8_t acc, int8x16_t a, int8x16_t b)
{
    acc = vmlal_s8(acc, vget_low_s8(a), vget_low_s8(b));
#if defined(__aarch64__)
    return vmlal_high_s8(acc, a, b);
#else
    return vmlal_s8(acc, vget_high_s8(a), vget_high_s8(b));
#endif
}

/* A 16-bit accumulator widened to four int32 lanes (same lane-sum). */
KWSQ_NEON_INLINE int32x4_t kwsq_widen16(int16x8_t acc)
{
    return vpaddlq_s16(acc);
}

/* Whether this build has a 16-bit-accumulator path worth taking: without
 * `sdot` (one instruction per 16 products already) 16-bit lanes halve the
 * multiply-accumulate instructions. */
#define KWSQ_NEON_ACC16(bound) (!KWSQ_NEON_SDOT && KWSQ_ACCUM16_OK(bound))

/* A 16-byte vector of n (0 < n <= 16) trailing lanes of x[-16 + n .. n):
 * the first 16 - n lanes zero. Used for a row tail: the last 16 weights of
 * the row (an overlapping load) times this vector add exactly the tail. */
KWSQ_NEON_INLINE int8x16_t kwsq_neon_tail16(const int8_t *x_end, int32_t n)
{
    int8_t t[16];
    memset(t, 0, sizeof t);
    memcpy(t + 16 - n, x_end - n, (size_t)n);
    return vld1q_s8(t);
}

KWSQ_NEON_INLINE int32_t kwsq_hsum(int32x4_t v)
{
#if defined(__aarch64__)
    return vaddvq_s32(v);
#else
    const int32x2_t s = vadd_s32(vget_low_s32(v), vget_high_s32(v));
    return vget_lane_s32(vpadd_s32(s, s), 0);
#endif
}

/* The four lane sums of a, b, c, d as one vector {sum a, sum b, sum c, sum d}. */
KWSQ_NEON_INLINE int32x4_t kwsq_hsum4(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d)
{
#if defined(__aarch64__)
    return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
#else
    const int32x2_t ab = vpadd_s32(vadd_s32(vget_low_s32(a), vget_high_s32(a)),
                                   vadd_s32(vget_low_s32(b), vget_high_s32(b)));
    const int32x2_t cd = vpadd_s32(vadd_s32(vget_low_s32(c), vget_high_s32(c)),
                                   vadd_s32(vget_low_s32(d), vget_high_s32(d)));
    return vcombine_s32(ab, cd);
#endif
}

/* Requantization constants of four channels, split once so the per-output
 * work is six instructions: left = max(shift, 0), right = min(shift, 0). */
typedef struct {
    int32x4_t mult, left, right;
} kwsq_neon_q4;

/* kwsq_mbqm on four lanes, then saturated to int16 (exact for what the
 * int8 clamp keeps, see kwsq_neon_finish16). */
KWSQ_NEON_INLINE int16x4_t kwsq_neon_rq4x(int32x4_t x, kwsq_neon_q4 q, const bool left)
{
    /* left: some channel has a positive shift (kwsq_neon_any_left); else q.left is 0. */
    int32x4_t a = vqrdmulhq_s32(left ? vshlq_s32(x, q.left) : x, q.mult);
    a = vqaddq_s32(a, vshrq_n_s32(vandq_s32(a, q.right), 31));
    return vqmovn_s32(vrshlq_s32(a, q.right));
}

KWSQ_NEON_INLINE int16x4_t kwsq_neon_rq4(int32x4_t x, kwsq_neon_q4 q)
{
    return kwsq_neon_rq4x(x, q, true);
}

/* Whether any of the `channels` channels shifts left before the multiply
 * (most layers scale down, and then the left shift can be skipped). */
static inline bool kwsq_neon_any_left(const kwsq_quant_params *q, int32_t channels)
{
    const int32_t n = q->per_channel ? channels : 1;
    for (int32_t c = 0; c < n; ++c) {
        if (q->shift[c] > 0) {
            return true;
        }
    }
    return false;
}

/* Four int8 shifts (unaligned) as int32 lanes. */
KWSQ_NEON_INLINE int32x4_t kwsq_neon_load_shift4(const int8_t *s)
{
    int32_t raw;
    memcpy(&raw, s, sizeof raw);
    const int16x8_t w = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(raw)));
    return vmovl_s16(vget_low_s16(w));
}

/* Requantization constants of channels c .. c+3. */
KWSQ_NEON_INLINE kwsq_neon_q4 kwsq_neon_quant4(const kwsq_quant_params *q, int32_t c)
{
    kwsq_neon_q4 r;
    int32x4_t shift;
    if (q->per_channel) {
        r.mult = vld1q_s32(q->multiplier + c);
        shift = kwsq_neon_load_shift4(q->shift + c);
    } else {
        r.mult = vdupq_n_s32(q->multiplier[0]);
        shift = vdupq_n_s32(q->shift[0]);
    }
    const int32x4_t zero = vdupq_n_s32(0);
    r.left = vmaxq_s32(shift, zero);
    r.right = vminq_s32(shift, zero);
    return r;
}

/* Channels c .. c + n - 1 (n < 4, possibly <= 0) and harmless constants in
 * the other lanes, whose results are never stored; reads nothing past c + n. */
KWSQ_NEON_INLINE kwsq_neon_q4 kwsq_neon_quant4_tail(const kwsq_quant_params *q, int32_t c, int32_t n)
{
    int32_t m[4] = {1 << 30, 1 << 30, 1 << 30, 1 << 30};
    int32_t sh[4] = {0, 0, 0, 0};
    for (int32_t i = 0; i < n && i < 4; ++i) {
        const int32_t k = q->per_channel ? c + i : 0;
        m[i] = q->multiplier[k];
        sh[i] = q->shift[k];
    }
    kwsq_neon_q4 r;
    const int32x4_t shift = vld1q_s32(sh), zero = vdupq_n_s32(0);
    r.mult = vld1q_s32(m);
    r.left = vmaxq_s32(shift, zero);
    r.right = vminq_s32(shift, zero);
    return r;
}

/* Output offset and activation clamp for eight requantized values. As the
 * reference computes clamp(v + offset, lo, hi) with lo >= -128, hi <= 127:
 * v saturated to int16, plus the offset saturating, saturated to int8, then
 * clamped gives the same byte (a value that saturates is beyond the clamp on
 * the same side). */
typedef struct {
    int16x8_t offset;
    int8x8_t lo, hi;
} kwsq_neon_out;

KWSQ_NEON_INLINE kwsq_neon_out kwsq_neon_out_params(int32_t offset, int32_t lo, int32_t hi)
{
    kwsq_neon_out o;
    o.offset = vdupq_n_s16((int16_t)offset);
    o.lo = vdup_n_s8((int8_t)lo);
    o.hi = vdup_n_s8((int8_t)hi);
    return o;
}

KWSQ_NEON_INLINE int8x8_t kwsq_neon_finish8(int16x4_t a, int16x4_t b, kwsq_neon_out o)
{
    const int8x8_t r = vqmovn_s16(vqaddq_s16(vcombine_s16(a, b), o.offset));
    return vmin_s8(vmax_s8(r, o.lo), o.hi);
}

/* Four requantized values stored as bytes (dst unaligned). */
KWSQ_NEON_INLINE void kwsq_neon_store4(int8_t *dst, int16x4_t v, kwsq_neon_out o)
{
    const int8x8_t r = kwsq_neon_finish8(v, v, o);
    vst1_lane_s32((int32_t *)(void *)dst, vreinterpret_s32_s8(r), 0);
}

/* Scalar requantization of one channel (tails), exactly the reference. */
KWSQ_NEON_INLINE int8_t kwsq_neon_out1(int32_t acc, const kwsq_quant_params *q, int32_t c,
                                       int32_t out_off, int32_t lo, int32_t hi)
{
    const int32_t k = q->per_channel ? c : 0;
    const int32_t v = kwsq_mbqm(acc, q->multiplier[k], q->shift[k]) + out_off;
    return (int8_t)kwsq_clamp(v, lo, hi);
}

/* Sum of w[i] * x[i] for i < n, any n (16 at a time, then 8, then scalar). */
static inline int32_t kwsq_neon_dot(const int8_t *w, const int8_t *x, int32_t n)
{
    int32x4_t acc = vdupq_n_s32(0);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc = kwsq_dot16(acc, vld1q_s8(w + i), vld1q_s8(x + i));
    }
    int32x2_t acc2 = vdup_n_s32(0);
    if (i + 8 <= n) {
        acc2 = kwsq_dot8(acc2, vld1_s8(w + i), vld1_s8(x + i));
        i += 8;
    }
    int32_t s = kwsq_hsum(acc) + vget_lane_s32(vpadd_s32(acc2, acc2), 0);
    for (; i < n; ++i) {
        s += (int32_t)w[i] * (int32_t)x[i];
    }
    return s;
}

/* Unpack n packed INT4 values starting at element `start` into int8. */
static inline void kwsq_neon_unpack_s4(const uint8_t *p, int64_t start, int32_t n, int8_t *out)
{
    int32_t i = 0;
    if ((start & 1) != 0 && n > 0) {
        out[i++] = (int8_t)kwsq_int4_at(p, start);
    }
    const uint8_t *src = p + ((start + i) >> 1);
    for (; i + 32 <= n; i += 32, src += 16) {
        const int8x16_t b = vld1q_s8((const int8_t *)src);
        const int8x16_t lo = vshrq_n_s8(vshlq_n_s8(b, 4), 4);
        const int8x16_t hi = vshrq_n_s8(b, 4);
        int8x16x2_t z;
        z.val[0] = lo;
        z.val[1] = hi;
        vst2q_s8(out + i, z);
    }
    for (; i + 1 < n; i += 2, ++src) {
        const int32_t b = *src;
        out[i] = (int8_t)(((b & 0x0F) ^ 8) - 8);
        out[i + 1] = (int8_t)(((b >> 4) ^ 8) - 8);
    }
    if (i < n) {
        out[i] = (int8_t)kwsq_int4_at(p, start + i);
    }
}

/* Rows w, w + n, w + 2n, w + 3n (n >= 16) times x: {dot0, dot1, dot2, dot3};
 * xt is kwsq_neon_tail16(x + n, n % 16) when n % 16 != 0. ACC_T/MAC/WIDEN:
 * int32 lanes with kwsq_dot16, or int16 lanes with kwsq_mla16 (accum_bound
 * <= 32767). Pointers advance by post-increment (ARMv7-A has no register
 * offset for vector loads). */
#define KWSQ_NEON_DOT_4ROWS(NAME, ACC_T, ZERO, MAC, WIDEN)                                               \
    KWSQ_NEON_INLINE int32x4_t NAME(const int8_t *w, const int8_t *x, int32_t n, int8x16_t xt)          \
    {                                                                                                  \
        const int8_t *w0 = w, *w1 = w + n, *w2 = w + 2 * n, *w3 = w + 3 * n, *xp = x;                  \
        ACC_T a0 = ZERO, a1 = a0, a2 = a0, a3 = a0;                                                    \
        for (int32_t k = n >> 4; k > 0; --k) {                                                         \
            const int8x16_t xv = vld1q_s8(xp);                                                         \
            a0 = MAC(a0, vld1q_s8(w0), xv);                                                            \
            a1 = MAC(a1, vld1q_s8(w1), xv);                                                            \
            a2 = MAC(a2, vld1q_s8(w2), xv);                                                            \
            a3 = MAC(a3, vld1q_s8(w3), xv);                                                            \
            xp += 16, w0 += 16, w1 += 16, w2 += 16, w3 += 16;                                          \
        }                                                                                              \
        if ((n & 15) != 0) {                                                                           \
            const int32_t t = (n & 15) - 16; /* back to the row's last 16 weights */                  \
            a0 = MAC(a0, vld1q_s8(w0 + t), xt);                                                        \
            a1 = MAC(a1, vld1q_s8(w1 + t), xt);                                                        \
            a2 = MAC(a2, vld1q_s8(w2 + t), xt);                                                        \
            a3 = MAC(a3, vld1q_s8(w3 + t), xt);                                                        \
        }                                                                                              \
        return kwsq_hsum4(WIDEN(a0), WIDEN(a1), WIDEN(a2), WIDEN(a3));                                 \
    }

#define KWSQ_NEON_ID32(v) (v)
KWSQ_NEON_DOT_4ROWS(kwsq_neon_dot_4rows, int32x4_t, vdupq_n_s32(0), kwsq_dot16, KWSQ_NEON_ID32)
KWSQ_NEON_DOT_4ROWS(kwsq_neon_dot_4rows16, int16x8_t, vdupq_n_s16(0), kwsq_mla16, kwsq_widen16)

#endif /* KWSQ_NEON_H */
