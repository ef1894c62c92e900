/*
 * Quantization helpers computed once in Prepare, and the gemmlowp fixed-point
 * transcendental functions used by the int8 SOFTMAX / LOGISTIC / TANH kernels.
 * The constants and the order of operations follow gemmlowp's fixedpoint.h
 * (the code TFLite Micro's reference kernels run), so results match bit for bit.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kwsq_math.h"

void kwsq_quantize_multiplier(double real, int32_t *mult, int *shift)
{
    /* A NaN or infinite scale in a corrupt model: converting it to an integer
     * would be undefined, so it multiplies by zero instead (found by fuzzing). */
    if (real == 0.0 || !isfinite(real)) {
        *mult = 0;
        *shift = 0;
        return;
    }
    int exp2 = 0;
    double q = frexp(real, &exp2);
    int64_t q_fixed = (int64_t)round(q * (double)(1LL << 31));
    if (q_fixed == (1LL << 31)) {
        q_fixed /= 2;
        ++exp2;
    }
    if (exp2 < -31) {
        exp2 = 0;
        q_fixed = 0;
    }
    /* An effective scale of 2^30 or more (only in a corrupt model) would need a
     * left shift past 31 bits in kwsq_mbqm: saturate as TFLite does with
     * TFLITE_SINGLE_ROUNDING, so host and target agree (found by fuzzing). */
    if (exp2 > 30) {
        exp2 = 30;
        q_fixed = (1LL << 31) - 1;
    }
    *mult = (int32_t)q_fixed;
    *shift = exp2;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The magnitude of a subnormal float as m * 2^e, m in [2^23, 2^24). */
static KWSQ_NOINLINE uint32_t subnormal_mant(uint32_t m, int *e)
{
    int exp = -149;
    while (m < 0x800000u) {
        m <<= 1;
        --exp;
    }
    *e = exp;
    return m;
}

/* The magnitude of a finite nonzero float (sign bit clear, below
 * 0x7F800000) as m * 2^e with m in [2^23, 2^24). */
static KWSQ_ALWAYS_INLINE uint32_t float_mant(uint32_t x, int *e)
{
    if (x < 0x800000u) {
        return subnormal_mant(x, e);
    }
    *e = (int)(x >> 23) - 150;
    return (x & 0x7FFFFFu) | 0x800000u;
}

static inline bool finite_nonzero(uint32_t x)
{
    return x - 1u < 0x7F7FFFFFu;
}

/* floor(2^54 / m) for m in [2^23, 2^24), by long division in 32-bit
 * steps (no 64-bit division routine): 2^30 / m, then three more bytes
 * brought down (remainders stay below 2^24, so r << 8 fits). */
static uint32_t inv54(uint32_t m)
{
    uint32_t q = (1u << 30) / m, r = (1u << 30) - q * m;
    for (int i = 0; i < 3; ++i) {
        const uint32_t t = r << 8, d = t / m;
        q = q << 8 | d;
        r = t - d * m;
    }
    return q;
}

bool kwsq_ratio_base_of(float a, float c, kwsq_ratio_base *rb)
{
    const uint32_t ua = float_bits(a), uc = float_bits(c);
    const uint32_t xa = ua & 0x7FFFFFFFu, xc = uc & 0x7FFFFFFFu;
    rb->sign = (ua ^ uc) & 0x80000000u;
    if (!finite_nonzero(xa) || !finite_nonzero(xc)) {
        rb->ma = 0; /* a * b / c is 0, infinite or NaN for every b */
        return false;
    }
    int ea, ec;
    rb->ma = float_mant(xa, &ea);
    rb->mc = float_mant(xc, &ec);
    rb->inv = inv54(rb->mc); /* (2^30, 2^31] */
    rb->exp = ea - ec + 22; /* see below: exp2 = ea + eb - ec - 31 + s + 53 */
    return true;
}

/* The double computation, step by step in integers: a * b is exact in a
 * double (two 24-bit mantissas, N = ma * mb < 2^48), the division rounds to
 * 53 bits (to nearest, ties to even), then frexp and round(q * 2^31) (half
 * away from zero). X = floor(N * 2^31 / mc) has 54-56 bits (s = 1..3 beyond
 * 53): qh = floor(N / mc) and ql = floor(r * 2^31 / mc), r the remainder,
 * each estimated with inv = floor(2^54 / mc) (at most 1 resp. 2 too small)
 * and corrected with the remainder. With T = X >> s the truncated 53-bit
 * quotient, q31 = round(T / 2^22) (half up); rounding T to 53 bits first
 * changes that only when T ends in 0 and 21 ones (then T is odd, and the
 * round-up is the guard bit alone, whatever the rest). */
static KWSQ_ALWAYS_INLINE void apply_bits(const kwsq_ratio_base *rb, uint32_t ub, int32_t *mult, int *shift)
{
    const uint32_t xb = ub & 0x7FFFFFFFu;
    if (rb->ma == 0 || !finite_nonzero(xb)) {
        *mult = 0;
        *shift = 0;
        return;
    }
    int eb;
    const uint32_t mb = float_mant(xb, &eb);
    const uint32_t mc = rb->mc, inv = rb->inv;
    const uint64_t num = (uint64_t)rb->ma * mb;
    const uint32_t nh = (uint32_t)(num >> 32), nl = (uint32_t)num;
    const uint64_t prod = (uint64_t)nh * inv + (((uint64_t)nl * inv) >> 32); /* N * inv / 2^32 */
    uint32_t qh = (uint32_t)(prod >> 22);
    uint32_t r = nl - qh * mc; /* below 2 mc: exact in 32 bits */
    if (r >= mc) {
        ++qh;
        r -= mc;
    }
    const uint64_t pl = (uint64_t)r * inv;
    uint32_t ql = (uint32_t)(pl >> 23);
    uint32_t rl = (r << 31) - ql * mc; /* below 3 mc: exact in 32 bits */
    while (rl >= mc) {
        ++ql;
        rl -= mc;
    }
    const int s = qh >= (1u << 24) ? 3 : qh >= (1u << 23) ? 2 : 1;
    const uint32_t y = (qh << (10 - s)) | (ql >> (s + 21)); /* T >> 21 */
    uint32_t q31 = (y >> 1) + (y & 1u);
    if (((ql >> s) & 0x3FFFFFu) == 0x1FFFFFu && ((ql >> (s - 1)) & 1u) != 0) {
        ++q31;
    }
    int exp2 = rb->exp + eb + s;
    int64_t q_fixed = q31; /* [2^30, 2^31] */
    if (((ub & 0x80000000u) ^ rb->sign) != 0) {
        q_fixed = -q_fixed;
    }
    /* from here as kwsq_quantize_multiplier */
    if (q_fixed == (1LL << 31)) {
        q_fixed /= 2;
        ++exp2;
    }
    if (exp2 < -31) {
        exp2 = 0;
        q_fixed = 0;
    }
    if (exp2 > 30) {
        exp2 = 30;
        q_fixed = (1LL << 31) - 1;
    }
    *mult = (int32_t)q_fixed;
    *shift = exp2;
}


void kwsq_ratio_fill(const kwsq_ratio_base *rb, const uint8_t *b, int32_t count, int32_t *mult, int8_t *shift)
{
    const kwsq_ratio_base base = *rb; /* in registers: the stores below cannot change it */
    for (int32_t c = 0; c < count; ++c) {
        uint32_t ub = 0;
        if (b != NULL) {
            memcpy(&ub, b + 4 * c, 4); /* float32 in the byte order of the model and the core */
        }
        int s;
        apply_bits(&base, ub, &mult[c], &s);
        shift[c] = (int8_t)s;
    }
}

bool kwsq_product_at_most(float a, float b, int e)
{
    const uint32_t ua = float_bits(a), ub = float_bits(b);
    const uint32_t xa = ua & 0x7FFFFFFFu, xb = ub & 0x7FFFFFFFu;
    const bool negative = ((ua ^ ub) >> 31) != 0;
    if (xa > 0x7F800000u || xb > 0x7F800000u ||
        ((xa == 0 || xb == 0) && (xa == 0x7F800000u || xb == 0x7F800000u))) {
        return false; /* NaN */
    }
    if (xa == 0 || xb == 0 || negative) {
        return true; /* zero or negative */
    }
    if (xa == 0x7F800000u || xb == 0x7F800000u) {
        return false; /* +infinity */
    }
    int ea, eb;
    const uint64_t p = (uint64_t)float_mant(xa, &ea) * float_mant(xb, &eb); /* [2^46, 2^48) */
    const int k = e - ea - eb; /* a * b <= 2^e  <=>  p <= 2^k */
    return k >= 48 || (k >= 46 && p <= ((uint64_t)1 << k));
}

/* TFLM: real = min(beta * scale * 2^(31 - int_bits), 2^31 - 1) in double
 * (the product of two floats is exact there), QuantizeMultiplier(real),
 * refused when real <= 1 or the shift is negative. The same without
 * doubles: any real of 2^30 or more gives (2^31 - 1, 30), so the clamp
 * matters only for beta = +infinity. */
bool kwsq_softmax_scaling(float beta, float scale, int int_bits, int32_t *mult, int *shift)
{
    const int e = 31 - int_bits; /* 0 < int_bits < 31 */
    const uint32_t pow2_bits = (uint32_t)(127 - e) << 23;
    float inv_pow2;
    memcpy(&inv_pow2, &pow2_bits, sizeof inv_pow2); /* 2^-e */
    const uint32_t xb = float_bits(beta) & 0x7FFFFFFFu, xs = float_bits(scale) & 0x7FFFFFFFu;
    const bool same_sign = ((float_bits(beta) ^ float_bits(scale)) >> 31) == 0;
    if (same_sign && xb <= 0x7F800000u && xs <= 0x7F800000u && xb != 0 && xs != 0 &&
        (xb == 0x7F800000u || xs == 0x7F800000u)) { /* +infinity, clamped */
        *mult = INT32_MAX;
        *shift = 30;
    } else {
        kwsq_quantize_ratio(beta, scale, inv_pow2, mult, shift);
    }
    return !kwsq_product_at_most(beta, scale, -e) && *shift >= 0;
}

/* One value through the table loop: one copy of the code. */
void kwsq_ratio_apply(const kwsq_ratio_base *rb, float b, int32_t *mult, int *shift)
{
    int8_t s;
    kwsq_ratio_fill(rb, (const uint8_t *)&b, 1, mult, &s);
    *shift = s;
}

void kwsq_quantize_ratio(float a, float b, float c, int32_t *mult, int *shift)
{
    kwsq_ratio_base rb;
    (void)kwsq_ratio_base_of(a, c, &rb);
    kwsq_ratio_apply(&rb, b, mult, shift);
}

static bool quantize_value(float scale, int32_t zero_point, float f, int32_t *q)
{
    float tmp = roundf(f / scale);
    if (!(tmp >= -2147483648.0f && tmp <= 2147483647.0f)) {
        return false;
    }
    *q = zero_point + (int32_t)tmp;
    return true;
}

bool kwsq_activation_range_q(int32_t activation, float scale, int32_t zero_point, int32_t qmin,
                             int32_t qmax, int32_t *act_min, int32_t *act_max)
{
    int32_t lo, hi;
    *act_min = qmin;
    *act_max = qmax;
    switch (activation) {
    case 0: /* NONE */
        return true;
    case 1: /* RELU */
        if (!quantize_value(scale, zero_point, 0.0f, &lo)) {
            return false;
        }
        *act_min = lo > qmin ? lo : qmin;
        return true;
    case 2: /* RELU_N1_TO_1 */
    case 3: /* RELU6 */
        if (!quantize_value(scale, zero_point, activation == 2 ? -1.0f : 0.0f, &lo) ||
            !quantize_value(scale, zero_point, activation == 2 ? 1.0f : 6.0f, &hi)) {
            return false;
        }
        *act_min = lo > qmin ? lo : qmin;
        *act_max = hi < qmax ? hi : qmax;
        return true;
    default:
        return false;
    }
}

void kwsq_activation_range_f(int32_t activation, float *act_min, float *act_max)
{
    *act_min = -FLT_MAX;
    *act_max = FLT_MAX;
    if (activation == 1) {
        *act_min = 0.0f;
    } else if (activation == 2) {
        *act_min = -1.0f;
        *act_max = 1.0f;
    } else if (activation == 3) {
        *act_min = 0.0f;
        *act_max = 6.0f;
    }
}

/* TFLM computes floor(((1 << int_bits) - 1) * 2^(total_bits - int_bits) /
 * 2^left_shift) in double, where every step is exact: the same in integers. */
int32_t kwsq_input_radius(int int_bits, int left_shift, int total_bits)
{
    const int64_t max_input = (((int64_t)1 << int_bits) - 1) << (total_bits - int_bits);
    return (int32_t)(max_input >> left_shift);
}

/* exp(a) for a in [-1/4, 0), Q0.31: Taylor expansion around -1/8. */
static int32_t exp_on_interval(int32_t a)
{
    const int32_t constant_term = 1895147668;  /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    int32_t x = a + (1 << 28);
    int32_t x2 = kwsq_srdhm(x, x);
    int32_t x3 = kwsq_srdhm(x2, x);
    int32_t x4 = kwsq_srdhm(x2, x2);
    int32_t x4_over_4 = kwsq_rdbpot(x4, 2);
    int32_t poly = kwsq_rdbpot(kwsq_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + kwsq_srdhm(constant_term, x + poly);
}

int32_t kwsq_exp_on_negative_values(int32_t a, int int_bits)
{
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                           39332535,   720401,     242};
    const int frac_bits = 31 - int_bits;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    const int32_t mask = one_quarter - 1;
    int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    int32_t result = exp_on_interval(kwsq_sat_shl(a_mod_quarter_minus_one_quarter, int_bits));
    int32_t remainder = (int32_t)((uint32_t)a_mod_quarter_minus_one_quarter - (uint32_t)a);
    for (int e = -2; e <= 4; ++e) {
        if (int_bits > e) {
            int shift_amount = frac_bits + e;
            if (remainder & (int32_t)(1UL << shift_amount)) {
                result = kwsq_srdhm(result, multipliers[e + 2]);
            }
        }
    }
    if (int_bits > 5) {
        int32_t clamp = -((int32_t)1 << (36 - int_bits));
        if (a < clamp) {
            result = 0;
        }
    }
    if (a == 0) {
        result = INT32_MAX;
    }
    return result;
}

static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    int64_t sum = (int64_t)a + (int64_t)b;
    int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* Newton-Raphson 1 / (2 * half_denominator), Q2.29. */
static int32_t newton_reciprocal(int32_t half_denominator)
{
    const int32_t constant_48_over_17 = 1515870810;
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t f2_one = 1 << 29;
    int32_t x = constant_48_over_17 + kwsq_srdhm(half_denominator, constant_neg_32_over_17);
    for (int i = 0; i < 3; ++i) {
        int32_t half_denominator_times_x = kwsq_srdhm(half_denominator, x);
        int32_t one_minus = f2_one - half_denominator_times_x;
        x = x + kwsq_sat_shl(kwsq_srdhm(x, one_minus), 2);
    }
    return x;
}

int32_t kwsq_one_over_one_plus_x(int32_t a)
{
    int32_t x = newton_reciprocal(rounding_half_sum(a, INT32_MAX));
    return kwsq_sat_shl(x, 1);
}

static int32_t one_minus_x_over_one_plus_x(int32_t a)
{
    int32_t x = newton_reciprocal(rounding_half_sum(a, INT32_MAX));
    return kwsq_sat_shl(x - (1 << 29), 2);
}

int32_t kwsq_fx_logistic(int32_t a, int int_bits)
{
    if (a == 0) {
        return 1 << 30;
    }
    int32_t neg_abs = a > 0 ? -a : a;
    int32_t result_if_positive = kwsq_one_over_one_plus_x(kwsq_exp_on_negative_values(neg_abs, int_bits));
    return a > 0 ? result_if_positive : INT32_MAX - result_if_positive;
}

int32_t kwsq_fx_tanh(int32_t a, int int_bits)
{
    if (a == 0) {
        return 0;
    }
    int32_t n = a < 0 ? a : -a;
    int32_t t = one_minus_x_over_one_plus_x(kwsq_exp_on_negative_values(n, int_bits + 1));
    return a < 0 ? -t : t;
}

static int clz32(uint32_t x)
{
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
}

int32_t kwsq_get_reciprocal(int32_t x, int x_int_bits, int *num_bits_over_unit)
{
    int headroom_plus_one = clz32((uint32_t)x);
    *num_bits_over_unit = x_int_bits - headroom_plus_one;
    int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    return kwsq_one_over_one_plus_x(shifted_sum_minus_one);
}
