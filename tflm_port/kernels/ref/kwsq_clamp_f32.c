/*
 * kwsq_clamp_f32: float clamp to [lo, hi] (RELU, RELU6).
 */
#include "kwsq_kernels.h"

kwsq_status kwsq_clamp_f32(float lo, float hi, int32_t count, const float *input, float *output)
{
    for (int32_t i = 0; i < count; ++i) {
        const float x = input[i];
        output[i] = x < lo ? lo : (x > hi ? hi : x);
    }
    return KWSQ_OK;
}
