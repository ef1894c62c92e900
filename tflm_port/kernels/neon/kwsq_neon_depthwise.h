/*
 * DEPTHWISE_CONV_2D with NEON, shared by kwsq_depthwise_conv_s8.c and
 * kwsq_depthwise_conv_s4.c.
 *
 * Depth multiplier 1: sixteen channels per vector (then eight, then one at
 * a time). Where the whole window lies inside the input, the input offset is
 * folded out as in the convolution (sum w * (x + off) = sum w * x + off *
 * sum w, the last term precomputed per channel for the call), so each tap
 * costs two widening multiplies (`smull`, int8 x int8 -> int16, exact) and
 * four widening adds. Border pixels add the offset to x first (int16) and
 * multiply-accumulate in int32 (`smlal`), skipping taps outside the input
 * like the reference.
 *
 * Depth multiplier a multiple of 8 (micro_speech: one input channel, eight
 * outputs): x + off is broadcast and multiplied with eight output channels'
 * weights at a time.
 *
 * In place (stride 1, same size, multiplier 1) keeps the reference's ring of
 * pad_h + 1 input rows in the scratch buffer, rows outermost, so it reads
 * what the reference reads. Packed INT4 weights are unpacked once per call
 * into a bounded stack buffer. Anything else runs the reference loop.
 */
#ifndef KWSQ_NEON_DEPTHWISE_H
#define KWSQ_NEON_DEPTHWISE_H

#include "kwsq_depthwise_conv_ref.h"
#include "kwsq_neon.h"

#define KWSQ_NEON_DW_MAX_C 1024     /* channels whose folded constants fit the stack */
#define KWSQ_NEON_DW_WBUF 8192      /* unpacked INT4 weights (taps x channels) */

/* acc[0..3] += 16 products of int8 x int8 (exact in int16), widened. */
static inline void kwsq_neon_mla16_s8(int32x4_t acc[4], int8x16_t w, int8x16_t x)
{
    const int16x8_t lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));
    const int16x8_t hi = vmull_s8(vget_high_s8(w), vget_high_s8(x));
    acc[0] = vaddw_s16(acc[0], vget_low_s16(lo));
    acc[1] = vaddw_s16(acc[1], vget_high_s16(lo));
    acc[2] = vaddw_s16(acc[2], vget_low_s16(hi));
    acc[3] = vaddw_s16(acc[3], vget_high_s16(hi));
}

/* acc[0..1] += w * (x + off) for 8 channels (border taps). */
static inline void kwsq_neon_mla8_off(int32x4_t acc[2], int8x8_t w, int8x8_t x, int16x8_t off)
{
    const int16x8_t xo = vaddq_s16(vmovl_s8(x), off);
    const int16x8_t ww = vmovl_s8(w);
    acc[0] = vmlal_s16(acc[0], vget_low_s16(ww), vget_low_s16(xo));
    acc[1] = vmlal_s16(acc[1], vget_high_s16(ww), vget_high_s16(xo));
}

static inline void kwsq_neon_dw_store(int8_t *dst, const int32x4_t *acc, int32_t n4, const kwsq_quant_params *q,
                                      int32_t c, const kwsq_conv_params *d)
{
    for (int32_t i = 0; i < n4; ++i) {
        const kwsq_neon_q4 qq = kwsq_neon_quant4(q, c + 4 * i);
        kwsq_neon_store4(dst + 4 * i, kwsq_neon_out4(acc[i], qq, d->output_offset, d->act_min, d->act_max));
    }
}

/* Depth multiplier 1, output row oy, channels [c0, c0 + width), width 16 or 8. */
static inline void kwsq_neon_dw_row_m1(int32_t width, const kwsq_conv_params *d, const kwsq_quant_params *q,
                                       const kwsq_dims *in, const int8_t *const *rows, const kwsq_dims *f,
                                       const int8_t *wt, const int32_t *b, const int32_t *folded,
                                       const kwsq_dims *out, int32_t oy, int32_t c0, int8_t *yrow)
{
    const int32_t in_w = in->w, in_c = in->c, f_w = f->w, out_c = out->c;
    const int32_t iy0 = oy * d->stride_h - d->pad_h;
    int32_t fy0, fy1;
    kwsq_window_clip(iy0, d->dilation_h, f->h, in->h, &fy0, &fy1);
    const bool rows_full = fy0 == 0 && fy1 == f->h;
    const int16x8_t off = vdupq_n_s16((int16_t)d->input_offset);
    const int32_t n4 = width / 4;
    for (int32_t ox = 0; ox < out->w; ++ox) {
        const int32_t ix0 = ox * d->stride_w - d->pad_w;
        int32_t fx0, fx1;
        kwsq_window_clip(ix0, d->dilation_w, f_w, in_w, &fx0, &fx1);
        int32x4_t acc[4];
        if (rows_full && fx0 == 0 && fx1 == f_w) {
            for (int32_t i = 0; i < n4; ++i) {
                acc[i] = vld1q_s32(folded + c0 + 4 * i);
            }
            for (int32_t fy = 0; fy < f->h; ++fy) {
                const int8_t *xr = rows[fy] + c0;
                const int8_t *wr = wt + (int64_t)fy * f_w * out_c + c0;
                for (int32_t fx = 0; fx < f_w; ++fx) {
                    const int8_t *xp = xr + (int64_t)(ix0 + d->dilation_w * fx) * in_c;
                    const int8_t *wp = wr + (int64_t)fx * out_c;
                    if (width == 16) {
                        kwsq_neon_mla16_s8(acc, vld1q_s8(wp), vld1q_s8(xp));
                    } else {
                        const int16x8_t pr = vmull_s8(vld1_s8(wp), vld1_s8(xp));
                        acc[0] = vaddw_s16(acc[0], vget_low_s16(pr));
                        acc[1] = vaddw_s16(acc[1], vget_high_s16(pr));
                    }
                }
            }
        } else {
            for (int32_t i = 0; i < n4; ++i) {
                acc[i] = b != NULL ? vld1q_s32(b + c0 + 4 * i) : vdupq_n_s32(0);
            }
            for (int32_t fy = fy0; fy < fy1; ++fy) {
                const int8_t *xr = rows[fy] + c0;
                const int8_t *wr = wt + (int64_t)fy * f_w * out_c + c0;
                for (int32_t fx = fx0; fx < fx1; ++fx) {
                    const int8_t *xp = xr + (int64_t)(ix0 + d->dilation_w * fx) * in_c;
                    const int8_t *wp = wr + (int64_t)fx * out_c;
                    kwsq_neon_mla8_off(acc, vld1_s8(wp), vld1_s8(xp), off);
                    if (width == 16) {
                        kwsq_neon_mla8_off(acc + 2, vld1_s8(wp + 8), vld1_s8(xp + 8), off);
                    }
                }
            }
        }
        kwsq_neon_dw_store(yrow + (int64_t)ox * out_c + c0, acc, n4, q, c0, d);
    }
}

/* Depth multiplier 1, one channel c (tails), output row oy: as the reference. */
static inline void kwsq_neon_dw_row_1ch(const kwsq_conv_params *d, const kwsq_quant_params *q,
                                        const kwsq_dims *in, const int8_t *const *rows, const kwsq_dims *f,
                                        const int8_t *wt, const int32_t *b, const kwsq_dims *out, int32_t oy,
                                        int32_t c, int8_t *yrow)
{
    const int32_t iy0 = oy * d->stride_h - d->pad_h;
    int32_t fy0, fy1;
    kwsq_window_clip(iy0, d->dilation_h, f->h, in->h, &fy0, &fy1);
    for (int32_t ox = 0; ox < out->w; ++ox) {
        const int32_t ix0 = ox * d->stride_w - d->pad_w;
        int32_t fx0, fx1;
        kwsq_window_clip(ix0, d->dilation_w, f->w, in->w, &fx0, &fx1);
        int32_t acc = b != NULL ? b[c] : 0;
        for (int32_t fy = fy0; fy < fy1; ++fy) {
            for (int32_t fx = fx0; fx < fx1; ++fx) {
                const int32_t xv = rows[fy][(int64_t)(ix0 + d->dilation_w * fx) * in->c + c] + d->input_offset;
                acc += wt[((int64_t)fy * f->w + fx) * out->c + c] * xv;
            }
        }
        yrow[(int64_t)ox * out->c + c] = kwsq_neon_out1(acc, q, c, d->output_offset, d->act_min, d->act_max);
    }
}

/* Depth multiplier a multiple of 8, output row oy: eight outputs of one input channel per vector. */
static inline void kwsq_neon_dw_row_m8(const kwsq_conv_params *d, const kwsq_quant_params *q,
                                       const kwsq_dims *in, const int8_t *const *rows, const kwsq_dims *f,
                                       const int8_t *wt, const int32_t *b, const kwsq_dims *out, int32_t oy,
                                       int8_t *yrow)
{
    const int32_t dm = d->depth_multiplier, out_c = out->c, in_c = in->c;
    const int32_t iy0 = oy * d->stride_h - d->pad_h;
    int32_t fy0, fy1;
    kwsq_window_clip(iy0, d->dilation_h, f->h, in->h, &fy0, &fy1);
    for (int32_t ox = 0; ox < out->w; ++ox) {
        const int32_t ix0 = ox * d->stride_w - d->pad_w;
        int32_t fx0, fx1;
        kwsq_window_clip(ix0, d->dilation_w, f->w, in->w, &fx0, &fx1);
        for (int32_t ic = 0; ic < in_c; ++ic) {
            for (int32_t m = 0; m < dm; m += 8) {
                const int32_t oc = ic * dm + m;
                int32x4_t acc[2];
                acc[0] = b != NULL ? vld1q_s32(b + oc) : vdupq_n_s32(0);
                acc[1] = b != NULL ? vld1q_s32(b + oc + 4) : vdupq_n_s32(0);
                for (int32_t fy = fy0; fy < fy1; ++fy) {
                    const int8_t *xr = rows[fy] + ic;
                    const int8_t *wr = wt + (int64_t)fy * f->w * out_c + oc;
                    for (int32_t fx = fx0; fx < fx1; ++fx) {
                        const int16_t xv = (int16_t)(xr[(int64_t)(ix0 + d->dilation_w * fx) * in_c] +
                                                     d->input_offset);
                        const int16x8_t ww = vmovl_s8(vld1_s8(wr + (int64_t)fx * out_c));
                        acc[0] = vmlal_n_s16(acc[0], vget_low_s16(ww), xv);
                        acc[1] = vmlal_n_s16(acc[1], vget_high_s16(ww), xv);
                    }
                }
                kwsq_neon_dw_store(yrow + (int64_t)ox * out_c + oc, acc, 2, q, oc, d);
            }
        }
    }
}

static inline kwsq_status kwsq_neon_depthwise(bool s4, const kwsq_context *ctx, const kwsq_conv_params *d,
                                              const kwsq_quant_params *q, const kwsq_dims *in, const int8_t *x,
                                              const kwsq_dims *f, const uint8_t *w, const int32_t *b,
                                              const kwsq_dims *out, int8_t *y)
{
    const int32_t dm = d->depth_multiplier, out_c = out->c;
    const int32_t taps = f->h * f->w;
    const bool m1 = dm == 1;
    if ((!m1 && dm % 8 != 0) || (m1 && out_c > KWSQ_NEON_DW_MAX_C) ||
        (s4 && (int64_t)taps * out_c > KWSQ_NEON_DW_WBUF) || f->h > 64) {
        return kwsq_ref_depthwise_conv(s4, ctx, d, q, in, x, f, w, b, out, y);
    }
    int8_t wbuf[KWSQ_NEON_DW_WBUF]; /* INT4 only */
    int32_t folded[KWSQ_NEON_DW_MAX_C];
    const int8_t *rows[64];
    const int8_t *wt = (const int8_t *)w;
    if (s4) {
        kwsq_neon_unpack_s4(w, 0, taps * out_c, wbuf);
        wt = wbuf;
    }
    if (m1) {
        /* bias + off * sum of the channel's taps: the full-window constant. */
        for (int32_t c = 0; c < out_c; ++c) {
            int32_t s = 0;
            for (int32_t t = 0; t < taps; ++t) {
                s += wt[(int64_t)t * out_c + c];
            }
            folded[c] = (b != NULL ? b[c] : 0) + d->input_offset * s;
        }
    }
    const int32_t ring_rows = kwsq_ref_dw_ring_rows(d);
    int8_t *ring = ring_rows > 0 ? ctx->buf : NULL;
    const int32_t row_bytes = in->w * in->c;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *xb = x + (int64_t)bt * in->h * row_bytes;
        for (int32_t oy = 0; oy < out->h; ++oy) {
            if (ring != NULL) {
                memcpy(ring + (oy % ring_rows) * row_bytes, xb + (int64_t)oy * row_bytes, (size_t)row_bytes);
            }
            /* Input row of each filter row (only the in-bounds ones are read). */
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            for (int32_t fy = 0; fy < f->h; ++fy) {
                const int32_t iy = iy0 + d->dilation_h * fy;
                rows[fy] = iy < 0 || iy >= in->h ? NULL
                           : ring != NULL && iy <= oy ? ring + (iy % ring_rows) * row_bytes
                                                      : xb + (int64_t)iy * row_bytes;
            }
            int8_t *yrow = y + ((int64_t)bt * out->h + oy) * out->w * out_c;
            if (!m1) {
                kwsq_neon_dw_row_m8(d, q, in, rows, f, wt, b, out, oy, yrow);
                continue;
            }
            int32_t c0 = 0;
            for (; c0 + 16 <= out_c; c0 += 16) {
                kwsq_neon_dw_row_m1(16, d, q, in, rows, f, wt, b, folded, out, oy, c0, yrow);
            }
            if (c0 + 8 <= out_c) {
                kwsq_neon_dw_row_m1(8, d, q, in, rows, f, wt, b, folded, out, oy, c0, yrow);
                c0 += 8;
            }
            for (; c0 < out_c; ++c0) {
                kwsq_neon_dw_row_1ch(d, q, in, rows, f, wt, b, out, oy, c0, yrow);
            }
        }
    }
    return KWSQ_OK;
}

#endif /* KWSQ_NEON_DEPTHWISE_H */
