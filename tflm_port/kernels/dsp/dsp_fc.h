/*
 * Dot products of weight rows with one input vector, four rows per pass
 * (each input word is widened once for the four rows), for the dsp
 * FULLY_CONNECTED kernels (int8, packed int4, hybrid).
 */
#ifndef KWSQ_DSP_FC_H
#define KWSQ_DSP_FC_H

#include <stdint.h>

/* Longest input whose widened copy (2 bytes per value) goes on the stack. */
#define DSP_FC_S4_PAIRS_MAX 1024

/* acc[r] = sum_i w[r * n + i] * x[i], r < rows (1..4); int8 weights. */
void dsp_dot_rows_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t rows, int32_t *acc);

/* The input pairs of the int4 rows: (n / 8) * 4 words, lanes in the order
 * of the nibbles of a weight word. */
void dsp_s4_input_pairs(const int8_t *x, int32_t n, uint32_t *xpairs);

/* The same for packed int4 rows starting at nibble first_row * n; xpairs
 * from dsp_s4_input_pairs, or NULL (the input is then widened on the fly). */
void dsp_dot_rows_s4(const uint8_t *w, int64_t first_row, const int8_t *x, const uint32_t *xpairs, int32_t n,
                     int32_t rows, int32_t *acc);

#endif /* KWSQ_DSP_FC_H */
