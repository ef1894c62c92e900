/* Shared by the front-end's files: the sample history and twiddle lookup. */
#ifndef KWSQ_FE_INTERNAL_H
#define KWSQ_FE_INTERNAL_H

#include <math.h>

#include "kwsq_fe.h"

/* Append one hop to the history; 1 when the oldest `window` samples of the
 * history now form a complete frame. */
int kwsq_fe__advance(kwsq_fe_state *s, const int16_t *hop);

/* x * mult >> shift, rounded half away from zero, saturated to int32. */
int32_t kwsq_fe__apply_scale(int32_t x, kwsq_fe_scale s);

/* One value in the model input type, stored as element i of out (the
 * per-value step of kwsq_fe_quantize_f32 / _q20). */
void kwsq_fe__quantize_value_f32(const kwsq_fe_params *p, float v, void *out, int32_t i);
void kwsq_fe__quantize_value_q20(const kwsq_fe_params *p, int32_t v, void *out, int32_t i);

/* cos and sin of 2 pi k / n for 0 <= k <= n / 2, from a quarter-wave table
 * of n / 4 + 1 entries (cos_tab[j] = cos(2 pi j / n)). */
#define KWSQ_FE_COS(tab, n, k) ((k) <= (n) / 4 ? (tab)[(k)] : -(tab)[(n) / 2 - (k)])
#define KWSQ_FE_SIN(tab, n, k) ((k) <= (n) / 4 ? (tab)[(n) / 4 - (k)] : (tab)[(k) - (n) / 4])

/* a * b + c, fused where the FPU has a fused multiply-add (one instruction,
 * one rounding: the float path's results differ from an unfused core's in
 * the last bit, well inside its bounds against the Python features). */
#if defined(FP_FAST_FMAF) || defined(__FP_FAST_FMAF)
#define KWSQ_FE_MADD(a, b, c) fmaf((a), (b), (c))
#else
#define KWSQ_FE_MADD(a, b, c) ((a) * (b) + (c))
#endif

/* v / 32768 for an int16 sample, exact: one fixed-point conversion where the
 * FPU has it (VCVT / SCVTF with 15 fraction bits), else convert and scale. */
static inline float kwsq_fe__q15_to_f32(int32_t v)
{
#if defined(__GNUC__) && defined(__aarch64__)
    float r;
    __asm__("scvtf %s0, %w1, #15" : "=w"(r) : "r"(v));
    return r;
#elif defined(__GNUC__) && defined(__arm__) && defined(__ARM_FP) && (__ARM_FP & 4) && \
    defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB >= 2
    float r;
    __asm__("vmov %0, %1\n\tvcvt.f32.s32 %0, %0, #15" : "=t"(r) : "r"(v));
    return r;
#else
    return (float)v * (1.0f / 32768.0f);
#endif
}

/* cos and sin of 2 pi k / n for 0 <= k < n from the same table. */
static inline void kwsq_fe__twiddle_f32(const float *tab, int32_t n, int32_t k, float *c, float *s)
{
    const int32_t q = n >> 2;
    if (k <= q) {
        *c = tab[k];
        *s = tab[q - k];
    } else if (k <= 2 * q) {
        *c = -tab[2 * q - k];
        *s = tab[k - q];
    } else if (k <= 3 * q) {
        *c = -tab[k - 2 * q];
        *s = -tab[3 * q - k];
    } else {
        *c = tab[n - k];
        *s = -tab[k - 3 * q];
    }
}

/* i with its lowest `bits` bits reversed (bits >= 1). RBIT where the core
 * has it. */
static inline uint32_t kwsq_fe__bit_reverse(uint32_t i, int32_t bits)
{
#if defined(__GNUC__) && defined(__aarch64__)
    uint32_t r;
    __asm__("rbit %w0, %w1" : "=r"(r) : "r"(i));
    return r >> (32 - bits);
#elif defined(__GNUC__) && defined(__arm__) && defined(__ARM_ARCH_ISA_THUMB) && \
    __ARM_ARCH_ISA_THUMB >= 2 && !defined(__ARM_ARCH_8M_BASE__)
    uint32_t r;
    __asm__("rbit %0, %1" : "=r"(r) : "r"(i));
    return r >> (32 - bits);
#else
    uint32_t r = 0;
    for (int32_t b = 0; b < bits; b++) {
        r = (r << 1) | ((i >> b) & 1u);
    }
    return r;
#endif
}

/* Parts of the float real FFT (rfft_f32.c): the n/2-point complex FFT of
 * input already in bit-reversed order (twiddles: kwsq_fe_params.twiddle_f32,
 * or NULL to take them from cos_tab), and the split of its result into the
 * real FFT's packed spectrum times 2 (exactly: the halving is left to the
 * caller). kwsq_fe_rfft_f32 = permute + these two + the halving. */
void kwsq_fe__cfft_bitrev_f32(float *z, int32_t m, int32_t n, const float *cos_tab,
                              const float *twiddles);
void kwsq_fe__rfft_split_f32(float *buf, int32_t n, const float *cos_tab);

/* Index of the highest set bit of v > 0. */
static inline int32_t kwsq_fe__floor_log2_u64(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return 63 - __builtin_clzll(v);
#else
    int32_t e = 0;
    while (v >>= 1) {
        e++;
    }
    return e;
#endif
}

#endif
