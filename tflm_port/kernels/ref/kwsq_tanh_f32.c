/*
 * kwsq_tanh_f32: float tanh.
 */
#include <math.h>

#include "kwsq_kernels.h"

kwsq_status kwsq_tanh_f32(int32_t count, const float *input, float *output)
{
    for (int32_t i = 0; i < count; ++i) {
        output[i] = tanhf(input[i]);
    }
    return KWSQ_OK;
}
