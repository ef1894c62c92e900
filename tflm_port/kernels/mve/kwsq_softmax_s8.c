/*
 * kwsq_softmax_s8 for Cortex-M55 Helium, bit-exact with kernels/ref (TFLite
 * Micro's fixed-point exp and reciprocal): four values per vector. The
 * fixed-point exp (gemmlowp's exp_on_negative_values with 5 integer bits)
 * is lane by lane: SaturatingRoundingDoublingHighMul is VQRDMULH, a
 * rounding divide by a power of two is VRSHR after subtracting 1 from
 * negative values (halves away from zero), and each of the seven
 * conditional multiplications is a VQRDMULH kept where its remainder bit is
 * set (VPSEL). The first pass keeps the exps of up to SOFTMAX_KEPT values
 * on the stack for the second, which recomputes only the values past them.
 * A value below diff_min gets exp 0, and 0 gives the output -128 the
 * reference writes for it. The reciprocal of the sum stays scalar
 * (kwsq_get_reciprocal), once per row.
 */
#include <arm_mve.h>

#include "kwsq_kernels.h"
#include "kwsq_math.h"

#define SCALED_DIFF_INT_BITS 5
#define ACCUM_INT_BITS 12
#define SOFTMAX_KEPT 256

/* RoundingDivideByPOT by a constant exponent, any sign. */
#define RDBPOT(v, e) vrshrq_n_s32(vqaddq_s32((v), vshrq_n_s32((v), 31)), (e))

/* exp of four Q5.26 values a <= 0 (kwsq_exp_on_negative_values, 5 integer
 * bits), Q0.31. */
static inline int32x4_t exp4(int32x4_t a)
{
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                           39332535,   720401,     242};
    const int32_t one_quarter = 1 << 24;
    const int32x4_t a_mod = vsubq_n_s32(vandq_s32(a, vdupq_n_s32(one_quarter - 1)), one_quarter);
    /* exp_on_interval(a_mod << 5): exp(-1/8) times a Taylor polynomial */
    const int32_t constant_term = 1895147668, constant_1_over_3 = 715827883;
    const int32x4_t x = vaddq_n_s32(vqshlq_n_s32(a_mod, SCALED_DIFF_INT_BITS), 1 << 28);
    const int32x4_t x2 = vqrdmulhq_s32(x, x), x3 = vqrdmulhq_s32(x2, x), x4 = vqrdmulhq_s32(x2, x2);
    const int32x4_t x4_over_4 = RDBPOT(x4, 2);
    const int32x4_t poly = RDBPOT(vaddq_s32(vqrdmulhq_n_s32(vaddq_s32(x4_over_4, x3), constant_1_over_3), x2), 1);
    int32x4_t result = vaddq_n_s32(vqrdmulhq_n_s32(vaddq_s32(x, poly), constant_term), constant_term);
    const int32x4_t remainder = vsubq_s32(a_mod, a);
    for (int32_t e = 0; e < 7; ++e) {
        /* (vcmpneq_n against 0 here crashes GCC 12's combine pass) */
        const int32x4_t bit = vandq_s32(remainder, vdupq_n_s32((int32_t)(1u << (24 + e))));
        const mve_pred16_t set = vcmpneq_s32(bit, vdupq_n_s32(0));
        result = vpselq_s32(vqrdmulhq_n_s32(result, multipliers[e]), result, set);
    }
    return vpselq_s32(vdupq_n_s32(INT32_MAX), result, vcmpeqq_n_s32(a, 0));
}

/* The exps of the four values at x (n valid) less max: 0 below diff_min. */
static inline int32x4_t exps_at(const kwsq_softmax_params *params, const int8_t *x, int32_t n, int32_t max)
{
    const int32x4_t diff = vsubq_n_s32(vldrbq_z_s32(x, vctp32q((uint32_t)n)), max);
    const int32x4_t scaled =
        vqrdmulhq_n_s32(vshlq_r_s32(diff, params->input_left_shift), params->input_multiplier);
    return vpselq_s32(vdupq_n_s32(0), exp4(scaled), vcmpltq_n_s32(diff, params->diff_min));
}

kwsq_status kwsq_softmax_s8(const kwsq_softmax_params *params, int32_t rows, int32_t depth,
                            const int8_t *input, int8_t *output)
{
    int32_t kept[SOFTMAX_KEPT] __attribute__((aligned(16)));
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *x = input + (int64_t)r * depth;
        int8_t *y = output + (int64_t)r * depth;
        int32_t max = -128;
        for (int32_t c = 0; c < depth; c += 16) {
            const mve_pred16_t p = vctp8q((uint32_t)(depth - c));
            max = vmaxvq_p_s8((int8_t)max, vldrbq_z_s8(x + c, p), p);
        }
        int32_t sum_of_exps = 0; /* Q12.19 */
        for (int32_t c = 0; c < depth; c += 4) {
            const int32x4_t e = exps_at(params, x + c, depth - c, max);
            if (c < SOFTMAX_KEPT) {
                vstrwq_s32(kept + c, e);
            }
            /* lanes past the row are exp(0 - max) or 0: only the valid ones */
            sum_of_exps = vaddvaq_p_s32(sum_of_exps, vrshrq_n_s32(e, ACCUM_INT_BITS), vctp32q((uint32_t)(depth - c)));
        }
        int num_bits_over_unit;
        const int32_t shifted_scale = kwsq_get_reciprocal(sum_of_exps, ACCUM_INT_BITS, &num_bits_over_unit);
        /* the exps are >= 0, so each product is and the divide is one VRSHL;
         * num_bits_over_unit <= 8 below 2^12 values a row, past 31 the
         * scalar reference's shift is what counts */
        const int32_t exponent = num_bits_over_unit + 31 - 8;
        for (int32_t c = 0; c < depth; c += 4) {
            const int32x4_t e = c < SOFTMAX_KEPT ? vldrwq_s32(kept + c) : exps_at(params, x + c, depth - c, max);
            int32x4_t v;
            if (exponent <= 31) {
                v = vrshlq_n_s32(vqrdmulhq_n_s32(e, shifted_scale), -exponent);
            } else {
                int32_t lanes[4];
                vstrwq_s32(lanes, vqrdmulhq_n_s32(e, shifted_scale));
                for (int32_t j = 0; j < 4; ++j) {
                    lanes[j] = kwsq_rdbpot(lanes[j], exponent);
                }
                v = vldrwq_s32(lanes);
            }
            v = vminq_s32(vmaxq_s32(vsubq_n_s32(v, 128), vdupq_n_s32(-128)), vdupq_n_s32(127));
            vstrbq_p_s32(y + c, v, vctp32q((uint32_t)(depth - c)));
        }
    }
    return KWSQ_OK;
}
