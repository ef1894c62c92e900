/*
 * CONV_2D for Cortex-M55 Helium, bit-exact with kernels/ref. Convolutions
 * of one group with int8 weights take mve_conv_block.c; this file holds the
 * rest (grouped, packed int4, wider than that path's limits).
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

/* n bytes from src (n >= 0), 16 per predicated load/store pair: a short
 * span costs a few instructions instead of a memcpy call. */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n > 0; n -= 16, dst += 16, src += 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
    }
}

static inline void set_bytes(int8_t *dst, int8x16_t v, int32_t n)
{
    for (; n > 0; n -= 16, dst += 16) {
        vstrbq_p_s8(dst, v, vctp8q((uint32_t)n));
    }
}

void mve_fill_col(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const int8_t *img,
                  int32_t iy0, int32_t ix0, int32_t g, bool split, int8_t *col)
{
    const int32_t f_in = f->c, in_ch = in->c, c0 = g * f_in, f_w = f->w, row_len = f_w * f_in;
    const int8x16_t zp = vdupq_n_s8((int8_t)-p->input_offset);
    /* the taps of a filter row inside the input: fx0 .. fx1 - 1 */
    int32_t fx0, fx1;
    kwsq_window_clip(ix0, p->dilation_w, f_w, in->w, &fx0, &fx1);
    bool rows_done = false;
    /* with dilation 1 and one group the valid taps are one span */
    const bool span = p->dilation_w == 1 && f_in == in_ch;
    int8_t *dst = col;
    if (span && row_len <= 16) {
        /* a filter row is one vector: the span's lanes loaded (lanes outside
         * it are not read), the others zero-point bytes, one store */
        const mve_pred16_t ps = vctp8q((uint32_t)row_len);
        const mve_pred16_t pv = (mve_pred16_t)(vctp8q((uint32_t)(fx1 * f_in)) & ~vctp8q((uint32_t)(fx0 * f_in)));
        const int32_t row_bytes = in->w * in_ch;
        for (int32_t fy = 0, iy = iy0; fy < f->h; ++fy, iy += p->dilation_h, dst += row_len) {
            if (iy >= 0 && iy < in->h) {
                /* lane 0 is tap 0, which may lie left of the row (not read) */
                const int8_t *src = (const int8_t *)((uintptr_t)(img + iy * row_bytes) + (uintptr_t)(ix0 * in_ch));
                vstrbq_p_s8(dst, vpselq_s8(vldrbq_z_s8(src, pv), zp, pv), ps);
            } else {
                vstrbq_p_s8(dst, zp, ps);
            }
        }
        rows_done = true;
    }
    for (int32_t fy = 0; fy < f->h && !rows_done; ++fy, dst += row_len) {
        const int32_t iy = iy0 + p->dilation_h * fy;
        if (iy < 0 || iy >= in->h || fx0 >= fx1) {
            set_bytes(dst, zp, row_len);
            continue;
        }
        const int8_t *row = img + (int64_t)iy * in->w * in_ch + c0;
        set_bytes(dst, zp, fx0 * f_in);
        if (span) {
            copy_bytes(dst + fx0 * f_in, row + (int64_t)(ix0 + fx0) * in_ch, (fx1 - fx0) * f_in);
        } else {
            for (int32_t fx = fx0; fx < fx1; ++fx) {
                copy_bytes(dst + fx * f_in, row + (int64_t)(ix0 + p->dilation_w * fx) * in_ch, f_in);
            }
        }
        set_bytes(dst + fx1 * f_in, zp, (f_w - fx1) * f_in);
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

/* The body, instantiated once per weight format (s4 a constant). */
static inline __attribute__((always_inline)) kwsq_status
conv_body(bool s4, const kwsq_context *ctx, const kwsq_conv_params *p, const kwsq_quant_params *q,
          const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const uint8_t *w, const int32_t *bias,
          const kwsq_dims *out, int8_t *y)
{
    const int64_t patch64 = (int64_t)f->h * f->w * f->c;
    if (!s4 && f->h * f->w * f->c <= MVE_CONV_PIX_MAX_FIELD &&
        mve_conv_pix(p, q, in, x, f, (const int8_t *)w, bias, out, y, KWSQ_CONTEXT_PERSIST(ctx))) {
        return KWSQ_OK;
    }
    if (!s4 && mve_conv_dot(p, q, in, x, f, (const int8_t *)w, bias, out, y, KWSQ_CONTEXT_PERSIST(ctx))) {
        return KWSQ_OK;
    }
    if (in->c == f->c && mve_conv_block(s4, p, q, in, x, f, w, bias, out, y)) {
        return KWSQ_OK;
    }
    if (patch64 > MVE_MAX_PATCH || (s4 && (patch64 & 1) != 0)) {
        return kwsq_ref_conv(s4, ctx, p, q, in, x, f, w, bias, out, y);
    }
    const int32_t patch = (int32_t)patch64;
    const int32_t groups = in->c / f->c, per_group = out->c / groups;
    const int32_t pixels = out->h * out->w;
    /* A 1x1 stride-any conv of one group reads its columns in the input,
     * unless it writes over that input or has trailing padding. */
    const bool direct = !s4 && f->h == 1 && f->w == 1 && groups == 1 && !p->in_place && p->pad_h == 0 &&
                        p->pad_w == 0 && (out->h - 1) * p->stride_h < in->h && (out->w - 1) * p->stride_w < in->w;
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
                        mve_fill_col(p, in, f, img, iy0, ix0, g, s4, cols_buf[j]);
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
