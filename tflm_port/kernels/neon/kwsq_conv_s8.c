/*
 * kwsq_conv_s8 with NEON (AArch64 sdot or smull/sadalp, ARMv7-A vmull/vpadal):
 * see kwsq_neon_conv.h.
 */
#include "kwsq_neon_conv_sdot.h"

int32_t kwsq_conv_s8_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *output_dims)
{
    /* Only the reference fallback uses it (in place); the NEON path uses the stack. */
    return kwsq_ref_conv_buffer_size(params, output_dims);
}

kwsq_status kwsq_conv_s8(const kwsq_context *ctx, const kwsq_conv_params *params,
                         const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                         const int8_t *input, const kwsq_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias, const kwsq_dims *output_dims, int8_t *output)
{
#if KWSQ_NEON_SDOT
    if (kwsq_neon_conv_sdot(false, params, quant, input_dims, input, filter_dims, (const uint8_t *)filter, bias,
                            output_dims, output)) {
        return KWSQ_OK;
    }
#endif
    return kwsq_neon_conv(false, ctx, params, quant, input_dims, input, filter_dims,
                          (const uint8_t *)filter, bias, output_dims, output);
}
