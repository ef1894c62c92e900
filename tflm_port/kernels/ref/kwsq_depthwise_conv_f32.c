/*
 * kwsq_depthwise_conv_f32: float DEPTHWISE_CONV_2D (kwsq_kernels.h), TFLM's
 * reference order (kwsq_conv_f32_ref.h).
 */
#include "kwsq_conv_f32_ref.h"

kwsq_status kwsq_depthwise_conv_f32(const kwsq_conv_params *p, const kwsq_float_range *act, const kwsq_dims *in,
                                    const float *x, const kwsq_dims *f, const float *w, const float *b,
                                    const kwsq_dims *out, float *y)
{
    return kwsq_ref_conv_f32(true, p, act, in, x, f, w, b, out, y);
}
