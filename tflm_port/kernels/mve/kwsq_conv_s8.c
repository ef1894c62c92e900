/*
 * kwsq_conv_s8 for Cortex-M55 Helium: see mve_conv.c. The columns are read
 * or copied before any output of their pixels is written, so the in-place
 * 1x1 case needs no scratch of its own. The small-field path keeps its
 * per-layer constants in persistent memory (kwsq_conv_s8_persist.c).
 */
#include "kwsq_conv_ref.h"
#include "mve_conv.h"

int32_t kwsq_conv_s8_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *output_dims)
{
    /* the reference loop this folder falls back to (odd int4 fields,
     * fields past MVE_MAX_PATCH) needs its in-place row */
    return kwsq_ref_conv_buffer_size(params, output_dims);
}

kwsq_status kwsq_conv_s8(const kwsq_context *ctx, const kwsq_conv_params *params,
                         const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                         const int8_t *input, const kwsq_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias, const kwsq_dims *output_dims, int8_t *output)
{
    return mve_conv(false, ctx, params, quant, input_dims, input, filter_dims, (const uint8_t *)filter, bias, output_dims, output);
}
