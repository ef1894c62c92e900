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
 *    3x3 stride-1 layers take the planes path (dsp_dw3x3.c);
 *  - depth multiplier > 1 (e.g. one input channel and 8 outputs per tap, where
 *    CMSIS-NN has no fast path): dsp_dw_mult.c.
 * Windows of more than DW_MAX_TAPS taps (multiplier 1), packed int4 weights
 * with a multiplier > 1 and layers too large for dsp_dw_mult's stack budget
 * take the reference loop. A model-selective build for a model without a
 * DW_GENERIC layer (kwsq_kernels.h) links no reference loop: these paths
 * compute every plain layer, and Prepare refuses any other.
 */
#include <stddef.h>
#include <string.h>

#include "dsp_depthwise.h"
#include "dsp_dw3x3.h"
#include "dsp_dw_any.h"
#include "dsp_dw_mult.h"
#include "dsp_dw_rq.h"
#include "dsp_requant.h"
#include "dsp_simd.h"
#include "kwsq_depthwise_conv_ref.h"

#define DW_MAX_TAPS 128

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
    int32_t ring_rows;      /* > 0: in place, keeping this many input rows aside */
    bool s4;                /* packed int4 weights (depth multiplier 1, even channel count) */
    /* NULL, or per channel (multiplier, rounding constant with the output
     * offset folded in, right shift 1..22): every channel takes the short
     * stage of dsp_dw_rq.h */
    const int32_t *rq;
} dw_data;

/* Channels whose short-stage constants the stack table holds. */
#define DW_RQ_TABLE 128

/* The short stage with the output offset folded into the rounding
 * (dsp_dw_rq.h), from channel ch's row of the table. */
static inline __attribute__((always_inline)) int8_t out_fold(const dsp_out *o, const int32_t *rq, int32_t acc,
                                                            int32_t ch)
{
    const int32_t *k = rq + 3 * ch;
    const int32_t v = dsp_dw_rq_short((int32_t)((uint32_t)acc << 1), k[0], k[1], k[2]);
    if (o->full_range) {
        return (int8_t)dsp_ssat8(v);
    }
    return (int8_t)(v < o->act_min ? o->act_min : (v > o->act_max ? o->act_max : v));
}

static inline dsp_out out_stage(const dw_data *dd)
{
    return dd->out;
}

/* The table of out_fold's constants, when every channel takes that stage. */
static bool fold_table(const dsp_out *o, int32_t channels, int32_t *rq)
{
    if (!o->short_rq || channels > DW_RQ_TABLE) {
        return false;
    }
    for (int32_t c = 0; c < channels; ++c) {
        const int32_t right = -o->shift[c];
        if (right < 1 || right > 22) {
            return false;
        }
        rq[3 * c] = o->mult[c];
        rq[3 * c + 1] = (int32_t)((2u * (uint32_t)o->out_offset + 1u) << (right - 1));
        rq[3 * c + 2] = right;
    }
    return true;
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
        if (dd->rq != NULL) {
            ya[c] = out_fold(&o, dd->rq, a0, c);
            ya[c + 1] = out_fold(&o, dd->rq, a1, c + 1);
            ya[c + 2] = out_fold(&o, dd->rq, a2, c + 2);
            ya[c + 3] = out_fold(&o, dd->rq, a3, c + 3);
        } else {
            ya[c] = dsp_out_one(&o, a0, c);
            ya[c + 1] = dsp_out_one(&o, a1, c + 1);
            ya[c + 2] = dsp_out_one(&o, a2, c + 2);
            ya[c + 3] = dsp_out_one(&o, a3, c + 3);
        }
    }
    for (; c < channels; ++c) {
        int32_t a = bias_off[c];
        for (int32_t t = 0; t < taps; ++t) {
            a += w[t * channels + c] * xs[t < even ? t : even + 1][c];
        }
        ya[c] = dsp_out_one(&o, a, c);
    }
}

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

/* One pixel's channels (dw_ch4 or dw_ch4_s4: passed in, so an int8-only
 * build does not link the int4 one). */
typedef void (*dw_pixel_fn)(const dw_data *dd, const int8_t *const *xs, int32_t taps, int32_t channels,
                            const int32_t *bias_off, int8_t *ya);

static void eval_ch(const dw_data *dd, const int8_t *x, int8_t *y, const int32_t *in_dims, const int32_t *out_dims,
                    int8_t *ring, uint8_t *scratch, dw_pixel_fn pixel)
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
                pixel(dd, xs, taps, ch, bias_off, ya);
            }
        }
    }
}

static int32_t ring_bytes(const kwsq_conv_params *params, const kwsq_dims *out)
{
    return params->in_place ? (params->pad_h + 1) * out->w * out->c : 0;
}

/* Whether one of the paths above computes the layer (else the reference
 * loop does; `planes`: the 3x3 planes path fits). Every plain layer
 * (kwsq_kernels.h, DW_GENERIC) of this weight type is one: multiplier 1 with
 * at most KWSQ_DW_PLAIN_TAPS taps, or dsp_dw_mult_fits (whose stack budgets
 * take at least KWSQ_DW_PLAIN_TAPS pairs and a window within
 * KWSQ_DW_PLAIN_WINDOW). */
static bool dw_fast(bool s4, bool planes, const kwsq_conv_params *params, const kwsq_dims *input_dims,
                    const kwsq_dims *filter_dims, const kwsq_dims *output_dims)
{
    if (params->depth_multiplier != 1) {
        return KWSQ_MODEL_HAS(DW_MULT) && !s4 && dsp_dw_mult_fits(params, input_dims, filter_dims, output_dims);
    }
    return planes || (KWSQ_MODEL_HAS(DW_DM1_ANY) && filter_dims->h * filter_dims->w <= DW_MAX_TAPS &&
                      (!s4 || (output_dims->c & 1) == 0));
}
typedef char dw_plain_check[KWSQ_DW_PLAIN_TAPS <= DW_MAX_TAPS ? 1 : -1];

int32_t kwsq_depthwise_conv_s8_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *input_dims,
                                               const kwsq_dims *filter_dims, const kwsq_dims *output_dims)
{
    const bool planes = KWSQ_MODEL_HAS(DW_3X3) && dsp_dw3x3_fits(params, input_dims, filter_dims, output_dims);
    if (!KWSQ_MODEL_HAS(DW_GENERIC) && !dw_fast(false, planes, params, input_dims, filter_dims, output_dims)) {
        return -1;  /* no reference loop in this build */
    }
    /* the 3x3 planes path (in place too) and the multiplier path need none */
    if (planes) {
        return 0;
    }
    if ((KWSQ_MODEL_HAS(DW_DM1_ANY) || KWSQ_MODEL_HAS(DW_MULT_CH)) &&
        dsp_dw_any_ok(params, input_dims, filter_dims, output_dims)) {
        /* (at least dw_ch4's, which takes overlapped narrow rows: no ring then,
         * since an in-place layer never overlaps) */
        const int32_t any = dsp_dw_any_scratch(filter_dims, output_dims), ch = 5 * output_dims->c + 4;
        return any > ch ? any : ch;
    }
    if (params->depth_multiplier != 1) {
        return 0;
    }
    /* the in-place ring, then per channel bias + offset * sum(w) (int32) and
     * a row of zero-point bytes standing in for padding */
    const int32_t ring = (ring_bytes(params, output_dims) + 3) & ~3;
    return ring + 5 * output_dims->c + 4;
}

/* The any-shape path takes maps of at least this many output pixels, and
 * overlapped (one output row per band) rows of at least DW_ANY_MIN_ROW
 * pixels when a row-ordered path fits (measured on M4: below them the
 * per-channel and per-row setup costs more than those paths). */
#define DW_ANY_MIN_PIXELS 20
#define DW_ANY_MIN_ROW 16

/* Whether dsp_dw_any.c computes the layer: multiplier 1 (when not on the
 * planes path) or a multiplier > 1 on several input channels (an output
 * overlapping the input it computes one output row per band). */
bool dsp_dw_any_ok(const kwsq_conv_params *params, const kwsq_dims *input_dims, const kwsq_dims *filter_dims,
                   const kwsq_dims *output_dims)
{
    const bool cls = params->depth_multiplier == 1 ? KWSQ_MODEL_HAS(DW_DM1_ANY)
                                                   : KWSQ_MODEL_HAS(DW_MULT_CH) && input_dims->c > 1;
    /* maps of a few pixels: the per-channel setup outweighs the passes */
    return cls && output_dims->h * output_dims->w >= DW_ANY_MIN_PIXELS &&
           dsp_dw_any_fits(params, input_dims, filter_dims, output_dims);
}

static bool overlapped(const kwsq_conv_params *params, const kwsq_dims *in, const int8_t *x, const kwsq_dims *out,
                       const int8_t *y)
{
    const uintptr_t xs = (uintptr_t)x, ys = (uintptr_t)y;
    const uintptr_t xe = xs + (uintptr_t)((int64_t)in->n * in->h * in->w * in->c);
    const uintptr_t ye = ys + (uintptr_t)((int64_t)out->n * out->h * out->w * out->c);
    return !params->in_place && ys < xe && xs < ye;
}

/* Whether every channel takes the short requantization (dsp_rq_short_ok:
 * a right shift, and |accumulator| <= taps * 255 * 128 + |bias| below 2^30). */
static inline bool short_ok(const int8_t *shift, const int32_t *bias, int32_t out_c, int32_t taps)
{
    const int64_t room64 = (1LL << 30) - (int64_t)taps * 255 * 128;
    if (room64 <= 0) {
        return false;
    }
    const int32_t room = (int32_t)room64;
    for (int32_t c = 0; c < out_c; ++c) {
        if (shift[c] >= 0) {
            return false;
        }
    }
    for (int32_t c = 0; bias != NULL && c < out_c; ++c) {
        if (bias[c] >= room || bias[c] <= -room) {
            return false;
        }
    }
    return true;
}

/* The output stage: the short requantization when every channel's
 * accumulators fit it. */
static dsp_out __attribute__((noinline)) out_stage_of(const kwsq_conv_params *params, const kwsq_quant_params *quant,
                                                     const kwsq_dims *filter_dims, const int32_t *bias, int32_t out_c)
{
    return dsp_out_make(quant->multiplier, quant->shift, params->output_offset, params->act_min, params->act_max,
                        short_ok(quant->shift, bias, out_c, filter_dims->h * filter_dims->w), quant->pot);
}

/* The any-shape path (its own function, so that the dispatch below keeps
 * the registers of the paths before it). */
static kwsq_status __attribute__((noinline))
any_path(bool s4, const kwsq_context *ctx, const kwsq_conv_params *params, const kwsq_quant_params *quant,
         const kwsq_dims *input_dims, const int8_t *input, const kwsq_dims *filter_dims, const uint8_t *filter,
         const int32_t *bias, const kwsq_dims *output_dims, int8_t *output)
{
    const dsp_out out = out_stage_of(params, quant, filter_dims, bias, output_dims->c);
    dsp_dw_any(s4, overlapped(params, input_dims, input, output_dims, output), params, &out, input_dims, input,
               filter_dims, filter, bias, output_dims, output, (int32_t *)ctx->buf);
    return KWSQ_OK;
}

/* dsp_dw3x3's stride-2 pass, if it takes the layer (false: it does not). */
static bool __attribute__((noinline))
planes_s2(bool s4, const kwsq_conv_params *params, const kwsq_quant_params *quant, const kwsq_dims *input_dims,
          const int8_t *input, const kwsq_dims *filter_dims, const uint8_t *filter, const int32_t *bias,
          const kwsq_dims *output_dims, int8_t *output)
{
    if (params->stride_w > 2 || params->stride_h > 2) {
        return false;
    }
    const dsp_out out = out_stage_of(params, quant, filter_dims, bias, output_dims->c);
    if (!dsp_dw3x3_s2_fits(params, input_dims, filter_dims, output_dims, &out)) {
        return false;
    }
    dsp_dw3x3(s4, params, &out, input_dims, input, filter, bias, output_dims, output);
    return true;
}

static inline __attribute__((always_inline)) kwsq_status
dsp_depthwise(bool s4, const kwsq_context *ctx, const kwsq_conv_params *params,
                             const kwsq_quant_params *quant, const kwsq_dims *input_dims, const int8_t *input,
                             const kwsq_dims *filter_dims, const uint8_t *filter, const int32_t *bias,
                             const kwsq_dims *output_dims, int8_t *output)
{
    const bool planes = KWSQ_MODEL_HAS(DW_3X3) && dsp_dw3x3_fits(params, input_dims, filter_dims, output_dims);
    const bool mult = params->depth_multiplier != 1;
    const bool any = (KWSQ_MODEL_HAS(DW_DM1_ANY) || KWSQ_MODEL_HAS(DW_MULT_CH)) && !planes &&
                     dsp_dw_any_ok(params, input_dims, filter_dims, output_dims);
    if (KWSQ_MODEL_HAS(DW_DM1_ANY) && !planes && params->depth_multiplier == 1 && filter_dims->h == 3 &&
        filter_dims->w == 3 && !overlapped(params, input_dims, input, output_dims, output)) {
        /* 3x3 with a stride of 2: the planes path's stride-2 pass, when its
         * output stage fits (and not overlapped: it writes channel block by
         * channel block) */
        if (planes_s2(s4, params, quant, input_dims, input, filter_dims, filter, bias, output_dims, output)) {
            return KWSQ_OK;
        }
    }
    if ((KWSQ_MODEL_HAS(DW_DM1_ANY) || KWSQ_MODEL_HAS(DW_MULT_CH)) && any &&
        (output_dims->w >= DW_ANY_MIN_ROW || !overlapped(params, input_dims, input, output_dims, output) ||
         !dw_fast(s4, false, params, input_dims, filter_dims, output_dims))) {
        return any_path(s4, ctx, params, quant, input_dims, input, filter_dims, filter, bias, output_dims, output);
    }
    if (!dw_fast(s4, planes, params, input_dims, filter_dims, output_dims)) {
        if (!KWSQ_MODEL_HAS(DW_GENERIC)) {
            return KWSQ_ERR_UNSUPPORTED;  /* Prepare refused it already (int8) */
        }
        return kwsq_ref_depthwise_conv(s4, ctx, params, quant, input_dims, input, filter_dims, filter, bias,
                                       output_dims, output);
    }
    const bool short_rq = short_ok(quant->shift, bias, output_dims->c, filter_dims->h * filter_dims->w);
    const dsp_out out = dsp_out_make(quant->multiplier, quant->shift, params->output_offset, params->act_min,
                                     params->act_max, short_rq, quant->pot);
    int8_t *x = (int8_t *)(uintptr_t)input;
    int8_t *y = output;
    if (planes) {
        dsp_dw3x3(s4, params, &out, input_dims, x, filter, bias, output_dims, y);
        return KWSQ_OK;
    }
    /* (the class guards are implied by dw_fast; spelled out, a path the
     * build leaves out is not even referenced) */
    if (!mult && KWSQ_MODEL_HAS(DW_DM1_ANY)) {
        int32_t rq[3 * DW_RQ_TABLE];
        const dw_data dd = {
            .p = {params->stride_w, params->stride_h, params->dilation_w, params->dilation_h, params->pad_w,
                  params->pad_h, params->input_offset, (const uint8_t *)filter, bias, filter_dims->h,
                  filter_dims->w},
            .out = out,
            .ring_rows = params->in_place ? params->pad_h + 1 : 0,
            .s4 = s4,
            .rq = fold_table(&out, output_dims->c, rq) ? rq : NULL,
        };
        const int32_t in_dims[4] = {input_dims->n, input_dims->h, input_dims->w, input_dims->c};
        const int32_t out_dims[4] = {output_dims->n, output_dims->h, output_dims->w, output_dims->c};
        uint8_t *buf = ctx->buf;
        const int32_t ring = (ring_bytes(params, output_dims) + 3) & ~3;
        eval_ch(&dd, x, y, in_dims, out_dims, dd.ring_rows > 0 ? (int8_t *)buf : NULL, buf + ring,
                s4 ? dw_ch4_s4 : dw_ch4);
        return KWSQ_OK;
    }
    if (mult && KWSQ_MODEL_HAS(DW_MULT)) {
        dsp_dw_mult(params, &out, input_dims, x, filter_dims, (const int8_t *)filter, bias, output_dims, y);
    }
    return KWSQ_OK;
}

kwsq_status dsp_depthwise_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                             const kwsq_quant_params *quant, const kwsq_dims *input_dims, const int8_t *input,
                             const kwsq_dims *filter_dims, const uint8_t *filter, const int32_t *bias,
                             const kwsq_dims *output_dims, int8_t *output)
{
    return dsp_depthwise(true, ctx, params, quant, input_dims, input, filter_dims, filter, bias, output_dims,
                         output);
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
