/*
 * Dot products of weight rows with one input vector for the dsp
 * FULLY_CONNECTED kernels (int8 and packed int4 weights).
 *
 * The input is widened once per call into 16-bit lanes, in the order
 * SXTB16 yields the weights (see dsp_fc.c), zero-padded to whole groups of
 * eight; every pass then computes two rows against it: per eight inputs one
 * LDM of the widened input shared by both rows, per row the weight loads,
 * four SXTB16 (int4: four AND-with-shift instead) and four SMLAD.
 */
#ifndef KWSQ_DSP_FC_H
#define KWSQ_DSP_FC_H

#include <stdbool.h>
#include <stdint.h>

#include "dsp_requant.h"

/* Longest input widened on the stack (2 bytes per value); longer inputs
 * take dsp_fc_stream_* (the input widened per group of rows). */
#define DSP_FC_WIDE_MAX 1024

/* Words of the widened input of n values preceded by `lead` zeros. */
static inline int32_t dsp_fc_wide_words(int32_t n, int32_t lead)
{
    return (n + lead + 7) / 8 * 4;
}

/* int8 rows: groups of 8 values v as words (v0,v2),(v1,v3),(v4,v6),(v5,v7). */
void dsp_fc_widen_s8(const int8_t *x, int32_t n, uint32_t *xw);

/* int4 rows: v = `lead` (0 or 1) zeros then x; groups of 8 as words
 * (v0,v4),(v1,v5),(v2,v6),(v3,v7), the nibble pairs of a weight word. */
void dsp_fc_widen_s4(const int8_t *x, int32_t n, int32_t lead, uint32_t *xw);

/* The output stage of a FULLY_CONNECTED call: requantization, the row
 * constants (bias and offset terms) and the filter-offset term. */
typedef struct {
    dsp_out out;
    const int32_t *row_const;
    uint32_t xsum;          /* filter_offset * sum(x), wrapping */
    bool per_channel;
} dsp_fc_out;

/* y[o] for every row o < rows of the n-column int8 weights w; xw =
 * dsp_fc_widen_s8(x, n). */
void dsp_fc_rows_s8(const int8_t *w, int32_t n, int32_t rows, const int8_t *x, const uint32_t *xw,
                    const dsp_fc_out *fo, int8_t *y);

/* Deepest row of dsp_fc_tiny_s8 (a multiple of 4). */
#define DSP_FC_TINY_MAX 16

/* y[o] for every row o < rows of the n-column int8 weights w, n in
 * 1..DSP_FC_TINY_MAX (dsp_fc_tiny.c): one row per pass, the input widened
 * in registers-sized arrays, no call per row. */
void dsp_fc_tiny_s8(const int8_t *w, int32_t n, int32_t rows, const int8_t *x, const dsp_fc_out *fo, int8_t *y);

/* acc[0], acc[1] = rows o and ob >= o (ob may equal o) of those weights
 * times x, as plain sums (the hybrid kernel scales them itself). */
void dsp_fc_dot2_s8(const int8_t *w, int32_t n, int32_t rows, int32_t o, int32_t ob, const int8_t *x,
                    const uint32_t *xw, int32_t *acc);

/* y[o] for the packed int4 rows o = lead, lead + step, ... < rows (row o
 * starts at nibble o * n, low nibble first; step 2 when n is odd, so that
 * all these rows start at nibble parity `lead`, else step 1 and lead 0);
 * xw = dsp_fc_widen_s4(x, n, lead). */
void dsp_fc_rows_s4(const uint8_t *w, int32_t n, int32_t rows, int32_t lead, int32_t step, const int8_t *x,
                    const uint32_t *xw, const dsp_fc_out *fo, int8_t *y);

/* Inputs longer than DSP_FC_WIDE_MAX: four rows per pass, the input widened
 * on the fly (acc[0..rows) of rows first..first+rows-1, rows <= 4). */
void dsp_fc_stream_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t rows, int32_t *acc);
void dsp_fc_stream_s4(const uint8_t *w, int64_t first, const int8_t *x, int32_t n, int32_t rows, int32_t *acc);

#endif /* KWSQ_DSP_FC_H */
