/*
 * kwsq_depthwise_conv_s4 for cores with the DSP extension.
 *
 * Shapes the depthwise body of this folder computes packed (depth
 * multiplier 1 with an even channel count: two taps of four channels per
 * weight word; 3x3 stride-1 layers on the planes path and the layers of the
 * any-shape path, dsp_dw_any.c, weights read once per channel) run there,
 * weights packed. The others (a depth multiplier
 * above 1, an odd channel count) would take the reference loop, about twice
 * the int8 kernel's instructions: when the layer's weights are few (at most
 * DW_S4_UNPACK_MAX values, one byte each on the stack for the call, e.g.
 * 3x3x64 = 576) they are unpacked and the int8 kernel runs instead, so int4
 * costs what int8 costs plus the unpacking (one pass over the weights).
 */
#include "dsp_depthwise.h"
#include "dsp_dw3x3.h"

#define DW_S4_UNPACK_MAX 1024

int32_t kwsq_depthwise_conv_s4_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *input_dims,
                                               const kwsq_dims *filter_dims, const kwsq_dims *output_dims)
{
    /* INT4 depthwise layers are of class DW_GENERIC (kwsq_kernels.h): a build
     * without it refuses them */
    if (!KWSQ_MODEL_HAS(DW_GENERIC)) {
        return -1;
    }
    /* the same layout as the int8 kernel: in-place ring first, as the
     * reference loop (the fallback) expects */
    return kwsq_depthwise_conv_s8_get_buffer_size(params, input_dims, filter_dims, output_dims);
}

kwsq_status kwsq_depthwise_conv_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                                   const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                                   const int8_t *input, const kwsq_dims *filter_dims,
                                   const uint8_t *packed_filter, const int32_t *bias,
                                   const kwsq_dims *output_dims, int8_t *output)
{
    const int64_t count = (int64_t)filter_dims->h * filter_dims->w * output_dims->c;
    const bool packed_path = (params->depth_multiplier == 1 &&
                              ((output_dims->c & 1) == 0 ||
                               dsp_dw3x3_fits(params, input_dims, filter_dims, output_dims))) ||
                             dsp_dw_any_ok(params, input_dims, filter_dims, output_dims);
    if (packed_path || count > DW_S4_UNPACK_MAX) {
        return dsp_depthwise_s4(ctx, params, quant, input_dims, input, filter_dims, packed_filter, bias,
                                output_dims, output);
    }
    int8_t w[count];
    for (int32_t i = 0; i < (int32_t)count; i += 2) {
        const uint32_t b = packed_filter[i / 2];
        /* sign-extend each nibble: (v ^ 8) - 8 */
        w[i] = (int8_t)((int32_t)((b & 0x0Fu) ^ 8u) - 8);
        if (i + 1 < count) {
            w[i + 1] = (int8_t)((int32_t)((b >> 4) ^ 8u) - 8);
        }
    }
    return kwsq_depthwise_conv_s8(ctx, params, quant, input_dims, input, filter_dims, w, bias, output_dims,
                                  output);
}
