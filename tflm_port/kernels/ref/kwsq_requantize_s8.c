/*
 * kwsq_requantize_s8: int8 -> int8 with a fixed-point multiplier and a clamp
 * (RELU, QUANTIZE int8 -> int8), as TFLite Micro's reference kernels.
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

kwsq_status kwsq_requantize_s8(const kwsq_requant_params *params, int32_t count,
                               const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < count; ++i) {
        const int32_t v = params->output_offset +
                          kwsq_mbqm((int32_t)input[i] - params->input_zero_point, params->multiplier,
                                    params->shift);
        output[i] = (int8_t)kwsq_clamp(v, params->act_min, params->act_max);
    }
    return KWSQ_OK;
}
