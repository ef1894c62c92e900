/*
 * The reference float CONV_2D and DEPTHWISE_CONV_2D loop, shared by
 * kwsq_conv_f32.c and kwsq_depthwise_conv_f32.c (each instantiates it with a
 * constant `depthwise`): TFLM's reference float Conv and DepthwiseConv, so
 * the products are summed in the same order and the result is the same
 * float. Per output: the taps inside the input in filter row and column
 * order (and, for CONV_2D, the group's input channels in order) summed from
 * 0, then the bias added and the activation clamp applied.
 */
#ifndef KWSQ_CONV_F32_REF_H
#define KWSQ_CONV_F32_REF_H

#include "kwsq_kernels.h"
#include "kwsq_math.h"

static inline kwsq_status kwsq_ref_conv_f32(bool depthwise, const kwsq_conv_params *p, const kwsq_float_range *act,
                                            const kwsq_dims *in, const float *x, const kwsq_dims *f,
                                            const float *w, const float *b, const kwsq_dims *out, float *y)
{
    /* conv: the filter's channels per tap, and output channels per group;
     * depthwise: one input channel per tap, depth_multiplier outputs each */
    const int32_t taps_c = depthwise ? 1 : f->c;
    const int32_t per_in = depthwise ? p->depth_multiplier : out->c / (in->c / f->c);
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
                    const int32_t c0 = (oc / per_in) * taps_c; /* first input channel read */
                    float total = 0.0f;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const int32_t iy = iy0 + p->dilation_h * fy;
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            const int32_t ix = ix0 + p->dilation_w * fx;
                            const float *xp = x + (((int64_t)bt * in->h + iy) * in->w + ix) * in->c + c0;
                            /* OHWI: channel oc's taps; 1HWC: tap (fy, fx)'s channel oc */
                            const float *wp = depthwise ? w + ((int64_t)fy * f->w + fx) * f->c + oc
                                                        : w + (((int64_t)oc * f->h + fy) * f->w + fx) * f->c;
                            for (int32_t ic = 0; ic < taps_c; ++ic) {
                                total += xp[ic] * wp[ic];
                            }
                        }
                    }
                    yp[oc] = kwsq_clampf(total + (b != NULL ? b[oc] : 0.0f), act->act_min, act->act_max);
                }
            }
        }
    }
    return KWSQ_OK;
}

#endif /* KWSQ_CONV_F32_REF_H */
