/*
 * Six-pixel int8 CONV_2D rows for receptive fields of at most twelve values
 * (dsp_conv_pw6.c): 1x1 layers on few input channels and other tiny fields
 * (3x3x1, 2x2x2, 5x2x1, ...). Channel-stationary: each output channel's widened
 * weights and output constants come from one table row, loaded with one
 * LDM, and stay in registers while its six pixels are computed.
 */
#ifndef KWSQ_DSP_CONV_PW6_H
#define KWSQ_DSP_CONV_PW6_H

#include <stdint.h>

/* Largest field (values) of the path, and words per table row (four
 * constants, two words per group of four values: k <= 4, 8 or 12). */
#define DSP_PW6_MAX_K 12
#define DSP_PW6_ROW(k) (4 + 2 * (((k) + 3) >> 2))

/* One table row per output channel [oc0, oc1) of int8 weight rows of k
 * values (k <= DSP_PW6_MAX_K): 2 * bias, the multiplier, the rounding term
 * with the output offset folded in ((2 * out_offset + 1) << (right - 1)),
 * the right shift (1..22), then the row's values widened into lane pairs
 * as SXTB16 gives them ((v0,v2),(v1,v3) per group of four; lanes past k
 * are 0), doubled. The doubled accumulator is what the output stage shifts
 * left by one: accumulators bounded below 2^30 (the short stage) keep it
 * exact. */
void dsp_pw6_table(const int8_t *w, int32_t k, int32_t oc0, int32_t oc1, const int32_t *bias,
                   const int32_t *mult, const int8_t *shift, int32_t out_offset, int32_t *tab);

/* Channels of the rows tab[0..) against six widened pixels (the six-pixel
 * path's layout: group g of pixel j at words (g * 6 + j) * 2, +1), full
 * int8 output range: y[j * ys + c] for channel c = 0.. while y + c < y_end. */
void dsp_pw6_k4(const int32_t *tab, int8_t *y, int32_t ys, const uint32_t *xbuf, const int8_t *y_end);
void dsp_pw6_k8(const int32_t *tab, int8_t *y, int32_t ys, const uint32_t *xbuf, const int8_t *y_end);
void dsp_pw6_k12(const int32_t *tab, int8_t *y, int32_t ys, const uint32_t *xbuf, const int8_t *y_end);
/* k = 9 (3x3x1): the third group's odd lanes are padding, skipped */
void dsp_pw6_k9(const int32_t *tab, int8_t *y, int32_t ys, const uint32_t *xbuf, const int8_t *y_end);

#endif /* KWSQ_DSP_CONV_PW6_H */
