/*
 * kwsq_softmax_s8 for Cortex-M55: the reference computation (TFLite Micro's
 * fixed-point exp and reciprocal, kernels/ref/kwsq_softmax_s8.c) with each
 * value's exp computed once: the first pass keeps the exps of up to
 * SOFTMAX_KEPT values on the stack for the second, which recomputes only
 * the values past them. An exp below diff_min is 0, and 0 gives the output
 * -128 the reference writes for those values, so both passes use the same
 * rule.
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

#define SCALED_DIFF_INT_BITS 5
#define ACCUM_INT_BITS 12
#define SOFTMAX_KEPT 256

static int32_t exp_of(const kwsq_softmax_params *params, int32_t diff)
{
    if (diff < params->diff_min) {
        return 0;
    }
    const int32_t scaled =
        kwsq_srdhm((int32_t)((uint32_t)diff << params->input_left_shift), params->input_multiplier);
    return kwsq_exp_on_negative_values(scaled, SCALED_DIFF_INT_BITS);
}

kwsq_status kwsq_softmax_s8(const kwsq_softmax_params *params, int32_t rows, int32_t depth,
                            const int8_t *input, int8_t *output)
{
    int32_t kept[SOFTMAX_KEPT];
    const int32_t n_kept = depth < SOFTMAX_KEPT ? depth : SOFTMAX_KEPT;
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *x = input + (int64_t)r * depth;
        int8_t *y = output + (int64_t)r * depth;
        int32_t max = -128;
        for (int32_t c = 0; c < depth; ++c) {
            max = x[c] > max ? x[c] : max;
        }
        int32_t sum_of_exps = 0; /* Q12.19 */
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t e = exp_of(params, (int32_t)x[c] - max);
            if (c < n_kept) {
                kept[c] = e;
            }
            sum_of_exps += kwsq_rdbpot(e, ACCUM_INT_BITS);
        }
        int num_bits_over_unit;
        const int32_t shifted_scale = kwsq_get_reciprocal(sum_of_exps, ACCUM_INT_BITS, &num_bits_over_unit);
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t e = c < n_kept ? kept[c] : exp_of(params, (int32_t)x[c] - max);
            const int32_t unsat = kwsq_rdbpot(kwsq_srdhm(shifted_scale, e), num_bits_over_unit + 31 - 8);
            y[c] = (int8_t)kwsq_clamp(unsat - 128, -128, 127);
        }
    }
    return KWSQ_OK;
}
