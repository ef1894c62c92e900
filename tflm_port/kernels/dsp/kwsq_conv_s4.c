/*
 * kwsq_conv_s4 for cores with the DSP extension: packed int4 weights read
 * packed, 8 per load (see dsp_conv.h).
 */
#include "dsp_conv1x1.h"

int32_t kwsq_conv_s4_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *output_dims)
{
    (void)params;
    (void)output_dims;
    return 0;
}

kwsq_status kwsq_conv_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                         const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                         const int8_t *input, const kwsq_dims *filter_dims,
                         const uint8_t *packed_filter, const int32_t *bias,
                         const kwsq_dims *output_dims, int8_t *output)
{
    return dsp_conv(&dsp_1x1_rows_s4, ctx, params, quant, input_dims, input, filter_dims, packed_filter, bias, output_dims,
                    output);
}
