/*
 * Columns and the one-row-by-four-columns int8/int4 matrix core of the dsp
 * CONV_2D; see dsp_conv.h.
 */
#include "dsp_conv.h"

#include "dsp_conv1x1.h"
#include "dsp_requant.h"
#include "dsp_simd.h"
#include "kwsq_conv_ref.h"
#include "kwsq_math.h"

/* Position of value j of a group inside the group. */
static const uint8_t k_perm4[4] = {0, 2, 1, 3};
static const uint8_t k_perm8[8] = {0, 4, 2, 6, 1, 5, 3, 7};

int32_t dsp_cols_bytes(int32_t patch)
{
    return DSP_COLS * ((patch * 2 + 3) & ~3);
}

void dsp_cols_begin(dsp_cols_writer *w, int16_t *cols, int32_t pixel, int32_t patch, bool s4_layout)
{
    w->g = s4_layout ? 8 : 4;
    w->grouped = patch - patch % w->g;
    w->base = cols + pixel * w->g;
    w->tail = cols + w->grouped * DSP_COLS + pixel;
    w->k = 0;
}

static inline void put(dsp_cols_writer *w, int32_t v)
{
    const int32_t k = w->k++;
    if (k < w->grouped) {
        const int32_t j = k & (w->g - 1);
        w->base[(k - j) * DSP_COLS + (w->g == 4 ? k_perm4[j] : k_perm8[j])] = (int16_t)v;
    } else {
        w->tail[(k - w->grouped) * DSP_COLS] = (int16_t)v;
    }
}

void dsp_cols_span(dsp_cols_writer *w, const int8_t *src, int32_t len, int32_t off)
{
    const uint32_t off2 = dsp_dup16(off);
    int32_t i = 0;
    while (i < len && (w->k & (w->g - 1)) != 0 && w->k < w->grouped) {
        put(w, src[i++] + off);
    }
    if (w->g == 4) {
        for (; i + 4 <= len && w->k + 4 <= w->grouped; i += 4, w->k += 4) {
            uint32_t *dst = (uint32_t *)(void *)(w->base + w->k * DSP_COLS);
            const uint32_t v = dsp_ld32(src + i);
            dst[0] = dsp_sadd16(dsp_sxtb16(v), off2);
            dst[1] = dsp_sadd16(dsp_sxtb16_ror8(v), off2);
        }
    } else {
        for (; i + 8 <= len && w->k + 8 <= w->grouped; i += 8, w->k += 8) {
            uint32_t *dst = (uint32_t *)(void *)(w->base + w->k * DSP_COLS);
            const uint32_t lo = dsp_ld32(src + i), hi = dsp_ld32(src + i + 4);
            const uint32_t e0 = dsp_sxtb16(lo), e1 = dsp_sxtb16(hi);
            const uint32_t o0 = dsp_sxtb16_ror8(lo), o1 = dsp_sxtb16_ror8(hi);
            dst[0] = dsp_sadd16(dsp_pack_lo(e0, e1), off2);
            dst[1] = dsp_sadd16(dsp_pack_hi(e0, e1), off2);
            dst[2] = dsp_sadd16(dsp_pack_lo(o0, o1), off2);
            dst[3] = dsp_sadd16(dsp_pack_hi(o0, o1), off2);
        }
    }
    for (; i < len; ++i) {
        put(w, src[i] + off);
    }
}

void dsp_cols_zeros(dsp_cols_writer *w, int32_t len)
{
    int32_t i = 0;
    while (i < len && (w->k & (w->g - 1)) != 0 && w->k < w->grouped) {
        put(w, 0);
        ++i;
    }
    /* whole groups: a group's G values of a pixel are G contiguous halfwords */
    for (; i + w->g <= len && w->k + w->g <= w->grouped; i += w->g, w->k += w->g) {
        uint32_t *dst = (uint32_t *)(void *)(w->base + w->k * DSP_COLS);
        dst[0] = 0;
        dst[1] = 0;
        if (w->g == 8) {
            dst[2] = 0;
            dst[3] = 0;
        }
    }
    for (; i < len; ++i) {
        put(w, 0);
    }
}

/* Sums of one int8 row with four columns. */
static inline void row_s8_x4(const int8_t *w, int32_t patch, const int16_t *cols, int32_t *acc)
{
    const int32_t grouped = patch & ~3;
    const uint32_t *x = (const uint32_t *)(const void *)cols;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#ifdef KWSQ_DSP_NATIVE
    if (grouped > 0) {
        const int8_t *w_end = w + grouped;
        uint32_t t, u, x0, x1;
        __asm__ volatile(
            "1:\n\t"
            "ldr %[t], [%[w]], #4\n\t"
            "ldrd %[x0], %[x1], [%[x]], #8\n\t"
            "sxtb16 %[u], %[t], ror #8\n\t"
            "sxtb16 %[t], %[t]\n\t"
            "smlad %[a0], %[t], %[x0], %[a0]\n\t"
            "smlad %[a0], %[u], %[x1], %[a0]\n\t"
            "ldrd %[x0], %[x1], [%[x]], #8\n\t"
            "smlad %[a1], %[t], %[x0], %[a1]\n\t"
            "smlad %[a1], %[u], %[x1], %[a1]\n\t"
            "ldrd %[x0], %[x1], [%[x]], #8\n\t"
            "smlad %[a2], %[t], %[x0], %[a2]\n\t"
            "smlad %[a2], %[u], %[x1], %[a2]\n\t"
            "ldrd %[x0], %[x1], [%[x]], #8\n\t"
            "smlad %[a3], %[t], %[x0], %[a3]\n\t"
            "smlad %[a3], %[u], %[x1], %[a3]\n\t"
            "cmp %[w], %[e]\n\t"
            "bne 1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x),
              [t] "=&r"(t), [u] "=&r"(u), [x0] "=&r"(x0), [x1] "=&r"(x1)
            : [e] "r"(w_end)
            : "cc", "memory");
        w -= grouped;
    }
#else
    for (int32_t k = 0; k < grouped; k += 4) {
        const uint32_t wv = dsp_ld32(w + k);
        const uint32_t e = dsp_sxtb16(wv), o = dsp_sxtb16_ror8(wv);
        a0 = dsp_smlad(e, x[0], a0);
        a0 = dsp_smlad(o, x[1], a0);
        a1 = dsp_smlad(e, x[2], a1);
        a1 = dsp_smlad(o, x[3], a1);
        a2 = dsp_smlad(e, x[4], a2);
        a2 = dsp_smlad(o, x[5], a2);
        a3 = dsp_smlad(e, x[6], a3);
        a3 = dsp_smlad(o, x[7], a3);
        x += 8;
    }
#endif
    const int16_t *t = cols + grouped * DSP_COLS;
    for (int32_t k = grouped; k < patch; ++k, t += DSP_COLS) {
        const int32_t wv = w[k];
        a0 += wv * t[0];
        a1 += wv * t[1];
        a2 += wv * t[2];
        a3 += wv * t[3];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static inline int32_t row_s8_x1(const int8_t *w, int32_t patch, const int16_t *cols, int32_t a0)
{
    const int32_t grouped = patch & ~3;
    const uint32_t *x = (const uint32_t *)(const void *)cols;
    for (int32_t k = 0; k < grouped; k += 4) {
        const uint32_t wv = dsp_ld32(w + k);
        a0 = dsp_smlad(dsp_sxtb16(wv), x[0], a0);
        a0 = dsp_smlad(dsp_sxtb16_ror8(wv), x[1], a0);
        x += 2 * DSP_COLS;
    }
    const int16_t *t = cols + grouped * DSP_COLS;
    for (int32_t k = grouped; k < patch; ++k, t += DSP_COLS) {
        a0 += w[k] * t[0];
    }
    return a0;
}

/* Packed int4 row (byte-aligned) with four columns: 8 nibbles per load. The
 * masked nibbles sit in the top of each byte, so SXTB16 yields 16x the
 * weight; the sums are divided by 16 at the end (exact). */
static inline void row_s4_x4(const uint8_t *w, int32_t patch, const int16_t *cols, int32_t *acc)
{
    const int32_t grouped = patch & ~7;
    const uint32_t *x = (const uint32_t *)(const void *)cols;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t k = 0; k < grouped; k += 8) {
        const uint32_t wv = dsp_ld32(w + k / 2);
        const uint32_t l = (wv & 0x0F0F0F0Fu) << 4, h = wv & 0xF0F0F0F0u;
        const uint32_t p0 = dsp_sxtb16(l), p1 = dsp_sxtb16_ror8(l);
        const uint32_t p2 = dsp_sxtb16(h), p3 = dsp_sxtb16_ror8(h);
        a0 = dsp_smlad(p0, x[0], a0);
        a0 = dsp_smlad(p1, x[1], a0);
        a0 = dsp_smlad(p2, x[2], a0);
        a0 = dsp_smlad(p3, x[3], a0);
        a1 = dsp_smlad(p0, x[4], a1);
        a1 = dsp_smlad(p1, x[5], a1);
        a1 = dsp_smlad(p2, x[6], a1);
        a1 = dsp_smlad(p3, x[7], a1);
        a2 = dsp_smlad(p0, x[8], a2);
        a2 = dsp_smlad(p1, x[9], a2);
        a2 = dsp_smlad(p2, x[10], a2);
        a2 = dsp_smlad(p3, x[11], a2);
        a3 = dsp_smlad(p0, x[12], a3);
        a3 = dsp_smlad(p1, x[13], a3);
        a3 = dsp_smlad(p2, x[14], a3);
        a3 = dsp_smlad(p3, x[15], a3);
        x += 16;
    }
    a0 = (a0 >> 4) + acc[0];
    a1 = (a1 >> 4) + acc[1];
    a2 = (a2 >> 4) + acc[2];
    a3 = (a3 >> 4) + acc[3];
    const int16_t *t = cols + grouped * DSP_COLS;
    for (int32_t k = grouped; k < patch; ++k, t += DSP_COLS) {
        const int32_t wv = kwsq_int4_at(w, k);
        a0 += wv * t[0];
        a1 += wv * t[1];
        a2 += wv * t[2];
        a3 += wv * t[3];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

void dsp_s4_realign(const uint8_t *src, int32_t k, uint8_t *dst)
{
    /* the row's nibbles lie in src[0 .. (k + 1) / 2) */
    const int32_t src_bytes = (k + 1) / 2;
    int32_t i = 0;
    for (; i + 4 < src_bytes; i += 4) {
        dsp_st32(dst + i, (dsp_ld32(src + i) >> 4) | ((uint32_t)src[i + 4] << 28));
    }
    for (; i < src_bytes; ++i) {
        dst[i] = (uint8_t)((src[i] >> 4) | (i + 1 < src_bytes ? (uint8_t)(src[i + 1] << 4) : 0));
    }
}

static inline int8_t out8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

static inline __attribute__((always_inline)) void gemm_s8_x4_body(const dsp_gemm_args *a, int32_t oc0,
                                                                    int32_t oc1, const int16_t *cols,
                                                                    int8_t *const *y, bool full)
{
    const int32_t patch = a->patch;
    const int8_t *w = (const int8_t *)a->weights + (int64_t)oc0 * patch;
    int8_t *y0 = y[0], *y1 = y[1], *y2 = y[2], *y3 = y[3];
    for (int32_t oc = oc0; oc < oc1; ++oc, w += patch) {
        const int32_t b = a->bias != NULL ? a->bias[oc] : 0;
        int32_t acc[DSP_COLS] = {b, b, b, b};
        row_s8_x4(w, patch, cols, acc);
        const dsp_rq q = dsp_rq_channel(a->mult[oc], a->shift[oc]);
        const int32_t off = a->out_offset, lo = a->act_min, hi = a->act_max;
        if (full) {
            /* the clamp is the int8 range: one SSAT */
            y0[oc] = (int8_t)dsp_ssat8(dsp_rq_apply(&q, acc[0]) + off);
            y1[oc] = (int8_t)dsp_ssat8(dsp_rq_apply(&q, acc[1]) + off);
            y2[oc] = (int8_t)dsp_ssat8(dsp_rq_apply(&q, acc[2]) + off);
            y3[oc] = (int8_t)dsp_ssat8(dsp_rq_apply(&q, acc[3]) + off);
        } else {
            y0[oc] = out8(dsp_rq_apply(&q, acc[0]) + off, lo, hi);
            y1[oc] = out8(dsp_rq_apply(&q, acc[1]) + off, lo, hi);
            y2[oc] = out8(dsp_rq_apply(&q, acc[2]) + off, lo, hi);
            y3[oc] = out8(dsp_rq_apply(&q, acc[3]) + off, lo, hi);
        }
    }
}

/* The common case on its own, so everything stays in registers: int8 rows,
 * four pixels, short requantization. */
static void __attribute__((noinline)) gemm_s8_x4_short(const dsp_gemm_args *a, int32_t oc0, int32_t oc1,
                                                        const int16_t *cols, int8_t *const *y)
{
    if (a->act_min == -128 && a->act_max == 127) {
        gemm_s8_x4_body(a, oc0, oc1, cols, y, true);
    } else {
        gemm_s8_x4_body(a, oc0, oc1, cols, y, false);
    }
}

void dsp_gemm_rows(const dsp_gemm_args *a, int32_t oc0, int32_t oc1, const int16_t *cols, int32_t npx,
                   int8_t *const *y)
{
    if (!a->s4 && npx == DSP_COLS && a->short_rq) {
        gemm_s8_x4_short(a, oc0, oc1, cols, y);
        return;
    }
    const int32_t patch = a->patch;
    const int32_t out_offset = a->out_offset, lo = a->act_min, hi = a->act_max;
    uint8_t aligned[a->s4 && (patch & 1) != 0 ? patch / 2 + 1 : 1];
    for (int32_t oc = oc0; oc < oc1; ++oc) {
        const int32_t b = a->bias != NULL ? a->bias[oc] : 0;
        int32_t acc[DSP_COLS] = {b, b, b, b};
        if (!a->s4) {
            const int8_t *w = (const int8_t *)a->weights + (int64_t)oc * patch;
            if (npx == 1) {
                acc[0] = row_s8_x1(w, patch, cols, b);
            } else {
                row_s8_x4(w, patch, cols, acc);
            }
        } else {
            const int64_t start = (int64_t)oc * patch;
            const uint8_t *w4 = (const uint8_t *)a->weights + (start >> 1);
            if ((start & 1) != 0) {
                /* a row starting mid-byte: a byte-aligned copy of it */
                dsp_s4_realign(w4, patch, aligned);
                w4 = aligned;
            }
            row_s4_x4(w4, patch, cols, acc);
        }
        if (a->short_rq) {
            const dsp_rq q = dsp_rq_channel(a->mult[oc], a->shift[oc]);
            for (int32_t j = 0; j < npx; ++j) {
                y[j][oc] = (int8_t)kwsq_clamp(dsp_rq_apply(&q, acc[j]) + out_offset, lo, hi);
            }
            continue;
        }
        const int32_t shift = a->shift[oc];
        const int32_t mult = a->mult[oc];
        for (int32_t j = 0; j < npx; ++j) {
            const int32_t v = (a->pot ? dsp_requant_pot(acc[j], shift) : dsp_requant(acc[j], mult, shift)) + out_offset;
            y[j][oc] = (int8_t)kwsq_clamp(v, lo, hi);
        }
    }
}

/* Copies one pixel's receptive field (group g) into the columns. */
static void fill_cols(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const int8_t *x_img,
                      int32_t iy0, int32_t ix0, int32_t g, int32_t pixel, int32_t patch, bool s4, int16_t *cols)
{
    dsp_cols_writer wr;
    dsp_cols_begin(&wr, cols, pixel, patch, s4);
    const int32_t f_in = f->c, in_ch = in->c;
    const int32_t c0 = g * f_in;
    const int32_t off = p->input_offset;
    for (int32_t fy = 0; fy < f->h; ++fy) {
        const int32_t iy = iy0 + p->dilation_h * fy;
        if (iy < 0 || iy >= in->h) {
            dsp_cols_zeros(&wr, f->w * f_in);
            continue;
        }
        const int8_t *row = x_img + (int64_t)iy * in->w * in_ch;
        if (p->dilation_w == 1 && f_in == in_ch && ix0 >= 0 && ix0 + f->w <= in->w) {
            dsp_cols_span(&wr, row + (int64_t)ix0 * in_ch, f->w * in_ch, off);
            continue;
        }
        for (int32_t fx = 0; fx < f->w; ++fx) {
            const int32_t ix = ix0 + p->dilation_w * fx;
            if (ix < 0 || ix >= in->w) {
                dsp_cols_zeros(&wr, f_in);
            } else {
                dsp_cols_span(&wr, row + (int64_t)ix * in_ch + c0, f_in, off);
            }
        }
    }
}

/* Every output channel's accumulator is bounded by patch * 255 * max|w| +
 * |bias|; the short requantization needs that below 2^30 and right shifts
 * only. O(channels), no pass over the weights. */
static bool short_rq_ok(const kwsq_quant_params *q, const int32_t *bias, int32_t channels, int64_t bound)
{
    for (int32_t c = 0; c < channels; ++c) {
        const int64_t b = bias != NULL ? bias[c] : 0;
        if (!dsp_rq_short_ok(bound + (b < 0 ? -b : b), q->shift[q->per_channel ? c : 0])) {
            return false;
        }
    }
    return true;
}

kwsq_status dsp_conv(const struct dsp_1x1_rows *s4_rows, const kwsq_context *ctx, const kwsq_conv_params *p, const kwsq_quant_params *q,
                     const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const uint8_t *w, const int32_t *bias,
                     const kwsq_dims *out, int8_t *y)
{
    const bool s4 = s4_rows != NULL;
    const int64_t patch64 = (int64_t)f->h * f->w * f->c;
    if (patch64 > DSP_MAX_PATCH) {
        /* columns would not fit the stack budget: the reference loop */
        return kwsq_ref_conv(s4, ctx, p, q, in, x, f, w, bias, out, y);
    }
    const int32_t patch = (int32_t)patch64;
    const int32_t groups = in->c / f->c;
    const int32_t per_group = out->c / groups;
    const int32_t pixels = out->h * out->w;
    /* int4 sums are accumulated x16: exact while 16 * patch * 255 * 8 < 2^31;
     * rows starting mid-byte are realigned first */
    const bool simd_s4 = s4;
    dsp_gemm_args a = {
        .weights = w,
        .bias = bias,
        .mult = q->multiplier,
        .shift = q->shift,
        .patch = patch,
        .out_offset = p->output_offset,
        .act_min = p->act_min,
        .act_max = p->act_max,
        .pot = q->pot,
        .s4 = s4,
        .simd_s4 = simd_s4,
        .s4_rows = s4_rows,
        .short_rq = q->per_channel && short_rq_ok(q, bias, out->c, patch64 * 255 * (s4 ? 8 : 128)),
    };
    if (dsp_conv1x1_fits(s4, p, in, f)) {
        dsp_conv1x1(&a, p, in, x, f, out, y);
        return KWSQ_OK;
    }
    /* sized to this layer (patch <= DSP_MAX_PATCH): the stack holds what it uses */
    uint32_t cols_words[DSP_COLS * ((patch * 2 + 3) / 4)];
    int16_t *cols = (int16_t *)(void *)cols_words;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *x_img = x + (int64_t)bt * in->h * in->w * in->c;
        int8_t *y_img = y + (int64_t)bt * pixels * out->c;
        for (int32_t px = 0; px < pixels; px += DSP_COLS) {
            const int32_t npx = pixels - px < DSP_COLS ? pixels - px : DSP_COLS;
            int8_t *yp[DSP_COLS];
            for (int32_t j = 0; j < DSP_COLS; ++j) {
                yp[j] = y_img + (int64_t)(px + (j < npx ? j : 0)) * out->c;
            }
            for (int32_t g = 0; g < groups; ++g) {
                for (int32_t j = 0; j < DSP_COLS; ++j) {
                    /* Missing pixels of the last block repeat the first one. */
                    const int32_t qx = px + (j < npx ? j : 0);
                    const int32_t oy = qx / out->w, ox = qx % out->w;
                    fill_cols(p, in, f, x_img, oy * p->stride_h - p->pad_h, ox * p->stride_w - p->pad_w, g, j,
                              patch, simd_s4, cols);
                }
                /* In place (1x1, out->c <= in->c): pixels px..px+3 are in the
                 * columns before their outputs, which end before input pixel
                 * px+4, are written. */
                dsp_gemm_rows(&a, g * per_group, (g + 1) * per_group, cols, npx, yp);
            }
        }
    }
    return KWSQ_OK;
}
