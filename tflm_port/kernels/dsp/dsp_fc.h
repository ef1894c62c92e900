/*
 * Dot products of weight rows with one input vector, four rows per pass
 * (each input word is widened once for the four rows), for the dsp
 * FULLY_CONNECTED kernels (int8, packed int4, hybrid).
 */
#ifndef KWSQ_DSP_FC_H
#define KWSQ_DSP_FC_H

#include <stdint.h>

/* acc[r] = sum_i w[r * n + i] * x[i], r < rows (1..4); int8 weights. */
void dsp_dot_rows_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t rows, int32_t *acc);

/* The same for packed int4 rows starting at nibble first_row * n. */
void dsp_dot_rows_s4(const uint8_t *w, int64_t first_row, const int8_t *x, int32_t n, int32_t rows,
                     int32_t *acc);

#endif /* KWSQ_DSP_FC_H */
