/*
 * kwsq_add_s8: ADD int8 on one run of outputs, TFLite Micro's scheme (inputs
 * shifted left, rescaled to a common scale, summed, rescaled to the output).
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

kwsq_status kwsq_add_s8(const kwsq_arith_params *params, int32_t count, const int8_t *input1,
                        int32_t stride1, const int8_t *input2, int32_t stride2, int8_t *output)
{
    const kwsq_arith_params p = *params;
    for (int32_t i = 0; i < count; ++i) {
        const int32_t s1 = (int32_t)((uint32_t)(p.in1_offset + *input1) << p.left_shift);
        const int32_t s2 = (int32_t)((uint32_t)(p.in2_offset + *input2) << p.left_shift);
        const int32_t sum = kwsq_mbqm(s1, p.in1_multiplier, p.in1_shift) +
                            kwsq_mbqm(s2, p.in2_multiplier, p.in2_shift);
        const int32_t r = kwsq_mbqm(sum, p.output_multiplier, p.output_shift) + p.output_offset;
        output[i] = (int8_t)kwsq_clamp(r, p.act_min, p.act_max);
        input1 += stride1;
        input2 += stride2;
    }
    return KWSQ_OK;
}
