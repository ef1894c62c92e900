/*
 * Six-pixel int8 CONV_2D of the dsp kernels (dsp_conv1x1.c): pointwise
 * layers read their pixels straight from the input; other windows are read
 * by filter rows, through value offsets, or gathered per pixel into a small
 * patch first.
 */
#ifndef KWSQ_DSP_CONV1X1_H
#define KWSQ_DSP_CONV1X1_H

#include <stdbool.h>
#include <stdint.h>

#include "dsp_conv.h"

/* Largest receptive field (values) of the six-pixel path: six widened pixels
 * on the stack, as many bytes as the general path's columns at most. */
#define DSP_1X1_MAX_CH (DSP_COLS * DSP_MAX_PATCH / 6)

typedef void (*dsp_1x1_rows_fn)(const dsp_gemm_args *a, int32_t cin, int32_t oc0, int32_t oc1, const int16_t *buf,
                                int8_t *y, int32_t ystride);

/* The int4 output loops of the path: short requantization with the full
 * int8 range, short with any activation range, general. */
struct dsp_1x1_rows {
    dsp_1x1_rows_fn short_full, short_any, general;
};
extern const struct dsp_1x1_rows dsp_1x1_rows_s4;

/* Whether the layer is a convolution this path computes (one group; int8
 * or packed int4 weights). */
bool dsp_conv1x1_fits(bool s4, const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f);

/* The layer, with the arguments dsp_conv prepared (weights, bias, output stage). */
void dsp_conv1x1(const dsp_gemm_args *a, const kwsq_conv_params *p, const kwsq_dims *in, const int8_t *x,
                 const kwsq_dims *f, const kwsq_dims *out, int8_t *y);

#endif /* KWSQ_DSP_CONV1X1_H */
