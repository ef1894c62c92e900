/*
 * kwsq_depthwise_conv_s8 with NEON: see kwsq_neon_depthwise.h.
 */
#include "kwsq_neon_depthwise.h"

int32_t kwsq_depthwise_conv_s8_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *input_dims,
                                               const kwsq_dims *filter_dims, const kwsq_dims *output_dims)
{
    const int32_t ring = kwsq_ref_dw_buffer_size(params, output_dims);
    const int32_t wide = kwsq_neon_dw_wide_bytes(params, input_dims, filter_dims, output_dims);
    return ring > wide ? ring : wide;
}

kwsq_status kwsq_depthwise_conv_s8(const kwsq_context *ctx, const kwsq_conv_params *params,
                                   const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                                   const int8_t *input, const kwsq_dims *filter_dims,
                                   const int8_t *filter, const int32_t *bias,
                                   const kwsq_dims *output_dims, int8_t *output)
{
    return kwsq_neon_depthwise(false, ctx, params, quant, input_dims, input, filter_dims,
                               (const uint8_t *)filter, bias, output_dims, output);
}
