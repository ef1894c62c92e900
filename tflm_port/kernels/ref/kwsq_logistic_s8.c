/*
 * kwsq_logistic_s8: LOGISTIC int8 -> int8 (output zero point -128, scale
 * 1/256) with gemmlowp's fixed-point sigmoid, as TFLite Micro's reference
 * kernel. ~400 instructions a value on a Cortex-M4: the op runs it once per
 * int8 value in Prepare and looks the results up (kwsq_lut_s8) in Eval.
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

#define INPUT_INT_BITS 4

kwsq_status kwsq_logistic_s8(const kwsq_fx_act_params *params, int32_t count, const int8_t *input,
                             int8_t *output)
{
    for (int32_t i = 0; i < count; ++i) {
        const int32_t v = (int32_t)input[i] - params->input_zero_point;
        if (v <= -params->input_radius) {
            output[i] = -128;
        } else if (v >= params->input_radius) {
            output[i] = 127;
        } else {
            const int32_t in_q4 = kwsq_mbqm(v, params->input_multiplier, params->input_left_shift);
            const int32_t out_q0 = kwsq_fx_logistic(in_q4, INPUT_INT_BITS);
            const int32_t out = kwsq_rdbpot(out_q0, 31 - 8);
            output[i] = (int8_t)kwsq_clamp(out - 128, -128, 127);
        }
    }
    return KWSQ_OK;
}
