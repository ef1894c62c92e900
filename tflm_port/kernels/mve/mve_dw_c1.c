/*
 * DEPTHWISE_CONV_2D on one input channel (depth multiplier m = output
 * channels) for Cortex-M55 Helium, bit-exact with kernels/ref.
 *
 * With one input channel the input is a plain 2-D image, so the channel
 * planes of mve_dw_dot.c (four of them, rounded up from one) and their
 * per-row scatter are not needed: the window's input rows are copied in
 * order, padded with zero-point bytes, into one strip of the scratch buffer
 * (one memcpy per new row; the rows the next window shares move up). A
 * pixel's window is then one byte gather per 16 taps (8-bit offsets from a
 * per-group base row, so tall windows whose rows are far apart still fit),
 * done once and used by all m output channels: per channel and tap group a
 * weight load and a VMLADAVA. The sums of four channels are requantized as
 * one vector with per-call records (mve_rq4: bias folded with the input
 * offset times the weights' sums, multipliers, shifts).
 *
 * Input offset: taps read raw bytes, padding bytes equal the zero point
 * (x + offset = 0), so borders need no test; unused lanes of the last tap
 * group read byte 0 of their base and meet zero weights.
 *
 * Row order (kwsq_overlap.h): output rows are finished one at a time in
 * increasing order, and the input rows an output row needs, all from its
 * window's first row on, are copied into the strip before any of its
 * outputs is written.
 */
#include <arm_mve.h>

#include "mve_depthwise.h"
#include "mve_requant.h"

/* The geometry of a layer on this path (see mve_dw_c1_bytes). */
typedef struct {
    int32_t window; /* input rows a window spans */
    int32_t wp;     /* bytes of one padded strip row */
    int32_t chunks; /* 16-tap groups */
} c1_geom;

/* Tap t's byte offset in the strip. */
static inline int32_t tap_offset(const kwsq_conv_params *d, const kwsq_dims *f, int32_t wp, int32_t t)
{
    return (t / f->w) * d->dilation_h * wp + (t % f->w) * d->dilation_w;
}

/* The strip offset of tap group k's first row (its gather base). */
static inline int32_t chunk_base(const kwsq_conv_params *d, const kwsq_dims *f, int32_t wp, int32_t k)
{
    return ((16 * k) / f->w) * d->dilation_h * wp;
}

static bool c1_geom_of(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out,
                       c1_geom *g)
{
    const int32_t dm = d->depth_multiplier, taps = f->h * f->w;
    if (in->c != 1 || dm < 1 || dm > MVE_DW_C1_MAX_MULT || out->c != dm || taps < 1 || f->h > 64 || f->w > 64 ||
        d->dilation_h < 1 || d->dilation_w < 1 || d->stride_w < 1 || d->stride_h < 1 || d->pad_w < 0 ||
        d->pad_h < 0 || out->w < 1 || out->h < 1 || in->w < 1 || in->h < 1) {
        return false;
    }
    g->chunks = (taps + 15) / 16;
    const int64_t window = (int64_t)(f->h - 1) * d->dilation_h + 1;
    const int64_t span = (int64_t)(out->w - 1) * d->stride_w + (int64_t)(f->w - 1) * d->dilation_w + 1;
    const int64_t wp = span > (int64_t)in->w + d->pad_w ? span : (int64_t)in->w + d->pad_w;
    if (g->chunks > MVE_DW_C1_MAX_CHUNKS || window * wp > 0x100000) {
        return false;
    }
    g->window = (int32_t)window;
    g->wp = (int32_t)wp;
    /* every tap group's offsets from its base row fit 8 bits: offsets grow
     * with the tap index (a row's span is below wp), so its last tap's */
    for (int32_t c = 0; c < g->chunks; ++c) {
        const int32_t t = 16 * c + 15 < taps ? 16 * c + 15 : taps - 1;
        if (tap_offset(d, f, g->wp, t) - chunk_base(d, f, g->wp, c) > 255) {
            return false;
        }
    }
    return true;
}

int32_t mve_dw_c1_bytes(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out)
{
    c1_geom g;
    return c1_geom_of(d, in, f, out, &g) ? g.window * g.wp : 0;
}

/* n bytes at p set to v, in a tail-predicated loop (16 per pass). */
static inline void fill(int8_t *p, int32_t n, int8_t v)
{
    const int8x16_t z = vdupq_n_s8(v);
    __asm__ volatile("wlstp.8 lr, %[n], 2f\n"
                     "1:\n\t"
                     "vstrb.8 %q[z], [%[p]], #16\n\t"
                     "letp lr, 1b\n"
                     "2:\n"
                     : [p] "+r"(p)
                     : [n] "r"(n), [z] "w"(z)
                     : "lr", "memory");
}

/* n bytes from s to d in increasing order, 16 per pass of a tail-predicated
 * loop (so also for d below an overlapping s: the strip's rows moving up). */
static inline void copy_up(int8_t *d, const int8_t *s, int32_t n)
{
    __asm__ volatile("wlstp.8 lr, %[n], 2f\n"
                     "1:\n\t"
                     "vldrb.8 q0, [%[s]], #16\n\t"
                     "vstrb.8 q0, [%[d]], #16\n\t"
                     "letp lr, 1b\n"
                     "2:\n"
                     : [d] "+r"(d), [s] "+r"(s)
                     : [n] "r"(n)
                     : "q0", "lr", "memory");
}

/* The constants of a layer, computed in Prepare into persistent memory
 * (kwsq_depthwise_conv_s8_persist) or per call on the stack: the clamp,
 * the tap groups' gather offsets and base rows, and the stream: per group
 * of four channels the weights of its channels (chunks x 16 lanes each,
 * zeros past the last tap and for channels past the last; slots in the
 * order 0, 2, 1, 3), then its record (mve_rq4). */
typedef struct {
    int32_t lim[8];                               /* 4 x act_min, 4 x act_max */
    uint8_t off[MVE_DW_C1_MAX_CHUNKS][16];        /* tap offsets from the group's base */
    int32_t base[MVE_DW_C1_MAX_CHUNKS];           /* the groups' base rows in the strip */
    int32_t qs;                                   /* stream bytes per group */
    bool left;                                    /* some channel shifts left */
    bool rn;                                      /* every full group's right shifts nonzero */
    int8_t st[];                                  /* the stream */
} c1_call;

/* The bytes of a layer's c1_call with its stream. */
static int32_t c1_call_bytes(const kwsq_dims *out, const c1_geom *g)
{
    return (int32_t)sizeof(c1_call) + (out->c + 3) / 4 * (64 * g->chunks + (int32_t)sizeof(mve_rq4));
}

/* k (c1_call_bytes of memory) filled for the layer. */
static void c1_build(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *f, const int8_t *w,
                     const int32_t *bias, const kwsq_dims *out, const c1_geom *g, c1_call *k)
{
    const int32_t och = out->c, taps = f->h * f->w, K = g->chunks, cw = 16 * K;
    const int32_t groups = (och + 3) / 4, qs = 4 * cw + (int32_t)sizeof(mve_rq4);
    k->qs = qs;
    /* tap offsets per group of 16 (lanes past the last tap: 0), the
     * group's base its first tap's row */
    const int32_t row_step = d->dilation_h * g->wp, col_end = f->w * d->dilation_w;
    for (int32_t c = 0, t = 0, row = 0, col = 0; c < K; ++c) {
        k->base[c] = row;
        for (int32_t l = 0; l < 16; ++l, ++t) {
            k->off[c][l] = (uint8_t)(t < taps ? row + col - k->base[c] : 0);
            col += d->dilation_w;
            if (col == col_end) {
                col = 0;
                row += row_step;
            }
        }
    }
    /* weights: channel j's taps (stride och in 1HWC, och <= 16) gathered 16
     * at a time into its slot, summed for its record */
    int32_t most = 0;
    bool rn = true;
    const uint8x16_t tstep = vmulq_n_u8(vidupq_n_u8(0, 1), (uint8_t)och);
    for (int32_t gi = 0; gi < groups; ++gi) {
        int8_t *gs = k->st + gi * qs;
        int32_t sums[4] __attribute__((aligned(16))) = {0, 0, 0, 0};
        for (int32_t j = 0; j < 4; ++j) {
            const int32_t ch = 4 * gi + j;
            for (int32_t c = 0; c < K; ++c) {
                const int32_t n = ch < och ? taps - 16 * c : 0;
                const mve_pred16_t pr = vctp8q((uint32_t)(n > 16 ? 16 : n > 0 ? n : 0));
                const int8x16_t v = vldrbq_gather_offset_z_s8(w + ch + 16 * c * och, tstep, pr);
                vstrbq_s8(gs + (((j & 1) << 1) | (j >> 1)) * cw + 16 * c, v);
                sums[j] = vaddvaq_s8(sums[j], v);
            }
        }
        const int32_t sh = mve_rq4_fill((mve_rq4 *)(void *)(gs + 4 * cw), bias, q->multiplier, q->shift, 4 * gi,
                                        och, vldrwq_s32(sums), d->input_offset);
        most = sh > most ? sh : most;
        /* the groups C1_PAIRS takes (full ones) all shift right */
        rn = rn && (4 * gi + 4 > och || sh < 0);
    }
    k->left = most > 0;
    k->rn = rn;
    vstrwq_s32(k->lim, vdupq_n_s32(d->act_min));
    vstrwq_s32(k->lim + 4, vdupq_n_s32(d->act_max));
}

/* The sums of channel slot j (weights wj) of one pixel (x) and, when two,
 * of a second pixel (xb) too, each weight load serving both. */
static inline __attribute__((always_inline)) void sums_k(int32_t K, bool two, const uint8x16_t *x,
                                                         const uint8x16_t *xb, const int8_t *wj, int32_t *sa,
                                                         int32_t *sb)
{
    int8x16_t wv = vldrbq_s8(wj);
    int32_t a = vmladavq_s8(vreinterpretq_s8_u8(x[0]), wv);
    int32_t b = two ? vmladavq_s8(vreinterpretq_s8_u8(xb[0]), wv) : 0;
    for (int32_t c = 1; c < K; ++c) {
        wv = vldrbq_s8(wj + 16 * c);
        a = vmladavaq_s8(a, vreinterpretq_s8_u8(x[c]), wv);
        if (two) {
            b = vmladavaq_s8(b, vreinterpretq_s8_u8(xb[c]), wv);
        }
    }
    *sa = a;
    *sb = b;
}

/* One pixel's (or, when two, two adjacent pixels') output channels from
 * group g0 on: per group of four, the slots' sums (stream order: channels
 * 0, 2, 1, 3) requantized with the group's record. */
static inline __attribute__((always_inline)) void pixel_k(int32_t K, bool left, bool two, const c1_call *k,
                                                          int32_t g0, const uint8x16_t *x, const uint8x16_t *xb, int32_t och,
                                                          int32_t out_off, int32x4_t lo, int32x4_t hi, int8_t *y,
                                                          int8_t *yb)
{
    const int32_t groups = (och + 3) / 4;
    const int8_t *g = k->st + g0 * k->qs;
    for (int32_t gi = g0; gi < groups; ++gi, g += k->qs) {
        int32_t a0, a1, a2, a3, b0, b1, b2, b3;
        sums_k(K, two, x, xb, g, &a0, &b0);
        sums_k(K, two, x, xb, g + 16 * K, &a2, &b2);
        int32x4_t va = vsetq_lane_s32(a2, vdupq_n_s32(a0), 2);
        int32x4_t vb = vsetq_lane_s32(b2, vdupq_n_s32(b0), 2);
        sums_k(K, two, x, xb, g + 32 * K, &a1, &b1);
        sums_k(K, two, x, xb, g + 48 * K, &a3, &b3);
        va = vsetq_lane_s32(a3, vsetq_lane_s32(a1, va, 1), 3);
        vb = vsetq_lane_s32(b3, vsetq_lane_s32(b1, vb, 1), 3);
        const mve_rq4 *r = (const mve_rq4 *)(const void *)(g + 64 * K);
        const int32_t n = gi + 1 < groups ? 4 : och - 4 * gi;
        mve_rq4_out(left, va, r, n, out_off, lo, hi, y + 4 * gi);
        if (two) {
            mve_rq4_out(left, vb, r, n, out_off, lo, hi, yb + 4 * gi);
        }
    }
}

/* N (> 0) full groups of four channels of two pixels side by side, one or
 * two tap groups (X0, X1 the first pixel's taps, XB0, XB1 the second's), no
 * left shifts: per channel slot (stream order 0, 2, 1, 3) a weight load per
 * tap group serving both pixels and a VMLAV(A) per pixel, the sums of
 * channels 0 and 2 moved into lanes 0 and 2 of both vectors before channels
 * 1 and 3 are summed; then both vectors requantized with the group's record
 * (FIX as in mve_requant.h), clamped to LIM[0..3], LIM[4..7] and stored at Y
 * and YB: 28 + 12 K instructions per four channels of two pixels. */
#define C1_SLOT1(RA, RB)                                                                                       \
    "vldrb.8 q4, [%[r]], #16\n\t" "vmlav.s8 " RA ", %q[x0], q4\n\t" "vmlav.s8 " RB ", %q[xb0], q4\n\t"
#define C1_SLOT2(RA, RB)                                                                                       \
    C1_SLOT1(RA, RB) "vldrb.8 q4, [%[r]], #16\n\t" "vmlava.s8 " RA ", %q[x1], q4\n\t"                            \
    "vmlava.s8 " RB ", %q[xb1], q4\n\t"
#define C1_FIX(A) "vand q7, " A ", q4\n\t" "vshr.s32 q7, q7, #31\n\t" "vqadd.s32 " A ", " A ", q7\n\t"                \
    "vrshl.s32 " A ", " A ", q4\n\t"
#define C1_FIX_RN(A) "vshr.s32 q7, " A ", #31\n\t" "vqadd.s32 " A ", " A ", q7\n\t" "vrshl.s32 " A ", " A ", q4\n\t"
#define C1_PAIRS(SLOT, FIX, R, Y, YB, N, X0, X1, XB0, XB1, OFF, LIM)                                          \
    __asm__ volatile("dls lr, %[n]\n"                                                                        \
                     "1:\n\t" SLOT("r6", "r8") SLOT("r10", "r12")                                              \
                     "vmov q5[2], q5[0], r6, r10\n\t"                                                         \
                     "vmov q6[2], q6[0], r8, r12\n\t" SLOT("r6", "r8") SLOT("r10", "r12")                       \
                     "vmov q5[3], q5[1], r6, r10\n\t"                                                         \
                     "vmov q6[3], q6[1], r8, r12\n\t"                                                         \
                     "vldrw.u32 q4, [%[r]], #40\n\t"                                                          \
                     "vadd.i32 q5, q5, q4\n\t"                                                                \
                     "vadd.i32 q6, q6, q4\n\t"                                                                \
                     "vldrw.u32 q4, [%[r], #-24]\n\t"                                                         \
                     "vqrdmulh.s32 q5, q5, q4\n\t"                                                            \
                     "vqrdmulh.s32 q6, q6, q4\n\t"                                                            \
                     "vldrb.s32 q4, [%[r], #-8]\n\t" FIX("q5") FIX("q6")                                      \
                     "vadd.i32 q5, q5, %[off]\n\t"                                                            \
                     "vadd.i32 q6, q6, %[off]\n\t"                                                            \
                     "vldrw.u32 q4, [%[lim]]\n\t"                                                             \
                     "vmax.s32 q5, q5, q4\n\t"                                                                \
                     "vmax.s32 q6, q6, q4\n\t"                                                                \
                     "vldrw.u32 q4, [%[lim], #16]\n\t"                                                        \
                     "vmin.s32 q5, q5, q4\n\t"                                                                \
                     "vmin.s32 q6, q6, q4\n\t"                                                                \
                     "vstrb.32 q5, [%[y]], #4\n\t"                                                            \
                     "vstrb.32 q6, [%[yb]], #4\n\t"                                                           \
                     "le lr, 1b\n"                                                                           \
                     : [r] "+l"(R), [y] "+l"(Y), [yb] "+l"(YB)                                              \
                     : [n] "r"(N), [x0] "w"(X0), [x1] "w"(X1), [xb0] "w"(XB0), [xb1] "w"(XB1), [off] "r"(OFF),  \
                       [lim] "r"(LIM)                                                                        \
                     : "r6", "r8", "r10", "r12", "q4", "q5", "q6", "q7", "lr", "memory")

/* Whole rows of pixel pairs in assembly (channels a multiple of four):
 * C1_ROW_PAIRS runs ST[5] (> 0) pairs from strip column P; per pair the
 * tap groups of both pixels are gathered into q0-q3 (offsets at ST + 64 and
 * ST + 80, the second group's base row ST[2] bytes on, the second pixel
 * ST[1] = stride on), then the ST[0] groups of four channels as in
 * C1_PAIRS, then the pointers move on (ST[3]: stream bytes to rewind,
 * ST[4]: the channel count) and the pair count is counted down in memory
 * (the loop needs every other register). Clamp at ST + 32. */
#define C1_Q_SLOT1(RA, RB)                                                                                     \
    "vldrb.8 q4, [%[r]], #16\n\t" "vmlav.s8 " RA ", q0, q4\n\t" "vmlav.s8 " RB ", q2, q4\n\t"
#define C1_Q_SLOT2(RA, RB)                                                                                     \
    C1_Q_SLOT1(RA, RB) "vldrb.8 q4, [%[r]], #16\n\t" "vmlava.s8 " RA ", q1, q4\n\t" "vmlava.s8 " RB ", q3, q4\n\t"
#define C1_GATHER1                                                                                             \
    "vldrw.u32 q5, [%[st], #64]\n\t" "vldrb.u8 q0, [%[p], q5]\n\t" "ldr %[t], [%[st], #4]\n\t"                     \
    "add %[t], %[t], %[p]\n\t" "vldrb.u8 q2, [%[t], q5]\n\t"
#define C1_GATHER2                                                                                             \
    C1_GATHER1 "vldrw.u32 q5, [%[st], #80]\n\t" "ldr r6, [%[st], #8]\n\t" "add r8, r6, %[p]\n\t"                   \
    "vldrb.u8 q1, [r8, q5]\n\t" "add r8, r6, %[t]\n\t" "vldrb.u8 q3, [r8, q5]\n\t"
/* Four channels of a pair of pixels (q5, q6): SLOT's two dots per channel into r6/r8 and
 * r10/r12, moved into the lanes, then bias, multiplier, FIX's shift, the output offset and
 * the clamp from ST; C1_ROW_PAIRS and C1_ROW_PAIRS4 share it. */
#define C1_PAIR_QUAD(SLOT, FIX)                                                                              \
    SLOT("r6", "r8") SLOT("r10", "r12")                                                                      \
    "vmov q5[2], q5[0], r6, r10\n\t"                                                                         \
    "vmov q6[2], q6[0], r8, r12\n\t" SLOT("r6", "r8") SLOT("r10", "r12")                                     \
    "vmov q5[3], q5[1], r6, r10\n\t"                                                                         \
    "vmov q6[3], q6[1], r8, r12\n\t"                                                                         \
    "vldrw.u32 q4, [%[r]], #40\n\t"                                                                          \
    "vadd.i32 q5, q5, q4\n\t"                                                                                \
    "vadd.i32 q6, q6, q4\n\t"                                                                                \
    "vldrw.u32 q4, [%[r], #-24]\n\t"                                                                         \
    "vqrdmulh.s32 q5, q5, q4\n\t"                                                                            \
    "vqrdmulh.s32 q6, q6, q4\n\t"                                                                            \
    "vldrb.s32 q4, [%[r], #-8]\n\t" FIX("q5") FIX("q6")                                                      \
    "vadd.i32 q5, q5, %[off]\n\t"                                                                            \
    "vadd.i32 q6, q6, %[off]\n\t"                                                                            \
    "vldrw.u32 q4, [%[st], #32]\n\t"                                                                         \
    "vmax.s32 q5, q5, q4\n\t"                                                                                \
    "vmax.s32 q6, q6, q4\n\t"                                                                                \
    "vldrw.u32 q4, [%[st], #48]\n\t"                                                                         \
    "vmin.s32 q5, q5, q4\n\t"                                                                                \
    "vmin.s32 q6, q6, q4\n\t"
#define C1_ROW_PAIRS(GATHER, SLOT, FIX, P, R, Y, YB, ST, OFF, T)                                              \
    __asm__ volatile("2:\n\t" GATHER                                                                         \
                     "ldr r6, [%[st]]\n\t"                                                                    \
                     "dls lr, r6\n"                                                                           \
                     "1:\n\t" C1_PAIR_QUAD(SLOT, FIX)                                                                \
                     "vstrb.32 q5, [%[y]], #4\n\t"                                                            \
                     "vstrb.32 q6, [%[yb]], #4\n\t"                                                           \
                     "le lr, 1b\n\t"                                                                          \
                     "ldr r6, [%[st], #12]\n\t"                                                               \
                     "sub %[r], %[r], r6\n\t"                                                                 \
                     "ldr r6, [%[st], #16]\n\t"                                                               \
                     "add %[y], %[y], r6\n\t"                                                                 \
                     "add %[yb], %[yb], r6\n\t"                                                               \
                     "ldr r6, [%[st], #4]\n\t"                                                                \
                     "add %[p], %[p], r6, lsl #1\n\t"                                                         \
                     "ldr r6, [%[st], #20]\n\t"                                                               \
                     "subs r6, r6, #1\n\t"                                                                    \
                     "str r6, [%[st], #20]\n\t"                                                               \
                     "bne 2b\n"                                                                              \
                     : [p] "+r"(P), [r] "+l"(R), [y] "+l"(Y), [yb] "+l"(YB), [t] "=&r"(T)                     \
                     : [st] "r"(ST), [off] "r"(OFF)                                                          \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "lr", "cc",   \
                       "memory")

/* C1_ROW_PAIRS for exactly four channels (multiplier 4): one group per
 * pair, so no inner loop, the stream rewound by its size QS (a constant of
 * K), both pixels' outputs stored in turn at Y, the stride SW and the
 * second tap group's base row D1 in registers; ST[5] pairs, the offsets
 * and clamp as in C1_ROW_PAIRS. */
#define C1_ROW_PAIRS4(GATHER, SLOT, FIX, QS, P, R, Y, ST, OFF, SW, D1, T)                                      \
    __asm__ volatile("ldr r6, [%[st], #20]\n\t"                                                              \
                     "dls lr, r6\n"                                                                           \
                     "2:\n\t" GATHER C1_PAIR_QUAD(SLOT, FIX)                                                                \
                     "vstrb.32 q5, [%[y]], #4\n\t"                                                            \
                     "vstrb.32 q6, [%[y]], #4\n\t"                                                            \
                     "sub %[r], %[r], #" QS "\n\t"                                                            \
                     "add %[p], %[t], %[sw]\n\t"                                                              \
                     "le lr, 2b\n"                                                                           \
                     : [p] "+r"(P), [r] "+l"(R), [y] "+l"(Y), [t] "=&r"(T)                                    \
                     : [st] "r"(ST), [off] "r"(OFF), [sw] "r"(SW), [d1] "r"(D1)                               \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "lr", "memory")
#define C1_GATHER4_1                                                                                           \
    "vldrw.u32 q5, [%[st], #64]\n\t" "add %[t], %[p], %[sw]\n\t" "vldrb.u8 q0, [%[p], q5]\n\t"                    \
    "vldrb.u8 q2, [%[t], q5]\n\t"
#define C1_GATHER4_2                                                                                           \
    C1_GATHER4_1 "vldrw.u32 q5, [%[st], #80]\n\t" "add r6, %[p], %[d1]\n\t" "add r8, %[t], %[d1]\n\t"             \
    "vldrb.u8 q1, [r6, q5]\n\t" "vldrb.u8 q3, [r8, q5]\n\t"

/* Whole rows of single pixels in assembly for three to five tap groups
 * (channels a multiple of four): C1_ROW_SINGLE runs ST[5] (> 0) pixels from
 * strip column P; per pixel the K tap groups are gathered into q0-q4 (group
 * k: base row ST[24 + k] bytes on, offsets at ST + 128 + 16 k), then per
 * group of four channels (ST[0] of them) per channel slot K weight loads
 * and VMLAV(A)s, the four sums moved into q6 and requantized as in
 * C1_PAIRS, stored at Y; then P moves a stride (ST[1]) and the stream back
 * (ST[3]). */
#define C1_G(Q, OB, OO)                                                                                         \
    "ldr r6, [%[st], #" OB "]\n\t" "add r6, r6, %[p]\n\t" "vldrw.u32 q7, [%[st], #" OO "]\n\t"                     \
    "vldrb.u8 " Q ", [r6, q7]\n\t"
#define C1_G3 C1_G("q0", "96", "128") C1_G("q1", "100", "144") C1_G("q2", "104", "160")
#define C1_G4 C1_G3 C1_G("q3", "108", "176")
#define C1_G5 C1_G4 C1_G("q4", "112", "192")
#define C1_M(Q, R, OP) "vldrb.8 q5, [%[r]], #16\n\t" OP " " R ", " Q ", q5\n\t"
#define C1_CH3(R) C1_M("q0", R, "vmlav.s8") C1_M("q1", R, "vmlava.s8") C1_M("q2", R, "vmlava.s8")
#define C1_CH4(R) C1_CH3(R) C1_M("q3", R, "vmlava.s8")
#define C1_CH5(R) C1_CH4(R) C1_M("q4", R, "vmlava.s8")
#define C1_FIX1(A) "vand q7, " A ", q5\n\t" "vshr.s32 q7, q7, #31\n\t" "vqadd.s32 " A ", " A ", q7\n\t"               \
    "vrshl.s32 " A ", " A ", q5\n\t"
#define C1_FIX1_RN(A) "vshr.s32 q7, " A ", #31\n\t" "vqadd.s32 " A ", " A ", q7\n\t" "vrshl.s32 " A ", " A ", q5\n\t"
#define C1_ROW_SINGLE(GATHER, CH, FIX, P, R, Y, ST, OFF)                                                       \
    __asm__ volatile("2:\n\t" GATHER                                                                         \
                     "ldr r6, [%[st]]\n\t"                                                                    \
                     "dls lr, r6\n"                                                                           \
                     "1:\n\t" CH("r6") CH("r10")                                                              \
                     "vmov q6[2], q6[0], r6, r10\n\t" CH("r8") CH("r12")                                      \
                     "vmov q6[3], q6[1], r8, r12\n\t"                                                         \
                     "vldrw.u32 q5, [%[r]], #40\n\t"                                                          \
                     "vadd.i32 q6, q6, q5\n\t"                                                                \
                     "vldrw.u32 q5, [%[r], #-24]\n\t"                                                         \
                     "vqrdmulh.s32 q6, q6, q5\n\t"                                                            \
                     "vldrb.s32 q5, [%[r], #-8]\n\t" FIX("q6")                                                \
                     "vadd.i32 q6, q6, %[off]\n\t"                                                            \
                     "vldrw.u32 q5, [%[st], #32]\n\t"                                                         \
                     "vmax.s32 q6, q6, q5\n\t"                                                                \
                     "vldrw.u32 q5, [%[st], #48]\n\t"                                                         \
                     "vmin.s32 q6, q6, q5\n\t"                                                                \
                     "vstrb.32 q6, [%[y]], #4\n\t"                                                            \
                     "le lr, 1b\n\t"                                                                          \
                     "ldr r6, [%[st], #12]\n\t"                                                               \
                     "sub %[r], %[r], r6\n\t"                                                                 \
                     "ldr r6, [%[st], #4]\n\t"                                                                \
                     "add %[p], %[p], r6\n\t"                                                                 \
                     "ldr r6, [%[st], #20]\n\t"                                                               \
                     "subs r6, r6, #1\n\t"                                                                    \
                     "str r6, [%[st], #20]\n\t"                                                               \
                     "bne 2b\n"                                                                              \
                     : [p] "+r"(P), [r] "+l"(R), [y] "+l"(Y)                                                  \
                     : [st] "r"(ST), [off] "r"(OFF)                                                          \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "lr", "cc",   \
                       "memory")

/* One output row: every pixel (p: its window's first column in the strip,
 * stepping by the stride sw), K tap groups (a constant per instance, or 0:
 * the layer's, in loops); with at most two groups and no left shift,
 * pixels in pairs: whole rows in C1_ROW_PAIRS when the channels are a
 * multiple of four (the loop record st), else their full groups in
 * C1_PAIRS and a last group of 1-3 channels in C; the pixels left (all of
 * them with more groups or left shifts) one at a time in C. */
static inline __attribute__((always_inline)) void row_k(int32_t K, bool left, bool rn, const c1_call *k,
                                                        int32_t kk, int32_t *st, const int8_t *p, int32_t sw,
                                                        int32_t out_w, int32_t och, int32_t out_off, int32x4_t lo,
                                                        int32x4_t hi, int8_t *y)
{
    int32_t ox = 0;
    const int32_t full = och / 4;
    if (K >= 1 && K <= 2 && !left && full > 0 && out_w >= 2) {
        if (4 * full == och) {
            const int8_t *r = k->st;
            int8_t *ya = y, *yb = y + och;
            int32_t t;
            st[5] = out_w / 2;
            if (och == 4) {
                const int32_t d1 = k->base[K - 1];
                if (K == 1 && rn) {
                    C1_ROW_PAIRS4(C1_GATHER4_1, C1_Q_SLOT1, C1_FIX_RN, "104", p, r, ya, st, out_off, sw, d1, t);
                } else if (K == 1) {
                    C1_ROW_PAIRS4(C1_GATHER4_1, C1_Q_SLOT1, C1_FIX, "104", p, r, ya, st, out_off, sw, d1, t);
                } else if (rn) {
                    C1_ROW_PAIRS4(C1_GATHER4_2, C1_Q_SLOT2, C1_FIX_RN, "168", p, r, ya, st, out_off, sw, d1, t);
                } else {
                    C1_ROW_PAIRS4(C1_GATHER4_2, C1_Q_SLOT2, C1_FIX, "168", p, r, ya, st, out_off, sw, d1, t);
                }
            } else if (K == 1 && rn) {
                C1_ROW_PAIRS(C1_GATHER1, C1_Q_SLOT1, C1_FIX_RN, p, r, ya, yb, st, out_off, t);
            } else if (K == 1) {
                C1_ROW_PAIRS(C1_GATHER1, C1_Q_SLOT1, C1_FIX, p, r, ya, yb, st, out_off, t);
            } else if (rn) {
                C1_ROW_PAIRS(C1_GATHER2, C1_Q_SLOT2, C1_FIX_RN, p, r, ya, yb, st, out_off, t);
            } else {
                C1_ROW_PAIRS(C1_GATHER2, C1_Q_SLOT2, C1_FIX, p, r, ya, yb, st, out_off, t);
            }
            (void)t;
            ox = out_w & ~1;
            y = ya;
        } else {
            for (; ox + 2 <= out_w; ox += 2, p += 2 * sw, y += 2 * och) {
                const uint8x16_t o0 = vldrbq_u8(k->off[0]), o1 = vldrbq_u8(k->off[1]);
                const uint8_t *p0 = (const uint8_t *)p, *p1 = (const uint8_t *)p + k->base[1];
                const uint8x16_t x0 = vldrbq_gather_offset_u8(p0, o0);
                const uint8x16_t xb0 = vldrbq_gather_offset_u8(p0 + sw, o0);
                const uint8x16_t x1 = K == 2 ? vldrbq_gather_offset_u8(p1, o1) : x0;
                const uint8x16_t xb1 = K == 2 ? vldrbq_gather_offset_u8(p1 + sw, o1) : xb0;
                const int8_t *r = k->st;
                int8_t *ya = y, *yb = y + och;
                if (K == 1 && rn) {
                    C1_PAIRS(C1_SLOT1, C1_FIX_RN, r, ya, yb, full, x0, x1, xb0, xb1, out_off, st + 8);
                } else if (K == 1) {
                    C1_PAIRS(C1_SLOT1, C1_FIX, r, ya, yb, full, x0, x1, xb0, xb1, out_off, st + 8);
                } else if (rn) {
                    C1_PAIRS(C1_SLOT2, C1_FIX_RN, r, ya, yb, full, x0, x1, xb0, xb1, out_off, st + 8);
                } else {
                    C1_PAIRS(C1_SLOT2, C1_FIX, r, ya, yb, full, x0, x1, xb0, xb1, out_off, st + 8);
                }
                const uint8x16_t xa[2] = {x0, x1}, xb[2] = {xb0, xb1};
                pixel_k(K, false, true, k, full, xa, xb, och, out_off, lo, hi, y, y + och);
            }
        }
    }
    if (K >= 3 && K <= 5 && !left && 4 * full == och) {
        const int8_t *r = k->st;
        st[5] = out_w;
        if (K == 3 && rn) {
            C1_ROW_SINGLE(C1_G3, C1_CH3, C1_FIX1_RN, p, r, y, st, out_off);
        } else if (K == 3) {
            C1_ROW_SINGLE(C1_G3, C1_CH3, C1_FIX1, p, r, y, st, out_off);
        } else if (K == 4 && rn) {
            C1_ROW_SINGLE(C1_G4, C1_CH4, C1_FIX1_RN, p, r, y, st, out_off);
        } else if (K == 4) {
            C1_ROW_SINGLE(C1_G4, C1_CH4, C1_FIX1, p, r, y, st, out_off);
        } else if (rn) {
            C1_ROW_SINGLE(C1_G5, C1_CH5, C1_FIX1_RN, p, r, y, st, out_off);
        } else {
            C1_ROW_SINGLE(C1_G5, C1_CH5, C1_FIX1, p, r, y, st, out_off);
        }
        return;
    }
    const int32_t kn = K > 0 ? K : kk;
    for (; ox < out_w; ++ox, p += sw, y += och) {
        uint8x16_t x[MVE_DW_C1_MAX_CHUNKS];
        for (int32_t c = 0; c < kn; ++c) {
            x[c] = vldrbq_gather_offset_u8((const uint8_t *)p + k->base[c], vldrbq_u8(k->off[c]));
        }
        pixel_k(kn, left, false, k, 0, x, x, och, out_off, lo, hi, y, y);
    }
}

/* The strip for output row oy: the rows still needed moved up, the new ones
 * copied (a row outside the input: zero points). */
static __attribute__((noinline)) void strip_enter(const kwsq_conv_params *d, const kwsq_dims *in,
                                                  const c1_geom *g, const int8_t *img, int32_t oy, int8_t *strip)
{
    const int32_t window = g->window, wp = g->wp, in_w = in->w, sh = d->stride_h;
    const int32_t iy0 = oy * sh - d->pad_h;
    int32_t keep = 0;
    if (oy > 0 && sh < window) {
        keep = window - sh;
        copy_up(strip, strip + sh * wp, keep * wp);
    }
    for (int32_t r = keep; r < window; ++r) {
        const int32_t iy = iy0 + r;
        int8_t *dst = strip + r * wp + d->pad_w;
        if (iy >= 0 && iy < in->h) {
            copy_up(dst, img + iy * in_w, in_w);
        } else {
            fill(dst, in_w, (int8_t)-d->input_offset);
        }
    }
}

/* Every output row of the layer, K (constant per instance, 0: any) tap
 * groups, left and rn as in row_k. */
static inline __attribute__((always_inline)) void layer_k(int32_t K, bool left, bool rn, const c1_call *k,
                                                          const kwsq_conv_params *d, const kwsq_dims *in,
                                                          const int8_t *x, const kwsq_dims *out, const c1_geom *g,
                                                          int8_t *strip, int8_t *y)
{
    const int32_t och = out->c, out_w = out->w, sw = d->stride_w, out_off = d->output_offset;
    const int32x4_t lo = vdupq_n_s32(d->act_min), hi = vdupq_n_s32(d->act_max);
    /* the record of C1_ROW_PAIRS (and the clamp of C1_PAIRS at st + 8) */
    int32_t st[32 + 4 * MVE_DW_C1_MAX_CHUNKS] __attribute__((aligned(16)));
    st[0] = och / 4;
    st[1] = sw;
    st[2] = k->base[1];
    st[3] = (och / 4) * k->qs;
    st[4] = och;
    vstrwq_s32(st + 8, lo);
    vstrwq_s32(st + 12, hi);
    vstrbq_u8((uint8_t *)(st + 16), vldrbq_u8(k->off[0]));
    vstrbq_u8((uint8_t *)(st + 20), vldrbq_u8(k->off[1]));
    /* C1_ROW_SINGLE's: every tap group's base row and offsets */
    for (int32_t c = 0; c < g->chunks; ++c) {
        st[24 + c] = k->base[c];
        vstrbq_u8((uint8_t *)(st + 32 + 4 * c), vldrbq_u8(k->off[c]));
    }
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in->h * in->w;
        for (int32_t oy = 0; oy < out->h; ++oy, y += out_w * och) {
            strip_enter(d, in, g, img, oy, strip);
            row_k(K, left, rn, k, g->chunks, st, strip, sw, out_w, och, out_off, lo, hi, y);
        }
    }
}

/* layer_k with K, left and rn constant: pairs (rn or not) for one or two
 * tap groups, single pixels (rn or not up to five) for 3 to
 * MVE_DW_C1_MAX_CHUNKS, one loop version for left shifts. */
static __attribute__((noinline)) void layer_any(const c1_call *k, const kwsq_conv_params *d, const kwsq_dims *in,
                                                const int8_t *x, const kwsq_dims *out, const c1_geom *g,
                                                int8_t *strip, int8_t *y)
{
#define C1_LAYER(KK, RN) layer_k(KK, false, RN, k, d, in, x, out, g, strip, y)
/* The rounding form (k->rn) as a constant of each instance, like the tap-group count. */
#define C1_LAYER_RN(KK)            \
    do {                           \
        if (k->rn) {               \
            C1_LAYER(KK, true);    \
        } else {                   \
            C1_LAYER(KK, false);   \
        }                          \
    } while (0)
    if (k->left) {
        layer_k(0, true, false, k, d, in, x, out, g, strip, y);
        return;
    }
    switch (g->chunks) {
    case 1:
        C1_LAYER_RN(1);
        break;
    case 2:
        C1_LAYER_RN(2);
        break;
    case 3:
        C1_LAYER_RN(3);
        break;
    case 4:
        C1_LAYER_RN(4);
        break;
    case 5:
        C1_LAYER_RN(5);
        break;
    case 6:
        C1_LAYER(6, false);
        break;
    case 7:
        C1_LAYER(7, false);
        break;
    default:
        C1_LAYER(8, false);
        break;
    }
#undef C1_LAYER_RN
#undef C1_LAYER
}

int32_t mve_dw_c1_persist(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in,
                          const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out,
                          void *persist)
{
    c1_geom g;
    if (!c1_geom_of(d, in, f, out, &g) || (int64_t)out->n * out->h * out->w > MVE_DW_C1_PERSIST_PX) {
        return 0;
    }
    if (persist != NULL) {
        c1_build(d, q, f, w, bias, out, &g, persist);
    }
    return c1_call_bytes(out, &g);
}

bool mve_depthwise_c1(const kwsq_context *ctx, const kwsq_conv_params *d, const kwsq_quant_params *q,
                      const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const int8_t *w,
                      const int32_t *bias, const kwsq_dims *out, int8_t *y)
{
    c1_geom g;
    if (!c1_geom_of(d, in, f, out, &g) || ctx->buf == NULL || ctx->size < g.window * g.wp) {
        return false;
    }
    /* the layer's constants: from Prepare, or built here */
    const c1_call *k = KWSQ_CONTEXT_PERSIST(ctx);
    uint64_t mem[k != NULL ? 1 : (c1_call_bytes(out, &g) + 7) / 8];
    if (k == NULL) {
        c1_build(d, q, f, w, bias, out, &g, (c1_call *)(void *)mem);
        k = (const c1_call *)(const void *)mem;
    }
    int8_t *strip = ctx->buf;
    /* the pad columns never change: the whole strip starts as zero points */
    fill(strip, g.window * g.wp, (int8_t)-d->input_offset);
    layer_any(k, d, in, x, out, &g, strip, y);
    return true;
}
