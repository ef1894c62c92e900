/*
 * kwsq_logistic_f32: float sigmoid with TFLite Micro's cut-offs (beyond them
 * the result is 1, or exp(x) for very negative x).
 */
#include <math.h>

#include "kwsq_kernels.h"

kwsq_status kwsq_logistic_f32(int32_t count, const float *input, float *output)
{
    for (int32_t i = 0; i < count; ++i) {
        const float x = input[i];
        if (x > 16.619047164916992188f) {
            output[i] = 1.0f;
        } else if (x < -9.0f) {
            output[i] = expf(x);
        } else {
            output[i] = 1.0f / (1.0f + expf(-x));
        }
    }
    return KWSQ_OK;
}
