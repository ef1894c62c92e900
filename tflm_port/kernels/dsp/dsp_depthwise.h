/*
 * The DEPTHWISE_CONV_2D body of this folder (kwsq_depthwise_conv_s8.c),
 * shared by the int8 and the packed int4 entry points.
 */
#ifndef KWSQ_DSP_DEPTHWISE_H
#define KWSQ_DSP_DEPTHWISE_H

#include <stdbool.h>

#include "kwsq_kernels.h"

/* The packed int4 weights instance (depth multiplier 1 and an even channel
 * count run the DSP path; other shapes the reference loop). A separate
 * instance from the int8 entry's, so a build without int4 layers links none
 * of the int4 loops. */
kwsq_status dsp_depthwise_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                             const kwsq_quant_params *quant, const kwsq_dims *input_dims, const int8_t *input,
                             const kwsq_dims *filter_dims, const uint8_t *filter, const int32_t *bias,
                             const kwsq_dims *output_dims, int8_t *output);

/* Whether the any-shape path (dsp_dw_any.c) may compute the layer in this
 * build (its class and its bounds; the dispatch also turns it down for an
 * output that overlaps the input). */
bool dsp_dw_any_ok(const kwsq_conv_params *params, const kwsq_dims *input_dims, const kwsq_dims *filter_dims,
                   const kwsq_dims *output_dims);

#endif /* KWSQ_DSP_DEPTHWISE_H */
