/*
 * kwsq_dequantize_s8_f32: DEQUANTIZE int8 -> float, scale * (q - zero_point)
 * in double rounded once to float, as TFLite Micro's reference kernel.
 */
#include "kwsq_kernels.h"

kwsq_status kwsq_dequantize_s8_f32(double scale, int32_t zero_point, int32_t count,
                                   const int8_t *input, float *output)
{
    for (int32_t i = 0; i < count; ++i) {
        output[i] = (float)(scale * (double)((int32_t)input[i] - zero_point));
    }
    return KWSQ_OK;
}
