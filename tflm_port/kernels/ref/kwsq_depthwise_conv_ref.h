/*
 * The reference DEPTHWISE_CONV_2D loop, shared by kwsq_depthwise_conv_s8.c
 * and kwsq_depthwise_conv_s4.c (each instantiates it with a constant weight
 * format). Bit-exact with TFLite Micro's DepthwiseConvPerChannel.
 *
 * Output channels are processed in blocks: each input tap is read once per
 * block and multiplied into the block's accumulators (weights are contiguous
 * per tap), instead of re-walking the window for every output channel.
 *
 * In place (stride 1, same-size output, multiplier 1): output row y
 * overwrites input row y, which rows up to y + pad_h still read, so rows
 * y - pad_h .. y are kept in a ring of pad_h + 1 rows (the scratch buffer).
 */
#ifndef KWSQ_DEPTHWISE_CONV_REF_H
#define KWSQ_DEPTHWISE_CONV_REF_H

#include <string.h>

#include "kwsq_kernels.h"
#include "kwsq_math.h"

#define KWSQ_DW_BLOCK 64

static inline int32_t kwsq_ref_dw_ring_rows(const kwsq_conv_params *p)
{
    return p->in_place ? p->pad_h + 1 : 0;
}

static inline int32_t kwsq_ref_dw_buffer_size(const kwsq_conv_params *p, const kwsq_dims *out)
{
    return kwsq_ref_dw_ring_rows(p) * out->w * out->c;
}

static inline kwsq_status kwsq_ref_depthwise_conv(bool s4, const kwsq_context *ctx, const kwsq_conv_params *d,
                                                  const kwsq_quant_params *q, const kwsq_dims *in,
                                                  const int8_t *x, const kwsq_dims *f, const uint8_t *w,
                                                  const int32_t *b, const kwsq_dims *out, int8_t *y)
{
    const int32_t in_h = in->h, in_w = in->w, in_ch = in->c;
    const int32_t f_h = f->h, f_w = f->w;
    const int32_t out_h = out->h, out_w = out->w, out_ch = out->c;
    const int32_t dm = d->depth_multiplier;
    const int32_t off = d->input_offset;
    int32_t acc[KWSQ_DW_BLOCK];
    const int32_t ring_rows = kwsq_ref_dw_ring_rows(d);
    int8_t *ring = ring_rows > 0 ? ctx->buf : NULL;
    const int32_t row_bytes = in_w * in_ch;
    /* Blocks hold whole input channels (dm outputs each). */
    const int32_t ic_per_block = dm <= KWSQ_DW_BLOCK ? KWSQ_DW_BLOCK / dm : 1;

    for (int32_t bt = 0; bt < in->n; ++bt) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            if (ring != NULL) {
                memcpy(ring + (oy % ring_rows) * row_bytes, x + ((int64_t)bt * in_h + oy) * row_bytes,
                       (size_t)row_bytes);
            }
            int32_t fy0, fy1;
            kwsq_window_clip(iy0, d->dilation_h, f_h, in_h, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * d->stride_w - d->pad_w;
                int32_t fx0, fx1;
                kwsq_window_clip(ix0, d->dilation_w, f_w, in_w, &fx0, &fx1);
                int8_t *yp = y + (((int64_t)bt * out_h + oy) * out_w + ox) * out_ch;
                for (int32_t ic0 = 0; ic0 < in_ch; ic0 += ic_per_block) {
                    const int32_t ic1 = ic0 + ic_per_block < in_ch ? ic0 + ic_per_block : in_ch;
                    /* dm > KWSQ_DW_BLOCK: walk the multiplier in slices of KWSQ_DW_BLOCK. */
                    for (int32_t m0 = 0; m0 < (dm <= KWSQ_DW_BLOCK ? 1 : dm); m0 += KWSQ_DW_BLOCK) {
                        const int32_t oc0 = ic0 * dm + m0;
                        const int32_t mlen = dm <= KWSQ_DW_BLOCK ? dm
                                                                 : (dm - m0 < KWSQ_DW_BLOCK ? dm - m0 : KWSQ_DW_BLOCK);
                        const int32_t count = dm <= KWSQ_DW_BLOCK ? (ic1 - ic0) * dm : mlen;
                        for (int32_t k = 0; k < count; ++k) {
                            acc[k] = b != NULL ? b[oc0 + k] : 0;
                        }
                        for (int32_t fy = fy0; fy < fy1; ++fy) {
                            const int32_t iy = iy0 + d->dilation_h * fy;
                            for (int32_t fx = fx0; fx < fx1; ++fx) {
                                const int32_t ix = ix0 + d->dilation_w * fx;
                                const int8_t *xrow = ring != NULL && iy <= oy
                                                         ? ring + (iy % ring_rows) * row_bytes
                                                         : x + ((int64_t)bt * in_h + iy) * row_bytes;
                                const int8_t *xp = xrow + ix * in_ch;
                                const int32_t wtap = (fy * f_w + fx) * out_ch + oc0;
                                int32_t k = 0;
                                for (int32_t ic = ic0; ic < (dm <= KWSQ_DW_BLOCK ? ic1 : ic0 + 1); ++ic) {
                                    const int32_t xv = (int32_t)xp[ic] + off;
                                    if (s4) {
                                        for (int32_t m = 0; m < mlen; ++m, ++k) {
                                            acc[k] += kwsq_int4_at(w, (int64_t)wtap + k) * xv;
                                        }
                                    } else {
                                        const int8_t *wp = (const int8_t *)w + wtap + k;
                                        for (int32_t m = 0; m < mlen; ++m) {
                                            acc[k + m] += (int32_t)wp[m] * xv;
                                        }
                                        k += mlen;
                                    }
                                }
                            }
                        }
                        for (int32_t k = 0; k < count; ++k) {
                            const int32_t oc = oc0 + k;
                            const int32_t v = kwsq_requant(acc[k], q->multiplier[oc], q->shift[oc], q->pot) +
                                              d->output_offset;
                            yp[oc] = (int8_t)kwsq_clamp(v, d->act_min, d->act_max);
                        }
                    }
                }
            }
        }
    }
    return KWSQ_OK;
}

#endif /* KWSQ_DEPTHWISE_CONV_REF_H */
