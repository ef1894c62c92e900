/*
 * kwsq_softmax_s8: SOFTMAX int8 -> int8 (output scale 1/256, zero point
 * -128) with TFLite Micro's fixed-point exp and reciprocal.
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

#define SCALED_DIFF_INT_BITS 5
#define ACCUM_INT_BITS 12

kwsq_status kwsq_softmax_s8(const kwsq_softmax_params *params, int32_t rows, int32_t depth,
                            const int8_t *input, int8_t *output)
{
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *x = input + (int64_t)r * depth;
        int8_t *y = output + (int64_t)r * depth;
        int32_t max = -128;
        for (int32_t c = 0; c < depth; ++c) {
            max = x[c] > max ? x[c] : max;
        }
        int32_t sum_of_exps = 0; /* Q12.19 */
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max;
            if (diff >= params->diff_min) {
                const int32_t scaled = kwsq_srdhm((int32_t)((uint32_t)diff << params->input_left_shift),
                                                  params->input_multiplier);
                const int32_t e = kwsq_exp_on_negative_values(scaled, SCALED_DIFF_INT_BITS);
                sum_of_exps += kwsq_rdbpot(e, ACCUM_INT_BITS);
            }
        }
        int num_bits_over_unit;
        const int32_t shifted_scale = kwsq_get_reciprocal(sum_of_exps, ACCUM_INT_BITS, &num_bits_over_unit);
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max;
            if (diff >= params->diff_min) {
                const int32_t scaled = kwsq_srdhm((int32_t)((uint32_t)diff << params->input_left_shift),
                                                  params->input_multiplier);
                const int32_t e = kwsq_exp_on_negative_values(scaled, SCALED_DIFF_INT_BITS);
                const int32_t unsat = kwsq_rdbpot(kwsq_srdhm(shifted_scale, e), num_bits_over_unit + 31 - 8);
                y[c] = (int8_t)kwsq_clamp(unsat - 128, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
    return KWSQ_OK;
}
