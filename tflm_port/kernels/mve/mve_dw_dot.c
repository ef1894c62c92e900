/*
 * DEPTHWISE_CONV_2D with int8 weights for Cortex-M55 Helium, one output
 * channel at a time as dot products over the window, bit-exact with
 * kernels/ref.
 *
 * The 16-channel path (mve_dw_c16.c) puts channels in lanes, so every tap
 * costs a widening of int16 products into int32 accumulators, and layers
 * with few or odd channel counts waste lanes. Here the lanes are taps: the
 * input rows a window needs are kept channel-planar in the scratch buffer
 * (per input channel, window-height slots of a padded row; a row outside
 * the input is a slot of zero-point bytes), so one pixel of one channel is
 * a byte gather of up to 16 taps (VLDRB with a vector of 8-bit offsets into
 * the channel's plane) and one VMLAV.S8 against the channel's weights,
 * whatever the channel count, stride or depth multiplier (output channel c
 * reads input channel c / dm's plane). The sums of four channels of a pixel
 * are moved into one vector and requantized with per-call records (bases,
 * multipliers, shifts): 32 instructions per four channels of a 3x3 window
 * (MVE_DW_DOT_QUADS), against 12 per 16 MACs plus 43 per 16 outputs there.
 *
 * Input offset: taps read raw bytes; the offset is folded per call into the
 * base bias[c] + offset * (sum of c's weights), and padding reads bytes
 * equal to the zero point (x + offset = 0), so borders need no test.
 *
 * Row order (kwsq_overlap.h): output rows are finished one at a time in
 * increasing order; an output row's window rows are copied into the planes
 * before any of its outputs is written, and only rows from the window's
 * first on, so in place (stride 1, same size) and overlapped placements
 * read every input byte before it is overwritten.
 */
#include <arm_mve.h>
#include <stddef.h>
#include <string.h>

#include "mve_depthwise.h"
#include "mve_requant.h"

/* held[] of a slot filled with zero points */
#define DOT_ZERO_ROW (-2)

/* The geometry of a layer on this path (see mve_dw_dot_bytes). */
typedef struct {
    int32_t window; /* input rows a window spans */
    int32_t wp;     /* bytes of one padded plane row */
    int32_t plane;  /* bytes of one channel's plane: window rows */
    int32_t chunks; /* 16-tap groups */
} dot_geom;

static bool dot_geom_of(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out,
                        dot_geom *g)
{
    const int32_t taps = f->h * f->w;
    if (d->depth_multiplier < 1 || in->c * d->depth_multiplier != out->c || taps < 1 || f->h > 64 || f->w > 64 ||
        d->dilation_h < 1 || d->dilation_w < 1 || d->stride_w < 1 || d->stride_h < 1 || d->pad_w < 0 ||
        d->pad_h < 0 || out->w < 1) {
        return false;
    }
    g->chunks = (taps + 15) / 16;
    const int64_t window = (int64_t)(f->h - 1) * d->dilation_h + 1;
    const int64_t span = (int64_t)(out->w - 1) * d->stride_w + (int64_t)(f->w - 1) * d->dilation_w + 1;
    const int64_t wp = span > (int64_t)in->w + d->pad_w ? span : (int64_t)in->w + d->pad_w;
    if (g->chunks > MVE_DW_DOT_MAX_CHUNKS || window > 64 || window * wp > 256 ||
        (int64_t)out->c * g->chunks * 16 > MVE_DW_DOT_MAX_WEIGHTS) {
        return false;
    }
    g->window = (int32_t)window;
    g->wp = (int32_t)wp;
    g->plane = (int32_t)(window * wp);
    return true;
}

int32_t mve_dw_dot_bytes(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out)
{
    dot_geom g;
    if (!mve_dw_dot_wanted(d, out) || !dot_geom_of(d, in, f, out, &g)) {
        return 0;
    }
    const int64_t bytes = (int64_t)in->c * g.plane;
    return bytes <= 0x7FFFFFFF ? (int32_t)bytes : 0;
}

/* Input row `src` (w pixels of c channels) into row `dst` of every channel's
 * plane (planes `plane` bytes apart): per pixel, eight channels widened to
 * 16-bit lanes and scattered (narrowing) a plane apart; with fewer than 8
 * channels, per channel, eight pixels gathered at the channel stride. */
static void plane_row(const int8_t *src, int32_t w, int32_t c, int32_t plane, int8_t *dst)
{
    if (c >= 8) {
        const uint16x8_t at = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)plane);
        for (int32_t ix = 0; ix < w; ++ix, ++dst) {
            int8_t *o = dst;
            int32_t k = 0;
            for (; k + 8 <= c; k += 8, src += 8, o += 8 * plane) {
                vstrbq_scatter_offset_s16(o, at, vldrbq_s16(src));
            }
            if (k < c) {
                const mve_pred16_t pr = vctp16q((uint32_t)(c - k));
                vstrbq_scatter_offset_p_s16(o, at, vldrbq_z_s16(src, pr), pr);
                src += c - k;
            }
        }
        return;
    }
    const uint16x8_t at = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)c);
    for (int32_t k = 0; k < c; ++k) {
        int8_t *o = dst + k * plane;
        for (int32_t ix = 0; ix < w; ix += 8) {
            const mve_pred16_t pr = vctp16q((uint32_t)(w - ix));
            vstrbq_p_s16(o + ix, vldrbq_gather_offset_z_s16(src + ix * c + k, at, pr), pr);
        }
    }
}

/* The interior of row `at` of every channel's plane set to the zero point
 * (a window row outside the input). */
static void plane_zero(int8_t *ring, int32_t c, int32_t plane, int32_t at, int32_t w, int8_t zp)
{
    const int8x16_t v = vdupq_n_s8(zp);
    for (int32_t i = 0; i < w; i += 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)(w - i));
        int8_t *o = ring + at + i;
        for (int32_t k = 0; k < c; ++k, o += plane) {
            vstrbq_p_s8(o, v, pr);
        }
    }
}

/* The sum of one pixel of one channel: taps of plane p at offsets o (one
 * chunk) or offs (chunks of 16), weights at wt. */
static inline __attribute__((always_inline)) int32_t dot(int32_t chunks, const int8_t *p, uint8x16_t o,
                                                         const uint8_t *offs, const int8_t *wt)
{
    if (chunks == 1) {
        return vmladavq_s8(vldrbq_gather_offset_s8(p, o), vldrbq_s8(wt));
    }
    int32_t s = 0;
    for (int32_t k = 0; k < chunks; ++k) {
        s = vmladavaq_s8(s, vldrbq_gather_offset_s8(p, vldrbq_u8(offs + 16 * k)), vldrbq_s8(wt + 16 * k));
    }
    return s;
}

/* N (> 0) groups of four channels of one pixel, multiplier 1, one 16-tap
 * group, no left shifts: per channel a gather at P (then P += PL), a weight
 * load and VMLAV into r0/r2/r4/r6 (VMLAV writes even registers), the four
 * sums moved into q2 and requantized with the record at R (40 bytes per
 * group), clamped and stored at Y: 32 instructions per 4 channels. */
#define MVE_DW_DOT_QUADS(P, W, PL, R, Y, N, O, OFF, LO, HI)                                                   \
    __asm__ volatile("dls lr, %[n]\n"                                                                        \
                     "1:\n\t"                                                                               \
                     "vldrb.u8 q0, [%[p], %q[o]]\n\t"                                                        \
                     "vldrb.8 q1, [%[w]], #16\n\t"                                                           \
                     "add %[p], %[p], %[pl]\n\t"                                                             \
                     "vmlav.s8 r0, q0, q1\n\t"                                                               \
                     "vldrb.u8 q0, [%[p], %q[o]]\n\t"                                                        \
                     "vldrb.8 q1, [%[w]], #16\n\t"                                                           \
                     "add %[p], %[p], %[pl]\n\t"                                                             \
                     "vmlav.s8 r2, q0, q1\n\t"                                                               \
                     "vldrb.u8 q0, [%[p], %q[o]]\n\t"                                                        \
                     "vldrb.8 q1, [%[w]], #16\n\t"                                                           \
                     "add %[p], %[p], %[pl]\n\t"                                                             \
                     "vmlav.s8 r4, q0, q1\n\t"                                                               \
                     "vldrb.u8 q0, [%[p], %q[o]]\n\t"                                                        \
                     "vldrb.8 q1, [%[w]], #16\n\t"                                                           \
                     "add %[p], %[p], %[pl]\n\t"                                                             \
                     "vmlav.s8 r6, q0, q1\n\t"                                                               \
                     "vmov q2[2], q2[0], r0, r4\n\t"                                                         \
                     "vmov q2[3], q2[1], r2, r6\n\t"                                                         \
                     "vldrw.u32 q3, [%[r], #16]\n\t"                                                         \
                     "vldrb.s32 q4, [%[r], #32]\n\t"                                                         \
                     "vldrw.u32 q1, [%[r]], #40\n\t"                                                         \
                     "vadd.i32 q2, q2, q1\n\t"                                                               \
                     "vqrdmulh.s32 q2, q2, q3\n\t"                                                           \
                     "vand q0, q2, q4\n\t"                                                                   \
                     "vshr.s32 q0, q0, #31\n\t"                                                              \
                     "vqadd.s32 q2, q2, q0\n\t"                                                              \
                     "vrshl.s32 q2, q2, q4\n\t"                                                              \
                     "vadd.i32 q2, q2, %[off]\n\t"                                                           \
                     "vmax.s32 q2, q2, %q[lo]\n\t"                                                           \
                     "vmin.s32 q2, q2, %q[hi]\n\t"                                                           \
                     "vstrb.32 q2, [%[y]], #4\n\t"                                                           \
                     "le lr, 1b\n"                                                                           \
                     : [p] "+r"(P), [w] "+r"(W), [r] "+l"(R), [y] "+l"(Y)                                   \
                     : [n] "r"(N), [pl] "r"(PL), [o] "w"(O), [off] "r"(OFF), [lo] "w"(LO), [hi] "w"(HI)     \
                     : "r0", "r2", "r4", "r6", "q0", "q1", "q2", "q3", "q4", "lr", "memory")

/* The same with two 16-tap groups (offsets O and O1): per channel two
 * gathers, two weight loads, VMLAV and VMLAVA, the sums in r6/r8/r10/r12:
 * 44 instructions per 4 channels of a 5x5 window. */
#define MVE_DW_DOT_QUADS2(P, W, PL, R, Y, N, O, O1, OFF, LO, HI)                                              \
    __asm__ volatile("dls lr, %[n]\n"                                                                        \
                     "1:\n\t" MVE_DW_DOT2("r6") MVE_DW_DOT2("r8") MVE_DW_DOT2("r10") MVE_DW_DOT2("r12")     \
                     MVE_RQ4_ASM_R6_R12                                                                      \
                     "le lr, 1b\n"                                                                           \
                     : [p] "+r"(P), [w] "+r"(W), [r] "+l"(R), [y] "+l"(Y)                                   \
                     : [n] "r"(N), [pl] "r"(PL), [o] "w"(O), [o1] "w"(O1), [off] "r"(OFF), [lo] "w"(LO),    \
                       [hi] "w"(HI)                                                                          \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "q2", "lr", "memory")
#define MVE_DW_DOT2(R)                                                                                         \
    "vldrb.u8 q0, [%[p], %q[o]]\n\t" "vldrb.8 q1, [%[w]], #16\n\t" "vmlav.s8 " R ", q0, q1\n\t"                   \
    "vldrb.u8 q0, [%[p], %q[o1]]\n\t" "vldrb.8 q1, [%[w]], #16\n\t" "vmlava.s8 " R ", q0, q1\n\t"                \
    "add %[p], %[p], %[pl]\n\t"

/* One output pixel, every channel, four per vector: p = the pixel's first
 * tap column in plane 0; output channel c reads plane poff[c] (dm1: c, the
 * planes `plane` bytes apart). */
static inline __attribute__((always_inline)) void pixel_dot(int32_t chunks, bool left, bool dm1, int32_t och,
                                                            const int8_t *p, int32_t plane, const int32_t *poff,
                                                            uint8x16_t o, const uint8_t *offs, const int8_t *wt,
                                                            int32_t cw, const mve_rq4 *r, int32_t out_off,
                                                            int32x4_t lo, int32x4_t hi, int8_t *y)
{
    int32_t c = 0;
    if (chunks == 1 && dm1 && !left && och >= 4) {
        c = och & ~3;
        MVE_DW_DOT_QUADS(p, wt, plane, r, y, och / 4, o, out_off, lo, hi);
    } else if (chunks == 2 && dm1 && !left && och >= 4) {
        c = och & ~3;
        MVE_DW_DOT_QUADS2(p, wt, plane, r, y, och / 4, o, vldrbq_u8(offs + 16), out_off, lo, hi);
    }
    for (; c + 4 <= och; c += 4, wt += 4 * cw, y += 4, ++r) {
        int32_t s0, s1, s2, s3;
        if (dm1) {
            s0 = dot(chunks, p, o, offs, wt);
            s1 = dot(chunks, p + plane, o, offs, wt + cw);
            s2 = dot(chunks, p + 2 * plane, o, offs, wt + 2 * cw);
            s3 = dot(chunks, p + 3 * plane, o, offs, wt + 3 * cw);
            p += 4 * plane;
        } else {
            s0 = dot(chunks, p + poff[c], o, offs, wt);
            s1 = dot(chunks, p + poff[c + 1], o, offs, wt + cw);
            s2 = dot(chunks, p + poff[c + 2], o, offs, wt + 2 * cw);
            s3 = dot(chunks, p + poff[c + 3], o, offs, wt + 3 * cw);
        }
        int32x4_t v = vdupq_n_s32(s0);
        v = vsetq_lane_s32(s1, v, 1);
        v = vsetq_lane_s32(s2, v, 2);
        v = vsetq_lane_s32(s3, v, 3);
        mve_rq4_out(left, v, r, 4, out_off, lo, hi, y);
    }
    if (c < och) {
        int32_t t[4] __attribute__((aligned(16))) = {0, 0, 0, 0};
        for (int32_t j = 0; c + j < och; ++j, wt += cw) {
            t[j] = dot(chunks, dm1 ? p + j * plane : p + poff[c + j], o, offs, wt);
        }
        mve_rq4_out(left, vldrwq_s32(t), r, och - c, out_off, lo, hi, y);
    }
}

/* Every output pixel (chunks, left, dm1: constants per instance). */
static inline __attribute__((always_inline)) void rows_dot(int32_t chunks, bool left, bool dm1,
                                                           const kwsq_conv_params *d, const kwsq_dims *in,
                                                           const int8_t *x, const kwsq_dims *f,
                                                           const kwsq_dims *out, int8_t *y, const dot_geom *g,
                                                           int8_t *ring, const int32_t *poff, const int8_t *wt,
                                                           const mve_rq4 *r)
{
    const int32_t in_h = in->h, in_w = in->w, in_c = in->c, out_w = out->w, och = out->c, wp = g->wp;
    const int32_t window = g->window, sw = d->stride_w, dil_w = d->dilation_w, cw = 16 * chunks;
    const int32x4_t lo = vdupq_n_s32(d->act_min), hi = vdupq_n_s32(d->act_max);
    int32_t held[64];
    uint8_t offs[MVE_DW_DOT_MAX_CHUNKS * 16] __attribute__((aligned(16)));
    const int32_t row_in = in_w * in_c;
    int8_t *yp = y;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in_h * row_in;
        for (int32_t k = 0; k < window; ++k) {
            held[k] = -1;
        }
        for (int32_t oy = 0; oy < out->h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            memset(offs, 0, sizeof offs);
            for (int32_t fy = 0, t = 0; fy < f->h; ++fy) {
                const int32_t iy = iy0 + fy * d->dilation_h;
                /* the window's rows fall in distinct slots; a row outside
                 * the input takes its slot as a row of zero points (that
                 * slot's row is outside this window, so no longer needed) */
                const int32_t slot = (iy % window + window) % window;
                if (iy >= 0 && iy < in_h) {
                    if (held[slot] != iy) {
                        plane_row(img + (int64_t)iy * row_in, in_w, in_c, g->plane, ring + slot * wp + d->pad_w);
                        held[slot] = iy;
                    }
                } else if (held[slot] != DOT_ZERO_ROW) {
                    plane_zero(ring, in_c, g->plane, slot * wp + d->pad_w, in_w, (int8_t)-d->input_offset);
                    held[slot] = DOT_ZERO_ROW;
                }
                for (int32_t fx = 0; fx < f->w; ++fx, ++t) {
                    offs[t] = (uint8_t)(slot * wp + fx * dil_w);
                }
            }
            const uint8x16_t o = vldrbq_u8(offs);
            for (int32_t ox = 0; ox < out_w; ++ox, yp += och) {
                pixel_dot(chunks, left, dm1, och, ring + ox * sw, g->plane, poff, o, offs, wt, cw, r,
                          d->output_offset, lo, hi, yp);
            }
        }
    }
}

static __attribute__((noinline)) void rows_c1(bool left, bool dm1, const kwsq_conv_params *d, const kwsq_dims *in,
                                              const int8_t *x, const kwsq_dims *f, const kwsq_dims *out, int8_t *y,
                                              const dot_geom *g, int8_t *ring, const int32_t *poff,
                                              const int8_t *wt, const mve_rq4 *r)
{
    if (left) {
        rows_dot(1, true, false, d, in, x, f, out, y, g, ring, poff, wt, r);
    } else if (dm1) {
        rows_dot(1, false, true, d, in, x, f, out, y, g, ring, poff, wt, r);
    } else {
        rows_dot(1, false, false, d, in, x, f, out, y, g, ring, poff, wt, r);
    }
}

static __attribute__((noinline)) void rows_cn(bool left, bool dm1, const kwsq_conv_params *d,
                                              const kwsq_dims *in, const int8_t *x, const kwsq_dims *f,
                                              const kwsq_dims *out, int8_t *y, const dot_geom *g, int8_t *ring,
                                              const int32_t *poff, const int8_t *wt, const mve_rq4 *r)
{
    if (g->chunks == 2 && !left && dm1) {
        rows_dot(2, false, true, d, in, x, f, out, y, g, ring, poff, wt, r);
    } else {
        rows_dot(g->chunks, true, false, d, in, x, f, out, y, g, ring, poff, wt, r);
    }
}

bool mve_depthwise_dot(const kwsq_context *ctx, const kwsq_conv_params *d, const kwsq_quant_params *q,
                       const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const int8_t *w,
                       const int32_t *bias, const kwsq_dims *out, int8_t *y)
{
    dot_geom g;
    if (!mve_dw_dot_wanted(d, out) || !dot_geom_of(d, in, f, out, &g) || ctx->buf == NULL ||
        ctx->size < in->c * g.plane) {
        return false;
    }
    const int32_t och = out->c, taps = f->h * f->w, cw = 16 * g.chunks, dm = d->depth_multiplier;
    const int32_t quads = (och + 3) / 4;
    /* weights per channel, 16 lanes per tap group (zeros past the last tap),
     * the records (folded bases from the weights' sums) and each channel's
     * plane */
    int8_t wt[och * cw] __attribute__((aligned(16)));
    mve_rq4 rec[quads];
    int32_t poff[4 * quads];
    /* weights: the 16 channels of a tap per load, scattered cw bytes apart
     * (8-bit offsets when cw is 16, else 16-bit in two halves); the lanes
     * past the last tap stay zero */
    for (int32_t i = 0; i < och * cw; i += 16) {
        vstrbq_s8(wt + i, vdupq_n_s8(0));
    }
    const uint8x16_t at8 = vmulq_n_u8(vidupq_n_u8(0, 1), 16);
    const uint16x8_t at16 = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)cw);
    for (int32_t t = 0; t < taps; ++t) {
        const int8_t *src = w + (int64_t)t * och;
        int8_t *dst = wt + t;
        for (int32_t c = 0; c < och; c += 16, src += 16, dst += 16 * cw) {
            if (cw == 16) {
                const mve_pred16_t pr = vctp8q((uint32_t)(och - c));
                vstrbq_scatter_offset_p_s8(dst, at8, vldrbq_z_s8(src, pr), pr);
            } else {
                for (int32_t h = 0; h < 16 && c + h < och; h += 8) {
                    const mve_pred16_t pr = vctp16q((uint32_t)(och - c - h));
                    vstrbq_scatter_offset_p_s16(dst + h * cw, at16, vldrbq_z_s16(src + h, pr), pr);
                }
            }
        }
    }
    /* the records and the channels' planes, four channels at a time */
    int32_t sums[4] __attribute__((aligned(16)));
    int32_t most = 0;
    for (int32_t k = 0; k < quads; ++k) {
        const int32_t c = 4 * k;
        for (int32_t j = 0; j < 4; ++j) {
            int32_t sum = 0;
            for (int32_t t = 0; c + j < och && t < cw; t += 16) {
                sum = vaddvaq_s8(sum, vldrbq_s8(wt + (c + j) * cw + t));
            }
            sums[j] = sum;
        }
        const int32_t sh = mve_rq4_fill(&rec[k], bias, q->multiplier, q->shift, c, och, vldrwq_s32(sums),
                                        d->input_offset);
        most = sh > most ? sh : most;
        for (int32_t j = 0; j < 4; ++j) {
            poff[c + j] = c + j < och ? ((c + j) / dm) * g.plane : 0;
        }
    }
    const bool left = most > 0;
    int8_t *ring = ctx->buf;
    memset(ring, -d->input_offset, (size_t)(in->c * g.plane));
    if (g.chunks == 1) {
        rows_c1(left, dm == 1, d, in, x, f, out, y, &g, ring, poff, wt, rec);
    } else {
        rows_cn(left, dm == 1, d, in, x, f, out, y, &g, ring, poff, wt, rec);
    }
    return true;
}
