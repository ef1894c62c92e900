/*
 * kwsq_depthwise_conv_s8 for Cortex-M55 Helium, bit-exact with kernels/ref.
 * One input channel (any multiplier up to 16) takes mve_dw_c1.c. Every
 * other layer whose window rows fit the dot-product path's planes takes
 * mve_dw_dot.c (measured cheaper than 16 channels per pass also on multiples
 * of 16 channels at stride 2 since it runs two pixels per pass); the others
 * with depth multiplier 1, or 2, 3, 5, ... on at least 16 output channels
 * (input rows expanded in the scratch buffer), take mve_dw_c16.c within its
 * stack limits; this file holds the other shapes and the packed int4 body.
 *
 * Four output channels per vector (32-bit lanes): for each tap of the
 * window's valid part, the weights of the four channels are one widening
 * load (VLDRB.S32) and the inputs another (depth multiplier 1: four input
 * channels; a multiple of 4: one input value for the four lanes, VMLA by a
 * scalar; otherwise a gather), one VMUL and VADD (or a VMLA by a scalar) per 4 MACs; the last group of a
 * pixel is tail-predicated (VCTP). Then the four channels are requantized as
 * one vector and stored as four bytes (mve_requant.h). In place (stride 1,
 * same size, multiplier 1), input rows still needed are kept in the ring the
 * reference kernel uses.
 */
#include <arm_mve.h>
#include <string.h>

#include "kwsq_depthwise_conv_ref.h"
#include "mve_depthwise.h"
#include "mve_requant.h"

#define MVE_DW_MAX_ROWS 64  /* taller windows take the reference loop */

/* Depth multiplier 4 or 8 (e.g. one input channel, 8 outputs per tap):
 * the outputs of one input channel at two horizontally adjacent pixels with
 * the same valid window, in 2 x dm / 4 accumulators, so each tap costs one
 * input byte per pixel and dm / 4 weight loads shared by both pixels. */
static void __attribute__((noinline)) dw_mult_pair(const kwsq_conv_params *d, const kwsq_quant_params *q, const int8_t *const *rows,
                         int32_t nrows, int32_t ix0, int32_t fx0, int32_t fx1, const kwsq_dims *in,
                         const kwsq_dims *f, const int8_t *filter, const int32_t *bias, int32_t out_ch,
                         int32_t fy0, int8_t *ya, int8_t *yb)
{
    const int32_t dm = d->depth_multiplier, in_ch = in->c, off = d->input_offset;
    const int32_t xstep = d->dilation_w * in_ch, bstep = d->stride_w * in_ch;
    for (int32_t ic = 0; ic < in_ch; ++ic) {
        const int32_t oc = ic * dm;
        int32x4_t a0 = bias != NULL ? vldrwq_s32(bias + oc) : vdupq_n_s32(0);
        int32x4_t a1 = dm == 8 ? (bias != NULL ? vldrwq_s32(bias + oc + 4) : vdupq_n_s32(0)) : vdupq_n_s32(0);
        int32x4_t b0 = a0, b1 = a1;
        for (int32_t r = 0; r < nrows; ++r) {
            const int8_t *xp = rows[r] + ix0 * in_ch + fx0 * xstep + ic;
            const int8_t *wp = filter + ((fy0 + r) * f->w + fx0) * out_ch + oc;
            if (dm == 8) {
                for (int32_t n = fx1 - fx0; n > 0; --n, wp += out_ch, xp += xstep) {
                    const int32x4_t w0 = vldrbq_s32(wp), w1 = vldrbq_s32(wp + 4);
                    const int32_t xa = xp[0] + off, xb = xp[bstep] + off;
                    a0 = vmlaq_n_s32(a0, w0, xa);
                    a1 = vmlaq_n_s32(a1, w1, xa);
                    b0 = vmlaq_n_s32(b0, w0, xb);
                    b1 = vmlaq_n_s32(b1, w1, xb);
                }
            } else {
                for (int32_t n = fx1 - fx0; n > 0; --n, wp += out_ch, xp += xstep) {
                    const int32x4_t w0 = vldrbq_s32(wp);
                    a0 = vmlaq_n_s32(a0, w0, xp[0] + off);
                    b0 = vmlaq_n_s32(b0, w0, xp[bstep] + off);
                }
            }
        }
        for (int32_t g = 0; g < dm / 4; ++g) {
            const int32x4_t mult = vldrwq_s32(q->multiplier + oc + 4 * g);
            const int32x4_t shift = vldrbq_s32(q->shift + oc + 4 * g);
            vstrbq_s32(ya + oc + 4 * g, mve_out_s32(g == 0 ? a0 : a1, mult, shift, d->output_offset, d->act_min,
                                                    d->act_max));
            vstrbq_s32(yb + oc + 4 * g, mve_out_s32(g == 0 ? b0 : b1, mult, shift, d->output_offset, d->act_min,
                                                    d->act_max));
        }
    }
}

int32_t kwsq_depthwise_conv_s8_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *input_dims,
                                               const kwsq_dims *filter_dims, const kwsq_dims *output_dims)
{
    const int32_t c1 = mve_dw_c1_bytes(params, input_dims, filter_dims, output_dims);
    if (c1 > 0) {
        return c1; /* one input channel: mve_dw_c1.c takes it whatever the others need */
    }
    const int32_t ring = kwsq_ref_dw_buffer_size(params, output_dims);
    const int32_t wide = mve_dw_c16_expand_bytes(params, input_dims, filter_dims, output_dims);
    const int32_t dot = mve_dw_dot_bytes(params, input_dims, filter_dims, output_dims);
    const int32_t most = ring > wide ? ring : wide;
    return most > dot ? most : dot;
}

/* 8 packed int4 weights (4 bytes at w) as int16 lanes: a widening gather
 * puts byte i in lanes 2i and 2i+1, shifts keep the low nibble in even lanes
 * and the high one in odd lanes, sign-extended. */
static inline int16x8_t nibbles_s16(const uint8_t *w)
{
    const uint16x8_t idx = vshrq_n_u16(vidupq_n_u16(0, 1), 1);
    const int16x8_t v = vldrbq_gather_offset_s16((const int8_t *)w, idx);
    /* even lanes << 12, odd lanes << 8, then >> 12 */
    const int16x8_t sh = vsubq_s16(vdupq_n_s16(12), vshlq_n_s16(vandq_s16(vreinterpretq_s16_u16(vidupq_n_u16(0, 1)),
                                                                       vdupq_n_s16(1)), 2));
    return vshrq_n_s16(vshlq_s16(v, sh), 12);
}

/* The body, instantiated once per weight format (s4 a constant), so the int8
 * loops carry no int4 test. */
static inline __attribute__((always_inline)) kwsq_status
depthwise(bool s4, const kwsq_context *ctx, const kwsq_conv_params *params, const kwsq_quant_params *quant,
          const kwsq_dims *input_dims, const int8_t *input, const kwsq_dims *filter_dims, const uint8_t *wbytes,
          const int32_t *bias, const kwsq_dims *output_dims, int8_t *output)
{
    const kwsq_conv_params *d = params;
    if (filter_dims->h > MVE_DW_MAX_ROWS ||
        (s4 && (params->depth_multiplier != 1 || output_dims->c % 8 != 0))) {
        return kwsq_ref_depthwise_conv(s4, ctx, params, quant, input_dims, input, filter_dims, wbytes, bias,
                                       output_dims, output);
    }
    const int8_t *filter = (const int8_t *)wbytes;
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_ch = input_dims->c;
    const int32_t f_h = filter_dims->h, f_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_ch = output_dims->c;
    const int32_t dm = d->depth_multiplier;
    const int32_t off = d->input_offset, out_off = d->output_offset, lo = d->act_min, hi = d->act_max;
    const int32_t ring_rows = kwsq_ref_dw_ring_rows(d);
    int8_t *ring = ring_rows > 0 ? ctx->buf : NULL;
    const int32_t row_bytes = in_w * in_ch;
    for (int32_t bt = 0; bt < input_dims->n; ++bt) {
        const int8_t *img = input + (int64_t)bt * in_h * row_bytes;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            if (ring != NULL) {
                memcpy(ring + (oy % ring_rows) * row_bytes, img + (int64_t)oy * row_bytes, (size_t)row_bytes);
            }
            int32_t fy0, fy1;
            kwsq_window_clip(iy0, d->dilation_h, f_h, in_h, &fy0, &fy1);
            const int8_t *rows[MVE_DW_MAX_ROWS];
            for (int32_t fy = fy0; fy < fy1; ++fy) {
                const int32_t iy = iy0 + d->dilation_h * fy;
                rows[fy - fy0] = ring != NULL && iy <= oy ? ring + (iy % ring_rows) * row_bytes
                                                          : img + (int64_t)iy * row_bytes;
            }
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * d->stride_w - d->pad_w;
                int32_t fx0, fx1;
                kwsq_window_clip(ix0, d->dilation_w, f_w, in_w, &fx0, &fx1);
                int8_t *yp = output + (((int64_t)bt * out_h + oy) * out_w + ox) * out_ch;
                if ((dm == 4 || dm == 8) && ox + 1 < out_w) {
                    int32_t gx0, gx1;
                    kwsq_window_clip(ix0 + d->stride_w, d->dilation_w, f_w, in_w, &gx0, &gx1);
                    if (gx0 == fx0 && gx1 == fx1) {
                        dw_mult_pair(d, quant, rows, fy1 - fy0, ix0, fx0, fx1, input_dims, filter_dims, filter,
                                     bias, out_ch, fy0, yp, yp + out_ch);
                        ++ox;
                        continue;
                    }
                }
                int32_t oc = 0;
                if (dm == 1) {
                    /* eight channels per pass in 16-bit lanes: x + offset and w
                     * widened to int16, VMULLB/VMULLT give the even and odd
                     * channels' int32 products */
                    for (; oc + 8 <= out_ch; oc += 8) {
                        int32x4_t ae = vdupq_n_s32(0), ao = vdupq_n_s32(0);
                        for (int32_t fy = fy0; fy < fy1; ++fy) {
                            const int8_t *xp = rows[fy - fy0] + ix0 * in_ch + fx0 * d->dilation_w * in_ch + oc;
                            const int8_t *wp = filter + (fy * f_w + fx0) * out_ch + oc;
                            /* int4: nibble (fy * f_w + fx0) * out_ch + oc, even */
                            const uint8_t *wn = wbytes + ((fy * f_w + fx0) * out_ch + oc) / 2;
                                for (int32_t n = fx1 - fx0; n > 0; --n, wp += out_ch, xp += d->dilation_w * in_ch) {
                                const int16x8_t xv = vaddq_n_s16(vldrbq_s16(xp), (int16_t)off);
                                const int16x8_t wv = s4 ? nibbles_s16(wn) : vldrbq_s16(wp);
                                wn += out_ch / 2;
                                ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
                                ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
                            }
                        }
                        const uint32x4_t even = vmulq_n_u32(vidupq_n_u32(0, 1), 2);
                        for (int32_t h = 0; h < 2; ++h) {
                            const int32x4_t a = h == 0 ? ae : ao;
                            const int32x4_t bias_v = bias != NULL
                                                         ? vldrwq_gather_shifted_offset_s32(bias + oc + h, even)
                                                         : vdupq_n_s32(0);
                            const int32x4_t mult = vldrwq_gather_shifted_offset_s32(quant->multiplier + oc + h, even);
                            const int32x4_t shift = vldrbq_gather_offset_s32(quant->shift + oc + h, even);
                            vstrbq_scatter_offset_s32(yp + oc + h, even,
                                                      mve_out_s32(vaddq_s32(a, bias_v), mult, shift, out_off, lo, hi));
                        }
                    }
                }
                for (; oc < out_ch; oc += 4) {
                    /* full groups unpredicated (a predicate in the loop costs
                     * VPR moves); the last group of 1..3 channels predicated */
                    const bool full = oc + 4 <= out_ch;
                    const mve_pred16_t pr = vctp32q((uint32_t)(out_ch - oc));
                    int32x4_t acc = bias == NULL ? vdupq_n_s32(0) : full ? vldrwq_s32(bias + oc)
                                                                         : vldrwq_z_s32(bias + oc, pr);
                    /* the input channel of each lane, for the gather */
                    uint32x4_t ic_any = vdupq_n_u32(0);
                    if (dm != 1 && dm % 4 != 0) {
                        const uint32_t c[4] = {(uint32_t)(oc / dm), (uint32_t)((oc + 1) / dm),
                                               (uint32_t)((oc + 2) / dm), (uint32_t)((oc + 3) / dm)};
                        ic_any = vldrwq_u32(c);
                    }
                    const int8_t *wq = filter + oc;
                    const int32_t xstep = d->dilation_w * in_ch;
                    const int32_t ic = oc / dm;    /* dm % 4 == 0: the lanes' one input channel */
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const int8_t *xp = rows[fy - fy0] + ix0 * in_ch + fx0 * xstep;
                        const int8_t *wp = wq + (fy * f_w + fx0) * out_ch;
                        if (dm == 1 && full) {
                            for (int32_t n = fx1 - fx0; n > 0; --n, wp += out_ch, xp += xstep) {
                                const int32x4_t xv = vaddq_n_s32(vldrbq_s32(xp + oc), off);
                                acc = vaddq_s32(acc, vmulq_s32(xv, vldrbq_s32(wp)));
                            }
                        } else if (dm % 4 == 0) {
                            for (int32_t n = fx1 - fx0; n > 0; --n, wp += out_ch, xp += xstep) {
                                acc = vmlaq_n_s32(acc, vldrbq_s32(wp), xp[ic] + off);
                            }
                        } else if (dm == 1) {
                            for (int32_t n = fx1 - fx0; n > 0; --n, wp += out_ch, xp += xstep) {
                                const int32x4_t xv = vaddq_n_s32(vldrbq_z_s32(xp + oc, pr), off);
                                acc = vaddq_s32(acc, vmulq_s32(xv, vldrbq_z_s32(wp, pr)));
                            }
                        } else {
                            for (int32_t n = fx1 - fx0; n > 0; --n, wp += out_ch, xp += xstep) {
                                const int32x4_t xv = vaddq_n_s32(vldrbq_gather_offset_z_s32(xp, ic_any, pr), off);
                                acc = vaddq_s32(acc, vmulq_s32(xv, vldrbq_z_s32(wp, pr)));
                            }
                        }
                    }
                    if (full) {
                        const int32x4_t mult = vldrwq_s32(quant->multiplier + oc);
                        const int32x4_t shift = vldrbq_s32(quant->shift + oc);
                        vstrbq_s32(yp + oc, mve_out_s32(acc, mult, shift, out_off, lo, hi));
                    } else {
                        const int32x4_t mult = vldrwq_z_s32(quant->multiplier + oc, pr);
                        const int32x4_t shift = vldrbq_z_s32(quant->shift + oc, pr);
                        vstrbq_p_s32(yp + oc, mve_out_s32(acc, mult, shift, out_off, lo, hi), pr);
                    }
                }
            }
        }
    }
    return KWSQ_OK;
}

kwsq_status mve_depthwise_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                             const kwsq_quant_params *quant, const kwsq_dims *input_dims, const int8_t *input,
                             const kwsq_dims *filter_dims, const uint8_t *wbytes, const int32_t *bias,
                             const kwsq_dims *output_dims, int8_t *output)
{
    return depthwise(true, ctx, params, quant, input_dims, input, filter_dims, wbytes, bias, output_dims, output);
}

/* Not inlined: its frame (row pointers) and mve_depthwise_c16's (tables)
 * are never on the stack together. */
static __attribute__((noinline)) kwsq_status
depthwise_s8(const kwsq_context *ctx, const kwsq_conv_params *params, const kwsq_quant_params *quant,
             const kwsq_dims *input_dims, const int8_t *input, const kwsq_dims *filter_dims, const int8_t *filter,
             const int32_t *bias, const kwsq_dims *output_dims, int8_t *output)
{
    return depthwise(false, ctx, params, quant, input_dims, input, filter_dims, (const uint8_t *)filter, bias,
                     output_dims, output);
}

kwsq_status kwsq_depthwise_conv_s8(const kwsq_context *ctx, const kwsq_conv_params *params,
                                   const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                                   const int8_t *input, const kwsq_dims *filter_dims,
                                   const int8_t *filter, const int32_t *bias,
                                   const kwsq_dims *output_dims, int8_t *output)
{
    if (input_dims->c == 1 &&
        mve_depthwise_c1(ctx, params, quant, input_dims, input, filter_dims, filter, bias, output_dims, output)) {
        return KWSQ_OK;
    }
    if (mve_depthwise_dot(ctx, params, quant, input_dims, input, filter_dims, filter, bias, output_dims, output)) {
        return KWSQ_OK;
    }
    if (mve_depthwise_c16(false, ctx, params, quant, input_dims, input, filter_dims, (const uint8_t *)filter, bias,
                          output_dims, output)) {
        return KWSQ_OK;
    }
    return depthwise_s8(ctx, params, quant, input_dims, input, filter_dims, filter, bias, output_dims, output);
}
