/*
 * kwsq_depthwise_conv_s4 for Cortex-M55 Helium: multiplier 1 takes the
 * 16-channel path (mve_dw_c16.c, weights widened once per call); other
 * shapes widen packed int4 weights in registers, eight channels per gather
 * (see kwsq_depthwise_conv_s8.c).
 */
#include "kwsq_depthwise_conv_ref.h"
#include "mve_depthwise.h"

int32_t kwsq_depthwise_conv_s4_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *input_dims,
                                               const kwsq_dims *filter_dims, const kwsq_dims *output_dims)
{
    (void)input_dims;
    (void)filter_dims;
    return kwsq_ref_dw_buffer_size(params, output_dims);
}

kwsq_status kwsq_depthwise_conv_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                                   const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                                   const int8_t *input, const kwsq_dims *filter_dims,
                                   const uint8_t *packed_filter, const int32_t *bias,
                                   const kwsq_dims *output_dims, int8_t *output)
{
    if (mve_depthwise_c16(true, ctx, params, quant, input_dims, input, filter_dims, packed_filter, bias,
                          output_dims, output)) {
        return KWSQ_OK;
    }
    return mve_depthwise_s4(ctx, params, quant, input_dims, input, filter_dims, packed_filter, bias,
                            output_dims, output);
}
