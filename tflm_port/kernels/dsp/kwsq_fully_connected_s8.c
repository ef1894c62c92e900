/*
 * kwsq_fully_connected_s8 for cores with the DSP extension: int8 weights;
 * depths up to DSP_FC_TINY_MAX one row per pass with the per-call work cut
 * to the bone (dsp_fc_tiny.c), deeper inputs widened once per call and two
 * rows per pass (dsp_fc.h); requantization as dsp_requant.h. The largest
 * row constant behind the short-stage choice comes from Prepare
 * (params->row_const_max).
 */
#include "dsp_fc.h"
#include "dsp_requant.h"
#include "kwsq_kernels.h"

/* the short path's bound lies inside the FC_SHORT class */
typedef char dsp_fc_short_check[DSP_FC_WIDE_MAX <= KWSQ_FC_SHORT_MAX ? 1 : -1];

/* filter_offset * sum(x[0..n)), wrapping (0 without a weight zero point) */
static inline uint32_t xsum_of(const int8_t *x, int32_t n, int32_t filter_offset)
{
    uint32_t xsum = 0;
    if (filter_offset != 0) {
        for (int32_t i = 0; i < n; ++i) {
            xsum += (uint32_t)x[i];
        }
        xsum *= (uint32_t)filter_offset;
    }
    return xsum;
}

kwsq_status kwsq_fully_connected_s8(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const int8_t *weights, const int32_t *row_const, int8_t *output)
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
    if (KWSQ_MODEL_HAS(FC_SHORT) && accum <= DSP_FC_TINY_MAX) {
        for (int32_t b = 0; b < dims->batches; ++b) {
            const int8_t *x = input + (int64_t)b * accum;
            const dsp_fc_out fo = {out, row_const, xsum_of(x, accum, params->filter_offset), pc};
            dsp_fc_tiny_s8(weights, accum, out_depth, x, &fo, output + (int64_t)b * out_depth);
        }
        return KWSQ_OK;
    }
    /* the widened input, on the stack (2 bytes per value) when short enough
     * (a build for a model without such a layer streams every row) */
    const bool wide = KWSQ_MODEL_HAS(FC_SHORT) && accum <= DSP_FC_WIDE_MAX;
    uint32_t xw[wide ? dsp_fc_wide_words(accum, 0) : 1];
    for (int32_t b = 0; b < dims->batches; ++b) {
        const int8_t *x = input + (int64_t)b * accum;
        const uint32_t xsum = xsum_of(x, accum, params->filter_offset);
        int8_t *y = output + (int64_t)b * out_depth;
        if (wide) {
            const dsp_fc_out fo = {out, row_const, xsum, pc};
            dsp_fc_widen_s8(x, accum, xw);
            dsp_fc_rows_s8(weights, accum, out_depth, x, xw, &fo, y);
            continue;
        }
        for (int32_t o = 0; o < out_depth; o += 4) {
            const int32_t rows = out_depth - o < 4 ? out_depth - o : 4;
            int32_t acc[4];
            dsp_fc_stream_s8(weights + (int64_t)o * accum, x, accum, rows, acc);
            for (int32_t r = 0; r < rows; ++r) {
                /* one call per output of a deep row */
                y[o + r] = dsp_out_one_call(&out, (int32_t)((uint32_t)acc[r] + (uint32_t)row_const[o + r] + xsum),
                                            pc ? o + r : 0);
            }
        }
    }
    return KWSQ_OK;
}
