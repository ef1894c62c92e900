/*
 * kwsq_fully_connected_s4 for cores with the DSP extension: packed int4 weights read packed (8 per load),
 * four rows per pass (dsp_fc.h); requantization as dsp_requant.h.
 */
#include "dsp_fc.h"
#include "dsp_requant.h"
#include "kwsq_kernels.h"

kwsq_status kwsq_fully_connected_s4(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const uint8_t *packed_weights, const int32_t *row_const, int8_t *output)
{
    const int32_t accum = dims->accum_depth, out_depth = dims->output_depth;
    /* |acc| <= accum * 255 * max|w| + |row_const| + |xsum|: the short form
     * needs it below 2^30; checked against the largest row constant. */
    int64_t bound = (int64_t)accum * 255 * 128 * (params->filter_offset != 0 ? 2 : 1);
    int64_t cmax = 0;
    for (int32_t o = 0; o < out_depth; ++o) {
        const int64_t c = row_const[o] < 0 ? -(int64_t)row_const[o] : row_const[o];
        cmax = c > cmax ? c : cmax;
    }
    bool short_rq = true;
    for (int32_t c = 0; c < (quant->per_channel ? out_depth : 1) && short_rq; ++c) {
        short_rq = dsp_rq_short_ok(bound + cmax, quant->shift[c]);
    }
    const dsp_out out = dsp_out_make(quant->multiplier, quant->shift, params->output_offset, params->act_min,
                                     params->act_max, short_rq, quant->pot);
    /* the widened input, on the stack (2 bytes per value) when short enough */
    const bool widen = accum <= DSP_FC_S4_PAIRS_MAX && (accum & 1) == 0;
    uint32_t pairs[widen ? accum / 8 * 4 + 1 : 1];
    uint32_t *xpairs = widen ? pairs : NULL;
    for (int32_t b = 0; b < dims->batches; ++b) {
        const int8_t *x = input + (int64_t)b * accum;
        int32_t xsum = 0;
        if (params->filter_offset != 0) {
            for (int32_t i = 0; i < accum; ++i) {
                xsum += x[i];
            }
            xsum *= params->filter_offset;
        }
        int8_t *y = output + (int64_t)b * out_depth;
        if (widen) {
            dsp_s4_input_pairs(x, accum, xpairs);
        }
        for (int32_t o = 0; o < out_depth; o += 4) {
            const int32_t rows = out_depth - o < 4 ? out_depth - o : 4;
            int32_t acc[4];
            dsp_dot_rows_s4(packed_weights, o, x, xpairs, accum, rows, acc);
            for (int32_t r = 0; r < rows; ++r) {
                y[o + r] = dsp_out_one(&out, acc[r] + row_const[o + r] + xsum, quant->per_channel ? o + r : 0);
            }
        }
    }
    return KWSQ_OK;
}
