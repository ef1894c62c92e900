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
#define KWSQ_NEON_DW_MAX_TAPS 256

#if defined(__aarch64__)
#define KWSQ_NEON_MULL_HI(a, b) vmull_high_s8(a, b)
#define KWSQ_NEON_MLAL_HI(acc, a, b) vmlal_high_s8(acc, a, b)
#else
#define KWSQ_NEON_MULL_HI(a, b) vmull_s8(vget_high_s8(a), vget_high_s8(b))
#define KWSQ_NEON_MLAL_HI(acc, a, b) vmlal_s8(acc, vget_high_s8(a), vget_high_s8(b))
#endif

/* acc[0..3] += 16 int16 sums, widened. */
KWSQ_NEON_INLINE void kwsq_neon_widen_add16(int32x4_t acc[4], int16x8_t lo, int16x8_t hi)
{
    acc[0] = vaddw_s16(acc[0], vget_low_s16(lo));
    acc[1] = vaddw_s16(acc[1], vget_high_s16(lo));
    acc[2] = vaddw_s16(acc[2], vget_low_s16(hi));
    acc[3] = vaddw_s16(acc[3], vget_high_s16(hi));
}

/* acc[0..1] += w * (x + off) for 8 channels (border taps). */
KWSQ_NEON_INLINE void kwsq_neon_mla8_off(int32x4_t acc[2], int8x8_t w, int8x8_t x, int16x8_t off)
{
    const int16x8_t xo = vaddq_s16(vmovl_s8(x), off);
    const int16x8_t ww = vmovl_s8(w);
    acc[0] = vmlal_s16(acc[0], vget_low_s16(ww), vget_low_s16(xo));
    acc[1] = vmlal_s16(acc[1], vget_high_s16(ww), vget_high_s16(xo));
}

/* Requantization constants of a block of channels, hoisted out of the pixel loop. */
typedef struct {
    kwsq_neon_q4 q[4];
    kwsq_neon_out o;
} kwsq_neon_dw_quant;

/* 16 (or, with width 8, 8) accumulators -> bytes at dst. */
KWSQ_NEON_INLINE void kwsq_neon_dw_store(int8_t *dst, const int32x4_t *acc, int32_t width,
                                         const kwsq_neon_dw_quant *qb)
{
    const int8x8_t lo = kwsq_neon_finish8(kwsq_neon_rq4(acc[0], qb->q[0]), kwsq_neon_rq4(acc[1], qb->q[1]), qb->o);
    if (width == 16) {
        const int8x8_t hi =
            kwsq_neon_finish8(kwsq_neon_rq4(acc[2], qb->q[2]), kwsq_neon_rq4(acc[3], qb->q[3]), qb->o);
        vst1q_s8(dst, vcombine_s8(lo, hi));
    } else {
        vst1_s8(dst, lo);
    }
}

/* Depth multiplier 1: one output row, channels [c0, c0 + width), width 16 or
 * 8. tap_x[t]: the input row and column offset of tap t (row-major over the
 * filter) relative to the pixel's first column, for the rows that exist. */
KWSQ_NEON_INLINE void kwsq_neon_dw_row_m1(const int32_t width, const kwsq_conv_params *d, const kwsq_dims *in,
                                          const int8_t *const *rows, const kwsq_dims *f, const int8_t *wt,
                                          const int32_t *b, const int32_t *folded, const kwsq_dims *out,
                                          int32_t oy, int32_t c0, bool pairs, const int8_t *const *tap_x,
                                          const kwsq_neon_dw_quant *qb, int8_t *yrow)
{
    const int32_t in_w = in->w, in_c = in->c, f_w = f->w, out_c = out->c, taps = f->h * f_w;
    const int32_t iy0 = oy * d->stride_h - d->pad_h;
    int32_t fy0, fy1;
    kwsq_window_clip(iy0, d->dilation_h, f->h, in->h, &fy0, &fy1);
    const bool rows_full = fy0 == 0 && fy1 == f->h;
    const int16x8_t off = vdupq_n_s16((int16_t)d->input_offset);
    const int8_t *wc = wt + c0;
    for (int32_t ox = 0; ox < out->w; ++ox) {
        const int32_t ix0 = ox * d->stride_w - d->pad_w;
        int32_t fx0, fx1;
        kwsq_window_clip(ix0, d->dilation_w, f_w, in_w, &fx0, &fx1);
        int32x4_t acc[4];
        if (rows_full && fx0 == 0 && fx1 == f_w) {
            const int64_t xo = (int64_t)ix0 * in_c + c0;
            acc[0] = vld1q_s32(folded + c0);
            acc[1] = vld1q_s32(folded + c0 + 4);
            if (width == 16) {
                acc[2] = vld1q_s32(folded + c0 + 8);
                acc[3] = vld1q_s32(folded + c0 + 12);
            }
            int32_t t = 0;
            if (pairs) {
                /* No weight is -128: |w * x| <= 127 * 128, two products fit int16. */
                for (; t + 2 <= taps; t += 2) {
                    const int8_t *w0p = wc + (int64_t)t * out_c, *w1p = w0p + out_c;
                    if (width == 16) {
                        const int8x16_t x0 = vld1q_s8(tap_x[t] + xo), x1 = vld1q_s8(tap_x[t + 1] + xo);
                        const int8x16_t w0 = vld1q_s8(w0p), w1 = vld1q_s8(w1p);
                        int16x8_t lo = vmull_s8(vget_low_s8(w0), vget_low_s8(x0));
                        int16x8_t hi = KWSQ_NEON_MULL_HI(w0, x0);
                        lo = vmlal_s8(lo, vget_low_s8(w1), vget_low_s8(x1));
                        hi = KWSQ_NEON_MLAL_HI(hi, w1, x1);
                        kwsq_neon_widen_add16(acc, lo, hi);
                    } else {
                        int16x8_t pr = vmull_s8(vld1_s8(w0p), vld1_s8(tap_x[t] + xo));
                        pr = vmlal_s8(pr, vld1_s8(w1p), vld1_s8(tap_x[t + 1] + xo));
                        acc[0] = vaddw_s16(acc[0], vget_low_s16(pr));
                        acc[1] = vaddw_s16(acc[1], vget_high_s16(pr));
                    }
                }
            }
            for (; t < taps; ++t) {
                const int8_t *wp = wc + (int64_t)t * out_c;
                if (width == 16) {
                    const int8x16_t x0 = vld1q_s8(tap_x[t] + xo), w0 = vld1q_s8(wp);
                    kwsq_neon_widen_add16(acc, vmull_s8(vget_low_s8(w0), vget_low_s8(x0)), KWSQ_NEON_MULL_HI(w0, x0));
                } else {
                    const int16x8_t pr = vmull_s8(vld1_s8(wp), vld1_s8(tap_x[t] + xo));
                    acc[0] = vaddw_s16(acc[0], vget_low_s16(pr));
                    acc[1] = vaddw_s16(acc[1], vget_high_s16(pr));
                }
            }
        } else {
            for (int32_t i = 0; i < width / 4; ++i) {
                acc[i] = b != NULL ? vld1q_s32(b + c0 + 4 * i) : vdupq_n_s32(0);
            }
            for (int32_t fy = fy0; fy < fy1; ++fy) {
                const int8_t *xr = rows[fy] + c0;
                const int8_t *wr = wc + (int64_t)fy * f_w * out_c;
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
        kwsq_neon_dw_store(yrow + (int64_t)ox * out_c + c0, acc, width, qb);
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
                const kwsq_neon_out o = kwsq_neon_out_params(d->output_offset, d->act_min, d->act_max);
                vst1_s8(yrow + (int64_t)ox * out_c + oc,
                        kwsq_neon_finish8(kwsq_neon_rq4(acc[0], kwsq_neon_quant4(q, oc)),
                                          kwsq_neon_rq4(acc[1], kwsq_neon_quant4(q, oc + 4)), o));
            }
        }
    }
}

static inline kwsq_status kwsq_neon_depthwise(bool s4, const kwsq_context *ctx, const kwsq_conv_params *d,
                                              const kwsq_quant_params *q, const kwsq_dims *in, const int8_t *x,
                                              const kwsq_dims *f, const uint8_t *w, const int32_t *b,
                                              const kwsq_dims *out, int8_t *y)
{
    const int32_t dm = d->depth_multiplier, out_c = out->c, in_c = in->c;
    const int32_t taps = f->h * f->w;
    const bool m1 = dm == 1;
    if ((!m1 && dm % 8 != 0) || (m1 && out_c > KWSQ_NEON_DW_MAX_C) || taps > KWSQ_NEON_DW_MAX_TAPS ||
        (s4 && (int64_t)taps * out_c > KWSQ_NEON_DW_WBUF) || f->h > 64) {
        return kwsq_ref_depthwise_conv(s4, ctx, d, q, in, x, f, w, b, out, y);
    }
    int8_t wbuf[KWSQ_NEON_DW_WBUF]; /* INT4 only */
    int32_t folded[KWSQ_NEON_DW_MAX_C];
    const int8_t *rows[64];
    const int8_t *tap_x[KWSQ_NEON_DW_MAX_TAPS];
    const int8_t *wt = (const int8_t *)w;
    if (s4) {
        kwsq_neon_unpack_s4(w, 0, taps * out_c, wbuf);
        wt = wbuf;
    }
    bool pairs = true;
    if (m1) {
        /* bias + off * sum of the channel's taps: the full-window constant. */
        for (int32_t c = 0; c < out_c; ++c) {
            int32_t s = 0;
            for (int32_t t = 0; t < taps; ++t) {
                const int32_t v = wt[(int64_t)t * out_c + c];
                s += v;
                pairs = pairs && v != -128;
            }
            folded[c] = (b != NULL ? b[c] : 0) + d->input_offset * s;
        }
    }
    const int32_t ring_rows = kwsq_ref_dw_ring_rows(d);
    int8_t *ring = ring_rows > 0 ? ctx->buf : NULL;
    const int32_t row_bytes = in->w * in_c;
    const kwsq_neon_out o = kwsq_neon_out_params(d->output_offset, d->act_min, d->act_max);
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
                for (int32_t fx = 0; fx < f->w; ++fx) {
                    tap_x[fy * f->w + fx] =
                        rows[fy] == NULL ? NULL : rows[fy] + (int64_t)d->dilation_w * fx * in_c;
                }
            }
            int8_t *yrow = y + ((int64_t)bt * out->h + oy) * out->w * out_c;
            if (!m1) {
                kwsq_neon_dw_row_m8(d, q, in, rows, f, wt, b, out, oy, yrow);
                continue;
            }
            int32_t c0 = 0;
            kwsq_neon_dw_quant qb;
            qb.o = o;
            for (; c0 + 16 <= out_c; c0 += 16) {
                for (int32_t i = 0; i < 4; ++i) {
                    qb.q[i] = kwsq_neon_quant4(q, c0 + 4 * i);
                }
                kwsq_neon_dw_row_m1(16, d, in, rows, f, wt, b, folded, out, oy, c0, pairs, tap_x, &qb, yrow);
            }
            if (c0 + 8 <= out_c) {
                qb.q[0] = kwsq_neon_quant4(q, c0);
                qb.q[1] = kwsq_neon_quant4(q, c0 + 4);
                kwsq_neon_dw_row_m1(8, d, in, rows, f, wt, b, folded, out, oy, c0, pairs, tap_x, &qb, yrow);
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
