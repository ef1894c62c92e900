/*
 * kwsq_clamp_s8: int8 clamp to [lo, hi] (RELU6 in the input's quantization).
 */
#include "kwsq_kernels.h"

kwsq_status kwsq_clamp_s8(int32_t lo, int32_t hi, int32_t count, const int8_t *input,
                          int8_t *output)
{
    for (int32_t i = 0; i < count; ++i) {
        const int32_t v = input[i] > lo ? input[i] : lo;
        output[i] = (int8_t)(v < hi ? v : hi);
    }
    return KWSQ_OK;
}
