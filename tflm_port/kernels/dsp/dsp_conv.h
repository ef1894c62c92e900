/*
 * The matrix core the dsp CONV_2D is built on (dsp_conv.c): receptive fields
 * ("columns") of up to DSP_COLS pixels copied as 16-bit values with the input
 * offset added, in the lane order SXTB16 yields from the weights, times int8
 * or packed int4 weight rows, one row and four columns per pass (each weight
 * word is loaded and widened once for four pixels), requantized to int8.
 *
 * Column layout for a field of `patch` values: the first patch - patch % G
 * values in groups of G (G = 4 for int8 weights, lanes (v0,v2),(v1,v3); G =
 * 8 for packed int4, (v0,v4),(v2,v6),(v1,v5),(v3,v7)); group g of pixel j
 * at halfword (g * DSP_COLS + j) * G. Then the rest, value t of pixel j at
 * grouped * DSP_COLS + t * DSP_COLS + j.
 */
#ifndef KWSQ_DSP_CONV_H
#define KWSQ_DSP_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include "kwsq_kernels.h"

#define DSP_COLS 4
/* Largest receptive field (values) the columns hold; they live on the stack
 * (DSP_COLS * 2 bytes per value: 4 KB), since the kernels' buffer-size
 * functions do not see the filter. Larger fields take the reference loop. */
#define DSP_MAX_PATCH 512

typedef struct {
    int16_t *base;      /* group part of this pixel */
    int16_t *tail;      /* tail part of this pixel */
    int32_t k;          /* values written */
    int32_t grouped;    /* values in groups (patch - patch % G) */
    int32_t g;          /* G */
} dsp_cols_writer;

/* Bytes of the columns of DSP_COLS pixels of `patch` values. */
int32_t dsp_cols_bytes(int32_t patch);
void dsp_cols_begin(dsp_cols_writer *w, int16_t *cols, int32_t pixel, int32_t patch, bool s4_layout);
/* Appends len values src[i] + off. */
void dsp_cols_span(dsp_cols_writer *w, const int8_t *src, int32_t len, int32_t off);
/* Appends len zeros (padding: input value = zero point). */
void dsp_cols_zeros(dsp_cols_writer *w, int32_t len);

struct dsp_1x1_rows;

typedef struct {
    const void *weights;    /* rows of `patch` int8, or packed int4 */
    const int32_t *bias;    /* NULL = none */
    const int32_t *mult;
    const int8_t *shift;
    int32_t patch;
    int32_t out_offset, act_min, act_max;
    bool pot;               /* power-of-two scales: shift-only requantization */
    bool s4;
    bool simd_s4;           /* int4 rows byte-aligned (columns in the int4 layout) */
    bool short_rq;          /* accumulators bounded: dsp_rq_apply */
    uint8_t *s4_row;        /* patch / 2 + 1 bytes for an int4 row realigned (six-pixel path) */
    /* the six-pixel path's int4 output loops (dsp_conv1x1.h), passed in by
     * kwsq_conv_s4 so that int8-only builds do not link them */
    const struct dsp_1x1_rows *s4_rows;
    int32_t w_row0;         /* the output channel `weights` starts at (0, or the last channel's padded copy) */
    const int32_t *rq;      /* dsp_conv1x1: per channel bias, multiplier, rounding term, right shift (or NULL) */
} dsp_gemm_args;

/* dst = the k nibbles that start in the high half of src[0] (a packed int4
 * row starting mid-byte), byte-aligned: k / 2 + 1 bytes. */
void dsp_s4_realign(const uint8_t *src, int32_t k, uint8_t *dst);

/* CONV_2D with int8 (s4_rows NULL) or packed int4 weights (s4_rows =
 * &dsp_1x1_rows_s4): the body of kwsq_conv_s8 and kwsq_conv_s4. */
kwsq_status dsp_conv(const struct dsp_1x1_rows *s4_rows, const kwsq_context *ctx, const kwsq_conv_params *p, const kwsq_quant_params *q,
                     const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const uint8_t *w, const int32_t *bias,
                     const kwsq_dims *out, int8_t *y);

/* Output channels [oc0, oc1) of `npx` (1..DSP_COLS) pixels: y[j][oc] from
 * column j. */
void dsp_gemm_rows(const dsp_gemm_args *a, int32_t oc0, int32_t oc1, const int16_t *cols, int32_t npx,
                   int8_t *const *y);

#endif /* KWSQ_DSP_CONV_H */
