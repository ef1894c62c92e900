/*
 * kwsq_conv_s8: CONV_2D, int8 weights (OHWI), per-channel requantization,
 * groups and dilation; see kwsq_conv_ref.h.
 */
#include "kwsq_conv_ref.h"

int32_t kwsq_conv_s8_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *output_dims)
{
    return kwsq_ref_conv_buffer_size(params, output_dims);
}

kwsq_status kwsq_conv_s8(const kwsq_context *ctx, const kwsq_conv_params *params,
                         const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                         const int8_t *input, const kwsq_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias, const kwsq_dims *output_dims, int8_t *output)
{
    return kwsq_ref_conv(false, ctx, params, quant, input_dims, input, filter_dims,
                         (const uint8_t *)filter, bias, output_dims, output);
}
