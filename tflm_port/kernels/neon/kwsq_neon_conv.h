/*
 * CONV_2D with NEON, shared by kwsq_conv_s8.c and kwsq_conv_s4.c (each
 * instantiates it with a constant weight format).
 *
 * The input offset is folded out of the inner loop: for every output
 * channel, sum over the window of w * (x + off) = dot(w, patch) + off * sum(w),
 * where the patch holds the window's input bytes and, at padded taps, the
 * input zero point (-off), whose term is w * 0 like a skipped tap in the
 * reference. So the inner loop is a plain int8 dot product (kwsq_dot16) of a
 * weight row with a patch; int32 sums wrap identically in any order, so the
 * result equals the reference modulo 2^32, hence bit for bit.
 *
 * Patches: a 1x1 filter reads the input pixel in place; any other filter
 * gathers its window into a stack buffer (im2col, one pixel at a time). Two
 * output pixels times four output channels are computed per block (eight
 * accumulators; every weight load serves two pixels).
 *
 * Packed INT4 weights are unpacked, a chunk of output channels at a time,
 * into a bounded stack buffer (never into the arena) and then used by every
 * output pixel, so INT4 costs one unpack per weight per call.
 *
 * Cases this path does not take (grouped convolution, windows or channel
 * chunks larger than the stack buffers, in place with more than
 * KWSQ_NEON_CONV_MAX_OC channels) run the reference loop.
 */
#ifndef KWSQ_NEON_CONV_H
#define KWSQ_NEON_CONV_H

#include "kwsq_conv_ref.h"
#include "kwsq_neon.h"

#define KWSQ_NEON_CONV_MAX_K 4096       /* bytes of one im2col patch */
#define KWSQ_NEON_CONV_MAX_OC 256       /* output channels per chunk */
#define KWSQ_NEON_CONV_WBUF 8192        /* unpacked INT4 weights per chunk */

static inline int32_t kwsq_neon_sum_s8(const int8_t *w, int32_t n)
{
    int32x4_t acc = vdupq_n_s32(0);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc = vpadalq_s16(acc, vpaddlq_s8(vld1q_s8(w + i)));
    }
    int32_t s = kwsq_hsum(acc);
    for (; i < n; ++i) {
        s += w[i];
    }
    return s;
}

/* The first 8 bytes at p, upper half zero (tails of 8..15 bytes). */
static inline int8x16_t kwsq_neon_low8(const int8_t *p)
{
    return vcombine_s8(vld1_s8(p), vdup_n_s8(0));
}

/* Rows w .. w + 3K (four output channels) times two patches xa, xb of K
 * bytes: sums[0] = pixel a's four dots, sums[1] = pixel b's. */
static inline void kwsq_neon_dot_2x4(const int8_t *w, int32_t k_len, const int8_t *xa,
                                     const int8_t *xb, int32x4_t sums[2])
{
    const int8_t *w0 = w, *w1 = w + k_len, *w2 = w + 2 * k_len, *w3 = w + 3 * k_len;
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32x4_t b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int32_t k = 0;
    for (; k + 16 <= k_len; k += 16) {
        const int8x16_t xav = vld1q_s8(xa + k), xbv = vld1q_s8(xb + k);
        const int8x16_t r0 = vld1q_s8(w0 + k), r1 = vld1q_s8(w1 + k);
        const int8x16_t r2 = vld1q_s8(w2 + k), r3 = vld1q_s8(w3 + k);
        a0 = kwsq_dot16(a0, r0, xav);
        b0 = kwsq_dot16(b0, r0, xbv);
        a1 = kwsq_dot16(a1, r1, xav);
        b1 = kwsq_dot16(b1, r1, xbv);
        a2 = kwsq_dot16(a2, r2, xav);
        b2 = kwsq_dot16(b2, r2, xbv);
        a3 = kwsq_dot16(a3, r3, xav);
        b3 = kwsq_dot16(b3, r3, xbv);
    }
    if (k + 8 <= k_len) {
        const int8x16_t xav = kwsq_neon_low8(xa + k), xbv = kwsq_neon_low8(xb + k);
        const int8x16_t r0 = kwsq_neon_low8(w0 + k), r1 = kwsq_neon_low8(w1 + k);
        const int8x16_t r2 = kwsq_neon_low8(w2 + k), r3 = kwsq_neon_low8(w3 + k);
        a0 = kwsq_dot16(a0, r0, xav);
        b0 = kwsq_dot16(b0, r0, xbv);
        a1 = kwsq_dot16(a1, r1, xav);
        b1 = kwsq_dot16(b1, r1, xbv);
        a2 = kwsq_dot16(a2, r2, xav);
        b2 = kwsq_dot16(b2, r2, xbv);
        a3 = kwsq_dot16(a3, r3, xav);
        b3 = kwsq_dot16(b3, r3, xbv);
        k += 8;
    }
    int32x4_t sa = kwsq_hsum4(a0, a1, a2, a3);
    int32x4_t sb = kwsq_hsum4(b0, b1, b2, b3);
    if (k < k_len) {
        int32_t ta[4] = {0, 0, 0, 0}, tb[4] = {0, 0, 0, 0};
        for (; k < k_len; ++k) {
            const int32_t va = xa[k], vb = xb[k];
            ta[0] += w0[k] * va;
            tb[0] += w0[k] * vb;
            ta[1] += w1[k] * va;
            tb[1] += w1[k] * vb;
            ta[2] += w2[k] * va;
            tb[2] += w2[k] * vb;
            ta[3] += w3[k] * va;
            tb[3] += w3[k] * vb;
        }
        sa = vaddq_s32(sa, vld1q_s32(ta));
        sb = vaddq_s32(sb, vld1q_s32(tb));
    }
    sums[0] = sa;
    sums[1] = sb;
}

/* The window of output pixel (oy, ox) as K contiguous bytes: the input pixel
 * itself for an in-bounds 1x1 filter, else gathered into buf. */
static inline const int8_t *kwsq_neon_patch(const kwsq_conv_params *p, const kwsq_dims *in,
                                            const int8_t *x_batch, const kwsq_dims *f, int32_t oy,
                                            int32_t ox, int8_t pad_value, int8_t *buf)
{
    const int32_t in_h = in->h, in_w = in->w, in_c = in->c;
    const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
    if (f->h == 1 && f->w == 1 && iy0 >= 0 && iy0 < in_h && ix0 >= 0 && ix0 < in_w) {
        return x_batch + ((int64_t)iy0 * in_w + ix0) * in_c;
    }
    int8_t *dst = buf;
    const size_t row_bytes = (size_t)f->w * (size_t)in_c;
    for (int32_t fy = 0; fy < f->h; ++fy) {
        const int32_t iy = iy0 + p->dilation_h * fy;
        if (iy < 0 || iy >= in_h) {
            memset(dst, pad_value, row_bytes);
            dst += row_bytes;
            continue;
        }
        const int8_t *xrow = x_batch + (int64_t)iy * in_w * in_c;
        const int32_t last = ix0 + p->dilation_w * (f->w - 1);
        if (p->dilation_w == 1 && ix0 >= 0 && last < in_w) {
            memcpy(dst, xrow + (int64_t)ix0 * in_c, row_bytes);
            dst += row_bytes;
            continue;
        }
        for (int32_t fx = 0; fx < f->w; ++fx) {
            const int32_t ix = ix0 + p->dilation_w * fx;
            if (ix < 0 || ix >= in_w) {
                memset(dst, pad_value, (size_t)in_c);
            } else {
                memcpy(dst, xrow + (int64_t)ix * in_c, (size_t)in_c);
            }
            dst += in_c;
        }
    }
    return buf;
}

static inline kwsq_status kwsq_neon_conv(bool s4, const kwsq_context *ctx, const kwsq_conv_params *p,
                                         const kwsq_quant_params *q, const kwsq_dims *in,
                                         const int8_t *x, const kwsq_dims *f, const uint8_t *w,
                                         const int32_t *b, const kwsq_dims *out, int8_t *y)
{
    const int32_t k_len = f->h * f->w * f->c;
    const int32_t out_c = out->c;
    /* Chunk of output channels: all of them unless INT4 unpacking needs more
     * stack than KWSQ_NEON_CONV_WBUF (then a multiple of four). */
    int32_t chunk = out_c < KWSQ_NEON_CONV_MAX_OC ? out_c : KWSQ_NEON_CONV_MAX_OC;
    if (s4 && (int64_t)chunk * k_len > KWSQ_NEON_CONV_WBUF) {
        chunk = (KWSQ_NEON_CONV_WBUF / k_len) & ~3;
    }
    if (f->c != in->c || k_len > KWSQ_NEON_CONV_MAX_K || chunk < 4 ||
        (p->in_place && chunk < out_c)) {
        return kwsq_ref_conv(s4, ctx, p, q, in, x, f, w, b, out, y);
    }
    int8_t patch_a[KWSQ_NEON_CONV_MAX_K];
    int8_t patch_b[KWSQ_NEON_CONV_MAX_K];
    int32_t bias_eff[KWSQ_NEON_CONV_MAX_OC];
    int8_t tmp[2 * KWSQ_NEON_CONV_MAX_OC]; /* in place: a block's outputs, then copied */
    int8_t wbuf[KWSQ_NEON_CONV_WBUF]; /* INT4 only; stack the s8 path never touches */
    const int32_t off = p->input_offset;
    const int8_t pad_value = (int8_t)(-off);
    const int32_t pixels = out->h * out->w;

    for (int32_t oc0 = 0; oc0 < out_c; oc0 += chunk) {
        const int32_t n_oc = out_c - oc0 < chunk ? out_c - oc0 : chunk;
        const int8_t *wc;
        if (s4) {
            kwsq_neon_unpack_s4(w, (int64_t)oc0 * k_len, n_oc * k_len, wbuf);
            wc = wbuf;
        } else {
            wc = (const int8_t *)w + (int64_t)oc0 * k_len;
        }
        for (int32_t j = 0; j < n_oc; ++j) {
            bias_eff[j] = (b != NULL ? b[oc0 + j] : 0) + off * kwsq_neon_sum_s8(wc + (int64_t)j * k_len, k_len);
        }
        for (int32_t bt = 0; bt < in->n; ++bt) {
            const int8_t *xb = x + (int64_t)bt * in->h * in->w * in->c;
            int8_t *yb = y + (int64_t)bt * pixels * out_c;
            for (int32_t px = 0; px < pixels; px += 2) {
                const int32_t px_b = px + 1 < pixels ? px + 1 : px;
                const int8_t *pa = kwsq_neon_patch(p, in, xb, f, px / out->w, px % out->w, pad_value, patch_a);
                const int8_t *pb = kwsq_neon_patch(p, in, xb, f, px_b / out->w, px_b % out->w, pad_value,
                                                   patch_b);
                int8_t *ya = p->in_place ? tmp : yb + (int64_t)px * out_c + oc0;
                int8_t *yb2 = p->in_place ? tmp + out_c : yb + (int64_t)px_b * out_c + oc0;
                int32_t j = 0;
                for (; j + 4 <= n_oc; j += 4) {
                    int32x4_t s[2];
                    kwsq_neon_dot_2x4(wc + (int64_t)j * k_len, k_len, pa, pb, s);
                    const int32x4_t be = vld1q_s32(bias_eff + j);
                    const kwsq_neon_q4 qq = kwsq_neon_quant4(q, oc0 + j);
                    const int16x4_t ra = kwsq_neon_out4(vaddq_s32(s[0], be), qq, p->output_offset, p->act_min,
                                                        p->act_max);
                    const int16x4_t rb = kwsq_neon_out4(vaddq_s32(s[1], be), qq, p->output_offset, p->act_min,
                                                        p->act_max);
                    kwsq_neon_store4(yb2 + j, rb); /* b first: for the last odd pixel a == b */
                    kwsq_neon_store4(ya + j, ra);
                }
                for (; j < n_oc; ++j) {
                    const int8_t *row = wc + (int64_t)j * k_len;
                    const int32_t oc = oc0 + j;
                    yb2[j] = kwsq_neon_out1(kwsq_neon_dot(row, pb, k_len) + bias_eff[j], q, oc,
                                            p->output_offset, p->act_min, p->act_max);
                    ya[j] = kwsq_neon_out1(kwsq_neon_dot(row, pa, k_len) + bias_eff[j], q, oc,
                                           p->output_offset, p->act_min, p->act_max);
                }
                if (p->in_place) {
                    /* Both pixels' inputs are read: the outputs may overwrite them. */
                    memcpy(yb + (int64_t)px * out_c, tmp, (size_t)out_c);
                    if (px_b != px) {
                        memcpy(yb + (int64_t)px_b * out_c, tmp + out_c, (size_t)out_c);
                    }
                }
            }
        }
    }
    return KWSQ_OK;
}

#endif /* KWSQ_NEON_CONV_H */
