/*
 * kwsq_depthwise_conv_f32: float DEPTHWISE_CONV_2D (kwsq_kernels.h), the
 * loop of TFLM's reference float DepthwiseConv, so the sums are added in
 * the same order and the result is the same float.
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

kwsq_status kwsq_depthwise_conv_f32(const kwsq_conv_params *p, const kwsq_float_range *act, const kwsq_dims *in,
                                    const float *x, const kwsq_dims *f, const float *w, const float *b,
                                    const kwsq_dims *out, float *y)
{
    const int32_t dm = p->depth_multiplier;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        for (int32_t oy = 0; oy < out->h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0, fy1;
            kwsq_window_clip(iy0, p->dilation_h, f->h, in->h, &fy0, &fy1);
            for (int32_t ox = 0; ox < out->w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t fx0, fx1;
                kwsq_window_clip(ix0, p->dilation_w, f->w, in->w, &fx0, &fx1);
                float *yp = y + (((int64_t)bt * out->h + oy) * out->w + ox) * out->c;
                for (int32_t oc = 0; oc < out->c; ++oc) {
                    const int32_t ic = oc / dm;
                    float total = 0.0f;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const int32_t iy = iy0 + p->dilation_h * fy;
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            const int32_t ix = ix0 + p->dilation_w * fx;
                            total += x[(((int64_t)bt * in->h + iy) * in->w + ix) * in->c + ic] *
                                     w[((int64_t)fy * f->w + fx) * f->c + oc];
                        }
                    }
                    yp[oc] = kwsq_clampf(total + (b != NULL ? b[oc] : 0.0f), act->act_min, act->act_max);
                }
            }
        }
    }
    return KWSQ_OK;
}
