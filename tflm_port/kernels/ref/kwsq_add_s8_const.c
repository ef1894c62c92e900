/*
 * kwsq_add_s8_const: ADD int8 with a constant second input whose rescaled
 * terms Prepare computed (TFLite Micro's sum of two rescaled inputs, the
 * second one looked up).
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

kwsq_status kwsq_add_s8_const(const kwsq_arith_params *params, int32_t count, const int8_t *input1,
                              int32_t stride1, const int32_t *scaled2, int32_t stride2,
                              int8_t *output)
{
    const kwsq_arith_params p = *params;
    for (int32_t i = 0; i < count; ++i) {
        const int32_t s1 = (int32_t)((uint32_t)(p.in1_offset + *input1) << p.left_shift);
        const int32_t sum = kwsq_mbqm(s1, p.in1_multiplier, p.in1_shift) + *scaled2;
        const int32_t r = kwsq_mbqm(sum, p.output_multiplier, p.output_shift) + p.output_offset;
        output[i] = (int8_t)kwsq_clamp(r, p.act_min, p.act_max);
        input1 += stride1;
        scaled2 += stride2;
    }
    return KWSQ_OK;
}
