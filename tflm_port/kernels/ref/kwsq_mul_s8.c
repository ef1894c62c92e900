/*
 * kwsq_mul_s8: MUL int8 on one run of outputs: the product of the offset
 * inputs rescaled by in1 * in2 / out, as TFLite Micro's reference kernel.
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

kwsq_status kwsq_mul_s8(const kwsq_arith_params *params, int32_t count, const int8_t *input1,
                        int32_t stride1, const int8_t *input2, int32_t stride2, int8_t *output)
{
    const kwsq_arith_params p = *params;
    for (int32_t i = 0; i < count; ++i) {
        const int32_t prod = (p.in1_offset + *input1) * (p.in2_offset + *input2);
        const int32_t r = p.output_offset + kwsq_mbqm(prod, p.output_multiplier, p.output_shift);
        output[i] = (int8_t)kwsq_clamp(r, p.act_min, p.act_max);
        input1 += stride1;
        input2 += stride2;
    }
    return KWSQ_OK;
}
