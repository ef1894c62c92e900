/*
 * Quantization helpers computed once in Prepare, and the gemmlowp fixed-point
 * transcendental functions used by the int8 SOFTMAX / LOGISTIC / TANH kernels.
 * The constants and the order of operations follow gemmlowp's fixedpoint.h
 * (the code TFLite Micro's reference kernels run), so results match bit for bit.
 */
#include <float.h>
#include <math.h>

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

int32_t kwsq_input_radius(int int_bits, int left_shift, int total_bits)
{
    double max_input_rescaled = 1.0 * (double)((1 << int_bits) - 1) *
                                (double)(1LL << (total_bits - int_bits)) / (double)(1LL << left_shift);
    return (int32_t)floor(max_input_rescaled);
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
