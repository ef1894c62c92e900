/*
 * kwsq_conv_s8_persist for Cortex-M55 Helium: the small-field conv path
 * (mve_conv_dot.c) keeps its geometry, requantization records and padded
 * weight copy in persistent memory, computed once in Prepare.
 */
#include "mve_conv.h"

int32_t kwsq_conv_s8_persist(const kwsq_conv_params *params, const kwsq_quant_params *quant,
                             const kwsq_dims *input_dims, const kwsq_dims *filter_dims, const int8_t *filter,
                             const int32_t *bias, const kwsq_dims *output_dims, void *persist)
{
    return mve_conv_dot_persist(params, quant, input_dims, filter_dims, filter, bias, output_dims, persist);
}
