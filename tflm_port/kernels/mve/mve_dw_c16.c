/*
 * DEPTHWISE_CONV_2D with depth multiplier 1 and int8 weights for Cortex-M55
 * Helium, sixteen channels per pass, bit-exact with kernels/ref.
 *
 * Per tap: one 16-byte load of raw inputs, one of weights (rearranged once
 * per call into [channel group][tap][16]), VMULLB/VMULLT.S8 give the even
 * and odd channels' int16 products (exact: |x * w| <= 2^14), VMOVLB/VMOVLT
 * widen them into four int32x4 accumulators: 12 instructions per 16 MACs.
 * The input offset never touches a lane: it is folded per call into the
 * base bias[c] + offset * (sum of all taps' weights of c), and taps outside
 * the input read a row of zero-point bytes (zp + offset = 0), so every
 * pixel, border or not, runs the same full window.
 *
 * The accumulators hold channels {0,4,8,12}, {2,6,10,14}, {1,5,9,13},
 * {3,7,11,15} of the group; the per-call tables (base, multiplier, left and
 * right shift) are stored in that lane order, and after requantization
 * (mve_requant.h) saturating narrows VQMOVNB/VQMOVNT re-interleave the four
 * vectors into the 16 output bytes, so the activation clamp is one
 * VMAX/VMIN on int8 lanes.
 *
 * Writes go in increasing address order (pixel by pixel, groups ascending)
 * and a pixel reads only its own window's rows; in place (stride 1,
 * same-size output), rows still needed are kept in the reference ring.
 *
 * A depth multiplier dm > 1 (int8, dm not a multiple of 4, which
 * kwsq_depthwise_conv_s8.c serves by a multiply by a scalar) is a
 * multiplier-1 layer on an input whose every byte is repeated dm times: each
 * input row the window needs is expanded once into the scratch buffer (a
 * ring of window-height rows, one gather per 16 bytes when dm divides 16),
 * and the same passes run on the expanded rows.
 */
#include <arm_mve.h>
#include <stddef.h>
#include <string.h>

#include "kwsq_depthwise_conv_ref.h"
#include "mve_depthwise.h"
#include "mve_int4.h"
#include "mve_requant.h"

/* The per-call tables of the 16-channel path fit the stack limits. */
static bool c16_fits(int32_t ch, const kwsq_dims *f)
{
    const int32_t taps = f->h * f->w, padded = (ch + 15) & ~15;
    return taps <= MVE_DW_C16_MAX_TAPS && f->h <= MVE_DW_C16_MAX_TAPS && padded <= MVE_DW_C16_MAX_CH &&
           taps * padded <= MVE_DW_C16_MAX_WEIGHTS;
}

int32_t mve_dw_c16_expand_bytes(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f,
                                const kwsq_dims *out)
{
    const int32_t dm = d->depth_multiplier, ch = out->c;
    const int64_t window = (int64_t)(f->h - 1) * d->dilation_h + 1;
    if (dm <= 1 || dm % 4 == 0 || in->c * dm != ch || ch < 16 || window > MVE_DW_EXPAND_MAX_ROWS ||
        !c16_fits(ch, f)) {
        return 0;
    }
    const int64_t bytes = window * in->w * ch;
    return bytes <= 0x7FFFFFFF ? (int32_t)bytes : 0;
}

/* dst[i] = src[i / dm] for i < n * dm: a gather of 16 / dm bytes into 16
 * lanes per step when dm divides 16 (`rep`: lane j reads byte j / dm). */
static void expand_row(const int8_t *src, int32_t n, int32_t dm, uint8x16_t rep, int8_t *dst)
{
    const int32_t total = n * dm;
    if (16 % dm != 0) {
        for (int32_t i = 0; i < n; ++i) {
            memset(dst + i * dm, src[i], (size_t)dm);
        }
        return;
    }
    const int32_t step = 16 / dm;
    int32_t e = 0;
    for (; e + 16 <= total; e += 16, src += step) {
        vstrbq_s8(dst + e, vldrbq_gather_offset_s8(src, rep));
    }
    if (e < total) {
        const mve_pred16_t pr = vctp8q((uint32_t)(total - e));
        vstrbq_p_s8(dst + e, vldrbq_gather_offset_z_s8(src, rep, pr), pr);
    }
}

/* The lane of channel j of a group in the accumulator order above. */
static int32_t lane_of(int32_t j)
{
    /* even channels: j = 4k -> k, 4k + 2 -> 4 + k; odd: 4k + 1 -> 8 + k,
     * 4k + 3 -> 12 + k */
    return (j & 1) * 8 + ((j >> 1) & 1) * 4 + (j >> 2);
}

/* Taps in pairs (the list tp[], npair > 0 pairs, then the weights at w,
 * 16 per tap): the two taps' int16 products are summed before widening
 * (exact while no weight is -128: |x * w| <= 128 * 127, two fit in int16),
 * 23 instructions per 32 MACs. VMULLB/VMULLT.S8 may write one of their
 * sources (only the 32-bit forms may not), so q4 is reloaded for the second
 * product instead of needing a ninth register. */
#define MVE_DW_PAIRS(TP, W, G, N, A0, A1, A2, A3)                                                               \
    __asm__ volatile("dls lr, %[n]\n"                                                                           \
                     "1:\n\t"                                                                                  \
                     "ldrd %[p0], %[p1], [%[tp]], #8\n\t"                                                      \
                     "add %[p0], %[p0], %[g]\n\t"                                                              \
                     "add %[p1], %[p1], %[g]\n\t"                                                              \
                     "vldrb.8 q4, [%[p0]]\n\t"                                                                 \
                     "vldrb.8 q5, [%[w]], #16\n\t"                                                             \
                     "vmullb.s8 q6, q4, q5\n\t"                                                                \
                     "vmullt.s8 q7, q4, q5\n\t"                                                                \
                     "vldrb.8 q4, [%[p1]]\n\t"                                                                 \
                     "vldrb.8 q5, [%[w]], #16\n\t"                                                             \
                     "vmullb.s8 q4, q4, q5\n\t"                                                                \
                     "vadd.i16 q6, q6, q4\n\t"                                                                 \
                     "vldrb.8 q4, [%[p1]]\n\t"                                                                 \
                     "vmullt.s8 q4, q4, q5\n\t"                                                                \
                     "vadd.i16 q7, q7, q4\n\t"                                                                 \
                     "vmovlb.s16 q4, q6\n\t"                                                                   \
                     "vadd.i32 %q[a0], %q[a0], q4\n\t"                                                         \
                     "vmovlt.s16 q4, q6\n\t"                                                                   \
                     "vadd.i32 %q[a1], %q[a1], q4\n\t"                                                         \
                     "vmovlb.s16 q4, q7\n\t"                                                                   \
                     "vadd.i32 %q[a2], %q[a2], q4\n\t"                                                         \
                     "vmovlt.s16 q4, q7\n\t"                                                                   \
                     "vadd.i32 %q[a3], %q[a3], q4\n\t"                                                         \
                     "le lr, 1b\n"                                                                              \
                     : [a0] "+w"(A0), [a1] "+w"(A1), [a2] "+w"(A2), [a3] "+w"(A3), [tp] "+r"(TP), [w] "+r"(W), \
                       [p0] "=&r"(p0_), [p1] "=&r"(p1_)                                                         \
                     : [n] "r"(N), [g] "r"(G)                                                                   \
                     : "q4", "q5", "q6", "q7", "lr", "memory")

/* Single taps (n > 0): 15 instructions per 16 MACs. */
#define MVE_DW_SINGLES(TP, W, G, N, A0, A1, A2, A3)                                                             \
    __asm__ volatile("dls lr, %[n]\n"                                                                           \
                     "1:\n\t"                                                                                  \
                     "ldr %[p0], [%[tp]], #4\n\t"                                                              \
                     "add %[p0], %[p0], %[g]\n\t"                                                              \
                     "vldrb.8 q4, [%[p0]]\n\t"                                                                 \
                     "vldrb.8 q5, [%[w]], #16\n\t"                                                             \
                     "vmullb.s8 q6, q4, q5\n\t"                                                                \
                     "vmullt.s8 q7, q4, q5\n\t"                                                                \
                     "vmovlb.s16 q4, q6\n\t"                                                                   \
                     "vadd.i32 %q[a0], %q[a0], q4\n\t"                                                         \
                     "vmovlt.s16 q4, q6\n\t"                                                                   \
                     "vadd.i32 %q[a1], %q[a1], q4\n\t"                                                         \
                     "vmovlb.s16 q4, q7\n\t"                                                                   \
                     "vadd.i32 %q[a2], %q[a2], q4\n\t"                                                         \
                     "vmovlt.s16 q4, q7\n\t"                                                                   \
                     "vadd.i32 %q[a3], %q[a3], q4\n\t"                                                         \
                     "le lr, 1b\n"                                                                              \
                     : [a0] "+w"(A0), [a1] "+w"(A1), [a2] "+w"(A2), [a3] "+w"(A3), [tp] "+r"(TP), [w] "+r"(W), \
                       [p0] "=&r"(p0_)                                                                          \
                     : [n] "r"(N), [g] "r"(G)                                                                   \
                     : "q4", "q5", "q6", "q7", "lr", "memory")

/* The per-call record of one group of 16 channels, in accumulator lane
 * order: right shifts (<= 0) and left shifts as bytes (VLDRB.S32), then the
 * folded bases and the multipliers. One pointer reaches every field by an
 * immediate offset. */
typedef struct {
    int8_t rsh[16];
    int8_t lsh[16];
    int32_t base[16];
    int32_t mult[16];
} group_rec;

/* MVE_DW_STORE addresses the fields by these offsets */
typedef char group_rec_layout[offsetof(group_rec, rsh) == 0 && offsetof(group_rec, base) == 32 &&
                                      offsetof(group_rec, mult) == 96
                                  ? 1
                                  : -1];

/* Requantize accumulator k (lanes 4k..4k+3 of the record). */
#define MVE_DW_OUT(A, R, K, LEFT, OFF)                                                                        \
    vaddq_n_s32(mve_requant_r((LEFT) ? vshlq_s32((A), vldrbq_s32((R)->lsh + 4 * (K))) : (A),                  \
                              vldrwq_s32((R)->mult + 4 * (K)), vldrbq_s32((R)->rsh + 4 * (K))),                  \
                (OFF))

/* Requantize one vector of the group (right shifts only): multipliers at
 * record offset M, right shifts at R. */
#define MVE_DW_RQ(A, M, R)                                                                                     \
    "vldrw.32 q4, [%[r], #" #M "]\n\t"                                                                         \
    "vldrb.s32 q5, [%[r], #" #R "]\n\t"                                                                        \
    "vqrdmulh.s32 %q[" #A "], %q[" #A "], q4\n\t"                                                              \
    "vand q6, %q[" #A "], q5\n\t"                                                                              \
    "vshr.s32 q6, q6, #31\n\t"                                                                                 \
    "vqadd.s32 %q[" #A "], %q[" #A "], q6\n\t"                                                                 \
    "vrshl.s32 %q[" #A "], %q[" #A "], q5\n\t"                                                                 \
    "vadd.i32 %q[" #A "], %q[" #A "], %[off]\n\t"

/* The four accumulators of a full group with every shift <= 0: requantized
 * (group_rec offsets: rsh 0, base 32, mult 96), narrowed with saturation
 * into channel order (VQMOVNB/T), clamped as int8 and stored: 43
 * instructions per 16 outputs. */
#define MVE_DW_STORE(A0, A1, A2, A3, REC, OFF, LO, HI, Y)                                                     \
    __asm__ volatile(MVE_DW_RQ(a0, 96, 0) MVE_DW_RQ(a1, 112, 4) MVE_DW_RQ(a2, 128, 8) MVE_DW_RQ(a3, 144, 12)   \
                     "vqmovnb.s32 q4, %q[a0]\n\t"                                                              \
                     "vqmovnt.s32 q4, %q[a1]\n\t"                                                              \
                     "vqmovnb.s32 q5, %q[a2]\n\t"                                                              \
                     "vqmovnt.s32 q5, %q[a3]\n\t"                                                              \
                     "vqmovnb.s16 q6, q4\n\t"                                                                  \
                     "vqmovnt.s16 q6, q5\n\t"                                                                  \
                     "vdup.8 q7, %[lo]\n\t"                                                                    \
                     "vmax.s8 q6, q6, q7\n\t"                                                                  \
                     "vdup.8 q7, %[hi]\n\t"                                                                    \
                     "vmin.s8 q6, q6, q7\n\t"                                                                  \
                     "vstrb.8 q6, [%[y]]\n"                                                                    \
                     : [a0] "+w"(A0), [a1] "+w"(A1), [a2] "+w"(A2), [a3] "+w"(A3)                              \
                     : [r] "l"(REC), [off] "r"(OFF), [lo] "r"(LO), [hi] "r"(HI), [y] "r"(Y)                    \
                     : "q4", "q5", "q6", "q7", "memory")

/* One channel group of one output pixel: channels g .. g + 15 (`full`, a
 * constant) or g .. och - 1 (predicated: its input loads stop at the
 * tensor's end and its store at the last channel). tp[t] points at tap t's
 * input pixel (or the zero-point row); `pairs` taps are summed two at a
 * time; *w (the group's rearranged weights) is left after them. `left`:
 * some channel shifts left (a constant: instantiated both ways). */
static inline __attribute__((always_inline)) void group_c16(bool left, bool full, const uint32_t *tp, int32_t taps,
                                                            int32_t pairs, const int8_t **wp, const group_rec *rec,
                                                            int32_t g, int32_t och, int32_t out_off, int8x16_t lo,
                                                            int8x16_t hi, int32_t act_min, int32_t act_max,
                                                            int8_t *yp)
{
    const int8_t *w = *wp;
    int32x4_t a0 = vldrwq_s32(rec->base), a1 = vldrwq_s32(rec->base + 4);
    int32x4_t a2 = vldrwq_s32(rec->base + 8), a3 = vldrwq_s32(rec->base + 12);
    if (full) {
        const uint32_t *tpp = tp;
        const int8_t *p0_, *p1_;
        if (pairs > 0) {
            MVE_DW_PAIRS(tpp, w, g, pairs, a0, a1, a2, a3);
        }
        if (taps > 2 * pairs) {
            MVE_DW_SINGLES(tpp, w, g, taps - 2 * pairs, a0, a1, a2, a3);
        }
        (void)p1_;
    } else {
        const mve_pred16_t pr = vctp8q((uint32_t)(och - g));
        for (int32_t t = 0; t < taps; ++t) {
            const int8x16_t xv = vldrbq_z_s8((const int8_t *)tp[t] + g, pr), wv = vldrbq_s8(w);
            w += 16;
            const int16x8_t pe = vmullbq_int_s8(xv, wv), po = vmulltq_int_s8(xv, wv);
            a0 = vaddq_s32(a0, vmovlbq_s16(pe));
            a1 = vaddq_s32(a1, vmovltq_s16(pe));
            a2 = vaddq_s32(a2, vmovlbq_s16(po));
            a3 = vaddq_s32(a3, vmovltq_s16(po));
        }
    }
    *wp = w;
    if (full && !left) {
        /* requantize, re-interleave, clamp and store in assembly (the
         * intrinsics version spills the four accumulators) */
        int8_t *yg = yp + g;
        MVE_DW_STORE(a0, a1, a2, a3, rec, out_off, act_min, act_max, yg);
        return;
    }
    const int16x8_t he = vqmovntq_s32(vqmovnbq_s32(vuninitializedq_s16(), MVE_DW_OUT(a0, rec, 0, left, out_off)),
                                      MVE_DW_OUT(a1, rec, 1, left, out_off));
    const int16x8_t ho = vqmovntq_s32(vqmovnbq_s32(vuninitializedq_s16(), MVE_DW_OUT(a2, rec, 2, left, out_off)),
                                      MVE_DW_OUT(a3, rec, 3, left, out_off));
    int8x16_t b = vqmovntq_s16(vqmovnbq_s16(vuninitializedq_s8(), he), ho);
    b = vminq_s8(vmaxq_s8(b, lo), hi);
    if (full) {
        vstrbq_s8(yp + g, b);
    } else {
        vstrbq_p_s8(yp + g, b, vctp8q((uint32_t)(och - g)));
    }
}

/* One output pixel, all channel groups: the full ones, then a tail of 1-15
 * channels, which with 16 or more channels is a full group over the last 16
 * (its record and weights were built that way; the channels before the
 * tail are stored again with the same values). */
static inline __attribute__((always_inline)) void pixel_c16(bool left, const uint32_t *tp, int32_t taps,
                                                            int32_t pairs, const int8_t *wt, const group_rec *rec,
                                                            int32_t och, int32_t out_off, int8x16_t lo,
                                                            int8x16_t hi, int32_t act_min, int32_t act_max,
                                                            int8_t *yp)
{
    const int8_t *w = wt;
    int32_t g = 0;
    for (; g + 16 <= och; g += 16, ++rec) {
        group_c16(left, true, tp, taps, pairs, &w, rec, g, och, out_off, lo, hi, act_min, act_max, yp);
    }
    if (g < och) {
        if (och >= 16) {
            group_c16(left, true, tp, taps, pairs, &w, rec, och - 16, och, out_off, lo, hi, act_min, act_max, yp);
        } else {
            group_c16(left, false, tp, taps, pairs, &w, rec, g, och, out_off, lo, hi, act_min, act_max, yp);
        }
    }
}

/* Every output pixel; `wide` (a constant per instance): rows come expanded
 * from the scratch buffer xb (depth multiplier > 1). */
static inline __attribute__((always_inline)) void
pixels_body(bool wide, bool left, const kwsq_conv_params *d, const kwsq_dims *in, const int8_t *x,
            const kwsq_dims *f, const kwsq_dims *out, int8_t *y, const int8_t *wt, const group_rec *rec,
            const int8_t *zp_row, int8_t *ring, int8_t *xb, int32_t pairs)
{
    const int32_t in_h = in->h, in_w = in->w, ch = out->c, f_h = f->h, f_w = f->w, taps = f_h * f_w;
    const int32_t dil_w = d->dilation_w, row_bytes = in_w * ch, ring_rows = kwsq_ref_dw_ring_rows(d);
    /* dm > 1: rows expanded into `wide` (window rows of row_bytes), row iy in
     * slot iy % window, which held[] says */
    const int32_t dm = d->depth_multiplier, in_row = in_w * in->c, window = (f_h - 1) * d->dilation_h + 1;
    int32_t held[MVE_DW_EXPAND_MAX_ROWS];
    uint8_t rep_lanes[16];
    for (int32_t j = 0; wide && j < 16; ++j) {
        rep_lanes[j] = (uint8_t)(j / dm);
    }
    const uint8x16_t rep = wide ? vldrbq_u8(rep_lanes) : vdupq_n_u8(0);
    const int8x16_t lo = vdupq_n_s8((int8_t)d->act_min), hi = vdupq_n_s8((int8_t)d->act_max);
    const int32_t out_off = d->output_offset;
    /* tap pointers as 32-bit lanes, built four taps per vector: per output
     * row, base[t] = the tap's row + its column offset and xoff[t] = its
     * column (a huge value when its row is outside the image); per pixel,
     * a tap is inside when ix0 + xoff[t] < in_w (unsigned), else it points
     * at the zero-point row */
    uint32_t tp[MVE_DW_C16_MAX_TAPS], base[MVE_DW_C16_MAX_TAPS];
    int32_t xoff[MVE_DW_C16_MAX_TAPS];
    const uint32x4_t zpv = vdupq_n_u32((uint32_t)(uintptr_t)zp_row), wv = vdupq_n_u32((uint32_t)in_w);
    const int32_t chunks = (taps + 3) / 4;
    /* the lanes of the last chunk past the last tap */
    for (int32_t t = taps; t < 4 * chunks; ++t) {
        base[t] = 0;
        xoff[t] = 0;
    }
    int8_t *yp = y;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in_h * in_row;
        for (int32_t k = 0; wide && k < window; ++k) {
            held[k] = -1;
        }
        for (int32_t oy = 0; oy < out->h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            if (ring != NULL) {
                memcpy(ring + (oy % ring_rows) * row_bytes, img + (int64_t)oy * row_bytes, (size_t)row_bytes);
            }
            for (int32_t fy = 0, t = 0; fy < f_h; ++fy) {
                const int32_t iy = iy0 + d->dilation_h * fy;
                const int8_t *row = iy < 0 || iy >= in_h ? NULL
                                    : ring != NULL && iy <= oy ? ring + (iy % ring_rows) * row_bytes
                                                               : img + (int64_t)iy * row_bytes;
                if (wide && row != NULL) {
                    int8_t *slot = xb + (iy % window) * row_bytes;
                    if (held[iy % window] != iy) {
                        expand_row(img + (int64_t)iy * in_row, in_row, dm, rep, slot);
                        held[iy % window] = iy;
                    }
                    row = slot;
                }
                for (int32_t fx = 0; fx < f_w; ++fx, ++t) {
                    base[t] = row != NULL ? (uint32_t)(uintptr_t)row + (uint32_t)(fx * dil_w * ch) : 0;
                    xoff[t] = row != NULL ? fx * dil_w : 0x40000000;
                }
            }
            for (int32_t ox = 0; ox < out->w; ++ox) {
                const int32_t ix0 = ox * d->stride_w - d->pad_w;
                for (int32_t k = 0; k < chunks; ++k) {
                    const uint32x4_t ix = vreinterpretq_u32_s32(vaddq_n_s32(vldrwq_s32(xoff + 4 * k), ix0));
                    const uint32x4_t ptr = vaddq_n_u32(vldrwq_u32(base + 4 * k), (uint32_t)(ix0 * ch));
                    vstrwq_u32(tp + 4 * k, vpselq_u32(ptr, zpv, vcmphiq_u32(wv, ix)));
                }
                if (left) {
                    pixel_c16(true, tp, taps, pairs, wt, rec, ch, out_off, lo, hi, d->act_min, d->act_max, yp);
                } else {
                    pixel_c16(false, tp, taps, pairs, wt, rec, ch, out_off, lo, hi, d->act_min, d->act_max, yp);
                }
                yp += ch;
            }
        }
    }
}

/* Not inlined, so the caller's stack tables do not hold a frame pointer. */
static __attribute__((noinline)) void pixels_c16(bool left, const kwsq_conv_params *d, const kwsq_dims *in,
                                                 const int8_t *x, const kwsq_dims *f, const kwsq_dims *out, int8_t *y,
                                                 const int8_t *wt, const group_rec *rec, const int8_t *zp_row,
                                                 int8_t *ring, int32_t pairs)
{
    pixels_body(false, left, d, in, x, f, out, y, wt, rec, zp_row, ring, NULL, pairs);
}

static __attribute__((noinline)) void pixels_c16_wide(bool left, const kwsq_conv_params *d, const kwsq_dims *in,
                                                      const int8_t *x, const kwsq_dims *f, const kwsq_dims *out,
                                                      int8_t *y, const int8_t *wt, const group_rec *rec,
                                                      const int8_t *zp_row, int8_t *xb, int32_t pairs)
{
    pixels_body(true, left, d, in, x, f, out, y, wt, rec, zp_row, NULL, xb, pairs);
}

bool mve_depthwise_c16(bool s4, const kwsq_context *ctx, const kwsq_conv_params *d, const kwsq_quant_params *q,
                       const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const uint8_t *w,
                       const int32_t *bias, const kwsq_dims *out, int8_t *y)
{
    const int32_t ch = out->c, taps = f->h * f->w;
    const int32_t padded = (ch + 15) & ~15;
    int8_t *wide = NULL;
    if (d->depth_multiplier != 1) {
        const int32_t need = s4 || d->depth_multiplier % 4 == 0 ? 0 : mve_dw_c16_expand_bytes(d, in, f, out);
        if (need == 0 || ctx->buf == NULL || ctx->size < need) {
            return false;
        }
        wide = ctx->buf;
    } else if (in->c != ch || !c16_fits(ch, f) || (!s4 && ch < MVE_DW_C16_MIN_CH)) {
        return false;
    }
    int8_t wt[taps * padded];
    group_rec rec[padded / 16];
    int8_t zp_row[padded];
    memset(zp_row, -d->input_offset, (size_t)padded);
    int32_t wmin = 0;
    bool left = false;
    /* weights rearranged 16 bytes at a time (zeros past the last channel),
     * a tap's row of packed int4 weights widened first */
    int8_t row4[s4 ? ((ch + 32) & ~31) : 1] __attribute__((aligned(16)));
    for (int32_t t = 0; t < taps; ++t) {
        const int8_t *row = (const int8_t *)w + t * ch;
        if (s4) {
            mve_widen_s4(w, (int64_t)t * ch, ch, row4);
            row = row4;
        }
        for (int32_t g = 0; g < padded; g += 16) {
            /* the last group over the last 16 channels when there are >= 16 */
            const int32_t gs = g + 16 <= ch || ch < 16 ? g : ch - 16;
            const int8x16_t v = vldrbq_z_s8(row + gs, vctp8q((uint32_t)(ch - gs)));
            vstrbq_s8(wt + g * taps + t * 16, v);
            wmin = vminvq_s8((int8_t)wmin, v);
        }
    }
    for (int32_t g = 0; g < padded; g += 16) {
        /* the tap sums in int16 lanes (|sum| <= 64 * 128) */
        int16x8_t se = vdupq_n_s16(0), so = vdupq_n_s16(0);
        for (int32_t t = 0; t < taps; ++t) {
            const int8x16_t v = vldrbq_s8(wt + g * taps + t * 16);
            se = vaddq_s16(se, vmovlbq_s8(v));
            so = vaddq_s16(so, vmovltq_s8(v));
        }
        int16_t sums[16];
        vstrhq_s16(sums, se);
        vstrhq_s16(sums + 8, so);
        group_rec *r = &rec[g / 16];
        for (int32_t j = 0; j < 16; ++j) {
            const int32_t c = (g + 16 <= ch || ch < 16 ? g : ch - 16) + j, lane = lane_of(j);
            const int32_t s = c < ch ? q->shift[c] : 0;
            const int32_t sum = sums[(j & 1) * 8 + (j >> 1)];
            r->base[lane] = c < ch ? (bias != NULL ? bias[c] : 0) + d->input_offset * sum : 0;
            r->mult[lane] = c < ch ? q->multiplier[c] : 0;
            r->lsh[lane] = (int8_t)(s > 0 ? s : 0);
            r->rsh[lane] = (int8_t)(s < 0 ? s : 0);
            left = left || s > 0;
        }
    }
    const int32_t ring_rows = kwsq_ref_dw_ring_rows(d);
    /* pairs of int16 products are exact only without -128 weights */
    const int32_t pairs = wmin > -128 ? taps / 2 : 0;
    if (wide != NULL) {
        pixels_c16_wide(left, d, in, x, f, out, y, wt, rec, zp_row, wide, pairs);
    } else {
        pixels_c16(left, d, in, x, f, out, y, wt, rec, zp_row, ring_rows > 0 ? ctx->buf : NULL, pairs);
    }
    return true;
}
