/*
 * kwsq_depthwise_conv_s8_persist for Cortex-M55 Helium: the one-input-channel
 * path (mve_dw_c1.c) keeps its tap offsets, requantization records and
 * rearranged weights in persistent memory, computed once in Prepare.
 */
#include "mve_depthwise.h"

int32_t kwsq_depthwise_conv_s8_persist(const kwsq_conv_params *params, const kwsq_quant_params *quant,
                                       const kwsq_dims *input_dims, const kwsq_dims *filter_dims,
                                       const int8_t *filter, const int32_t *bias, const kwsq_dims *output_dims,
                                       void *persist)
{
    return mve_dw_c1_persist(params, quant, input_dims, filter_dims, filter, bias, output_dims, persist);
}
