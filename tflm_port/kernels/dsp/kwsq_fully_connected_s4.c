/*
 * kwsq_fully_connected_s4 for cores with the DSP extension: packed int4
 * weights read packed (8 per load), the input widened once per call and two
 * rows per pass (dsp_fc.h); requantization as dsp_requant.h. With an odd
 * row length, rows start mid-byte every other row: the even rows and the
 * odd rows run as two passes, each against its own widening of the input.
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
    int64_t cmax = params->row_const_max;
    if (cmax == 0) {
        /* not computed by the caller */
        for (int32_t o = 0; o < out_depth; ++o) {
            const int64_t c = row_const[o] < 0 ? -(int64_t)row_const[o] : row_const[o];
            cmax = c > cmax ? c : cmax;
        }
    }
    bool short_rq = true;
    for (int32_t c = 0; c < (quant->per_channel ? out_depth : 1) && short_rq; ++c) {
        short_rq = dsp_rq_short_ok(bound + cmax, quant->shift[c]);
    }
    const dsp_out out = dsp_out_make(quant->multiplier, quant->shift, params->output_offset, params->act_min,
                                     params->act_max, short_rq, quant->pot);
    const bool pc = quant->per_channel;
    const bool wide = accum <= DSP_FC_WIDE_MAX;
    uint32_t xw[wide ? dsp_fc_wide_words(accum, 1) : 1];
    /* odd rows: rows of one parity share a byte alignment */
    const int32_t step = (accum & 1) != 0 ? 2 : 1;
    for (int32_t b = 0; b < dims->batches; ++b) {
        const int8_t *x = input + (int64_t)b * accum;
        uint32_t xsum = 0;
        if (params->filter_offset != 0) {
            for (int32_t i = 0; i < accum; ++i) {
                xsum += (uint32_t)x[i];
            }
            xsum *= (uint32_t)params->filter_offset;
        }
        int8_t *y = output + (int64_t)b * out_depth;
        if (wide) {
            const dsp_fc_out fo = {out, row_const, xsum, pc};
            for (int32_t lead = 0; lead < step; ++lead) {
                dsp_fc_widen_s4(x, accum, lead, xw);
                dsp_fc_rows_s4(packed_weights, accum, out_depth, lead, step, x, xw, &fo, y);
            }
            continue;
        }
        for (int32_t o = 0; o < out_depth; o += 4) {
            const int32_t rows = out_depth - o < 4 ? out_depth - o : 4;
            int32_t acc[4];
            dsp_fc_stream_s4(packed_weights, o, x, accum, rows, acc);
            for (int32_t r = 0; r < rows; ++r) {
                y[o + r] = dsp_out_one(&out, (int32_t)((uint32_t)acc[r] + (uint32_t)row_const[o + r] + xsum),
                                       pc ? o + r : 0);
            }
        }
    }
    return KWSQ_OK;
}
