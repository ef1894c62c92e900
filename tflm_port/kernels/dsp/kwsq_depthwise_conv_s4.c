/*
 * kwsq_depthwise_conv_s4 for cores with the DSP extension: packed int4
 * weights read packed, two taps of four channels per word (see
 * kwsq_depthwise_conv_s8.c, dw_ch4_s4).
 */
#include "dsp_depthwise.h"

int32_t kwsq_depthwise_conv_s4_get_buffer_size(const kwsq_conv_params *params,
                                               const kwsq_dims *output_dims)
{
    /* the same layout as the int8 kernel: in-place ring first, as the
     * reference loop (the fallback) expects */
    return kwsq_depthwise_conv_s8_get_buffer_size(params, output_dims);
}

kwsq_status kwsq_depthwise_conv_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                                   const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                                   const int8_t *input, const kwsq_dims *filter_dims,
                                   const uint8_t *packed_filter, const int32_t *bias,
                                   const kwsq_dims *output_dims, int8_t *output)
{
    return dsp_depthwise_s4(ctx, params, quant, input_dims, input, filter_dims, packed_filter, bias,
                         output_dims, output);
}
