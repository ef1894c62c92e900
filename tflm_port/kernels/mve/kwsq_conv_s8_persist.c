/*
 * kwsq_conv_s8_persist for Cortex-M55 Helium: the few-input-channel 1x1
 * path (mve_conv_pix.c: per-channel records) or else the small-field path
 * (mve_conv_dot.c: geometry, requantization records, padded weight copy)
 * keeps its constants in persistent memory, computed once in Prepare.
 */
#include "mve_conv.h"

int32_t kwsq_conv_s8_persist(const kwsq_conv_params *params, const kwsq_quant_params *quant,
                             const kwsq_dims *input_dims, const kwsq_dims *filter_dims, const int8_t *filter,
                             const int32_t *bias, const kwsq_dims *output_dims, void *persist)
{
    const int32_t pix = mve_conv_pix_persist(params, quant, input_dims, filter_dims, filter, bias, output_dims, persist);
    if (pix > 0) {
        return pix;
    }
    return mve_conv_dot_persist(params, quant, input_dims, filter_dims, filter, bias, output_dims, persist);
}
