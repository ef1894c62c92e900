/*
 * The DEPTHWISE_CONV_2D body of this folder (kwsq_depthwise_conv_s8.c),
 * shared by the int8 and the packed int4 entry points.
 */
#ifndef KWSQ_MVE_DEPTHWISE_H
#define KWSQ_MVE_DEPTHWISE_H

#include "kwsq_kernels.h"

/* Packed int4 weights: depth multiplier 1 and channels a multiple of 8 run
 * the Helium path, other shapes the reference loop. */
kwsq_status mve_depthwise_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                             const kwsq_quant_params *quant, const kwsq_dims *input_dims, const int8_t *input,
                             const kwsq_dims *filter_dims, const uint8_t *wbytes, const int32_t *bias,
                             const kwsq_dims *output_dims, int8_t *output);

#endif /* KWSQ_MVE_DEPTHWISE_H */
