/*
 * Fixed-point arithmetic with exactly TFLite Micro's rounding (the default,
 * "double rounding" build): a saturating rounding doubling high multiply
 * followed by a rounding right shift, plus the gemmlowp fixed-point
 * exp / 1/(1+x) / logistic / tanh used by the int8 SOFTMAX, LOGISTIC and
 * TANH kernels. Any change here breaks bit-exactness with tflite_micro.
 */
#ifndef KWSQ_MATH_H
#define KWSQ_MATH_H

#include <stdint.h>

#include "kwsq_internal.h"

/* SaturatingRoundingDoublingHighMul: (ab + nudge) / 2^31 truncated, nudge
 * 2^30 for ab >= 0 and 1 - 2^30 below. For ab < 0 the truncation is a
 * ceiling, ceil((ab + 1 - 2^30) / 2^31) = floor((ab + 2^30) / 2^31), so
 * both signs are one arithmetic shift (SMULL, a 64-bit add, two shifts). */
static inline int32_t kwsq_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + (1LL << 30)) >> 31);
}

static inline int32_t kwsq_rdbpot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)((1LL << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier: shift > 0 shifts left before the multiply. */
static inline int32_t kwsq_mbqm(int32_t x, int32_t mult, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return kwsq_rdbpot(kwsq_srdhm((int32_t)((uint32_t)x << left), mult), right);
}

/* kwsq_mbqm for mult == 1 << 30 (a power-of-two scale), without the 64-bit
 * multiply: srdhm(a, 2^30) is a / 2 rounded half up, exactly. */
static inline int32_t kwsq_mbqm_pot(int32_t x, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    int32_t a = (int32_t)((uint32_t)x << left);
    if (a == INT32_MIN) {
        return kwsq_mbqm(x, 1 << 30, shift);
    }
    return kwsq_rdbpot((a >> 1) + (a & 1), right);
}

/* Requantize with the multiplier/shift of one channel; `pot`: every
 * multiplier is 2^30, so the shift-only path is exact. */
static inline int32_t kwsq_requant(int32_t acc, int32_t mult, int shift, bool pot)
{
    return pot ? kwsq_mbqm_pot(acc, shift) : kwsq_mbqm(acc, mult, shift);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent. */
static inline int32_t kwsq_sat_shl(int32_t x, int exponent)
{
    int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a <= 0; a has `int_bits` integer bits, result has 0. */
int32_t kwsq_exp_on_negative_values(int32_t a, int int_bits);
/* 1 / (1 + x) for x in [0, 1), Q0.31 in and out. */
int32_t kwsq_one_over_one_plus_x(int32_t a);
int32_t kwsq_fx_logistic(int32_t a, int int_bits);
int32_t kwsq_fx_tanh(int32_t a, int int_bits);
/* GetReciprocal as used by int8 SOFTMAX. */
int32_t kwsq_get_reciprocal(int32_t x, int x_int_bits, int *num_bits_over_unit);

/* QuantizeMultiplier: real = mult * 2^(shift - 31). */
void kwsq_quantize_multiplier(double real, int32_t *mult, int *shift);
/* kwsq_quantize_multiplier((double)a * (double)b / (double)c), bit for bit,
 * in integer arithmetic only (no soft double on a core without a double
 * FPU; cheap enough to run in Eval: tests/tflm_port/test_quant_ratio.py). */
void kwsq_quantize_ratio(float a, float b, float c, int32_t *mult, int *shift);
/* The same in two steps, for many b with one a and c: what depends on a and
 * c only (false when a or c is 0, infinite or NaN: every result is 0). */
typedef struct {
    uint32_t ma, mc;   /* mantissas of |a| and |c|; ma 0: every result 0 */
    uint32_t inv;      /* floor(2^54 / mc) */
    int32_t exp;
    uint32_t sign;     /* sign bit of a / c */
} kwsq_ratio_base;
bool kwsq_ratio_base_of(float a, float c, kwsq_ratio_base *rb);
void kwsq_ratio_apply(const kwsq_ratio_base *rb, float b, int32_t *mult, int *shift);
/* kwsq_ratio_apply for `count` float32 values b (little-endian, any
 * alignment; NULL: all 0), shifts stored as int8 (always in [-31, 30]). */
void kwsq_ratio_fill(const kwsq_ratio_base *rb, const uint8_t *b, int32_t count, int32_t *mult, int8_t *shift);
/* Whether (double)a * (double)b <= 2^e, exactly (false for NaN). */
bool kwsq_product_at_most(float a, float b, int e);
/* SOFTMAX int8's input scaling (TFLM's PreprocessSoftmaxScaling, as kwsq
 * did it in double): the multiplier and left shift of beta * scale *
 * 2^(31 - int_bits); false when TFLM refuses it. */
bool kwsq_softmax_scaling(float beta, float scale, int int_bits, int32_t *mult, int *shift);
/* The int8 activation clamp range for a fused activation (schema values). */
bool kwsq_activation_range_q(int32_t activation, float scale, int32_t zero_point, int32_t qmin,
                             int32_t qmax, int32_t *act_min, int32_t *act_max);
void kwsq_activation_range_f(int32_t activation, float *act_min, float *act_max);
/* CalculateInputRadius (0 <= left_shift <= 31). */
int32_t kwsq_input_radius(int int_bits, int left_shift, int total_bits);

/* Keeps a hot inner loop in a function of its own, with registers to itself. */
#if defined(__GNUC__)
#define KWSQ_NOINLINE __attribute__((noinline))
#else
#define KWSQ_NOINLINE
#endif
/* A helper inlined into its loop even in a build for size (-Os). */
#if defined(__GNUC__)
#define KWSQ_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define KWSQ_ALWAYS_INLINE inline
#endif

static inline int32_t kwsq_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static inline float kwsq_clampf(float x, float lo, float hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* The taps t0 <= t < t1 of a filter window starting at input coordinate
 * `origin` (taps `dilation` apart) that fall inside an input of `size`;
 * t1 == t0 when none does. Shared by convolution and pooling. */
static inline void kwsq_window_clip(int32_t origin, int32_t dilation, int32_t taps, int32_t size,
                                    int32_t *t0, int32_t *t1)
{
    int32_t a = 0, b = taps;
    while (a < taps && origin + dilation * a < 0) {
        ++a;
    }
    while (b > a && origin + dilation * (b - 1) >= size) {
        --b;
    }
    *t0 = a;
    *t1 = b;
}

/* Element i of a packed INT4 tensor: low nibble first, sign-extended. */
static inline int32_t kwsq_int4_at(const uint8_t *p, int64_t i)
{
    uint8_t b = p[i >> 1];
    int32_t nib = (i & 1) ? (b >> 4) : (b & 0x0F);
    return (nib ^ 8) - 8;
}

#endif /* KWSQ_MATH_H */
