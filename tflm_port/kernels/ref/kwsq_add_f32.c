/*
 * kwsq_add_f32: float ADD on one run of outputs, with the fused
 * activation's clamp.
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

kwsq_status kwsq_add_f32(const kwsq_float_range *act, int32_t count, const float *input1,
                         int32_t stride1, const float *input2, int32_t stride2, float *output)
{
    for (int32_t i = 0; i < count; ++i) {
        output[i] = kwsq_clampf(*input1 + *input2, act->act_min, act->act_max);
        input1 += stride1;
        input2 += stride2;
    }
    return KWSQ_OK;
}
