/*
 * DEPTHWISE_CONV_2D with NEON, shared by kwsq_depthwise_conv_s8.c and
 * kwsq_depthwise_conv_s4.c.
 *
 * Depth multiplier 1: sixteen channels per vector (then eight, then one at
 * a time). The input offset is folded out as in the convolution (sum w *
 * (x + off) = sum w * x + off * sum w, the last term precomputed per channel
 * for the call); taps outside the input read a row of the input zero point,
 * whose term w * (zp + off) is zero like a skipped tap in the reference, so
 * border and inner pixels run the same loop. Two taps cost two widening
 * multiplies (`smull`/`smlal`, int8 x int8 -> int16: exact, and two products
 * fit int16 unless a weight is -128, checked per call) and four widening
 * adds.
 *
 * With the layer's accum_bound <= 32767 (kwsq_kernels.h) every tap's
 * product goes into int16 lanes (`smlal`, one instruction per 8 products)
 * and is widened once per pixel instead of once per tap pair.
 *
 * Depth multiplier a multiple of 8 (micro_speech: one input channel, eight
 * outputs): x + off is broadcast and multiplied with eight output channels'
 * weights at a time. Other multipliers > 1 (int8, at least 8 output
 * channels) are a multiplier-1 layer on an input whose every byte is
 * repeated dm times: each input row the window needs is expanded once into
 * the scratch buffer (a ring of window-height rows; `vst2`/`vst3`/`vst4` of
 * the same vector for dm 2-4) and the multiplier-1 path runs on it. A
 * multiple of 4 on one input channel (four outputs) broadcasts x + off into
 * four outputs' weights. A channel tail of 1-7 after the 16- and 8-channel
 * blocks recomputes the last 8 channels (same values again).
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

#define KWSQ_NEON_DW_MAX_C 512      /* channels whose folded constants fit the stack */
#define KWSQ_NEON_DW_WBUF 8192      /* unpacked INT4 weights (taps x channels) */
#define KWSQ_NEON_DW_MAX_TAPS 256

#if defined(__aarch64__)
#define KWSQ_NEON_MULL_HI(a, b) vmull_high_s8(a, b)
#define KWSQ_NEON_MLAL_HI(acc, a, b) vmlal_high_s8(acc, a, b)
#else
#define KWSQ_NEON_MULL_HI(a, b) vmull_s8(vget_high_s8(a), vget_high_s8(b))
#define KWSQ_NEON_MLAL_HI(acc, a, b) vmlal_s8(acc, vget_high_s8(a), vget_high_s8(b))
#endif

#define KWSQ_NEON_DW_WIDE_MAX_ROWS 64

/* Scratch bytes for expanding the input rows of a multiplier that is not 1
 * or a multiple of 8 (0: the layer does not take that path). */
static inline int32_t kwsq_neon_dw_wide_bytes(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f,
                                              const kwsq_dims *out)
{
    const int32_t dm = d->depth_multiplier;
    const int64_t window = (int64_t)(f->h - 1) * d->dilation_h + 1;
    if (dm <= 1 || dm % 8 == 0 || in->c * dm != out->c || out->c < 8 || out->c > KWSQ_NEON_DW_MAX_C ||
        f->h * f->w > KWSQ_NEON_DW_MAX_TAPS || window > KWSQ_NEON_DW_WIDE_MAX_ROWS) {
        return 0;
    }
    const int64_t bytes = window * in->w * out->c;
    return bytes <= 0x7FFFFFFF ? (int32_t)bytes : 0;
}

/* dst[i] = src[i / dm] for i < n * dm. */
static inline void kwsq_neon_dw_expand(const int8_t *src, int32_t n, int32_t dm, int8_t *dst)
{
    int32_t i = 0;
    if (dm == 2) {
        for (; i + 8 <= n; i += 8) {
            const int8x8_t v = vld1_s8(src + i);
            const int8x8x2_t r = {{v, v}};
            vst2_s8(dst + 2 * i, r);
        }
    } else if (dm == 3) {
        for (; i + 8 <= n; i += 8) {
            const int8x8_t v = vld1_s8(src + i);
            const int8x8x3_t r = {{v, v, v}};
            vst3_s8(dst + 3 * i, r);
        }
    } else if (dm == 4) {
        for (; i + 8 <= n; i += 8) {
            const int8x8_t v = vld1_s8(src + i);
            const int8x8x4_t r = {{v, v, v, v}};
            vst4_s8(dst + 4 * i, r);
        }
    }
    for (; i < n; ++i) {
        memset(dst + (int64_t)i * dm, src[i], (size_t)dm);
    }
}

/* acc[0..3] += 16 int16 sums, widened. */
KWSQ_NEON_INLINE void kwsq_neon_widen_add16(int32x4_t acc[4], int16x8_t lo, int16x8_t hi)
{
    acc[0] = vaddw_s16(acc[0], vget_low_s16(lo));
    acc[1] = vaddw_s16(acc[1], vget_high_s16(lo));
    acc[2] = vaddw_s16(acc[2], vget_low_s16(hi));
    acc[3] = vaddw_s16(acc[3], vget_high_s16(hi));
}

/* Depth multiplier 1, one output pixel, channels [c0, c0 + width), width 16
 * or 8. xp[t] is the input of tap t at channel 0 (the input zero point for
 * taps outside the input, see kwsq_neon_depthwise), so every pixel runs the
 * same loop from the folded constant bias + off * sum(w). */
KWSQ_NEON_INLINE void kwsq_neon_dw_block(const int32_t width, const int8_t *const *xp, int32_t taps,
                                         const int8_t *wt, int32_t out_c, const int32_t *folded,
                                         const kwsq_neon_q4 *qb, kwsq_neon_out o, bool pairs, int32_t c0,
                                         int8_t *dst, const bool left, const bool acc16)
{
    const int8_t *wc = wt + c0;
    int32x4_t acc[4];
    acc[0] = vld1q_s32(folded + c0);
    acc[1] = vld1q_s32(folded + c0 + 4);
    if (width == 16) {
        acc[2] = vld1q_s32(folded + c0 + 8);
        acc[3] = vld1q_s32(folded + c0 + 12);
    }
    int32_t t = 0;
    if (acc16) {
        /* accum_bound <= 32767: every tap's product into int16 lanes, widened once. */
        if (width == 16) {
            int16x8_t lo = vdupq_n_s16(0), hi = lo;
            for (; t < taps; ++t) {
                const int8x16_t x0 = vld1q_s8(xp[t] + c0), w0 = vld1q_s8(wc + (int64_t)t * out_c);
                lo = vmlal_s8(lo, vget_low_s8(w0), vget_low_s8(x0));
                hi = KWSQ_NEON_MLAL_HI(hi, w0, x0);
            }
            kwsq_neon_widen_add16(acc, lo, hi);
        } else {
            int16x8_t pr = vdupq_n_s16(0);
            for (; t < taps; ++t) {
                pr = vmlal_s8(pr, vld1_s8(wc + (int64_t)t * out_c), vld1_s8(xp[t] + c0));
            }
            acc[0] = vaddw_s16(acc[0], vget_low_s16(pr));
            acc[1] = vaddw_s16(acc[1], vget_high_s16(pr));
        }
    }
    if (pairs && !acc16) {
        /* No weight is -128: |w * x| <= 127 * 128, so two products fit int16. */
        for (; t + 2 <= taps; t += 2) {
            const int8_t *w0p = wc + (int64_t)t * out_c, *w1p = w0p + out_c;
            if (width == 16) {
                const int8x16_t x0 = vld1q_s8(xp[t] + c0), x1 = vld1q_s8(xp[t + 1] + c0);
                const int8x16_t w0 = vld1q_s8(w0p), w1 = vld1q_s8(w1p);
                int16x8_t lo = vmull_s8(vget_low_s8(w0), vget_low_s8(x0));
                int16x8_t hi = KWSQ_NEON_MULL_HI(w0, x0);
                lo = vmlal_s8(lo, vget_low_s8(w1), vget_low_s8(x1));
                hi = KWSQ_NEON_MLAL_HI(hi, w1, x1);
                kwsq_neon_widen_add16(acc, lo, hi);
            } else {
                int16x8_t pr = vmull_s8(vld1_s8(w0p), vld1_s8(xp[t] + c0));
                pr = vmlal_s8(pr, vld1_s8(w1p), vld1_s8(xp[t + 1] + c0));
                acc[0] = vaddw_s16(acc[0], vget_low_s16(pr));
                acc[1] = vaddw_s16(acc[1], vget_high_s16(pr));
            }
        }
    }
    for (; t < taps; ++t) {
        const int8_t *wp = wc + (int64_t)t * out_c;
        if (width == 16) {
            const int8x16_t x0 = vld1q_s8(xp[t] + c0), w0 = vld1q_s8(wp);
            kwsq_neon_widen_add16(acc, vmull_s8(vget_low_s8(w0), vget_low_s8(x0)), KWSQ_NEON_MULL_HI(w0, x0));
        } else {
            const int16x8_t pr = vmull_s8(vld1_s8(wp), vld1_s8(xp[t] + c0));
            acc[0] = vaddw_s16(acc[0], vget_low_s16(pr));
            acc[1] = vaddw_s16(acc[1], vget_high_s16(pr));
        }
    }
    const int8x8_t lo = kwsq_neon_finish8(kwsq_neon_rq4x(acc[0], qb[0], left), kwsq_neon_rq4x(acc[1], qb[1], left), o);
    if (width == 16) {
        const int8x8_t hi =
            kwsq_neon_finish8(kwsq_neon_rq4x(acc[2], qb[2], left), kwsq_neon_rq4x(acc[3], qb[3], left), o);
        vst1q_s8(dst + c0, vcombine_s8(lo, hi));
    } else {
        vst1_s8(dst + c0, lo);
    }
}

/* Four channels c0 .. c0 + 3 of one pixel (int32 lanes, four bytes per load). */
KWSQ_NEON_INLINE void kwsq_neon_dw_block4(const int8_t *const *xp, int32_t taps, const int8_t *wt, int32_t out_c,
                                          const int32_t *folded, kwsq_neon_q4 qb, kwsq_neon_out o, int32_t c0,
                                          int8_t *dst)
{
    int32x4_t acc = vld1q_s32(folded + c0);
    for (int32_t t = 0; t < taps; ++t) {
        int32_t xv, wv;
        memcpy(&xv, xp[t] + c0, sizeof xv);
        memcpy(&wv, wt + (int64_t)t * out_c + c0, sizeof wv);
        const int16x4_t x4 = vget_low_s16(vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(xv))));
        const int16x4_t w4 = vget_low_s16(vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(wv))));
        acc = vmlal_s16(acc, x4, w4);
    }
    const int16x4_t r = kwsq_neon_rq4x(acc, qb, true);
    const int32_t v = vget_lane_s32(vreinterpret_s32_s8(kwsq_neon_finish8(r, r, o)), 0);
    memcpy(dst + c0, &v, sizeof v);
}

/* Channels c0 .. out_c - 1 (1-7) of one pixel: with at least 8 channels the
 * last 8 again as a block (the channels before c0 get the same values), so
 * every load stays inside the pixel; with 4-7 channels blocks of four (the
 * last one again over the last four); else one channel at a time. Out of
 * line: the per-pixel loop keeps its registers. */
static __attribute__((noinline)) void kwsq_neon_dw_tail(const int8_t *const *xp, int32_t taps, const int8_t *wt,
                                                        int32_t out_c, const int32_t *folded,
                                                        const kwsq_quant_params *q, const kwsq_conv_params *d,
                                                        kwsq_neon_out o, bool pairs, int32_t c0, int8_t *dst,
                                                        bool acc16)
{
    if (out_c >= 8) {
        const kwsq_neon_q4 tailq[2] = {kwsq_neon_quant4(q, out_c - 8), kwsq_neon_quant4(q, out_c - 4)};
        if (acc16) {
            kwsq_neon_dw_block(8, xp, taps, wt, out_c, folded, tailq, o, pairs, out_c - 8, dst, true, true);
        } else {
            kwsq_neon_dw_block(8, xp, taps, wt, out_c, folded, tailq, o, pairs, out_c - 8, dst, true, false);
        }
        return;
    }
    if (out_c >= 4) {
        kwsq_neon_dw_block4(xp, taps, wt, out_c, folded, kwsq_neon_quant4(q, 0), o, 0, dst);
        if (out_c > 4) {
            kwsq_neon_dw_block4(xp, taps, wt, out_c, folded, kwsq_neon_quant4(q, out_c - 4), o, out_c - 4, dst);
        }
        return;
    }
    for (; c0 < out_c; ++c0) {
        int32_t acc = folded[c0];
        for (int32_t t = 0; t < taps; ++t) {
            acc += wt[(int64_t)t * out_c + c0] * xp[t][c0];
        }
        dst[c0] = kwsq_neon_out1(acc, q, c0, d->output_offset, d->act_min, d->act_max);
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

/* Depth multiplier a multiple of 4 (one input channel, four outputs: no
 * 8-lane block fits): four outputs of one input channel per vector, the
 * weights read four bytes at a time. */
static inline void kwsq_neon_dw_row_m4(const kwsq_conv_params *d, const kwsq_quant_params *q,
                                       const kwsq_dims *in, const int8_t *const *rows, const kwsq_dims *f,
                                       const int8_t *wt, const int32_t *b, const kwsq_dims *out, int32_t oy,
                                       int8_t *yrow)
{
    const int32_t dm = d->depth_multiplier, out_c = out->c, in_c = in->c;
    const int32_t iy0 = oy * d->stride_h - d->pad_h;
    const kwsq_neon_out o = kwsq_neon_out_params(d->output_offset, d->act_min, d->act_max);
    int32_t fy0, fy1;
    kwsq_window_clip(iy0, d->dilation_h, f->h, in->h, &fy0, &fy1);
    for (int32_t ox = 0; ox < out->w; ++ox) {
        const int32_t ix0 = ox * d->stride_w - d->pad_w;
        int32_t fx0, fx1;
        kwsq_window_clip(ix0, d->dilation_w, f->w, in->w, &fx0, &fx1);
        for (int32_t ic = 0; ic < in_c; ++ic) {
            for (int32_t m = 0; m < dm; m += 4) {
                const int32_t oc = ic * dm + m;
                int32x4_t acc = b != NULL ? vld1q_s32(b + oc) : vdupq_n_s32(0);
                for (int32_t fy = fy0; fy < fy1; ++fy) {
                    const int8_t *xr = rows[fy] + ic;
                    const int8_t *wr = wt + (int64_t)fy * f->w * out_c + oc;
                    for (int32_t fx = fx0; fx < fx1; ++fx) {
                        const int16_t xv = (int16_t)(xr[(int64_t)(ix0 + d->dilation_w * fx) * in_c] +
                                                     d->input_offset);
                        int32_t w4;
                        memcpy(&w4, wr + (int64_t)fx * out_c, sizeof w4);
                        const int16x4_t ww = vget_low_s16(vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(w4))));
                        acc = vmlal_n_s16(acc, ww, xv);
                    }
                }
                const int16x4_t r = kwsq_neon_rq4(acc, kwsq_neon_quant4(q, oc));
                const int32_t v4 = vget_lane_s32(vreinterpret_s32_s8(kwsq_neon_finish8(r, r, o)), 0);
                memcpy(yrow + (int64_t)ox * out_c + oc, &v4, sizeof v4);
            }
        }
    }
}

#define KWSQ_NEON_DW_ARGS                                                                              \
    bool s4, const kwsq_context *ctx, const kwsq_conv_params *d, const kwsq_quant_params *q,             \
        const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const uint8_t *w, const int32_t *b,    \
        const kwsq_dims *out, int8_t *y

/* Layers the body does not take: other multipliers as expanded rows when
 * the scratch holds them, everything else the reference loop. */
static kwsq_status kwsq_neon_depthwise_other(KWSQ_NEON_DW_ARGS);

/* The depthwise conv with the accumulator width fixed (see kwsq_neon_depthwise). */
KWSQ_NEON_INLINE kwsq_status kwsq_neon_depthwise_body(KWSQ_NEON_DW_ARGS, const bool acc16, const bool expand,
                                                      const bool by4)
{
    const int32_t dm = d->depth_multiplier, out_c = out->c, in_c = in->c;
    const int32_t taps = f->h * f->w;
    /* expand (the caller checked the scratch): the input rows repeated dm times in the
     * scratch buffer, then as multiplier 1 */
    int8_t *wide = expand ? ctx->buf : NULL;
    const bool m1 = dm == 1 || expand;
    if ((!m1 && dm % (by4 ? 4 : 8) != 0) || (m1 && out_c > KWSQ_NEON_DW_MAX_C) || taps > KWSQ_NEON_DW_MAX_TAPS ||
        (s4 && (int64_t)taps * out_c > KWSQ_NEON_DW_WBUF) || f->h > 64) {
        /* other multipliers are dispatched here, off the multiplier-1 path */
        return kwsq_neon_depthwise_other(s4, ctx, d, q, in, x, f, w, b, out, y);
    }
    /* channels per input pixel as the multiplier-1 loop reads them */
    const int32_t xc = expand ? out_c : in_c;
    const int32_t window = (f->h - 1) * d->dilation_h + 1;
    int32_t held[KWSQ_NEON_DW_WIDE_MAX_ROWS];
    int8_t wbuf[KWSQ_NEON_DW_WBUF]; /* INT4 only */
    int32_t folded[KWSQ_NEON_DW_MAX_C];
    kwsq_neon_q4 quant[KWSQ_NEON_DW_MAX_C / 4];
    int8_t pad[KWSQ_NEON_DW_MAX_C];
    const int8_t *rows[64];
    const int8_t *xp[KWSQ_NEON_DW_MAX_TAPS];
    const int8_t *wt = (const int8_t *)w;
    if (s4) {
        kwsq_neon_unpack_s4(w, 0, taps * out_c, wbuf);
        wt = wbuf;
    }
    bool pairs = true;
    if (m1) {
        /* bias + off * sum of the channel's taps: a tap outside the input reads
         * the input zero point (pad), whose term w * (zp + off) is zero. */
        int32_t c = 0;
        for (; c + 16 <= out_c; c += 16) {
            /* int16 sums: at most KWSQ_NEON_DW_MAX_TAPS (256) taps of |w| <= 128. */
            int16x8_t lo = vdupq_n_s16(0), hi = vdupq_n_s16(0);
            uint8x16_t has_min = vdupq_n_u8(0);
            for (int32_t t = 0; t < taps; ++t) {
                const int8x16_t v = vld1q_s8(wt + (int64_t)t * out_c + c);
                lo = vaddw_s8(lo, vget_low_s8(v));
                hi = vaddw_s8(hi, vget_high_s8(v));
                has_min = vorrq_u8(has_min, vceqq_s8(v, vdupq_n_s8(-128)));
            }
            uint8x8_t any = vorr_u8(vget_low_u8(has_min), vget_high_u8(has_min));
            pairs = pairs && vget_lane_u64(vreinterpret_u64_u8(any), 0) == 0;
            const int32x4_t off = vdupq_n_s32(d->input_offset);
            const int16x8_t parts[2] = {lo, hi};
            for (int32_t i = 0; i < 4; ++i) {
                const int16x8_t h = parts[i / 2];
                const int32x4_t sum = vmovl_s16((i % 2) == 0 ? vget_low_s16(h) : vget_high_s16(h));
                const int32x4_t bias = b != NULL ? vld1q_s32(b + c + 4 * i) : vdupq_n_s32(0);
                vst1q_s32(folded + c + 4 * i, vmlaq_s32(bias, off, sum));
            }
        }
        for (; c < out_c; ++c) {
            int32_t s = 0;
            for (int32_t t = 0; t < taps; ++t) {
                const int32_t v = wt[(int64_t)t * out_c + c];
                s += v;
                pairs = pairs && v != -128;
            }
            folded[c] = (b != NULL ? b[c] : 0) + d->input_offset * s;
        }
        for (int32_t c = 0; c + 4 <= out_c; c += 4) {
            quant[c / 4] = kwsq_neon_quant4(q, c);
        }
        /* expanded: out_c <= KWSQ_NEON_DW_MAX_C (checked above), said again for the compiler */
        memset(pad, -d->input_offset,
               !expand ? (size_t)in_c : out_c <= 0 ? 0u : out_c < KWSQ_NEON_DW_MAX_C ? (size_t)out_c : KWSQ_NEON_DW_MAX_C);
    }
    const bool any_left = kwsq_neon_any_left(q, out_c);
    const int32_t ring_rows = kwsq_ref_dw_ring_rows(d);
    int8_t *ring = ring_rows > 0 ? ctx->buf : NULL;
    const int32_t row_bytes = in->w * in_c;
    const kwsq_neon_out o = kwsq_neon_out_params(d->output_offset, d->act_min, d->act_max);
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *xb = x + (int64_t)bt * in->h * row_bytes;
        for (int32_t k = 0; expand && k < window; ++k) {
            held[k] = -1;
        }
        for (int32_t oy = 0; oy < out->h; ++oy) {
            if (ring != NULL) {
                memcpy(ring + (oy % ring_rows) * row_bytes, xb + (int64_t)oy * row_bytes, (size_t)row_bytes);
            }
            /* Input row of each filter row (NULL outside the input). */
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            for (int32_t fy = 0; fy < f->h; ++fy) {
                const int32_t iy = iy0 + d->dilation_h * fy;
                rows[fy] = iy < 0 || iy >= in->h ? NULL
                           : ring != NULL && iy <= oy ? ring + (iy % ring_rows) * row_bytes
                                                      : xb + (int64_t)iy * row_bytes;
                if (expand && rows[fy] != NULL) {
                    int8_t *slot = wide + (int64_t)(iy % window) * in->w * out_c;
                    if (held[iy % window] != iy) {
                        kwsq_neon_dw_expand(rows[fy], row_bytes, dm, slot);
                        held[iy % window] = iy;
                    }
                    rows[fy] = slot;
                }
            }
            int8_t *yrow = y + ((int64_t)bt * out->h + oy) * out->w * out_c;
            if (!m1) {
                if (by4) {
                    kwsq_neon_dw_row_m4(d, q, in, rows, f, wt, b, out, oy, yrow);
                } else {
                    kwsq_neon_dw_row_m8(d, q, in, rows, f, wt, b, out, oy, yrow);
                }
                continue;
            }
            for (int32_t ox = 0; ox < out->w; ++ox) {
                const int32_t ix0 = ox * d->stride_w - d->pad_w;
                for (int32_t fx = 0; fx < f->w; ++fx) {
                    const int32_t ix = ix0 + d->dilation_w * fx;
                    const bool col = ix >= 0 && ix < in->w;
                    for (int32_t fy = 0; fy < f->h; ++fy) {
                        xp[fy * f->w + fx] = col && rows[fy] != NULL ? rows[fy] + (int64_t)ix * xc : pad;
                    }
                }
                int8_t *dst = yrow + (int64_t)ox * out_c;
                int32_t c0 = 0;
#define KWSQ_NEON_DW_ROW(LEFT, ACC16)                                                                   \
    for (; c0 + 16 <= out_c; c0 += 16) {                                                                \
        kwsq_neon_dw_block(16, xp, taps, wt, out_c, folded, quant + c0 / 4, o, pairs, c0, dst, LEFT, ACC16); \
    }
                if (acc16) {
                    if (any_left) {
                        KWSQ_NEON_DW_ROW(true, true)
                    } else {
                        KWSQ_NEON_DW_ROW(false, true)
                    }
                } else if (any_left) {
                    KWSQ_NEON_DW_ROW(true, false)
                } else {
                    KWSQ_NEON_DW_ROW(false, false)
                }
#undef KWSQ_NEON_DW_ROW
                if (c0 + 8 <= out_c) {
                    kwsq_neon_dw_block(8, xp, taps, wt, out_c, folded, quant + c0 / 4, o, pairs, c0, dst, true,
                                       acc16);
                    c0 += 8;
                }
                if (c0 < out_c) {
                    kwsq_neon_dw_tail(xp, taps, wt, out_c, folded, q, d, o, pairs, c0, dst, acc16);
                }
            }
        }
    }
    return KWSQ_OK;
}

/* One function per accumulator width (and with the rows expanded or not),
 * each compiled with its own registers. */
static __attribute__((noinline)) kwsq_status kwsq_neon_depthwise32(KWSQ_NEON_DW_ARGS)
{
    return kwsq_neon_depthwise_body(s4, ctx, d, q, in, x, f, w, b, out, y, false, false, false);
}

static __attribute__((noinline)) kwsq_status kwsq_neon_depthwise16(KWSQ_NEON_DW_ARGS)
{
    return kwsq_neon_depthwise_body(s4, ctx, d, q, in, x, f, w, b, out, y, true, false, false);
}

static __attribute__((noinline)) kwsq_status kwsq_neon_depthwise32_wide(KWSQ_NEON_DW_ARGS)
{
    return kwsq_neon_depthwise_body(s4, ctx, d, q, in, x, f, w, b, out, y, false, true, false);
}

static __attribute__((noinline)) kwsq_status kwsq_neon_depthwise16_wide(KWSQ_NEON_DW_ARGS)
{
    return kwsq_neon_depthwise_body(s4, ctx, d, q, in, x, f, w, b, out, y, true, true, false);
}

static __attribute__((noinline)) kwsq_status kwsq_neon_depthwise_by4(KWSQ_NEON_DW_ARGS)
{
    return kwsq_neon_depthwise_body(s4, ctx, d, q, in, x, f, w, b, out, y, false, false, true);
}

static __attribute__((noinline)) kwsq_status kwsq_neon_depthwise_other(KWSQ_NEON_DW_ARGS)
{
    const int32_t need = s4 ? 0 : kwsq_neon_dw_wide_bytes(d, in, f, out);
    if (need == 0 || ctx->buf == NULL || ctx->size < need) {
        if (d->depth_multiplier % 4 == 0 && d->depth_multiplier % 8 != 0) {
            return kwsq_neon_depthwise_by4(s4, ctx, d, q, in, x, f, w, b, out, y);
        }
        return kwsq_ref_depthwise_conv(s4, ctx, d, q, in, x, f, w, b, out, y);
    }
    return KWSQ_ACCUM16_OK(d->accum_bound) ? kwsq_neon_depthwise16_wide(s4, ctx, d, q, in, x, f, w, b, out, y)
                                           : kwsq_neon_depthwise32_wide(s4, ctx, d, q, in, x, f, w, b, out, y);
}

/* Depthwise never uses `sdot`: 16-bit lanes pay on every AArch64 and ARMv7-A. */
static inline kwsq_status kwsq_neon_depthwise(KWSQ_NEON_DW_ARGS)
{
    if (KWSQ_ACCUM16_OK(d->accum_bound)) {
        return kwsq_neon_depthwise16(s4, ctx, d, q, in, x, f, w, b, out, y);
    }
    return kwsq_neon_depthwise32(s4, ctx, d, q, in, x, f, w, b, out, y);
}

#endif /* KWSQ_NEON_DEPTHWISE_H */
