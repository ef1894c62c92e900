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

/* Planes and weight slots go in the order 0, 2, 1, 3 within each group of
 * four channels (bits 0 and 1 swapped), so the loops that take the channels
 * of a group one after the other get the sums of channels 0 and 2 first:
 * those fill lanes 0 and 2 of the group's vector in one VMOV and free their
 * registers before channels 1 and 3 are summed. */
static inline int32_t dot_slot(int32_t c)
{
    return (c & ~3) | ((c & 1) << 1) | ((c >> 1) & 1);
}

/* dot_slot of lanes 0-7 */
static inline uint16x8_t slots16(void)
{
    const uint16x8_t lane = vidupq_n_u16(0, 1);
    return vorrq_u16(vorrq_u16(vandq_u16(lane, vdupq_n_u16(4)), vshlq_n_u16(vandq_u16(lane, vdupq_n_u16(1)), 1)),
                     vshrq_n_u16(vandq_u16(lane, vdupq_n_u16(2)), 1));
}

/* The geometry of a layer on this path (see mve_dw_dot_bytes). */
typedef struct {
    int32_t window; /* input rows a window spans */
    int32_t rows;   /* rows a plane holds: the window, or the window and one
                     * stride (two output rows' windows, vertical pairs) */
    int32_t wp;     /* bytes of one padded plane row */
    int32_t plane;  /* bytes of one channel's plane: rows x wp */
    int32_t planes; /* input channels rounded up to a group of four */
    int32_t chunks; /* 16-tap groups */
} dot_geom;

static bool dot_geom_of(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out,
                        dot_geom *g)
{
    const int32_t taps = f->h * f->w;
    if (d->depth_multiplier < 1 || in->c * d->depth_multiplier != out->c || taps < 1 || f->h > 64 || f->w > 64 ||
        d->dilation_h < 1 || d->dilation_w < 1 || d->stride_w < 1 || d->stride_h < 1 || d->pad_w < 0 ||
        d->pad_h < 0 || out->w < 1 || in->c < 1) {
        return false;
    }
    g->chunks = (taps + 15) / 16;
    const int64_t window = (int64_t)(f->h - 1) * d->dilation_h + 1;
    const int64_t span = (int64_t)(out->w - 1) * d->stride_w + (int64_t)(f->w - 1) * d->dilation_w + 1;
    const int64_t wp = span > (int64_t)in->w + d->pad_w ? span : (int64_t)in->w + d->pad_w;
    if (g->chunks > MVE_DW_DOT_MAX_CHUNKS || window > 64 || window * wp > 256 ||
        (int64_t)(out->c + 3) / 4 * 4 * g->chunks * 16 > MVE_DW_DOT_MAX_WEIGHTS) {
        return false;
    }
    g->window = (int32_t)window;
    g->wp = (int32_t)wp;
    /* odd widths leave a pixel per row out of the horizontal pairs: with one
     * more stride of rows held, two output rows run as vertical pairs */
    const int64_t rows = window + d->stride_h;
    g->rows = d->depth_multiplier == 1 && g->chunks <= 2 && out->w % 2 == 1 && out->h >= 2 && rows <= 64 &&
                      rows * wp <= 256
                  ? (int32_t)rows
                  : (int32_t)window;
    g->plane = g->rows * g->wp;
    g->planes = (in->c + 3) & ~3;
    return true;
}

int32_t mve_dw_dot_bytes(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out)
{
    dot_geom g;
    if (!dot_geom_of(d, in, f, out, &g)) {
        return 0;
    }
    const int64_t bytes = (int64_t)g.planes * g.plane;
    return bytes <= 0x7FFFFFFF ? (int32_t)bytes : 0;
}

/* Input row `src` (w pixels of c channels) into row `dst` of every channel's
 * plane (channel k's plane dot_slot(k) planes on): per group of eight
 * channels, per pixel, the eight widened to 16-bit lanes and scattered
 * (narrowing) to their planes (offsets `at`: lane l to plane dot_slot(l));
 * with fewer than 8 channels, per channel, eight pixels gathered at the
 * channel stride (offsets `at`: lane l, byte l * c) per pass of a
 * tail-predicated loop. */
static void plane_row(const int8_t *src, int32_t w, int32_t c, int32_t plane, uint16x8_t at, int8_t *dst)
{
    if (c >= 8) {
        int32_t k = 0;
        for (; k + 8 <= c; k += 8, dst += 8 * plane) {
            const int8_t *s = src + k;
            int8_t *o = dst;
            for (int32_t n = w; n > 0; --n, s += c, ++o) {
                vstrbq_scatter_offset_s16(o, at, vldrbq_s16(s));
            }
        }
        if (k < c) {
            const mve_pred16_t pr = vctp16q((uint32_t)(c - k));
            const int8_t *s = src + k;
            int8_t *o = dst;
            for (int32_t n = w; n > 0; --n, s += c, ++o) {
                vstrbq_scatter_offset_p_s16(o, at, vldrbq_z_s16(s, pr), pr);
            }
        }
        return;
    }
    /* per channel, eight pixels per pass of a tail-predicated loop */
    for (int32_t k = 0; k < c; ++k) {
        const int8_t *sp = src + k;
        int8_t *o = dst + dot_slot(k) * plane;
        __asm__ volatile("wlstp.16 lr, %[w], 2f\n"
                         "1:\n\t"
                         "vldrb.s16 q0, [%[s], %q[at]]\n\t"
                         "add %[s], %[s], %[step]\n\t"
                         "vstrb.16 q0, [%[o]], #8\n\t"
                         "letp lr, 1b\n"
                         "2:\n"
                         : [s] "+r"(sp), [o] "+l"(o)
                         : [w] "r"(w), [at] "w"(at), [step] "r"(8 * c)
                         : "q0", "lr", "memory");
    }
}

/* n bytes at p (16-byte aligned) set to v, 16 per store. */
static void fill_s8(int8_t *p, int32_t n, int8_t v)
{
    const int8x16_t z = vdupq_n_s8(v);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        vstrbq_s8(p + i, z);
    }
    if (i < n) {
        vstrbq_p_s8(p + i, z, vctp8q((uint32_t)(n - i)));
    }
}

/* The interior of row `at` of every plane set to the zero point (a window
 * row outside the input). */
static void plane_zero(int8_t *ring, int32_t planes, int32_t plane, int32_t at, int32_t w, int8_t zp)
{
    const int8x16_t v = vdupq_n_s8(zp);
    for (int32_t i = 0; i < w; i += 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)(w - i));
        int8_t *o = ring + at + i;
        for (int32_t k = 0; k < planes; ++k, o += plane) {
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

/* The assembly loops read one stream per call: per group of four channels,
 * the weights of its four slots (cw bytes each, slot order 0, 2, 1, 3), then
 * its mve_rq4 record (bases, multipliers, shifts), so one pointer (%[r])
 * walks both and MVE_RQ4_ASM_R6_R12 leaves it at the next group. */

/* N (> 0) groups of four channels of one pixel, multiplier 1, one 16-tap
 * group, no left shifts: per channel a gather at P (then P += PL), a weight
 * load and VMLAV (VMLAV writes even registers; slots 0-3 hold channels 0,
 * 2, 1, 3, whose sums go to r6, r10, r8, r12), then the four sums
 * requantized, clamped and stored at Y: 32 instructions per 4 channels. */
#define MVE_DW_DOT_QUADS(P, R, PL, Y, N, O, OFF, LO, HI, FIX)                                                 \
    __asm__ volatile("dls lr, %[n]\n"                                                                        \
                     "1:\n\t" MVE_DW_DOT1("r6") MVE_DW_DOT1("r10") MVE_DW_DOT1("r8") MVE_DW_DOT1("r12")     \
                     MVE_RQ4_ASM_R6_R12_WITH(FIX)                                                            \
                     "le lr, 1b\n"                                                                           \
                     : [p] "+r"(P), [r] "+l"(R), [y] "+l"(Y)                                                \
                     : [n] "r"(N), [pl] "r"(PL), [o] "w"(O), [off] "r"(OFF), [lo] "w"(LO), [hi] "w"(HI)     \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "q2", "lr", "memory")
#define MVE_DW_DOT1(R)                                                                                         \
    "vldrb.u8 q0, [%[p], %q[o]]\n\t" "vldrb.8 q1, [%[r]], #16\n\t" "add %[p], %[p], %[pl]\n\t"                    \
    "vmlav.s8 " R ", q0, q1\n\t"

/* One channel of two pixels: a weight load, a gather and VMLAV for each
 * pixel (offsets O and O2, the second pixel's window), then P += PL. */
#define MVE_DW_DOT_PAIR1(RA, RB)                                                                                \
    "vldrb.8 q1, [%[r]], #16\n\t" "vldrb.u8 q0, [%[p], %q[o]]\n\t" "vmlav.s8 " RA ", q0, q1\n\t"                 \
    "vldrb.u8 q0, [%[p], %q[o2]]\n\t" "vmlav.s8 " RB ", q0, q1\n\t" "add %[p], %[p], %[pl]\n\t"

/* Requantize vector A with its right shifts in q1, q0 a temporary (the
 * _RN form when every right shift is nonzero: see MVE_RQ4_FIXUP_RN). */
#define MVE_DW_DOT_FIX(A)                                                                                      \
    "vand q0, %q[" A "], q1\n\t" "vshr.s32 q0, q0, #31\n\t" "vqadd.s32 %q[" A "], %q[" A "], q0\n\t"             \
    "vrshl.s32 %q[" A "], %q[" A "], q1\n\t"
#define MVE_DW_DOT_FIX_RN(A)                                                                                   \
    "vshr.s32 q0, %q[" A "], #31\n\t" "vqadd.s32 %q[" A "], %q[" A "], q0\n\t"                                    \
    "vrshl.s32 %q[" A "], %q[" A "], q1\n\t"

/* The loop of MVE_DW_DOT_PAIRS(2): PAIR(RA, RB) sums one slot of both
 * pixels, FIX requantizes, CLAMP bounds both vectors. */
/* Four channels of two pixels (a and b): PAIR's two dot products per channel into r6/r8 and
 * r10/r12, moved into the lanes, then bias, multiplier, FIX's shift and the output offset;
 * the pair loop and the four/eight-channel groups share it. */
#define MVE_DW_DOT_PAIR_QUAD(PAIR, FIX)                                                                             \
    PAIR("r6", "r8") PAIR("r10", "r12")                                                                        \
    "vmov %q[a][2], %q[a][0], r6, r10\n\t"                                                                     \
    "vmov %q[b][2], %q[b][0], r8, r12\n\t" PAIR("r6", "r8") PAIR("r10", "r12")                                 \
    "vmov %q[a][3], %q[a][1], r6, r10\n\t"                                                                     \
    "vmov %q[b][3], %q[b][1], r8, r12\n\t"                                                                     \
    "vldrw.u32 q1, [%[r]], #40\n\t"                                                                            \
    "vadd.i32 %q[a], %q[a], q1\n\t"                                                                            \
    "vadd.i32 %q[b], %q[b], q1\n\t"                                                                            \
    "vldrw.u32 q1, [%[r], #-24]\n\t"                                                                           \
    "vqrdmulh.s32 %q[a], %q[a], q1\n\t"                                                                        \
    "vqrdmulh.s32 %q[b], %q[b], q1\n\t"                                                                        \
    "vldrb.s32 q1, [%[r], #-8]\n\t" FIX("a") FIX("b")                                                          \
    "vadd.i32 %q[a], %q[a], %[off]\n\t"                                                                        \
    "vadd.i32 %q[b], %q[b], %[off]\n\t"
#define MVE_DW_DOT_PAIRS_LOOP(PAIR, FIX, CLAMP)                                                                \
    "2:\n\t"                                                                                                   \
    "ldr r6, [%[st]]\n\t"                                                                                      \
    "dls lr, r6\n"                                                                                             \
    "1:\n\t" MVE_DW_DOT_PAIR_QUAD(PAIR, FIX) CLAMP                                                                 \
    "vstrb.32 %q[a], [%[y]], #4\n\t"                                                                           \
    "vstrb.32 %q[b], [%[yb]], #4\n\t"                                                                          \
    "le lr, 1b\n\t"                                                                                            \
    "ldrd r6, r8, [%[st], #4]\n\t"                                                                             \
    "add %[p], %[p], r6\n\t"                                                                                   \
    "sub %[r], %[r], r8\n\t"                                                                                   \
    "ldr r6, [%[st], #12]\n\t"                                                                                 \
    "add %[y], %[y], r6\n\t"                                                                                   \
    "add %[yb], %[yb], r6\n\t"                                                                                 \
    "ldr r6, [%[st], #16]\n\t"                                                                                 \
    "subs r6, r6, #1\n\t"                                                                                      \
    "str r6, [%[st], #16]\n\t"                                                                                 \
    "bne 2b\n"

#define MVE_DW_DOT_CLAMP_REGS                                                                                  \
    "vmax.s32 %q[a], %q[a], %q[lo]\n\t" "vmax.s32 %q[b], %q[b], %q[lo]\n\t"                                    \
    "vmin.s32 %q[a], %q[a], %q[hi]\n\t" "vmin.s32 %q[b], %q[b], %q[hi]\n\t"
#define MVE_DW_DOT_CLAMP_ST                                                                                    \
    "vldrw.u32 q1, [%[st], #32]\n\t" "vmax.s32 %q[a], %q[a], q1\n\t" "vmax.s32 %q[b], %q[b], q1\n\t"           \
    "vldrw.u32 q1, [%[st], #48]\n\t" "vmin.s32 %q[a], %q[a], q1\n\t" "vmin.s32 %q[b], %q[b], q1\n\t"

/* NP (> 0) pairs of pixels (side by side: the second window at offsets O2 =
 * O + stride; or one above the other: O2 the next row's), every full group
 * of four channels, multiplier 1, one 16-tap
 * group, no left shifts. Each weight load serves both pixels and each
 * record load both vectors; the sums of slots 0 and 1 (channels 0 and 2) go
 * into lanes 0 and 2 of A and B before slots 2 and 3 are summed, so four
 * registers hold them: 52 instructions per 4 channels of 2 pixels (64 one
 * at a time). Stores at Y and YB. Between pairs, ST[] = {groups, plane
 * step to the next pair, stream bytes to rewind, output step, pairs left
 * (> 0, counted down in memory: the loop needs every other register)}
 * moves the pointers: 11 instructions a pair. */
#define MVE_DW_DOT_PAIRS(P, R, PL, Y, YB, ST, O, O2, OFF, LO, HI, A, B, FIX)                                   \
    __asm__ volatile(MVE_DW_DOT_PAIRS_LOOP(MVE_DW_DOT_PAIR1, FIX, MVE_DW_DOT_CLAMP_REGS)                       \
                     : [p] "+r"(P), [r] "+l"(R), [y] "+l"(Y), [yb] "+l"(YB), [a] "=&w"(A), [b] "=&w"(B)        \
                     : [st] "r"(ST), [pl] "r"(PL), [o] "w"(O), [o2] "w"(O2), [off] "r"(OFF), [lo] "w"(LO),   \
                       [hi] "w"(HI)                                                                            \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "lr", "cc", "memory")

/* MVE_DW_DOT_PAIRS for exactly four or eight channels and one 16-tap group,
 * every right shift nonzero (rows_c1 gives them their own instances):
 * the groups of a pair written out, so no inner loop and no pass record:
 * the pairs counted by the loop register, the stream rewound by its
 * constant size (104 bytes a group), both pixels' outputs stored through Y,
 * P stepped by PS (two strides less the planes the slots stepped): per
 * group 41 + the fix-up instructions a pair, plus 3 (52 + 11 for four). */
#define MVE_DW_DOT_PAIRS4_GROUP(FIX, STORES)                                                                   \
    MVE_DW_DOT_PAIR_QUAD(MVE_DW_DOT_PAIR1, FIX) MVE_DW_DOT_CLAMP_REGS STORES
/* Four channels: pixel a's outputs, then b's. */
#define MVE_DW_DOT_ST4 "vstrb.32 %q[a], [%[y]], #4\n\t" "vstrb.32 %q[b], [%[y]], #4\n\t"
/* Eight channels: the first group at y and y + 8, the second at y + 4 and
 * y + 12, then y moves on 16. */
#define MVE_DW_DOT_ST8A "vstrb.32 %q[a], [%[y]]\n\t" "vstrb.32 %q[b], [%[y], #8]\n\t"
#define MVE_DW_DOT_ST8B "vstrb.32 %q[a], [%[y], #4]\n\t" "vstrb.32 %q[b], [%[y], #12]\n\t" "add %[y], %[y], #16\n\t"
#define MVE_DW_DOT_PAIRS_SMALL(BODY, QS, P, R, PL, Y, N, PS, O, O2, OFF, LO, HI, A, B)                        \
    __asm__ volatile("dls lr, %[n]\n"                                                                        \
                     "2:\n\t" BODY                                                                            \
                     "sub %[r], %[r], #" QS "\n\t"                                                            \
                     "add %[p], %[p], %[ps]\n\t"                                                              \
                     "le lr, 2b\n"                                                                           \
                     : [p] "+r"(P), [r] "+l"(R), [y] "+l"(Y), [a] "=&w"(A), [b] "=&w"(B)                      \
                     : [n] "r"(N), [ps] "r"(PS), [pl] "r"(PL), [o] "w"(O), [o2] "w"(O2), [off] "r"(OFF),      \
                       [lo] "w"(LO), [hi] "w"(HI)                                                              \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "lr", "memory")
#define MVE_DW_DOT_PAIRS4(P, R, PL, Y, N, PS, O, O2, OFF, LO, HI, A, B, FIX)                                  \
    MVE_DW_DOT_PAIRS_SMALL(MVE_DW_DOT_PAIRS4_GROUP(FIX, MVE_DW_DOT_ST4), "104", P, R, PL, Y, N, PS, O, O2, OFF, \
                           LO, HI, A, B)
#define MVE_DW_DOT_PAIRS8(P, R, PL, Y, N, PS, O, O2, OFF, LO, HI, A, B, FIX)                                  \
    MVE_DW_DOT_PAIRS_SMALL(MVE_DW_DOT_PAIRS4_GROUP(FIX, MVE_DW_DOT_ST8A)                                       \
                               MVE_DW_DOT_PAIRS4_GROUP(FIX, MVE_DW_DOT_ST8B),                                  \
                           "208", P, R, PL, Y, N, PS, O, O2, OFF, LO, HI, A, B)
typedef char mve_dw_dot_pairs4_stream[4 * 16 + sizeof(mve_rq4) == 104 ? 1 : -1];

/* MVE_DW_DOT_PAIRS with two 16-tap groups (offsets O, O1 of the first
 * window, O2, O21 of the second): the offsets take every free vector
 * register, so the clamp bounds come from ST (bytes 32 and 48): 74
 * instructions per 4 channels of 2 pixels (88 one at a time). */
#define MVE_DW_DOT_PAIR2(RA, RB)                                                                               \
    "vldrb.8 q1, [%[r]], #16\n\t" "vldrb.u8 q0, [%[p], %q[o]]\n\t" "vmlav.s8 " RA ", q0, q1\n\t"                 \
    "vldrb.u8 q0, [%[p], %q[o2]]\n\t" "vmlav.s8 " RB ", q0, q1\n\t" "vldrb.8 q1, [%[r]], #16\n\t"                 \
    "vldrb.u8 q0, [%[p], %q[o1]]\n\t" "vmlava.s8 " RA ", q0, q1\n\t" "vldrb.u8 q0, [%[p], %q[o21]]\n\t"            \
    "vmlava.s8 " RB ", q0, q1\n\t" "add %[p], %[p], %[pl]\n\t"
#define MVE_DW_DOT_PAIRS2(P, R, PL, Y, YB, ST, O, O1, O2, O21, OFF, A, B, FIX)                                 \
    __asm__ volatile(MVE_DW_DOT_PAIRS_LOOP(MVE_DW_DOT_PAIR2, FIX, MVE_DW_DOT_CLAMP_ST)                         \
                     : [p] "+r"(P), [r] "+l"(R), [y] "+l"(Y), [yb] "+l"(YB), [a] "=&w"(A), [b] "=&w"(B)        \
                     : [st] "r"(ST), [pl] "r"(PL), [o] "w"(O), [o1] "w"(O1), [o2] "w"(O2), [o21] "w"(O21),      \
                       [off] "r"(OFF)                                                                          \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "lr", "cc", "memory")

/* A row's (or two rows') pairs of pixels: MVE_DW_DOT_PAIRS2 with two tap groups,
 * MVE_DW_DOT_PAIRS with one, each with the right-shift form rn picks; O21 (the second
 * window's second tap group) is evaluated only with two groups. Uses the caller's p, r,
 * plane, ya, yb, o, o1, o2, out_off, lo, hi, chunks and rn; ST is the pass record. */
#define MVE_DW_DOT_PAIRS_RUN(ST, O21)                                                                          \
    do {                                                                                                       \
        int32x4_t a, b;                                                                                        \
        if (chunks == 2) {                                                                                     \
            const uint8x16_t o21 = (O21);                                                                      \
            if (rn) {                                                                                          \
                MVE_DW_DOT_PAIRS2(p, r, plane, ya, yb, ST, o, o1, o2, o21, out_off, a, b, MVE_DW_DOT_FIX_RN);  \
            } else {                                                                                           \
                MVE_DW_DOT_PAIRS2(p, r, plane, ya, yb, ST, o, o1, o2, o21, out_off, a, b, MVE_DW_DOT_FIX);     \
            }                                                                                                  \
        } else if (rn) {                                                                                       \
            MVE_DW_DOT_PAIRS(p, r, plane, ya, yb, ST, o, o2, out_off, lo, hi, a, b, MVE_DW_DOT_FIX_RN);        \
        } else {                                                                                               \
            MVE_DW_DOT_PAIRS(p, r, plane, ya, yb, ST, o, o2, out_off, lo, hi, a, b, MVE_DW_DOT_FIX);           \
        }                                                                                                      \
        (void)a;                                                                                               \
        (void)b;                                                                                               \
    } while (0)

/* The same as MVE_DW_DOT_QUADS with two 16-tap groups (offsets O and O1):
 * per channel two gathers, two weight loads, VMLAV and VMLAVA: 44
 * instructions per 4 channels of a 5x5 window. */
#define MVE_DW_DOT_QUADS2(P, R, PL, Y, N, O, O1, OFF, LO, HI)                                                 \
    __asm__ volatile("dls lr, %[n]\n"                                                                        \
                     "1:\n\t" MVE_DW_DOT2("r6") MVE_DW_DOT2("r10") MVE_DW_DOT2("r8") MVE_DW_DOT2("r12")     \
                     MVE_RQ4_ASM_R6_R12                                                                      \
                     "le lr, 1b\n"                                                                           \
                     : [p] "+r"(P), [r] "+l"(R), [y] "+l"(Y)                                                \
                     : [n] "r"(N), [pl] "r"(PL), [o] "w"(O), [o1] "w"(O1), [off] "r"(OFF), [lo] "w"(LO),    \
                       [hi] "w"(HI)                                                                          \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "q2", "lr", "memory")
#define MVE_DW_DOT2(R)                                                                                         \
    "vldrb.u8 q0, [%[p], %q[o]]\n\t" "vldrb.8 q1, [%[r]], #16\n\t" "vmlav.s8 " R ", q0, q1\n\t"                   \
    "vldrb.u8 q0, [%[p], %q[o1]]\n\t" "vldrb.8 q1, [%[r]], #16\n\t" "vmlava.s8 " R ", q0, q1\n\t"                \
    "add %[p], %[p], %[pl]\n\t"

/* Depth multiplier a multiple of 4: the four channels of a group read one
 * plane (at P + *QO, QO advancing a word per group), so its one or two
 * tap groups are gathered once (q0, q2) and each channel costs its weight
 * loads and VMLAV(A)s: 30 instructions per 4 channels of a 3x3 window, 38
 * of a 5x5. */
#define MVE_DW_DOT_DM4(P, QO, R, Y, N, O, OFF, LO, HI, T)                                                    \
    __asm__ volatile("dls lr, %[n]\n"                                                                        \
                     "1:\n\t"                                                                               \
                     "ldr %[t], [%[qo]], #4\n\t"                                                             \
                     "add %[t], %[t], %[p]\n\t"                                                              \
                     "vldrb.u8 q0, [%[t], %q[o]]\n\t" MVE_DW_DOT_DM4C("r6") MVE_DW_DOT_DM4C("r10")          \
                     MVE_DW_DOT_DM4C("r8") MVE_DW_DOT_DM4C("r12") MVE_RQ4_ASM_R6_R12                          \
                     "le lr, 1b\n"                                                                           \
                     : [qo] "+r"(QO), [r] "+l"(R), [y] "+l"(Y), [t] "=&r"(T)                                \
                     : [p] "r"(P), [n] "r"(N), [o] "w"(O), [off] "r"(OFF), [lo] "w"(LO), [hi] "w"(HI)       \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "q2", "lr", "memory")
#define MVE_DW_DOT_DM4C(R) "vldrb.8 q1, [%[r]], #16\n\t" "vmlav.s8 " R ", q0, q1\n\t"
#define MVE_DW_DOT_DM4_2(P, QO, R, Y, N, O, O1, OFF, LO, HI, T)                                              \
    __asm__ volatile("dls lr, %[n]\n"                                                                        \
                     "1:\n\t"                                                                               \
                     "ldr %[t], [%[qo]], #4\n\t"                                                             \
                     "add %[t], %[t], %[p]\n\t"                                                              \
                     "vldrb.u8 q0, [%[t], %q[o]]\n\t"                                                        \
                     "vldrb.u8 q2, [%[t], %q[o1]]\n\t" MVE_DW_DOT_DM4C2("r6") MVE_DW_DOT_DM4C2("r10")       \
                     MVE_DW_DOT_DM4C2("r8") MVE_DW_DOT_DM4C2("r12") MVE_RQ4_ASM_R6_R12                        \
                     "le lr, 1b\n"                                                                           \
                     : [qo] "+r"(QO), [r] "+l"(R), [y] "+l"(Y), [t] "=&r"(T)                                \
                     : [p] "r"(P), [n] "r"(N), [o] "w"(O), [o1] "w"(O1), [off] "r"(OFF), [lo] "w"(LO),      \
                       [hi] "w"(HI)                                                                          \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "q2", "lr", "memory")
#define MVE_DW_DOT_DM4C2(R)                                                                                    \
    "vldrb.8 q1, [%[r]], #16\n\t" "vmlav.s8 " R ", q0, q1\n\t" "vldrb.8 q1, [%[r]], #16\n\t"                     \
    "vmlava.s8 " R ", q2, q1\n\t"

/* Any other multiplier, one 16-tap group: each slot's plane at P + *QO (QO
 * advancing a word per channel, in slot order): 35 instructions per 4
 * channels. */
#define MVE_DW_DOT_ANY(P, QO, R, Y, N, O, OFF, LO, HI, T, FIX)                                                \
    __asm__ volatile("dls lr, %[n]\n"                                                                        \
                     "1:\n\t" MVE_DW_DOT_ANYC("r6") MVE_DW_DOT_ANYC("r10") MVE_DW_DOT_ANYC("r8")             \
                     MVE_DW_DOT_ANYC("r12") MVE_RQ4_ASM_R6_R12_WITH(FIX)                                       \
                     "le lr, 1b\n"                                                                           \
                     : [qo] "+r"(QO), [r] "+l"(R), [y] "+l"(Y), [t] "=&r"(T)                                \
                     : [p] "r"(P), [n] "r"(N), [o] "w"(O), [off] "r"(OFF), [lo] "w"(LO), [hi] "w"(HI)       \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "q2", "lr", "memory")
#define MVE_DW_DOT_ANYC(R)                                                                                     \
    "ldr %[t], [%[qo]], #4\n\t" "add %[t], %[t], %[p]\n\t" "vldrb.u8 q0, [%[t], %q[o]]\n\t"                       \
    "vldrb.8 q1, [%[r]], #16\n\t" "vmlav.s8 " R ", q0, q1\n\t"

/* How a layer's pixels run: any multiplier in C, multiplier 1 or a multiple
 * of 4 in the assembly loops above (no left shifts, one or two tap groups),
 * any other multiplier with one tap group in MVE_DW_DOT_ANY (DOT_ANY1). */
enum { DOT_ANY, DOT_DM1, DOT_DM4, DOT_ANY1 };

/* Channels c .. och - 1 (c a multiple of 4) of one output pixel, four per
 * vector, in C: p = the pixel's first tap column in plane 0; output channel
 * c reads plane offset poff[c], its weights at slot dot_slot(c) of its
 * group in the stream st (qs bytes per group). */
static inline __attribute__((always_inline)) void pixel_dot_c(int32_t chunks, bool left, int32_t c, int32_t och,
                                                              const int8_t *p, const int32_t *poff, uint8x16_t o,
                                                              const uint8_t *offs, const int8_t *st, int32_t qs,
                                                              int32_t cw, int32_t out_off, int32x4_t lo,
                                                              int32x4_t hi, int8_t *y)
{
    const int8_t *g = st + (c / 4) * qs;
    for (; c + 4 <= och; c += 4, g += qs) {
        /* slots 0-3 hold channels c, c + 2, c + 1, c + 3 */
        const int32_t s0 = dot(chunks, p + poff[c], o, offs, g);
        const int32_t s2 = dot(chunks, p + poff[c + 2], o, offs, g + cw);
        const int32_t s1 = dot(chunks, p + poff[c + 1], o, offs, g + 2 * cw);
        const int32_t s3 = dot(chunks, p + poff[c + 3], o, offs, g + 3 * cw);
        int32x4_t v = vdupq_n_s32(s0);
        v = vsetq_lane_s32(s1, v, 1);
        v = vsetq_lane_s32(s2, v, 2);
        v = vsetq_lane_s32(s3, v, 3);
        mve_rq4_out(left, v, (const mve_rq4 *)(const void *)(g + 4 * cw), 4, out_off, lo, hi, y + c);
    }
    for (; c < och; c += 4, g += qs) {
        int32_t t[4] __attribute__((aligned(16))) = {0, 0, 0, 0};
        for (int32_t j = 0; j < 4 && c + j < och; ++j) {
            t[j] = dot(chunks, p + poff[c + j], o, offs, g + (dot_slot(j)) * cw);
        }
        mve_rq4_out(left, vldrwq_s32(t), (const mve_rq4 *)(const void *)(g + 4 * cw), och - c < 4 ? och - c : 4,
                    out_off, lo, hi, y + c);
    }
}

/* The constant state of one call. */
typedef struct {
    const int8_t *st;    /* the stream: per group, weights then record */
    int32_t qs;          /* its bytes per group */
    const int32_t *poff; /* plane offset of each output channel */
    const int32_t *qoff; /* plane offset of each group (multiplier 4k) */
    const int32_t *soff; /* plane offset of each slot (DOT_ANY1) */
    int8_t *ring;        /* the planes */
} dot_call;

/* The window rows of one output row: held[] says which input row each
 * slot holds (row iy in slot iy mod rows, distinct within a window, and
 * within two successive windows when the planes hold a stride more), so
 * with the window's first row in slot m, tap t (window row fy, column fx)
 * is at byte ((m + fy * dilation) mod rows) * wp + fx * dilation. Those
 * offsets are tabled once per call for every m when the table fits
 * (tab[m]); else rowsel/colv give each tap's window row (f_h past the last
 * tap, a zero entry of slotw) and column offset, and the taps' offsets are
 * one gather from slotw[] (the slots' byte offsets) and one add per 16
 * taps. The layer's numbers are copied in once, so the per-row code reads
 * them from one pointer. */
#define DOT_TAB_BYTES 512
typedef struct {
    uint8_t rowsel[MVE_DW_DOT_MAX_CHUNKS * 16] __attribute__((aligned(16)));
    uint8_t colv[MVE_DW_DOT_MAX_CHUNKS * 16] __attribute__((aligned(16)));
    uint8_t offs[MVE_DW_DOT_MAX_CHUNKS * 16] __attribute__((aligned(16)));
    uint8_t tab[DOT_TAB_BYTES] __attribute__((aligned(16)));
    uint16x8_t at; /* plane_row's offsets */
    uint8_t slotw[65];
    int32_t held[64];
    int32_t m; /* the slot of the window's first row */
    bool tabled;
    int32_t window, rows, f_h, dil_h, stride_h, pad_h, pad_w, in_h, in_w, in_c, row_in, wp, plane, planes, vecs;
    int8_t zp;
} dot_rows;

static void rows_start(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const dot_geom *g,
                       dot_rows *rs)
{
    const int32_t taps = f->h * f->w, cw = 16 * g->chunks;
    for (int32_t t = 0; t < cw; ++t) {
        rs->rowsel[t] = (uint8_t)(t < taps ? t / f->w : f->h);
        rs->colv[t] = (uint8_t)(t < taps ? (t % f->w) * d->dilation_w : 0);
    }
    rs->slotw[f->h] = 0;
    rs->tabled = g->rows * cw <= DOT_TAB_BYTES && g->rows <= 32;
    if (rs->tabled) {
        /* tab[m] lane t: sl2[m + fy * dilation] + column, sl2[j] the byte
         * offset of slot j mod rows (lanes past the last tap: row 0) */
        uint8_t sl2[64] __attribute__((aligned(16)));
        for (int32_t j = 0; j < 2 * g->rows; ++j) {
            sl2[j] = (uint8_t)((j < g->rows ? j : j - g->rows) * g->wp);
        }
        for (int32_t c = 0; c < cw; c += 16) {
            const uint8x16_t rows = vldrbq_u8(rs->rowsel + c), cols = vldrbq_u8(rs->colv + c);
            const uint8x16_t fy = vpselq_u8(rows, vdupq_n_u8(0), vcmpneq_n_u8(rows, (uint8_t)f->h));
            for (int32_t m = 0; m < g->rows; ++m) {
                const uint8x16_t idx = vmlaq_n_u8(vdupq_n_u8((uint8_t)m), fy, (uint8_t)d->dilation_h);
                vstrbq_u8(rs->tab + m * cw + c, vaddq_u8(vldrbq_gather_offset_u8(sl2, idx), cols));
            }
        }
    }
    rs->at = in->c >= 8 ? vmulq_n_u16(slots16(), (uint16_t)g->plane) : vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)in->c);
    rs->window = g->window;
    rs->rows = g->rows;
    rs->f_h = f->h;
    rs->dil_h = d->dilation_h;
    rs->stride_h = d->stride_h;
    rs->pad_h = d->pad_h;
    rs->pad_w = d->pad_w;
    rs->in_h = in->h;
    rs->in_w = in->w;
    rs->in_c = in->c;
    rs->row_in = in->w * in->c;
    rs->wp = g->wp;
    rs->plane = g->plane;
    rs->planes = g->planes;
    rs->vecs = g->chunks;
    rs->zp = (int8_t)-d->input_offset;
}

/* Input row iy (or a row of zero points when it is outside the input) into
 * slot `slot` unless it holds it already. */
static inline void row_load(dot_rows *rs, const int8_t *img, int8_t *ring, int32_t iy, int32_t slot)
{
    const int32_t at = slot * rs->wp + rs->pad_w;
    if (iy >= 0 && iy < rs->in_h) {
        if (rs->held[slot] != iy) {
            plane_row(img + iy * rs->row_in, rs->in_w, rs->in_c, rs->plane, rs->at, ring + at);
            rs->held[slot] = iy;
        }
    } else if (rs->held[slot] != DOT_ZERO_ROW) {
        plane_zero(ring, rs->planes, rs->plane, at, rs->in_w, rs->zp);
        rs->held[slot] = DOT_ZERO_ROW;
    }
}

/* Before output row oy (rows in order from 0 per image): its window rows in
 * the planes (a row outside the input: a row of zero points, taking a slot
 * whose row is outside this window); returns its taps' offsets. At stride
 * 1 without dilation, after the first row only the window's last row is
 * new. */
static __attribute__((noinline)) const uint8_t *row_enter(dot_rows *rs, const int8_t *img, int8_t *ring, int32_t oy)
{
    const int32_t rows = rs->rows;
    int32_t m;
    const bool next = oy > 0 && rs->stride_h == 1 && rs->dil_h == 1;
    if (next) {
        m = rs->m + 1;
        m = m == rows ? 0 : m;
        rs->m = m;
        const int32_t last = m + rs->window - 1;
        row_load(rs, img, ring, oy - rs->pad_h + rs->window - 1, last >= rows ? last - rows : last);
    } else {
        if (oy == 0) {
            for (int32_t s = 0; s < rows; ++s) {
                rs->held[s] = -1;
            }
            m = (rows - rs->pad_h % rows) % rows;
        } else {
            m = rs->m + rs->stride_h;
            while (m >= rows) {
                m -= rows;
            }
        }
        rs->m = m;
        const int32_t iy0 = oy * rs->stride_h - rs->pad_h;
        for (int32_t fy = 0; fy < rs->f_h; ++fy) {
            int32_t slot = m + fy * rs->dil_h;
            slot = slot >= rows ? slot - rows : slot;
            rs->slotw[fy] = (uint8_t)(slot * rs->wp);
            row_load(rs, img, ring, iy0 + fy * rs->dil_h, slot);
        }
    }
    if (rs->tabled) {
        return rs->tab + m * 16 * rs->vecs;
    }
    if (next) {
        for (int32_t fy = 0; fy < rs->f_h; ++fy) {
            int32_t slot = m + fy * rs->dil_h;
            slot = slot >= rows ? slot - rows : slot;
            rs->slotw[fy] = (uint8_t)(slot * rs->wp);
        }
    }
    for (int32_t c = 0; c < rs->vecs; ++c) {
        vstrbq_u8(rs->offs + 16 * c, vaddq_u8(vldrbq_gather_offset_u8(rs->slotw, vldrbq_u8(rs->rowsel + 16 * c)),
                                              vldrbq_u8(rs->colv + 16 * c)));
    }
    return rs->offs;
}

/* Every output pixel (chunks, left, mode: constants per instance). */
static inline __attribute__((always_inline)) void rows_dot(int32_t chunks, bool left, bool rn, int mode, int32_t small,
                                                           const kwsq_conv_params *d, const kwsq_dims *in,
                                                           const int8_t *x, const kwsq_dims *f,
                                                           const kwsq_dims *out, int8_t *y, const dot_geom *g,
                                                           const dot_call *k)
{
    const int32_t out_w = out->w, och = out->c, sw = d->stride_w, cw = 16 * chunks;
    const int32_t plane = g->plane, out_off = d->output_offset, full = och & ~3;
    const int32x4_t lo = vdupq_n_s32(d->act_min), hi = vdupq_n_s32(d->act_max);
    const int8_t *st = k->st;
    const int32_t qs = k->qs;
    int8_t *ring = k->ring;
    /* pairs of pixels side by side (pst) or one above the other (vst): the
     * group count, then the steps between pairs */
    int32_t pst[16] __attribute__((aligned(16))), vst[16] __attribute__((aligned(16)));
    pst[0] = vst[0] = full / 4;
    pst[1] = 2 * sw - full * plane;
    vst[1] = sw - full * plane;
    pst[2] = vst[2] = (full / 4) * qs;
    pst[3] = 2 * och - full;
    vst[3] = och - full;
    if (chunks == 2) {
        /* the clamp bounds of the two-group loop */
        vstrwq_s32(pst + 8, lo);
        vstrwq_s32(pst + 12, hi);
        vstrwq_s32(vst + 8, lo);
        vstrwq_s32(vst + 12, hi);
    }
    const bool pairs = mode == DOT_DM1 && chunks <= 2 && full > 0 && !left && out_w >= 2;
    /* two rows at a time when the planes hold both windows: both rows'
     * input rows are copied before either row's outputs are written, and
     * what is read afterwards (the rows of later windows) is what a pass of
     * the second row alone would read, so in place and overlapped
     * placements keep their inputs (kwsq_overlap.h) */
    const bool vertical = mode == DOT_DM1 && chunks <= 2 && full > 0 && !left && g->rows > g->window;
    dot_rows rs;
    rows_start(d, in, f, g, &rs);
    int8_t *yp = y;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in->h * in->w * in->c;
        for (int32_t oy = 0; oy < out->h; ++oy, yp += out_w * och) {
            const uint8_t *offs = row_enter(&rs, img, ring, oy);
            const uint8x16_t o = vldrbq_u8(offs);
            const uint8x16_t o1 = chunks == 2 ? vldrbq_u8(offs + 16) : o;
            if (vertical && oy + 1 < out->h) {
                /* the first row's offsets kept (row_enter may reuse its buffer) */
                uint8_t offa[32] __attribute__((aligned(16)));
                vstrbq_u8(offa, o);
                vstrbq_u8(offa + 16, o1);
                const uint8_t *offs2 = row_enter(&rs, img, ring, oy + 1);
                const uint8x16_t o2 = vldrbq_u8(offs2);
                const int8_t *p = ring, *r = st;
                int8_t *ya = yp, *yb = yp + out_w * och;
                vst[4] = out_w;
                MVE_DW_DOT_PAIRS_RUN(vst, vldrbq_u8(offs2 + 16));
                for (int32_t px = 0; full < och && px < out_w; ++px) {
                    pixel_dot_c(chunks, false, full, och, ring + px * sw, k->poff, o, offa, st, qs, cw, out_off, lo,
                                hi, yp + px * och);
                    pixel_dot_c(chunks, false, full, och, ring + px * sw, k->poff, o2, offs2, st, qs, cw, out_off,
                                lo, hi, yp + (out_w + px) * och);
                }
                ++oy;
                yp += out_w * och;
                continue;
            }
            int32_t ox = 0;
            const int8_t *p = ring;
            int8_t *ya = yp;
            if (pairs) {
                const uint8x16_t o2 = vaddq_n_u8(o, (uint8_t)sw);
                const int8_t *r = st;
                int8_t *yb = yp + och;
                if (small != 0) {
                    /* four or eight channels (own instances): MVE_DW_DOT_PAIRS4 / 8 */
                    int32x4_t a, b;
                    const int32_t ps = 2 * sw - small * plane;
                    if (small == 8) {
                        MVE_DW_DOT_PAIRS8(p, r, plane, ya, out_w / 2, ps, o, o2, out_off, lo, hi, a, b,
                                          MVE_DW_DOT_FIX_RN);
                    } else {
                        MVE_DW_DOT_PAIRS4(p, r, plane, ya, out_w / 2, ps, o, o2, out_off, lo, hi, a, b,
                                          MVE_DW_DOT_FIX_RN);
                    }
                    (void)a;
                    (void)b;
                    (void)r;
                    (void)yb;
                } else {
                    pst[4] = out_w / 2;
                    MVE_DW_DOT_PAIRS_RUN(pst, vaddq_n_u8(o1, (uint8_t)sw));
                }
                ox = out_w & ~1;
            }
            /* the pixels left (all of them without pairs), full groups */
            for (; ox < out_w && full > 0 && !left && mode != DOT_ANY; ++ox, p += sw, ya += och - full) {
                const int8_t *r = st;
                if (mode == DOT_DM1 && chunks == 1) {
                    const int8_t *pq = p;
                    if (rn) {
                        MVE_DW_DOT_QUADS(pq, r, plane, ya, full / 4, o, out_off, lo, hi, MVE_RQ4_FIXUP_RN);
                    } else {
                        MVE_DW_DOT_QUADS(pq, r, plane, ya, full / 4, o, out_off, lo, hi, MVE_RQ4_FIXUP);
                    }
                } else if (mode == DOT_DM1) {
                    const int8_t *pq = p;
                    MVE_DW_DOT_QUADS2(pq, r, plane, ya, full / 4, o, o1, out_off, lo, hi);
                } else if (mode == DOT_ANY1) {
                    const int32_t *qo = k->soff;
                    int32_t t;
                    if (rn) {
                        MVE_DW_DOT_ANY(p, qo, r, ya, full / 4, o, out_off, lo, hi, t, MVE_RQ4_FIXUP_RN);
                    } else {
                        MVE_DW_DOT_ANY(p, qo, r, ya, full / 4, o, out_off, lo, hi, t, MVE_RQ4_FIXUP);
                    }
                    (void)t;
                } else {
                    const int32_t *qo = k->qoff;
                    int32_t t;
                    if (chunks == 1) {
                        MVE_DW_DOT_DM4(p, qo, r, ya, full / 4, o, out_off, lo, hi, t);
                    } else {
                        MVE_DW_DOT_DM4_2(p, qo, r, ya, full / 4, o, o1, out_off, lo, hi, t);
                    }
                    (void)t;
                }
            }
            /* the channels the loops above left: a last group of 1-3, or
             * every channel (left shifts, other multipliers) */
            const int32_t c0 = mode == DOT_ANY || left ? 0 : full;
            for (int32_t px = 0; c0 < och && px < out_w; ++px) {
                pixel_dot_c(chunks, left, c0, och, ring + px * sw, k->poff, o, offs, st, qs, cw, out_off, lo,
                            hi, yp + px * och);
            }
        }
    }
}

static __attribute__((noinline)) void rows_c1(bool left, bool rn, int mode, const kwsq_conv_params *d,
                                              const kwsq_dims *in, const int8_t *x, const kwsq_dims *f,
                                              const kwsq_dims *out, int8_t *y, const dot_geom *g, const dot_call *k)
{
    if (left) {
        rows_dot(1, true, false, DOT_ANY, 0, d, in, x, f, out, y, g, k);
    } else if (mode == DOT_DM1 && rn && out->c == 4) {
        rows_dot(1, false, true, DOT_DM1, 4, d, in, x, f, out, y, g, k);
    } else if (mode == DOT_DM1 && rn && out->c == 8) {
        rows_dot(1, false, true, DOT_DM1, 8, d, in, x, f, out, y, g, k);
    } else if (mode == DOT_DM1 && rn) {
        rows_dot(1, false, true, DOT_DM1, 0, d, in, x, f, out, y, g, k);
    } else if (mode == DOT_DM1) {
        rows_dot(1, false, false, DOT_DM1, 0, d, in, x, f, out, y, g, k);
    } else if (mode == DOT_DM4) {
        rows_dot(1, false, false, DOT_DM4, 0, d, in, x, f, out, y, g, k);
    } else {
        rows_dot(1, false, rn, DOT_ANY1, 0, d, in, x, f, out, y, g, k);
    }
}

static __attribute__((noinline)) void rows_cn(bool left, bool rn, int mode, const kwsq_conv_params *d,
                                              const kwsq_dims *in, const int8_t *x, const kwsq_dims *f,
                                              const kwsq_dims *out, int8_t *y, const dot_geom *g, const dot_call *k)
{
    if (g->chunks == 2 && !left && mode == DOT_DM1 && rn) {
        rows_dot(2, false, true, DOT_DM1, 0, d, in, x, f, out, y, g, k);
    } else if (g->chunks == 2 && !left && mode == DOT_DM1) {
        rows_dot(2, false, false, DOT_DM1, 0, d, in, x, f, out, y, g, k);
    } else if (g->chunks == 2 && !left && mode == DOT_DM4) {
        rows_dot(2, false, false, DOT_DM4, 0, d, in, x, f, out, y, g, k);
    } else {
        rows_dot(g->chunks, true, false, DOT_ANY, 0, d, in, x, f, out, y, g, k);
    }
}

bool mve_depthwise_dot(const kwsq_context *ctx, const kwsq_conv_params *d, const kwsq_quant_params *q,
                       const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const int8_t *w,
                       const int32_t *bias, const kwsq_dims *out, int8_t *y)
{
    dot_geom g;
    if (!dot_geom_of(d, in, f, out, &g) || ctx->buf == NULL ||
        ctx->size < g.planes * g.plane) {
        return false;
    }
    const int32_t och = out->c, taps = f->h * f->w, cw = 16 * g.chunks, dm = d->depth_multiplier;
    const int32_t quads = (och + 3) / 4;
    /* the stream: per group of four channels, the weights of its slots (16
     * lanes per tap group, zeros past the last tap and in slots past the
     * last channel), then its record (bases folded from the weights' sums);
     * and each channel's plane */
    const int32_t qs = 4 * cw + (int32_t)sizeof(mve_rq4);
    int8_t st[quads * qs] __attribute__((aligned(16)));
    int16_t sums[4 * quads] __attribute__((aligned(16)));
    int32_t poff[4 * quads], soff[4 * quads], qoff[quads];
    fill_s8(st, quads * qs, 0);
    /* weights: the 8 channels of a tap per load, scattered to their slots
     * (lane l: group l / 4, slot dot_slot(l % 4)) and summed per channel
     * (int16: |sum| <= 64 * 128) */
    const uint16x8_t lane = vidupq_n_u16(0, 1);
    const uint16x8_t at = vaddq_u16(vmulq_n_u16(vshrq_n_u16(lane, 2), (uint16_t)qs),
                                    vmulq_n_u16(vandq_u16(slots16(), vdupq_n_u16(3)), (uint16_t)cw));
    for (int32_t c = 0; c < 4 * quads; c += 8) {
        const mve_pred16_t pr = vctp16q((uint32_t)(och > c ? och - c : 0));
        const int8_t *src = w + c;
        int8_t *dst = st + (c / 4) * qs;
        int16x8_t sum = vdupq_n_s16(0);
        for (int32_t t = 0; t < taps; ++t, src += och, ++dst) {
            const int16x8_t v = vldrbq_z_s16(src, pr);
            vstrbq_scatter_offset_p_s16(dst, at, v, pr);
            sum = vaddq_s16(sum, v);
        }
        vstrhq_p_s16(sums + c, sum, vctp16q((uint32_t)(4 * quads - c)));
    }
    /* the records and the channels' planes, four channels at a time */
    int32_t most = 0;
    bool rn = true;
    if (dm == 1) {
        /* poff[c] = dot_slot(c) * plane, four at a time */
        const uint32x4_t l4 = vidupq_n_u32(0, 1);
        const int32x4_t sl = vreinterpretq_s32_u32(vmulq_n_u32(
            vorrq_u32(vshlq_n_u32(vandq_u32(l4, vdupq_n_u32(1)), 1), vshrq_n_u32(l4, 1)), (uint32_t)g.plane));
        for (int32_t c = 0; c < 4 * quads; c += 4) {
            vstrwq_s32(poff + c, vaddq_n_s32(sl, c * g.plane));
        }
    } else {
        for (int32_t c = 0, ic = 0, r = 0; c < 4 * quads; ++c) {
            poff[c] = dot_slot(ic) * g.plane;
            if (++r == dm) {
                r = 0;
                ++ic;
            }
        }
    }
    for (int32_t c = 0; dm != 1 && dm % 4 != 0 && c < 4 * quads; ++c) {
        soff[c] = poff[(c & ~3) | dot_slot(c & 3)];
    }
    for (int32_t k = 0; k < quads; ++k) {
        const int32_t c = 4 * k;
        qoff[k] = poff[c];
        const int32_t sh = mve_rq4_fill((mve_rq4 *)(void *)(st + k * qs + 4 * cw), bias, q->multiplier, q->shift, c,
                                        och, vldrhq_s32(sums + c), d->input_offset);
        most = sh > most ? sh : most;
        /* the groups the assembly loops take (full ones) all shift right */
        rn = rn && (c + 4 > och || sh < 0);
    }
    const bool left = most > 0;
    const int mode = dm == 1 ? DOT_DM1 : dm % 4 == 0 ? DOT_DM4 : DOT_ANY;
    const dot_call call = {st, qs, poff, qoff, soff, ctx->buf};
    fill_s8(ctx->buf, g.planes * g.plane, (int8_t)-d->input_offset);
    if (g.chunks == 1) {
        rows_c1(left, rn, mode, d, in, x, f, out, y, &g, &call);
    } else {
        rows_cn(left, rn, mode, d, in, x, f, out, y, &g, &call);
    }
    return true;
}
