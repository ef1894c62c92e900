/*
 * kwsq_conv_s4 with NEON: packed INT4 weights unpacked a chunk of output
 * channels at a time into a bounded stack buffer, then as kwsq_conv_s8;
 * see kwsq_neon_conv.h.
 */
#include "kwsq_neon_conv_sdot.h"

int32_t kwsq_conv_s4_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *output_dims)
{
    return kwsq_ref_conv_buffer_size(params, output_dims);
}

kwsq_status kwsq_conv_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                         const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                         const int8_t *input, const kwsq_dims *filter_dims,
                         const uint8_t *packed_filter, const int32_t *bias,
                         const kwsq_dims *output_dims, int8_t *output)
{
#if KWSQ_NEON_SDOT
    if (kwsq_neon_conv_sdot(true, params, quant, input_dims, input, filter_dims, packed_filter, bias,
                            output_dims, output)) {
        return KWSQ_OK;
    }
#endif
    return kwsq_neon_conv(true, ctx, params, quant, input_dims, input, filter_dims, packed_filter,
                          bias, output_dims, output);
}
