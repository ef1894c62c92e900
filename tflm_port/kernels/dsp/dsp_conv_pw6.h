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

/* A pointwise layer on 4 or 8 input channels at stride 1 over whole rows,
 * whole blocks of six pixels in one call: each block's consecutive pixels
 * are widened (input offset added) into the frame, then every channel of
 * the table is computed for them, as dsp_pw6_k4 / dsp_pw6_k8 do. */
typedef struct {
    const int32_t *tab;   /* the channels' rows (dsp_pw6_table) */
    int8_t *y;            /* output of the first block's first channel */
    int32_t ys;           /* output pixel stride (the layer's channels) */
    const int8_t *x;      /* first block's input */
    const int8_t *x_end;  /* x + blocks * 6 * channels */
    int32_t nch;          /* channels of the table (>= 1) */
    uint32_t off2;        /* input offset in both 16-bit lanes */
} dsp_pw6_run;

void dsp_pw6_direct_k4(const dsp_pw6_run *r);
void dsp_pw6_direct_k8(const dsp_pw6_run *r);

#endif /* KWSQ_DSP_CONV_PW6_H */
