/*
 * 3x3 depthwise convolution, strides 1 and 2, no dilation, depth multiplier 1, int8
 * (dsp_dw3x3.c), int8 or packed int4 weights: the input of 1, 2 or 4 channels widened once into
 * int16 planes, two output pixels of one channel per pass.
 */
#ifndef KWSQ_DSP_DW3X3_H
#define KWSQ_DSP_DW3X3_H

#include <stdbool.h>
#include <stdint.h>

#include "dsp_requant.h"
#include "kwsq_kernels.h"

/* Whether the layer is one this path computes: 3x3, stride 1, no dilation,
 * multiplier 1, and one channel's band of a line fits the stack budget
 * (the shorter output side at most KWSQ_DW_3X3_SIDE; in place too). */
bool dsp_dw3x3_fits(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out);

/* Whether the layer is a 3x3 one with a stride of 2 along an axis (1 or 2
 * along the other) this path computes: as dsp_dw3x3_fits, not in place,
 * and every channel takes the short output stage with the whole int8 range
 * (the only stage its stride-2 pass has). */
bool dsp_dw3x3_s2_fits(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out,
                       const dsp_out *o);

/* The layer; `o` is the output stage dsp_depthwise prepared; s4: packed int4
 * weights (read once per channel into the registers, the rest is the same). */
void dsp_dw3x3(bool s4, const kwsq_conv_params *p, const dsp_out *o, const kwsq_dims *in, const int8_t *x,
               const uint8_t *filter, const int32_t *bias, const kwsq_dims *out, int8_t *y);

#endif /* KWSQ_DSP_DW3X3_H */
