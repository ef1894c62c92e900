/*
 * CONV_2D for Cortex-M55 Helium, bit-exact with kernels/ref.
 *
 * Four output pixels at a time: each pixel's receptive field is read as raw
 * int8 (a 1x1 convolution reads the input pixel itself; otherwise it is
 * copied into a stack column with zero-point bytes for padding, whose input
 * value after the offset is 0). Per weight row, 16 weights per load
 * (VLDRB; the tail's loads predicated by VCTP, zeroing the lanes past the row) feed one VMLADAVA per pixel
 * (16 MACs) and one VADDVA for the row sum; the input offset enters once per
 * output as offset * sum(row). The four pixels share one channel's
 * multiplier, so they are requantized as one vector (mve_requant.h).
 * Packed int4 rows are widened in registers, 32 nibbles per 16-byte load:
 * VSHL and VAND put the low and high nibbles (x16) into two int8 vectors, matched
 * against the even and odd inputs of a column stored de-interleaved.
 */
#include "mve_conv.h"

#include <arm_mve.h>
#include <string.h>

#include "kwsq_conv_ref.h"
#include "mve_requant.h"

/* The column of one pixel (group g): raw int8, zero-point padding. With
 * `split`, each block of 32 values is stored as its 16 even then 16 odd
 * values (the order of the int4 nibble vectors). */
static void fill_col(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const int8_t *img,
                     int32_t iy0, int32_t ix0, int32_t g, bool split, int8_t *col)
{
    const int32_t f_in = f->c, in_ch = in->c, c0 = g * f_in;
    const int8_t zp = (int8_t)-p->input_offset;
    int8_t *dst = col;
    for (int32_t fy = 0; fy < f->h; ++fy) {
        const int32_t iy = iy0 + p->dilation_h * fy;
        const bool row_in = iy >= 0 && iy < in->h;
        const int8_t *row = img + (int64_t)(row_in ? iy : 0) * in->w * in_ch;
        if (row_in && p->dilation_w == 1 && f_in == in_ch && ix0 >= 0 && ix0 + f->w <= in->w) {
            /* the filter row is one span of the input row */
            memcpy(dst, row + (int64_t)ix0 * in_ch, (size_t)(f->w * f_in));
            dst += f->w * f_in;
            continue;
        }
        for (int32_t fx = 0; fx < f->w; ++fx) {
            const int32_t ix = ix0 + p->dilation_w * fx;
            const bool in_bounds = row_in && ix >= 0 && ix < in->w;
            const int8_t *src = row + (int64_t)(in_bounds ? ix : 0) * in_ch + c0;
            for (int32_t c = 0; c < f_in; ++c) {
                dst[c] = in_bounds ? src[c] : zp;
            }
            dst += f_in;
        }
    }
    if (split) {
        const int32_t patch = f->h * f->w * f_in;
        for (int32_t k = 0; k + 32 <= patch; k += 32) {
            int8_t tmp[32];
            for (int32_t i = 0; i < 16; ++i) {
                tmp[i] = col[k + 2 * i];
                tmp[16 + i] = col[k + 2 * i + 1];
            }
            memcpy(col + k, tmp, 32);
        }
    }
}

/* One int8 row against four columns; *sum_w gets the row sum. */
static inline void row_s8(const int8_t *w, int32_t patch, const int8_t *const *cols, int32_t *acc, int32_t *sum_w)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, s = 0;
    const int32_t grouped = patch & ~15;
    int32_t k = 0;
    for (; k < grouped; k += 16) {
        const int8x16_t wv = vldrbq_s8(w + k);
        s = vaddvaq_s8(s, wv);
        a0 = vmladavaq_s8(a0, wv, vldrbq_s8(cols[0] + k));
        a1 = vmladavaq_s8(a1, wv, vldrbq_s8(cols[1] + k));
        a2 = vmladavaq_s8(a2, wv, vldrbq_s8(cols[2] + k));
        a3 = vmladavaq_s8(a3, wv, vldrbq_s8(cols[3] + k));
    }
    if (k < patch) {
        /* the tail, predicated: lanes past the row read as 0 */
        const mve_pred16_t pr = vctp8q((uint32_t)(patch - k));
        const int8x16_t wv = vldrbq_z_s8(w + k, pr);
        s = vaddvaq_s8(s, wv);
        a0 = vmladavaq_s8(a0, wv, vldrbq_z_s8(cols[0] + k, pr));
        a1 = vmladavaq_s8(a1, wv, vldrbq_z_s8(cols[1] + k, pr));
        a2 = vmladavaq_s8(a2, wv, vldrbq_z_s8(cols[2] + k, pr));
        a3 = vmladavaq_s8(a3, wv, vldrbq_z_s8(cols[3] + k, pr));
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    *sum_w = s;
}

/* One packed int4 row (byte-aligned, patch even) against four split columns:
 * 32 weights per 16-byte load. The tail (patch % 32) one nibble at a time. */
static inline void row_s4(const uint8_t *w, int32_t patch, const int8_t *const *cols, int32_t *acc, int32_t *sum_w)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, s = 0;
    const int32_t grouped = patch & ~31;
    /* 16x the weights (low nibble shifted up, high nibble masked): the sums
     * are divided by 16 at the end, exactly */
    const int8x16_t top = vdupq_n_s8((int8_t)0xF0);
    for (int32_t k = 0; k < grouped; k += 32) {
        const int8x16_t v = vldrbq_s8((const int8_t *)w + k / 2);
        const int8x16_t lo = vshlq_n_s8(v, 4), hi = vandq_s8(v, top);
        s = vaddvaq_s8(vaddvaq_s8(s, lo), hi);
        a0 = vmladavaq_s8(vmladavaq_s8(a0, lo, vldrbq_s8(cols[0] + k)), hi, vldrbq_s8(cols[0] + k + 16));
        a1 = vmladavaq_s8(vmladavaq_s8(a1, lo, vldrbq_s8(cols[1] + k)), hi, vldrbq_s8(cols[1] + k + 16));
        a2 = vmladavaq_s8(vmladavaq_s8(a2, lo, vldrbq_s8(cols[2] + k)), hi, vldrbq_s8(cols[2] + k + 16));
        a3 = vmladavaq_s8(vmladavaq_s8(a3, lo, vldrbq_s8(cols[3] + k)), hi, vldrbq_s8(cols[3] + k + 16));
    }
    s >>= 4;
    a0 >>= 4;
    a1 >>= 4;
    a2 >>= 4;
    a3 >>= 4;
    for (int32_t k = grouped; k < patch; ++k) {
        const int32_t wv = kwsq_int4_at(w, k);
        s += wv;
        a0 += wv * cols[0][k];
        a1 += wv * cols[1][k];
        a2 += wv * cols[2][k];
        a3 += wv * cols[3][k];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    *sum_w = s;
}

/* Four weight rows (16 * n16 values each, n16 > 0) against one input
 * vector x: 10 instructions per 64 MACs (VMLADAVA accumulates into even
 * registers, hence the "Te" constraints; the pointers advance by write-back). */
#define MVE_DOT4_S8(X, W0, W1, W2, W3, N16, A0, A1, A2, A3)                                                      \
    __asm__ volatile("dls lr, %[n]\n"                                                                            \
                     "1:\n\t"                                                                                   \
                     "vldrb.8 q0, [%[x]], #16\n\t"                                                              \
                     "vldrb.8 q1, [%[w0]], #16\n\t"                                                             \
                     "vmladava.s8 %[a0], q1, q0\n\t"                                                            \
                     "vldrb.8 q2, [%[w1]], #16\n\t"                                                             \
                     "vmladava.s8 %[a1], q2, q0\n\t"                                                            \
                     "vldrb.8 q3, [%[w2]], #16\n\t"                                                             \
                     "vmladava.s8 %[a2], q3, q0\n\t"                                                            \
                     "vldrb.8 q1, [%[w3]], #16\n\t"                                                             \
                     "vmladava.s8 %[a3], q1, q0\n\t"                                                            \
                     "le lr, 1b\n"                                                                               \
                     : [a0] "+Te"(A0), [a1] "+Te"(A1), [a2] "+Te"(A2), [a3] "+Te"(A3), [x] "+r"(X),           \
                       [w0] "+r"(W0), [w1] "+r"(W1), [w2] "+r"(W2), [w3] "+r"(W3)                               \
                     : [n] "r"(N16)                                                                             \
                     : "q0", "q1", "q2", "q3", "lr", "memory")

/* Output channels oc0 .. oc0 + nr - 1 (nr <= 4) of one pixel of a 1x1
 * convolution: the four sums are one vector in channel order, requantized and
 * stored (VSTRB.32) without a transpose. Inlined with nr == 4 a constant for
 * the full groups. */
static inline __attribute__((always_inline)) void group_1x1_s8(const int8_t *xp, const int8_t *w, int32_t depth,
                                                               int32_t oc0, int32_t nr, const int32_t *base,
                                                               const kwsq_quant_params *q, int32_t out_off,
                                                               int32_t lo, int32_t hi, int8_t *yp)
{
    const int32_t grouped = depth & ~15, n16 = grouped / 16;
    /* rows past the last channel repeat the group's first row */
    const int8_t *w0 = w + (int64_t)oc0 * depth;
    const int8_t *w1 = nr > 1 ? w0 + depth : w0;
    const int8_t *w2 = nr > 2 ? w0 + 2 * depth : w0;
    const int8_t *w3 = nr > 3 ? w0 + 3 * depth : w0;
    const int8_t *xv = xp;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (n16 > 0) {
        MVE_DOT4_S8(xv, w0, w1, w2, w3, n16, a0, a1, a2, a3);
    }
    if (grouped < depth) {
        /* the tail, predicated: lanes past the row read as 0 */
        const mve_pred16_t tail_pr = vctp8q((uint32_t)(depth - grouped));
        const int8x16_t v = vldrbq_z_s8(xv, tail_pr);
        a0 = vmladavaq_s8(a0, vldrbq_z_s8(w0, tail_pr), v);
        a1 = vmladavaq_s8(a1, vldrbq_z_s8(w1, tail_pr), v);
        a2 = vmladavaq_s8(a2, vldrbq_z_s8(w2, tail_pr), v);
        a3 = vmladavaq_s8(a3, vldrbq_z_s8(w3, tail_pr), v);
    }
    int32x4_t acc = vdupq_n_s32(a0);
    acc = vsetq_lane_s32(a1, acc, 1);
    acc = vsetq_lane_s32(a2, acc, 2);
    acc = vsetq_lane_s32(a3, acc, 3);
    acc = vaddq_s32(acc, vldrwq_s32(base + oc0));
    if (nr == 4) {
        const int32x4_t mult = vldrwq_s32(q->multiplier + oc0);
        const int32x4_t shift = vldrbq_s32(q->shift + oc0);
        vstrbq_s32(yp + oc0, mve_out_s32(acc, mult, shift, out_off, lo, hi));
    } else {
        const mve_pred16_t pr = vctp32q((uint32_t)nr);
        const int32x4_t mult = vldrwq_z_s32(q->multiplier + oc0, pr);
        const int32x4_t shift = vldrbq_z_s32(q->shift + oc0, pr);
        vstrbq_p_s32(yp + oc0, mve_out_s32(acc, mult, shift, out_off, lo, hi), pr);
    }
}

/* All output channels of one pixel of a 1x1 convolution, four at a time.
 * base[c] = bias[c] + offset * sum(row c), padded to a multiple of 4. */
static inline __attribute__((always_inline)) void pixel_1x1_s8(const int8_t *xp, const int8_t *w, int32_t depth,
                                                               int32_t och, const int32_t *base,
                                                               const kwsq_quant_params *q, int32_t out_off,
                                                               int32_t lo, int32_t hi, int8_t *yp)
{
    const int32_t full = och & ~3;
    for (int32_t oc0 = 0; oc0 < full; oc0 += 4) {
        group_1x1_s8(xp, w, depth, oc0, 4, base, q, out_off, lo, hi, yp);
    }
    if (full < och) {
        group_1x1_s8(xp, w, depth, full, och - full, base, q, out_off, lo, hi, yp);
    }
}

/* Every output pixel (see conv_pixels_s8; col holds one receptive field
 * unless the input is read directly). Not inlined: without the caller's
 * stack arrays the frame pointer is free for the dot loop's eleven
 * registers. */
static __attribute__((noinline)) void pixels_s8(const kwsq_conv_params *p, const kwsq_quant_params *q,
                                                const kwsq_dims *in, const int8_t *x, const kwsq_dims *f,
                                                const int8_t *w, const int32_t *base, bool direct,
                                                const kwsq_dims *out, int8_t *y, int8_t *col)
{
    const int32_t depth = f->h * f->w * f->c, och = out->c;
    const int32_t out_off = p->output_offset, lo = p->act_min, hi = p->act_max;
    int8_t *yp = y;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in->h * in->w * in->c;
        for (int32_t oy = 0; oy < out->h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < out->w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int8_t *src = col;
                if (!direct) {
                    fill_col(p, in, f, img, iy0, ix0, 0, false, col);
                } else if (p->in_place) {
                    memcpy(col, img + ((int64_t)iy0 * in->w + ix0) * depth, (size_t)depth);
                } else {
                    src = img + ((int64_t)iy0 * in->w + ix0) * depth;
                }
                pixel_1x1_s8(src, w, depth, och, base, q, out_off, lo, hi, yp);
                yp += och;
            }
        }
    }
}

/* An int8 convolution of one group, one pixel x four output channels per
 * pass (pixel_1x1_s8: any convolution is a 1x1 one over its receptive field).
 * A 1x1 convolution without padding reads the input directly (in place: each
 * pixel is first copied to the stack, as its outputs overwrite it; needs
 * out->c <= in->c); others copy the field into a stack column with
 * zero-point padding (fill_col), whose value after the offset is 0. The
 * input offset is folded once per call into a per-channel table. Returns
 * false (nothing written) when the channel count exceeds that table. The
 * caller checked patch <= MVE_MAX_PATCH. */
static bool conv_pixels_s8(const kwsq_conv_params *p, const kwsq_quant_params *q, const kwsq_dims *in,
                           const int8_t *x, const kwsq_dims *f, const int8_t *w, const int32_t *bias,
                           const kwsq_dims *out, int8_t *y)
{
    const int32_t depth = f->h * f->w * f->c, och = out->c;
    if (och > MVE_MAX_1X1_CH) {
        return false;
    }
    const bool direct = f->h == 1 && f->w == 1 && p->pad_h == 0 && p->pad_w == 0;
    int32_t base[och + 3]; /* + 3: the last group's vector load stays inside */
    const int32_t grouped = depth & ~15;
    const mve_pred16_t tail_pr = vctp8q((uint32_t)(depth - grouped));
    for (int32_t c = 0; c < och; ++c) {
        const int8_t *row = w + (int64_t)c * depth;
        int32_t s = 0;
        for (int32_t k = 0; k < grouped; k += 16) {
            s = vaddvaq_s8(s, vldrbq_s8(row + k));
        }
        if (grouped < depth) {
            s = vaddvaq_s8(s, vldrbq_z_s8(row + grouped, tail_pr));
        }
        base[c] = (bias != NULL ? bias[c] : 0) + p->input_offset * s;
    }
    base[och] = base[och + 1] = base[och + 2] = 0;
    int8_t col[direct && !p->in_place ? 1 : depth];
    pixels_s8(p, q, in, x, f, w, base, direct, out, y, col);
    return true;
}

/* The body, instantiated once per weight format (s4 a constant). */
static inline __attribute__((always_inline)) kwsq_status
conv_body(bool s4, const kwsq_context *ctx, const kwsq_conv_params *p, const kwsq_quant_params *q,
          const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const uint8_t *w, const int32_t *bias,
          const kwsq_dims *out, int8_t *y)
{
    const int64_t patch64 = (int64_t)f->h * f->w * f->c;
    if (patch64 > MVE_MAX_PATCH || (s4 && (patch64 & 1) != 0)) {
        return kwsq_ref_conv(s4, ctx, p, q, in, x, f, w, bias, out, y);
    }
    const int32_t patch = (int32_t)patch64;
    const int32_t groups = in->c / f->c, per_group = out->c / groups;
    const int32_t pixels = out->h * out->w;
    /* A 1x1 stride-any conv of one group reads its columns in the input,
     * unless it writes over that input. */
    const bool direct = !s4 && f->h == 1 && f->w == 1 && groups == 1 && !p->in_place && p->pad_h == 0 &&
                        p->pad_w == 0;
    /* in place (1x1 only), a pixel's outputs may only cover its own input
     * and earlier ones */
    const bool plain_1x1 = f->h == 1 && f->w == 1 && p->pad_h == 0 && p->pad_w == 0;
    if (!s4 && groups == 1 && (!p->in_place || (plain_1x1 && out->c <= in->c)) &&
        conv_pixels_s8(p, q, in, x, f, (const int8_t *)w, bias, out, y)) {
        return KWSQ_OK;
    }
    /* sized to this layer (patch <= MVE_MAX_PATCH); unused when direct */
    int8_t cols_buf[MVE_COLS][direct ? 1 : patch];
    const int32_t in_off = p->input_offset, out_off = p->output_offset, lo = p->act_min, hi = p->act_max;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in->h * in->w * in->c;
        int8_t *y_img = y + (int64_t)bt * pixels * out->c;
        for (int32_t px = 0; px < pixels; px += MVE_COLS) {
            const int32_t npx = pixels - px < MVE_COLS ? pixels - px : MVE_COLS;
            for (int32_t g = 0; g < groups; ++g) {
                const int8_t *cols[MVE_COLS];
                for (int32_t j = 0; j < MVE_COLS; ++j) {
                    /* Missing pixels of the last block repeat the first one. */
                    const int32_t qx = px + (j < npx ? j : 0);
                    const int32_t oy = qx / out->w, ox = qx % out->w;
                    const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
                    if (direct) {
                        cols[j] = img + ((int64_t)iy0 * in->w + ix0) * in->c;
                    } else {
                        fill_col(p, in, f, img, iy0, ix0, g, s4, cols_buf[j]);
                        cols[j] = cols_buf[j];
                    }
                }
                const int32_t oc_end = (g + 1) * per_group;
                for (int32_t oc0 = g * per_group; oc0 < oc_end; oc0 += 4) {
                    const int32_t nr = oc_end - oc0 < 4 ? oc_end - oc0 : 4;
                    int32_t accq[MVE_COLS][4] = {{0}};
                    for (int32_t r = 0; r < nr; ++r) {
                        const int32_t oc = oc0 + r;
                        int32_t acc[MVE_COLS], sum_w;
                        if (s4) {
                            row_s4(w + (int64_t)oc * (patch / 2), patch, cols, acc, &sum_w);
                        } else {
                            row_s8((const int8_t *)w + (int64_t)oc * patch, patch, cols, acc, &sum_w);
                        }
                        const int32_t base = (bias != NULL ? bias[oc] : 0) + in_off * sum_w;
                        for (int32_t j = 0; j < MVE_COLS; ++j) {
                            accq[j][r] = acc[j] + base;
                        }
                    }
                    /* four channels of a pixel are one vector and four bytes */
                    const mve_pred16_t pr = vctp32q((uint32_t)nr);
                    const int32x4_t mult = vldrwq_z_s32(q->multiplier + oc0, pr);
                    const int32x4_t shift = vldrbq_z_s32(q->shift + oc0, pr);
                    for (int32_t j = 0; j < npx; ++j) {
                        const int32x4_t v = mve_out_s32(vldrwq_s32(accq[j]), mult, shift, out_off, lo, hi);
                        vstrbq_p_s32(y_img + (int64_t)(px + j) * out->c + oc0, v, pr);
                    }
                }
            }
        }
    }
    return KWSQ_OK;
}

kwsq_status mve_conv(bool s4, const kwsq_context *ctx, const kwsq_conv_params *p, const kwsq_quant_params *q,
                     const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const uint8_t *w, const int32_t *bias,
                     const kwsq_dims *out, int8_t *y)
{
    return s4 ? conv_body(true, ctx, p, q, in, x, f, w, bias, out, y)
              : conv_body(false, ctx, p, q, in, x, f, w, bias, out, y);
}
