/*
 * Depthwise convolution for any filter size, stride, dilation, padding and
 * depth multiplier (dsp_dw_any.c), int8 or packed int4 weights: the input of
 * 1, 2 or 4 channels widened once per band of output rows into int16 planes,
 * four output pixels of one output channel per pass.
 */
#ifndef KWSQ_DSP_DW_ANY_H
#define KWSQ_DSP_DW_ANY_H

#include <stdbool.h>
#include <stdint.h>

#include "dsp_requant.h"
#include "kwsq_overlap.h"  /* KWSQ_DSP_DW_SPILL */
#include "kwsq_kernels.h"

/* Whether the layer is one this path computes (the filter, strides and
 * dilations within its bounds and one output row's planes within its stack
 * budget; in place only if the whole input of a channel block fits). */
bool dsp_dw_any_fits(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out);

/* Bytes of scratch the layer needs (word-aligned): per output channel its
 * paired weights and output-stage constants. */
int32_t dsp_dw_any_scratch(const kwsq_dims *f, const kwsq_dims *out);

/* The layer; `o` is the output stage dsp_depthwise prepared; s4: packed int4
 * weights (unpacked while pairing them, once per call); rowwise: the output
 * overlaps the input (an overlapped plan): bands of at most 1 +
 * KWSQ_DSP_DW_SPILL / out_w rows, so that a pass writes nothing the
 * planner's distance does not allow. */
void dsp_dw_any(bool s4, bool rowwise, const kwsq_conv_params *p, const dsp_out *o, const kwsq_dims *in,
                const int8_t *x, const kwsq_dims *f, const uint8_t *filter, const int32_t *bias,
                const kwsq_dims *out, int8_t *y, int32_t *scratch);

#endif /* KWSQ_DSP_DW_ANY_H */
