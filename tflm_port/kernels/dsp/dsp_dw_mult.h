/*
 * Depthwise convolution with depth multiplier > 1, int8 (dsp_dw_mult.c):
 * any filter size, stride, padding, dilation and input channel count; one
 * output pixel of four output channels of one input channel per pass, the
 * input widened once per output row into int16 with the offset added.
 */
#ifndef KWSQ_DSP_DW_MULT_H
#define KWSQ_DSP_DW_MULT_H

#include <stdbool.h>
#include <stdint.h>

#include "dsp_requant.h"
#include "kwsq_kernels.h"

/* Whether the layer is one this path computes (depth multiplier > 1, and
 * one group's widened weights and one output pixel's rows fit the stack
 * budgets). */
bool dsp_dw_mult_fits(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out);

/* The layer; `o` is the output stage dsp_depthwise prepared. */
void dsp_dw_mult(const kwsq_conv_params *p, const dsp_out *o, const kwsq_dims *in, const int8_t *x,
                 const kwsq_dims *f, const int8_t *filter, const int32_t *bias, const kwsq_dims *out, int8_t *y);

#endif /* KWSQ_DSP_DW_MULT_H */
