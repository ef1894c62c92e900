/*
 * kwsq_depthwise_conv_s8 for cores with the DSP extension (Cortex-M4/M7/M33),
 * bit-exact with kernels/ref.
 *
 * Taps are taken two at a time, so SMLAD does two MACs of one channel: the
 * weights of taps t and t' for four channels are two words, and PKHBT/PKHTB +
 * SXTB16 (and its rotated form) turn them into four (w_t, w_t') lane pairs.
 * Every pixel runs over the whole window: padding reads zero-point bytes
 * (input value 0 after the offset), so borders need no special case.
 *  - depth multiplier 1: the inputs of four channels at taps t, t' are paired
 *    like the weights (inner loop in assembly on Armv7E-M: 13 registers);
 *    the input offset folds into bias + offset * sum(w), computed per call;
 *  - depth multiplier > 1 (e.g. one input channel and 8 outputs per tap, where
 *    CMSIS-NN has no fast path): an input value serves `dm` outputs, so each
 *    pixel's input pairs (x_t + off, x_t' + off) are built once per input
 *    channel and reused for every group of four outputs, for two
 *    horizontally adjacent pixels at a time; with one input channel, four
 *    adjacent taps of a row are one word. The window's rows are copied with
 *    zero-point padding into a small stack buffer when they fit.
 * Windows of more than DW_MAX_TAPS taps take the reference loop.
 */
#include <stddef.h>
#include <string.h>

#include "dsp_depthwise.h"
#include "dsp_dw3x3.h"
#include "dsp_requant.h"
#include "dsp_simd.h"
#include "kwsq_depthwise_conv_ref.h"

#define DW_MAX_TAPS 128
#define DW_ROWS_MAX 2048    /* bytes of padded rows (stack), depth-multiplier path */
#define DW_WPAIRS_MAX 2048  /* bytes of widened weight pairs (stack), depth-multiplier path */

/* The parameters the loops read, under short names. */
typedef struct {
    int32_t stride_w, stride_h, dil_w, dil_h, pad_w, pad_h;
    int32_t input_offset;
    const uint8_t *filter;
    const int32_t *bias;    /* NULL = none */
    int32_t filter_h, filter_w;
} dw_args;

typedef struct {
    dw_args p;
    dsp_out out;
    int32_t depth_mult;
    int32_t ring_rows;      /* > 0: in place, keeping this many input rows aside */
    bool s4;                /* packed int4 weights (depth multiplier 1, even channel count) */
} dw_data;

static inline bool dm_even(const dw_data *dd)
{
    return (dd->depth_mult & 1) == 0;
}

static inline dsp_out out_stage(const dw_data *dd)
{
    return dd->out;
}

/* Depth multiplier 1, one pixel over the whole window (padding taps read a
 * row of zero-point bytes, so every pixel has the same taps and the input
 * offset folds into `bias_off` = bias + offset * sum(w)): four channels at a
 * time, taps in pairs. xs: per tap, the input pixel (channel 0), the pairs
 * ended by NULL and an odd last tap after it. One pixel
 * per pass keeps the four accumulators and all pointers in registers. */
static void __attribute__((noinline)) dw_ch4(const dw_data *dd, const int8_t *const *xs, int32_t taps, int32_t channels,
                   const int32_t *bias_off, int8_t *ya)
{
    const dw_args *d = &dd->p;
    const dsp_out o = out_stage(dd);
    const int8_t *w = (const int8_t *)d->filter;
    const int32_t even = taps & ~1;
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4) {
        int32_t a0 = bias_off[c], a1 = bias_off[c + 1], a2 = bias_off[c + 2], a3 = bias_off[c + 3];
        const int8_t *wp = w + c;
        const int8_t *const *xp = xs;
        const int8_t *const *xe = xs + even;
#ifdef KWSQ_DSP_NATIVE
        {
            uint32_t wt, wt1, vt, vt1, tmp, tx;
            /* xs[even] is NULL: the loop ends on it (one register fewer) */
            __asm__ volatile(
                "1:\n\t"
                "ldrd %[vt], %[vt1], [%[xp]], #8\n\t"
                "cmp %[vt], #0\n\t"
                "beq 2f\n\t"
                "ldr %[wt1], [%[wp], %[ch]]\n\t"
                "ldr %[wt], [%[wp]]\n\t"
                "add %[wp], %[wp], %[ch], lsl #1\n\t"
                "ldr %[vt], [%[vt], %[c]]\n\t"
                "ldr %[vt1], [%[vt1], %[c]]\n\t"
                "pkhbt %[tmp], %[wt], %[wt1], lsl #16\n\t"
                "pkhtb %[wt1], %[wt1], %[wt], asr #16\n\t"
                "pkhbt %[wt], %[vt], %[vt1], lsl #16\n\t"
                "pkhtb %[vt1], %[vt1], %[vt], asr #16\n\t"
                "sxtb16 %[vt], %[tmp]\n\t"
                "sxtb16 %[tmp], %[tmp], ror #8\n\t"
                "sxtb16 %[tx], %[wt]\n\t"
                "smlad %[a0], %[vt], %[tx], %[a0]\n\t"
                "sxtb16 %[tx], %[wt], ror #8\n\t"
                "smlad %[a1], %[tmp], %[tx], %[a1]\n\t"
                "sxtb16 %[vt], %[wt1]\n\t"
                "sxtb16 %[tmp], %[wt1], ror #8\n\t"
                "sxtb16 %[tx], %[vt1]\n\t"
                "smlad %[a2], %[vt], %[tx], %[a2]\n\t"
                "sxtb16 %[tx], %[vt1], ror #8\n\t"
                "smlad %[a3], %[tmp], %[tx], %[a3]\n\t"
                "b 1b\n\t"
                "2:\n\t"
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [wp] "+r"(wp), [xp] "+r"(xp),
                  [wt] "=&r"(wt), [wt1] "=&r"(wt1), [vt] "=&r"(vt), [vt1] "=&r"(vt1), [tmp] "=&r"(tmp),
                  [tx] "=&r"(tx)
                : [ch] "r"(channels), [c] "r"(c)
                : "cc", "memory");
            xp = xe;
        }
#else
        for (; xp != xe; xp += 2, wp += 2 * channels) {
            const uint32_t wt = dsp_ld32(wp), wt1 = dsp_ld32(wp + channels);
            const uint32_t vt = dsp_ld32(xp[0] + c), vt1 = dsp_ld32(xp[1] + c);
            const uint32_t wl = dsp_pack_lo(wt, wt1), wh = dsp_pack_hi(wt, wt1);
            const uint32_t xl = dsp_pack_lo(vt, vt1), xh = dsp_pack_hi(vt, vt1);
            a0 = dsp_smlad(dsp_sxtb16(wl), dsp_sxtb16(xl), a0);
            a1 = dsp_smlad(dsp_sxtb16_ror8(wl), dsp_sxtb16_ror8(xl), a1);
            a2 = dsp_smlad(dsp_sxtb16(wh), dsp_sxtb16(xh), a2);
            a3 = dsp_smlad(dsp_sxtb16_ror8(wh), dsp_sxtb16_ror8(xh), a3);
        }
#endif
        if (even < taps) {
            /* the last tap pairs with a zero weight */
            const uint32_t wt = dsp_ld32(wp), vt = dsp_ld32(xs[even + 1] + c);
            const uint32_t wl = dsp_pack_lo(wt, 0u), wh = dsp_pack_hi(wt, 0u);
            const uint32_t xl = dsp_pack_lo(vt, vt), xh = dsp_pack_hi(vt, vt);
            a0 = dsp_smlad(dsp_sxtb16(wl), dsp_sxtb16(xl), a0);
            a1 = dsp_smlad(dsp_sxtb16_ror8(wl), dsp_sxtb16_ror8(xl), a1);
            a2 = dsp_smlad(dsp_sxtb16(wh), dsp_sxtb16(xh), a2);
            a3 = dsp_smlad(dsp_sxtb16_ror8(wh), dsp_sxtb16_ror8(xh), a3);
        }
        ya[c] = dsp_out_one(&o, a0, c);
        ya[c + 1] = dsp_out_one(&o, a1, c + 1);
        ya[c + 2] = dsp_out_one(&o, a2, c + 2);
        ya[c + 3] = dsp_out_one(&o, a3, c + 3);
    }
    for (; c < channels; ++c) {
        int32_t a = bias_off[c];
        for (int32_t t = 0; t < taps; ++t) {
            a += w[t * channels + c] * xs[t < even ? t : even + 1][c];
        }
        ya[c] = dsp_out_one(&o, a, c);
    }
}

/* One tap pair of two pixels, as the depth-multiplier loop reads it:
 * weight offsets of the two taps, then each pixel's (x_t + off, x_t' + off). */
typedef struct {
    int32_t wt, wt1;
    uint32_t xa, xb;
} tap_pair;

/* pair2_x2's assembly reads xa, xb at byte 8 of 16-byte entries */
typedef char tap_pair_layout_check[(offsetof(tap_pair, xa) == 8 && sizeof(tap_pair) == 16) ? 1 : -1];

/* Four outputs (weights at w + woff) of two pixels over the pairs; the list
 * ends with wt < 0. */
static inline void mult4_x2(const int8_t *w, const tap_pair *tp, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t b0 = acc[4], b1 = acc[5], b2 = acc[6], b3 = acc[7];
    for (; tp->wt >= 0; ++tp) {
        const uint32_t wt = dsp_ld32(w + tp->wt), wt1 = dsp_ld32(w + tp->wt1);
        const uint32_t wl = dsp_pack_lo(wt, wt1), wh = dsp_pack_hi(wt, wt1);
        const uint32_t xa = tp->xa, xb = tp->xb;
        uint32_t q = dsp_sxtb16(wl);
        a0 = dsp_smlad(q, xa, a0);
        b0 = dsp_smlad(q, xb, b0);
        q = dsp_sxtb16_ror8(wl);
        a1 = dsp_smlad(q, xa, a1);
        b1 = dsp_smlad(q, xb, b1);
        q = dsp_sxtb16(wh);
        a2 = dsp_smlad(q, xa, a2);
        b2 = dsp_smlad(q, xb, b2);
        q = dsp_sxtb16_ror8(wh);
        a3 = dsp_smlad(q, xa, a3);
        b3 = dsp_smlad(q, xb, b3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = b0;
    acc[5] = b1;
    acc[6] = b2;
    acc[7] = b3;
}

/* The tap pairs of the whole window for the depth-multiplier path (padding
 * taps get input 0, so every pixel uses the same pairs and weights). With
 * one input channel, four adjacent taps of a row are one word: pairs (t, t+2)
 * and (t+1, t+3) come from one SXTB16 each. The other taps pair up in order;
 * an odd last one pairs with itself and input 0. */
typedef struct {
    int32_t nquad;
    int32_t npair;          /* pairs after the quads */
    bool single;            /* the last pair has one tap */
    int16_t qy[DW_MAX_TAPS / 4], qx[DW_MAX_TAPS / 4];        /* filter position of a quad */
    int16_t py[2][DW_MAX_TAPS / 2 + 1], px[2][DW_MAX_TAPS / 2 + 1];
} mult_plan;

static void plan_mult(const dw_args *d, int32_t in_ch, int32_t out_ch, mult_plan *pl, tap_pair *tp)
{
    const bool quads = in_ch == 1 && d->dil_w == 1;
    int32_t ry[DW_MAX_TAPS], rx[DW_MAX_TAPS], nrest = 0, j = 0;
    pl->nquad = 0;
    for (int32_t fy = 0; fy < d->filter_h; ++fy) {
        int32_t fx = 0;
        for (; quads && fx + 4 <= d->filter_w; fx += 4) {
            const int32_t wt = (fy * d->filter_w + fx) * out_ch;
            pl->qy[pl->nquad] = (int16_t)fy;
            pl->qx[pl->nquad] = (int16_t)fx;
            ++pl->nquad;
            tp[j].wt = wt;
            tp[j].wt1 = wt + 2 * out_ch;
            tp[j + 1].wt = wt + out_ch;
            tp[j + 1].wt1 = wt + 3 * out_ch;
            j += 2;
        }
        for (; fx < d->filter_w; ++fx) {
            ry[nrest] = fy;
            rx[nrest] = fx;
            ++nrest;
        }
    }
    pl->npair = (nrest + 1) / 2;
    pl->single = (nrest & 1) != 0;
    for (int32_t k = 0; k < pl->npair; ++k, ++j) {
        const int32_t t1 = 2 * k + 1 < nrest ? 2 * k + 1 : 2 * k;
        pl->py[0][k] = (int16_t)ry[2 * k];
        pl->px[0][k] = (int16_t)rx[2 * k];
        pl->py[1][k] = (int16_t)ry[t1];
        pl->px[1][k] = (int16_t)rx[t1];
        tp[j].wt = (ry[2 * k] * d->filter_w + rx[2 * k]) * out_ch;
        tp[j].wt1 = (ry[t1] * d->filter_w + rx[t1]) * out_ch;
    }
    tp[j].wt = -1;
}

/* Where a pixel's window lies in the input. */
typedef struct {
    const int8_t *img;      /* the batch's input image */
    int32_t iy0, ix0;       /* window corner */
    bool inside;            /* no tap in the padding, or padded rows available */
    const int8_t *const *rows; /* padded rows: filter row fy at rows[fy], column 0 = the corner; NULL = img */
} pixel_at;

static inline int32_t tap_value(const dw_args *d, const pixel_at *pa, int32_t in_h, int32_t in_w,
                                int32_t in_ch, int32_t fy, int32_t fx, int32_t ic)
{
    if (pa->rows != NULL) {
        return pa->rows[fy][(int64_t)d->dil_w * fx * in_ch + ic] + d->input_offset;
    }
    const int32_t iy = pa->iy0 + d->dil_h * fy, ix = pa->ix0 + d->dil_w * fx;
    if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) {
        return 0;
    }
    return pa->img[((int64_t)iy * in_w + ix) * in_ch + ic] + d->input_offset;
}

/* One pixel's input pairs of channel ic into tp[].xa (lane 0) or .xb. */
static void pixel_pairs(const dw_args *d, const mult_plan *pl, const pixel_at *pa, int32_t in_h,
                        int32_t in_w, int32_t in_ch, int32_t ic, int32_t lane, tap_pair *tp)
{
    tap_pair *p = tp;
    if (pa->inside) {
        const uint32_t off2 = dsp_dup16(d->input_offset);
        for (int32_t q = 0; q < pl->nquad; ++q, p += 2) {
            const int8_t *src = pa->rows != NULL
                                    ? pa->rows[pl->qy[q]] + pl->qx[q]
                                    : pa->img + ((int64_t)(pa->iy0 + d->dil_h * pl->qy[q]) * in_w + pa->ix0 + pl->qx[q]) * in_ch;
            const uint32_t v = dsp_ld32(src + ic);
            const uint32_t e = dsp_sadd16(dsp_sxtb16(v), off2), o = dsp_sadd16(dsp_sxtb16_ror8(v), off2);
            if (lane == 0) {
                p[0].xa = e;
                p[1].xa = o;
            } else {
                p[0].xb = e;
                p[1].xb = o;
            }
        }
    } else {
        for (int32_t q = 0; q < pl->nquad; ++q, p += 2) {
            int32_t v[4];
            for (int32_t k = 0; k < 4; ++k) {
                v[k] = tap_value(d, pa, in_h, in_w, in_ch, pl->qy[q], pl->qx[q] + k, ic);
            }
            const uint32_t e = dsp_pack_lo((uint32_t)v[0], (uint32_t)v[2]);
            const uint32_t o = dsp_pack_lo((uint32_t)v[1], (uint32_t)v[3]);
            if (lane == 0) {
                p[0].xa = e;
                p[1].xa = o;
            } else {
                p[0].xb = e;
                p[1].xb = o;
            }
        }
    }
    for (int32_t k = 0; k < pl->npair; ++k, ++p) {
        const int32_t v0 = tap_value(d, pa, in_h, in_w, in_ch, pl->py[0][k], pl->px[0][k], ic);
        const int32_t v1 = pl->single && k == pl->npair - 1
                               ? 0
                               : tap_value(d, pa, in_h, in_w, in_ch, pl->py[1][k], pl->px[1][k], ic);
        const uint32_t pr = dsp_pack_lo((uint32_t)v0, (uint32_t)v1);
        if (lane == 0) {
            p->xa = pr;
        } else {
            p->xb = pr;
        }
    }
}

/* Depth multiplier > 1: per input channel, the pixels' input pairs once
 * (into tp), then four outputs at a time. A single pixel runs as two
 * identical ones. */
/* Two outputs of two pixels over the pairs: the weight pairs of the two
 * channels interleaved (wq[2j], wq[2j+1]), the pixels' input pairs in tp. */
static inline void pair2_x2(const uint32_t *wq, const tap_pair *tp, int32_t np, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
    const tap_pair *end = tp + np;
#ifdef KWSQ_DSP_NATIVE
    /* two pairs per iteration: 2 x (LDRD weights, LDRD inputs, 4 SMLAD) */
    const tap_pair *end2 = tp + (np & ~1);
    if (tp != end2) {
        uint32_t w0, w1, xa, xb;
        __asm__ volatile(
            "1:\n\t"
            "ldrd %[w0], %[w1], [%[wq]], #8\n\t"
            "ldrd %[xa], %[xb], [%[tp], #8]\n\t"
            "smlad %[a0], %[w0], %[xa], %[a0]\n\t"
            "smlad %[a1], %[w1], %[xa], %[a1]\n\t"
            "smlad %[b0], %[w0], %[xb], %[b0]\n\t"
            "smlad %[b1], %[w1], %[xb], %[b1]\n\t"
            "ldrd %[w0], %[w1], [%[wq]], #8\n\t"
            "ldrd %[xa], %[xb], [%[tp], #24]\n\t"
            "adds %[tp], %[tp], #32\n\t"
            "smlad %[a0], %[w0], %[xa], %[a0]\n\t"
            "smlad %[a1], %[w1], %[xa], %[a1]\n\t"
            "smlad %[b0], %[w0], %[xb], %[b0]\n\t"
            "smlad %[b1], %[w1], %[xb], %[b1]\n\t"
            "cmp %[tp], %[te]\n\t"
            "bne 1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [b0] "+r"(b0), [b1] "+r"(b1), [wq] "+r"(wq), [tp] "+r"(tp),
              [w0] "=&r"(w0), [w1] "=&r"(w1), [xa] "=&r"(xa), [xb] "=&r"(xb)
            : [te] "r"(end2)
            : "cc", "memory");
    }
#endif
    for (; tp != end; ++tp, wq += 2) {
        const uint32_t w0 = wq[0], w1 = wq[1], xa = tp->xa, xb = tp->xb;
        a0 = dsp_smlad(w0, xa, a0);
        a1 = dsp_smlad(w1, xa, a1);
        b0 = dsp_smlad(w0, xb, b0);
        b1 = dsp_smlad(w1, xb, b1);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = b0;
    acc[3] = b1;
}

static void dw_mult(const dw_data *dd, const mult_plan *pl, const pixel_at *pa, const pixel_at *pb, bool two,
                    const int32_t *in_dims, tap_pair *tp, const uint32_t *wpairs, int32_t np, int8_t *ya,
                    int8_t *yb)
{
    const dw_args *d = &dd->p;
    const dsp_out o = out_stage(dd);
    const int8_t *w = (const int8_t *)d->filter;
    const int32_t dm = dd->depth_mult;
    const int32_t in_h = in_dims[1], in_w = in_dims[2], in_ch = in_dims[3];
    for (int32_t ic = 0; ic < in_ch; ++ic) {
        pixel_pairs(d, pl, pa, in_h, in_w, in_ch, ic, 0, tp);
        pixel_pairs(d, pl, two ? pb : pa, in_h, in_w, in_ch, ic, 1, tp);
        const int32_t oc0 = ic * dm;
        int32_t m = 0;
        if (wpairs != NULL) {
            /* weight pairs widened once per call: two channels per pass */
            for (; m < dm; m += 2) {
                const int32_t oc = oc0 + m;
                const int32_t b0 = d->bias != NULL ? d->bias[oc] : 0;
                const int32_t b1 = m + 1 < dm && d->bias != NULL ? d->bias[oc + 1] : 0;
                int32_t acc[4] = {b0, b1, b0, b1};
                pair2_x2(wpairs + (int64_t)(oc / 2) * 2 * np, tp, np, acc);
                ya[oc] = dsp_out_one(&o, acc[0], oc);
                if (two) {
                    yb[oc] = dsp_out_one(&o, acc[2], oc);
                }
                if (m + 1 < dm) {
                    ya[oc + 1] = dsp_out_one(&o, acc[1], oc + 1);
                    if (two) {
                        yb[oc + 1] = dsp_out_one(&o, acc[3], oc + 1);
                    }
                }
            }
        }
        for (; m + 4 <= dm; m += 4) {
            const int32_t oc = oc0 + m;
            int32_t acc[8];
            for (int32_t k = 0; k < 4; ++k) {
                acc[k] = acc[k + 4] = d->bias != NULL ? d->bias[oc + k] : 0;
            }
            mult4_x2(w + oc, tp, acc);
            for (int32_t k = 0; k < 4; ++k) {
                ya[oc + k] = dsp_out_one(&o, acc[k], oc + k);
            }
            if (two) {
                for (int32_t k = 0; k < 4; ++k) {
                    yb[oc + k] = dsp_out_one(&o, acc[k + 4], oc + k);
                }
            }
        }
        for (; m < dm; ++m) {
            const int32_t oc = oc0 + m;
            int32_t a = d->bias != NULL ? d->bias[oc] : 0, b = a;
            for (const tap_pair *t = tp; t->wt >= 0; ++t) {
                const uint32_t wp = dsp_pack_lo((uint32_t)w[t->wt + oc], (uint32_t)w[t->wt1 + oc]);
                a = dsp_smlad(wp, t->xa, a);
                b = dsp_smlad(wp, t->xb, b);
            }
            ya[oc] = dsp_out_one(&o, a, oc);
            if (two) {
                yb[oc] = dsp_out_one(&o, b, oc);
            }
        }
    }
}

/* Depth multiplier 1: every output row, pixels two by two over the whole
 * window (padding reads the zero-point row). */
/* Depth multiplier 1 with packed int4 weights (even channel count, so each
 * tap's four channels are one halfword): the halfwords of taps t and t' make
 * one word whose nibbles, masked into the top of their bytes (x16), give the
 * four channels' (w_t, w_t') pairs straight from SXTB16: lanes (c0, c2) of
 * the low nibbles and (c1, c3) of the high ones. The sums are x16 and
 * divided at the end (exact). */
static void __attribute__((noinline)) dw_ch4_s4(const dw_data *dd, const int8_t *const *xs, int32_t taps,
                                                int32_t channels, const int32_t *bias_off, int8_t *ya)
{
    const dsp_out o = out_stage(dd);
    const uint8_t *w = dd->p.filter;
    const int32_t even = taps & ~1;
    const uint32_t mask = 0xF0F0F0F0u;
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int32_t t = 0; t < taps; t += 2) {
            const bool pair = t < even;
            const uint8_t *wp = w + ((int64_t)t * channels + c) / 2;
            uint32_t wv = (uint32_t)wp[0] | ((uint32_t)wp[1] << 8);
            if (pair) {
                const uint8_t *wq = wp + channels / 2;
                wv |= ((uint32_t)wq[0] | ((uint32_t)wq[1] << 8)) << 16;
            }
            const uint32_t l = (wv << 4) & mask, h = wv & mask;
            const uint32_t vt = dsp_ld32(xs[t < even ? t : even + 1] + c);
            const uint32_t vt1 = pair ? dsp_ld32(xs[t + 1] + c) : vt;
            const uint32_t xl = dsp_pack_lo(vt, vt1), xh = dsp_pack_hi(vt, vt1);
            a0 = dsp_smlad(dsp_sxtb16(l), dsp_sxtb16(xl), a0);
            a1 = dsp_smlad(dsp_sxtb16(h), dsp_sxtb16_ror8(xl), a1);
            a2 = dsp_smlad(dsp_sxtb16_ror8(l), dsp_sxtb16(xh), a2);
            a3 = dsp_smlad(dsp_sxtb16_ror8(h), dsp_sxtb16_ror8(xh), a3);
        }
        ya[c] = dsp_out_one(&o, (a0 >> 4) + bias_off[c], c);
        ya[c + 1] = dsp_out_one(&o, (a1 >> 4) + bias_off[c + 1], c + 1);
        ya[c + 2] = dsp_out_one(&o, (a2 >> 4) + bias_off[c + 2], c + 2);
        ya[c + 3] = dsp_out_one(&o, (a3 >> 4) + bias_off[c + 3], c + 3);
    }
    for (; c < channels; ++c) {
        int32_t a = bias_off[c];
        for (int32_t t = 0; t < taps; ++t) {
            a += kwsq_int4_at(w, (int64_t)t * channels + c) * xs[t < even ? t : even + 1][c];
        }
        ya[c] = dsp_out_one(&o, a, c);
    }
}

static void eval_ch(const dw_data *dd, const int8_t *x, int8_t *y, const int32_t *in_dims, const int32_t *out_dims,
                    int8_t *ring, uint8_t *scratch)
{
    const dw_args *d = &dd->p;
    const int32_t batches = in_dims[0], in_h = in_dims[1], in_w = in_dims[2], ch = in_dims[3];
    const int32_t out_h = out_dims[1], out_w = out_dims[2];
    const int32_t f_h = d->filter_h, f_w = d->filter_w, taps = f_h * f_w;
    const int32_t row_bytes = in_w * ch;
    int32_t *bias_off = (int32_t *)(void *)scratch;
    int8_t *pad = (int8_t *)(scratch + 4u * (uint32_t)ch);
    const int8_t *w = (const int8_t *)d->filter;
    for (int32_t c = 0; c < ch; ++c) {
        int32_t sum = 0;
        for (int32_t t = 0; t < taps; ++t) {
            sum += dd->s4 ? kwsq_int4_at(d->filter, (int64_t)t * ch + c) : w[t * ch + c];
        }
        bias_off[c] = (d->bias != NULL ? d->bias[c] : 0) + d->input_offset * sum;
    }
    memset(pad, (int)(int8_t)-d->input_offset, (size_t)ch);
    const int8_t *rows[f_h];
    const int8_t *xs[taps + 2];
    for (int32_t bt = 0; bt < batches; ++bt) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            if (ring != NULL) {
                memcpy(ring + (oy % dd->ring_rows) * row_bytes, x + ((int64_t)bt * in_h + oy) * row_bytes,
                       (size_t)row_bytes);
            }
            for (int32_t fy = 0; fy < f_h; ++fy) {
                const int32_t iy = iy0 + d->dil_h * fy;
                rows[fy] = iy < 0 || iy >= in_h ? NULL
                           : ring != NULL && iy <= oy ? ring + (iy % dd->ring_rows) * row_bytes
                                                      : x + ((int64_t)bt * in_h + iy) * row_bytes;
            }
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * d->stride_w - d->pad_w;
                for (int32_t fy = 0, t = 0; fy < f_h; ++fy) {
                    for (int32_t fx = 0; fx < f_w; ++fx, ++t) {
                        const int32_t ix = ix0 + d->dil_w * fx;
                        /* the odd last tap goes after the NULL that ends the pairs */
                        xs[t < (taps & ~1) ? t : t + 1] =
                            rows[fy] == NULL || ix < 0 || ix >= in_w ? pad : rows[fy] + (int64_t)ix * ch;
                    }
                }
                xs[taps & ~1] = NULL;
                int8_t *ya = y + (((int64_t)bt * out_h + oy) * out_w + ox) * ch;
                if (dd->s4) {
                    dw_ch4_s4(dd, xs, taps, ch, bias_off, ya);
                } else {
                    dw_ch4(dd, xs, taps, ch, bias_off, ya);
                }
            }
        }
    }
}

/* Depth multiplier > 1: the pixel loop, in a function of its own so the
 * caller's stack buffers (variable-length) do not cost it a register. */
static void __attribute__((noinline)) eval_mult(const dw_data *ddp, const int8_t *x, int8_t *y,
                                                const int32_t *in_dims, const int32_t *out_dims, tap_pair *pairs,
                                                int8_t *pad_ring, int32_t padded)
{
    const dw_args *d = &ddp->p;
    const int32_t batches = in_dims[0], in_h = in_dims[1], in_w = in_dims[2], in_ch = in_dims[3];
    const int32_t out_h = out_dims[1], out_w = out_dims[2], out_ch = out_dims[3];
    const int32_t span_h = (d->filter_h - 1) * d->dil_h, span_w = (d->filter_w - 1) * d->dil_w;
    mult_plan pl;
    plan_mult(d, in_ch, out_ch, &pl, pairs);
    int32_t np = 0;
    while (pairs[np].wt >= 0) {
        ++np;
    }
    /* Channel pairs must not straddle input channels: dm even. Then the
     * weights of each pair of taps as (w_t, w_t') lanes, two channels
     * interleaved, once per call, when they fit the stack budget. */
    const bool widen = dm_even(ddp) && (int64_t)np * out_ch * 4 <= DW_WPAIRS_MAX;
    uint32_t wbuf[widen ? np * out_ch : 1];
    const uint32_t *wpairs = NULL;
    if (widen) {
        const int8_t *w = (const int8_t *)d->filter;
        for (int32_t oc = 0; oc < out_ch; ++oc) {
            uint32_t *dst = wbuf + (int64_t)(oc / 2) * 2 * np + (oc & 1);
            for (int32_t j = 0; j < np; ++j) {
                dst[2 * j] = dsp_pack_lo((uint32_t)w[pairs[j].wt + oc], (uint32_t)w[pairs[j].wt1 + oc]);
            }
        }
        wpairs = wbuf;
    }
    const int32_t prow = padded;
    const int8_t zp = (int8_t)-d->input_offset;
    const int8_t *rows_a[d->filter_h], *rows_b[d->filter_h];
    for (int32_t bt = 0; bt < batches; ++bt) {
        const int8_t *img = x + (int64_t)bt * in_h * in_w * in_ch;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            const bool rows_in = iy0 >= 0 && iy0 + span_h < in_h;
            if (pad_ring != NULL) {
                for (int32_t r = 0; r <= span_h; ++r) {
                    int8_t *dst = pad_ring + (int64_t)r * prow;
                    const int32_t iy = iy0 + r;
                    memset(dst, zp, (size_t)prow);
                    if (iy >= 0 && iy < in_h) {
                        memcpy(dst + (int64_t)d->pad_w * in_ch, img + (int64_t)iy * in_w * in_ch,
                               (size_t)in_w * (size_t)in_ch);
                    }
                }
            }
            for (int32_t ox = 0; ox < out_w; ox += 2) {
                const bool two = ox + 1 < out_w;
                const int32_t ix0 = ox * d->stride_w - d->pad_w, ix1 = ix0 + d->stride_w;
                if (pad_ring != NULL) {
                    for (int32_t fy = 0; fy < d->filter_h; ++fy) {
                        const int8_t *r = pad_ring + (int64_t)fy * d->dil_h * prow;
                        rows_a[fy] = r + (int64_t)(ix0 + d->pad_w) * in_ch;
                        rows_b[fy] = r + (int64_t)(ix1 + d->pad_w) * in_ch;
                    }
                }
                const pixel_at pa = {img, iy0, ix0, pad_ring != NULL || (rows_in && ix0 >= 0 && ix0 + span_w < in_w),
                                     pad_ring != NULL ? rows_a : NULL};
                const pixel_at pb = {img, iy0, ix1, pad_ring != NULL || (rows_in && ix1 >= 0 && ix1 + span_w < in_w),
                                     pad_ring != NULL ? rows_b : NULL};
                int8_t *ya = y + (((int64_t)bt * out_h + oy) * out_w + ox) * out_ch;
                dw_mult(ddp, &pl, &pa, &pb, two, in_dims, pairs, wpairs, np, ya, ya + out_ch);
            }
        }
    }
}

static int32_t ring_bytes(const kwsq_conv_params *params, const kwsq_dims *out)
{
    return params->in_place ? (params->pad_h + 1) * out->w * out->c : 0;
}

int32_t kwsq_depthwise_conv_s8_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *output_dims)
{
    if (params->depth_multiplier != 1) {
        return 0;
    }
    /* the in-place ring, then per channel bias + offset * sum(w) (int32) and
     * a row of zero-point bytes standing in for padding */
    const int32_t ring = (ring_bytes(params, output_dims) + 3) & ~3;
    return ring + 5 * output_dims->c + 4;
}

kwsq_status dsp_depthwise(bool s4, const kwsq_context *ctx, const kwsq_conv_params *params,
                             const kwsq_quant_params *quant, const kwsq_dims *input_dims, const int8_t *input,
                             const kwsq_dims *filter_dims, const uint8_t *filter, const int32_t *bias,
                             const kwsq_dims *output_dims, int8_t *output)
{
    const bool planes = dsp_dw3x3_fits(params, input_dims, filter_dims, output_dims);
    if (filter_dims->h * filter_dims->w > DW_MAX_TAPS ||
        (s4 && !planes && (params->depth_multiplier != 1 || (output_dims->c & 1) != 0))) {
        return kwsq_ref_depthwise_conv(s4, ctx, params, quant, input_dims, input, filter_dims, filter, bias,
                                       output_dims, output);
    }
    const int64_t bound = (int64_t)filter_dims->h * filter_dims->w * 255 * 128;
    bool short_rq = true;
    for (int32_t c = 0; c < output_dims->c && short_rq; ++c) {
        const int64_t b = bias != NULL ? bias[c] : 0;
        short_rq = dsp_rq_short_ok(bound + (b < 0 ? -b : b), quant->shift[c]);
    }
    dw_data dd = {
        .p = {params->stride_w, params->stride_h, params->dilation_w, params->dilation_h, params->pad_w,
              params->pad_h, params->input_offset, (const uint8_t *)filter, bias, filter_dims->h, filter_dims->w},
        .out = dsp_out_make(quant->multiplier, quant->shift, params->output_offset, params->act_min,
                            params->act_max, short_rq, quant->pot),
        .depth_mult = params->depth_multiplier,
        .ring_rows = params->in_place ? params->pad_h + 1 : 0,
        .s4 = s4,
    };
    const int32_t in_dims[4] = {input_dims->n, input_dims->h, input_dims->w, input_dims->c};
    const int32_t out_dims[4] = {output_dims->n, output_dims->h, output_dims->w, output_dims->c};
    int8_t *x = (int8_t *)(uintptr_t)input;
    int8_t *y = output;
    if (planes) {
        dsp_dw3x3(s4, params, &dd.out, input_dims, x, filter, bias, output_dims, y);
        return KWSQ_OK;
    }
    if (dd.depth_mult == 1) {
        uint8_t *buf = ctx->buf;
        const int32_t ring = (ring_bytes(params, output_dims) + 3) & ~3;
        eval_ch(&dd, x, y, in_dims, out_dims, dd.ring_rows > 0 ? (int8_t *)buf : NULL, buf + ring);
        return KWSQ_OK;
    }
    const dw_data *ddp = &dd;
    const dw_args *d = &dd.p;
    tap_pair pairs[(filter_dims->h * filter_dims->w + 1) / 2 + 1];
    const int32_t span_w = (d->filter_w - 1) * d->dil_w;
    const int64_t right = (int64_t)(output_dims->w - 1) * d->stride_w - d->pad_w + span_w + 1 - input_dims->w;
    const int64_t prow64 = ((int64_t)d->pad_w + input_dims->w + (right > 0 ? right : 0)) * input_dims->c;
    const int64_t nrows = (int64_t)(d->filter_h - 1) * d->dil_h + 1;
    /* sized to this layer: the padded rows when they fit DW_ROWS_MAX */
    int8_t rows_buf[prow64 * nrows <= DW_ROWS_MAX ? prow64 * nrows : 1];
    int8_t *pad_ring = prow64 * nrows <= DW_ROWS_MAX ? rows_buf : NULL;
    const int32_t padded = (int32_t)prow64;
    eval_mult(ddp, x, y, in_dims, out_dims, pairs, pad_ring, padded);
    return KWSQ_OK;
}

kwsq_status kwsq_depthwise_conv_s8(const kwsq_context *ctx, const kwsq_conv_params *params,
                                   const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                                   const int8_t *input, const kwsq_dims *filter_dims,
                                   const int8_t *filter, const int32_t *bias,
                                   const kwsq_dims *output_dims, int8_t *output)
{
    return dsp_depthwise(false, ctx, params, quant, input_dims, input, filter_dims, (const uint8_t *)filter, bias,
                     output_dims, output);
}
