/*
 * kwsq_lut_s8: an int8 -> int8 function by table lookup, output =
 * table[input + 128].
 */
#include "kwsq_kernels.h"

kwsq_status kwsq_lut_s8(const int8_t *table, int32_t count, const int8_t *input, int8_t *output)
{
    const int8_t *t = table + 128;
    int32_t i = 0;
    for (; i + 4 <= count; i += 4) {
        const int8_t a = t[input[i]], b = t[input[i + 1]], c = t[input[i + 2]], d = t[input[i + 3]];
        output[i] = a;
        output[i + 1] = b;
        output[i + 2] = c;
        output[i + 3] = d;
    }
    for (; i < count; ++i) {
        output[i] = t[input[i]];
    }
    return KWSQ_OK;
}
