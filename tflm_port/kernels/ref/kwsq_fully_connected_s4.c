/*
 * kwsq_fully_connected_s4: int8 input, packed INT4 weights read packed (two
 * per byte, low nibble first; a row may start mid-byte), so no unpacked copy
 * of the weights exists. Otherwise as kwsq_fully_connected_s8.
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

/* Row `row` of packed int4 weights times x. */
static int32_t dot_s4(const uint8_t *w, int32_t row, const int8_t *x, int32_t n)
{
    const int64_t start = (int64_t)row * n;
    int32_t acc = 0;
    int32_t i = 0;
    if (start & 1) {
        acc += kwsq_int4_at(w, start) * (int32_t)x[0];
        i = 1;
    }
    const uint8_t *p = w + ((start + i) >> 1);
    for (; i + 1 < n; i += 2) {
        const int32_t b = *p++;
        /* Sign-extend each nibble without shifting a negative value left. */
        const int32_t lo = ((b & 0x0F) ^ 8) - 8;
        const int32_t hi = (b >> 4 ^ 8) - 8;
        acc += lo * (int32_t)x[i] + hi * (int32_t)x[i + 1];
    }
    if (i < n) {
        acc += kwsq_int4_at(w, start + i) * (int32_t)x[i];
    }
    return acc;
}

kwsq_status kwsq_fully_connected_s4(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const uint8_t *packed_weights, const int32_t *row_const,
                                    int8_t *output)
{
    const int32_t accum = dims->accum_depth, out_depth = dims->output_depth;
    for (int32_t b = 0; b < dims->batches; ++b) {
        const int8_t *x = input + (int64_t)b * accum;
        int32_t xsum = 0;
        if (params->filter_offset != 0) {
            for (int32_t i = 0; i < accum; ++i) {
                xsum += x[i];
            }
            xsum = (int32_t)((uint32_t)xsum * (uint32_t)params->filter_offset);
        }
        for (int32_t o = 0; o < out_depth; ++o) {
            /* Wrapping adds: the folded constants are TFLM's sums modulo 2^32. */
            int32_t acc = (int32_t)((uint32_t)dot_s4(packed_weights, o, x, accum) + (uint32_t)row_const[o] +
                                    (uint32_t)xsum);
            const int32_t c = quant->per_channel ? o : 0;
            acc = kwsq_requant(acc, quant->multiplier[c], quant->shift[c], quant->pot) + params->output_offset;
            output[(int64_t)b * out_depth + o] = (int8_t)kwsq_clamp(acc, params->act_min, params->act_max);
        }
    }
    return KWSQ_OK;
}
