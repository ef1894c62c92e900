/*
 * kwsq_quantize_f32_s8: QUANTIZE float -> int8, round half away from zero
 * (TfLiteRound), saturated.
 */
#include <math.h>

#include "kwsq_kernels.h"

kwsq_status kwsq_quantize_f32_s8(float scale, int32_t zero_point, int32_t count,
                                 const float *input, int8_t *output)
{
    for (int32_t i = 0; i < count; ++i) {
        const float r = roundf(input[i] / scale);
        const int32_t q = (r >= 2147483647.0f) ? INT32_MAX : (r <= -2147483648.0f ? INT32_MIN : (int32_t)r);
        const int64_t v = (int64_t)q + zero_point;
        output[i] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
    }
    return KWSQ_OK;
}
