/*
 * kwsq_depthwise_conv_s8_persist: no persistent constants. The reference
 * depthwise conv (and the dsp and neon folders, which use this file)
 * computes what it needs per call; a folder that keeps per-layer constants
 * across calls (kernels/mve) has its own file of this name.
 */
#include "kwsq_kernels.h"

int32_t kwsq_depthwise_conv_s8_persist(const kwsq_conv_params *params, const kwsq_quant_params *quant,
                                       const kwsq_dims *input_dims, const kwsq_dims *filter_dims,
                                       const int8_t *filter, const int32_t *bias, const kwsq_dims *output_dims,
                                       void *persist)
{
    (void)params;
    (void)quant;
    (void)input_dims;
    (void)filter_dims;
    (void)filter;
    (void)bias;
    (void)output_dims;
    (void)persist;
    return 0;
}
