/*
 * kwsq_conv_s8 for cores with the DSP extension: see dsp_conv.h. The
 * columns are copied before any output of their pixels is written, so the
 * in-place 1x1 case needs no scratch.
 */
#include <stddef.h>

#include "dsp_conv.h"

int32_t kwsq_conv_s8_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *output_dims)
{
    (void)params;
    (void)output_dims;
    return 0;
}

kwsq_status kwsq_conv_s8(const kwsq_context *ctx, const kwsq_conv_params *params,
                         const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                         const int8_t *input, const kwsq_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias, const kwsq_dims *output_dims, int8_t *output)
{
    return dsp_conv(NULL, ctx, params, quant, input_dims, input, filter_dims, (const uint8_t *)filter, bias,
                    output_dims, output);
}
