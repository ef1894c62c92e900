/*
 * kwsq_fully_connected_s8: int8 input and weights, per-tensor or per-row
 * requantization, bit-exact with TFLite Micro's reference kernel (the
 * input-independent terms come folded in row_const).
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

kwsq_status kwsq_fully_connected_s8(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const int8_t *weights, const int32_t *row_const, int8_t *output)
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
            const int8_t *w = weights + (int64_t)o * accum;
            int32_t acc = 0;
            for (int32_t i = 0; i < accum; ++i) {
                acc += (int32_t)w[i] * (int32_t)x[i];
            }
            /* Wrapping adds: the folded constants are TFLM's sums modulo 2^32. */
            acc = (int32_t)((uint32_t)acc + (uint32_t)row_const[o] + (uint32_t)xsum);
            const int32_t c = quant->per_channel ? o : 0;
            acc = kwsq_requant(acc, quant->multiplier[c], quant->shift[c], quant->pot) + params->output_offset;
            output[(int64_t)b * out_depth + o] = (int8_t)kwsq_clamp(acc, params->act_min, params->act_max);
        }
    }
    return KWSQ_OK;
}
