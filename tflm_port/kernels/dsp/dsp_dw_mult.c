/*
 * Depthwise int8 convolution with depth multiplier > 1 for the dsp kernels
 * (one input channel feeding several outputs, as the first layer of a
 * spectrogram network; CMSIS-NN has no fast path for it).
 *
 * SMLAD needs two taps of one output channel in a word. The window rows of
 * one input channel are widened into int16 "slots" with the input offset
 * added (padding = 0, so borders need no special case), laid out so that
 * the taps (fx, fx + 1) of a pixel are adjacent halfwords: one unaligned
 * LDR. With dilation d a slot holds d phases (columns c, c + d, c + 2d, ...),
 * which makes dilated taps adjacent too. When the whole output row is one
 * chunk and every input channel's window fits, the slots slide down the
 * input (each input row widened once); otherwise each output row widens its
 * window. The
 * weights of four output channels of that input channel are paired the same
 * way once per call, (w[fx], w[fx + 1]) per channel (an odd row ends in a
 * pair with a zero weight), so one loaded input pair serves four channels:
 *   LDR x; LDM {w0-w3}; 4 x SMLAD            (8 MACs in 6 instructions)
 * (groups of one or two channels: LDR x; LDRD; 2 x SMLAD). Per filter row,
 * the pairs run as a straight block entered at the right depth (up to
 * MR_PAIRS pairs; wider rows in bands, accumulating), so a row costs 4
 * instructions of control. The accumulators start at the bias; a chunk of
 * pixels' accumulators is requantized per channel with the output offset
 * folded into the rounding (as dsp_dw3x3.c does), and kept doubled (x2
 * weights and bias) when every channel takes that short stage.
 *
 * Output rows are finished in increasing order and a pass reads only input
 * rows of its own window (the row-order contract, spill 0).
 */
#include "dsp_dw_mult.h"

#include <stddef.h>
#include <string.h>

#include "dsp_dw_rq.h"
#include "dsp_simd.h"

#define MR_PAIRS 8          /* tap pairs of a filter row per assembly block */
#define MR_PIX 32           /* output pixels per chunk (accumulator buffer) */
#define MR_ROWS_MAX 1536    /* bytes of widened rows (stack) */
#define MR_W_MAX 2048       /* bytes of paired weights (stack) */
/* every plain layer (kwsq_kernels.h, DW_GENERIC) fits: at most
 * KWSQ_DW_PLAIN_TAPS pairs a group, and one pixel's slots (at most
 * W + 2 * dilation + 2 halfwords a row) within KWSQ_DW_PLAIN_WINDOW */
typedef char mr_plain_check[(MR_W_MAX >= 16 * KWSQ_DW_PLAIN_TAPS && MR_ROWS_MAX >= 2 * KWSQ_DW_PLAIN_WINDOW) ? 1
                                                                                                         : -1];

typedef struct {
    int32_t fh, fw, np;     /* filter rows, taps per row, tap pairs per row */
    int32_t s, d;           /* stride and dilation along x */
    int32_t pix;            /* output pixels per chunk */
    int32_t lq;             /* halfwords per dilation phase of a row slot */
    int32_t slot;           /* halfwords per row slot (a multiple of 4) */
    int32_t span_h;         /* input rows of a window - 1 */
    int32_t cap;            /* row slots per input channel in the buffer, > span_h */
    bool slide;             /* one chunk per output row and every channel's rows fit:
                               the slots slide down the input, each row widened once */
    int32_t groups;         /* groups of four output channels per input channel */
    int32_t gwords;         /* weight words of a group: 4 * fh * np */
    bool wall;              /* every group's weights paired once per call */
} mr_geom;

static bool __attribute__((noinline)) geometry(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f,
                                              const kwsq_dims *out,
                     mr_geom *g)
{
    g->fh = f->h;
    g->fw = f->w;
    g->np = (f->w + 1) / 2;
    g->s = p->stride_w;
    g->d = p->dilation_w;
    g->groups = (p->depth_multiplier + 3) / 4;
    /* Bounded first, so that everything below fits in int32 without
     * turning down a layer that would fit: filter sides <= 4096, strides
     * <= 65536 (Prepare refuses more), a window row of at most 65536 columns
     * and MR_ROWS_MAX / 2 rows (a slot takes at least 2 bytes a column and
     * at least 4 a row) */
    if (f->h < 1 || f->w < 1 || f->h > 4096 || f->w > 4096 || f->h * f->w > 4096 || g->s < 1 || g->d < 1 ||
        g->s > 65536 || g->d > 65536 || p->dilation_h < 1 || f->w - 1 > 65536 / g->d ||
        f->h - 1 > (MR_ROWS_MAX / 2 - 1) / p->dilation_h || 16 * f->h * g->np > MR_W_MAX) {
        return false;
    }
    g->gwords = 4 * g->fh * g->np;
    /* every group's weights (in_ch * groups * gwords * 4 bytes) fit */
    g->wall = g->groups <= MR_W_MAX / (g->gwords * 4) && in->c <= MR_W_MAX / (g->groups * g->gwords * 4);
    const int32_t span = (f->w - 1) * g->d;
    const int32_t span_h = (f->h - 1) * p->dilation_h;
    g->span_h = span_h;
    for (int32_t pix = out->w < MR_PIX ? out->w : MR_PIX; pix >= 1; --pix) {
        const int32_t lc = (pix - 1) * g->s + span + 1;
        const int32_t lq = (lc + g->d - 1) / g->d + 1;
        const int32_t slot = (g->d * lq + 3) & ~3;
        if (slot <= MR_ROWS_MAX && slot * (span_h + 1) * 2 <= MR_ROWS_MAX) {
            const int32_t one = slot * (span_h + 1) * 2;   /* one input channel's rows */
            g->slide = pix == out->w && in->c <= MR_ROWS_MAX / one;
            g->cap = MR_ROWS_MAX / ((g->slide ? in->c : 1) * slot * 2);
            g->pix = pix;
            g->lq = lq;
            g->slot = slot;
            return true;
        }
    }
    return false;
}

bool dsp_dw_mult_fits(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out)
{
    mr_geom g;
    return p->depth_multiplier > 1 && !p->in_place && out->c == in->c * p->depth_multiplier && out->w >= 1 &&
           in->w < 32768 && in->h < 32768 && geometry(p, in, f, out, &g);
}

/* The paired weights (times scale) of output channels oc0 .. oc0 + nk - 1
 * (nk <= width, 2 or 4; the missing lanes get zero weights): for each band
 * of MR_PAIRS pairs, [filter row][pair][channel] = (w[fx], w[fx + 1]). */
static void __attribute__((noinline)) group_weights(const mr_geom *g, const int8_t *filter, int32_t out_ch, int32_t oc0, int32_t nk,
                          int32_t width, int32_t scale, uint32_t *dst)
{
    for (int32_t b0 = 0; b0 < g->np; b0 += MR_PAIRS) {
        const int32_t nb = g->np - b0 < MR_PAIRS ? g->np - b0 : MR_PAIRS;
        for (int32_t fy = 0; fy < g->fh; ++fy) {
            for (int32_t k = 0; k < nb; ++k) {
                const int32_t fx = 2 * (b0 + k);
                const int8_t *w0 = filter + ((int64_t)fy * g->fw + fx) * out_ch + oc0;
                for (int32_t c = 0; c < width; ++c) {
                    const int32_t lo = c < nk ? scale * w0[c] : 0;
                    const int32_t hi = c < nk && fx + 1 < g->fw ? scale * w0[out_ch + c] : 0;
                    *dst++ = ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
                }
            }
        }
    }
}

/* n halfwords of 0 (a loop GCC does not turn into a memset call: the
 * pieces are short). */
static void zero16(int16_t *dst, int32_t n)
{
    for (; n > 0; --n) {
        __asm__("");
        *dst++ = 0;
    }
}

/* n input bytes + offset into halfwords. */
static void widen_line(int16_t *dst, const int8_t *src, int32_t n, int32_t offset)
{
    const uint32_t off2 = dsp_dup16(offset);
    for (; n >= 4; n -= 4, src += 4, dst += 4) {
        const uint32_t v = dsp_ld32(src);
        const uint32_t e = dsp_sxtab16(off2, v), o = dsp_sxtab16_ror8(off2, v);
        dsp_st32(dst, dsp_pack_lo(e, o));
        dsp_st32(dst + 2, dsp_pack_hi(e, o));
    }
    for (; n > 0; --n) {
        *dst++ = (int16_t)(*src++ + offset);
    }
}

/* dst[j] = row[(col0 + j * step) * in_ch] + offset for j < n, 0 where the
 * column lies outside the input. */
static void widen_cols(int16_t *dst, int32_t n, int32_t col0, int32_t step, const int8_t *row, int32_t in_w,
                       int32_t in_ch, int32_t offset)
{
    int32_t lo = col0 >= 0 ? 0 : (-col0 + step - 1) / step;
    int32_t hi = col0 >= in_w ? 0 : (in_w - col0 + step - 1) / step;
    lo = lo < n ? lo : n;
    hi = hi < lo ? lo : (hi < n ? hi : n);
    zero16(dst, lo);
    const int8_t *sp = row + (int64_t)(col0 + lo * step) * in_ch;
    if (step == 1 && in_ch == 1) {
        widen_line(dst + lo, sp, hi - lo, offset);
    } else {
        const int32_t inc = step * in_ch;
        for (int32_t j = lo; j < hi; ++j, sp += inc) {
            dst[j] = (int16_t)(*sp + offset);
        }
    }
    zero16(dst + hi, n - hi);
}

/* Input rows [iy_lo, iy_hi) of input channel ic for the chunk of output
 * pixels starting at ox0, into consecutive slots from dst: phase ph, element
 * j of a slot = input column ox0 * stride - pad + ph + j * d, plus the
 * offset, or 0 in the padding. */
static void __attribute__((noinline)) widen_rows(const mr_geom *g, const kwsq_conv_params *p, const int8_t *img, const kwsq_dims *in,
                       int32_t ic, int32_t ox0, int32_t iy_lo, int32_t iy_hi, int16_t *dst)
{
    const int32_t cx0 = ox0 * g->s - p->pad_w;
    for (int32_t iy = iy_lo; iy < iy_hi; ++iy, dst += g->slot) {
        if (iy < 0 || iy >= in->h) {
            zero16(dst, g->slot);
            continue;
        }
        const int8_t *row = img + (int64_t)iy * in->w * in->c + ic;
        for (int32_t ph = 0; ph < g->d; ++ph) {
            widen_cols(dst + ph * g->lq, g->lq, cx0 + ph, g->d, row, in->w, in->c, p->input_offset);
        }
    }
}

/* One call of the pixel loop. The assembly reads the fields at these
 * offsets and updates px, init, out and n as it goes. */
typedef struct {
    const uint8_t *px;      /* 0: the pixel's first pair in slot 0 */
    int32_t pxstep;         /* 4: bytes from pixel to pixel */
    const int32_t *init;    /* 8: the pixel's four starting accumulators */
    int32_t initstep;       /* 12: bytes from pixel to pixel (0: the same for all) */
    int32_t *out;           /* 16: four accumulators per pixel */
    int32_t n;              /* 20: pixels, >= 1 */
    const uint32_t *w;      /* 24: [row][pair][4 channels] */
    int32_t rstep;          /* 28: bytes from after a row's last pair to the next row's first */
    int32_t pairs;          /* 32: pairs per row, 1 .. MR_PAIRS */
    int32_t rows;           /* 36: >= 1 */
    int32_t width;          /* 40: channels, 2 (accumulators 2 and 3 untouched) or 4 */
    /* 44: NULL, or (four channels, one band of pairs, the short stage with
     * the whole int8 range) per channel (multiplier, folded rounding
     * constant, right shift): each pixel's four outputs are requantized and
     * stored as bytes at out (then out += ystep) instead of its accumulators */
    const int32_t *rq;
    int32_t ystep;          /* 48: output bytes from pixel to pixel (fused) */
} mr_args;

#ifdef KWSQ_DSP_NATIVE
typedef char mr_args_layout_check[(offsetof(mr_args, w) == 24 && offsetof(mr_args, width) == 40 &&
                                   offsetof(mr_args, rq) == 44 && offsetof(mr_args, ystep) == 48 &&
                                   sizeof(void *) == 4) ? 1 : -1];

/* One fused output (r9: the channel's constants, advanced): */
#define MR_RQ(R)                                                                                          \
    "ldmia r9!, {r4-r6}\n\t"                                                                              \
    "add r7, r5, " R ", asr #31\n\t"                                                                      \
    "smmlar " R ", " R ", r4, r7\n\t"                                                                     \
    "asr " R ", " R ", r6\n\t"                                                                            \
    "ssat " R ", #8, " R "\n\t"

/* r0-r3 accumulators, r4 input pair, r5-r8 weight pairs, r9 input, r10
 * weights, r11 row step, r12 rows left, lr the block entry: a computed
 * jump into the unrolled pairs of the 2-wide block (16 bytes a pair, then a
 * branch past the other) or the 4-wide one (24 bytes), 32-bit encodings
 * forced. ADR's Align(PC, 4) is resolved when assembling, against the
 * function's section start: the function must be 4-byte aligned, or every
 * computed entry lands two bytes off in a link that places it at 2 mod 4
 * (inside the previous pair's last SMLAD). */
__attribute__((naked, noinline, aligned(4))) static void mr_run(mr_args *a)
{
    (void)a;
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "ldr r4, [r0, #32]\n\t"
        "ldr r6, [r0, #40]\n\t"
        "adr.w r5, 3f\n\t"
        "adr.w r7, 4f\n\t"
        "cmp r6, #2\n\t"
        "it eq\n\t"
        "moveq r5, r7\n\t"
        "lsl r6, r6, #2\n\t"
        "add r6, r6, #8\n\t"
        "mul r4, r4, r6\n\t"
        "sub r5, r5, r4\n\t"
        "orr r5, r5, #1\n\t"
        "push {r0, r5}\n\t"
        "mov r12, r0\n\t"
        "ldmia r12, {r4-r8, lr}\n\t"
        "1:\n\t"
        "ldmia r6, {r0-r3}\n\t"
        "mov r9, r4\n\t"
        "ldrd r10, r11, [r12, #24]\n\t"
        "ldr r12, [r12, #36]\n\t"
        "ldr lr, [sp, #4]\n\t"
        "2:\n\t"
        "bx lr\n\t"
        ".rept 8\n\t"
        "ldr.w r4, [r9], #4\n\t"
        "ldrd r5, r6, [r10], #8\n\t"
        "smlad r0, r5, r4, r0\n\t"
        "smlad r1, r6, r4, r1\n\t"
        ".endr\n\t"
        "4:\n\t"
        "b 3f\n\t"
        ".rept 8\n\t"
        "ldr.w r4, [r9], #4\n\t"
        "ldmia.w r10!, {r5-r8}\n\t"
        "smlad r0, r5, r4, r0\n\t"
        "smlad r1, r6, r4, r1\n\t"
        "smlad r2, r7, r4, r2\n\t"
        "smlad r3, r8, r4, r3\n\t"
        ".endr\n\t"
        "3:\n\t"
        "add r9, r9, r11\n\t"
        "subs r12, r12, #1\n\t"
        "bne 2b\n\t"
        "ldr r12, [sp]\n\t"
        "ldr r9, [r12, #44]\n\t"
        "cmp r9, #0\n\t"
        "bne 5f\n\t"
        "ldmia r12, {r4-r8, lr}\n\t"
        "stmia r8!, {r0-r3}\n\t"
        "b 7f\n\t"
        /* fused: the four outputs of the pixel */
        "5:\n\t"
        MR_RQ("r0")
        MR_RQ("r1")
        MR_RQ("r2")
        MR_RQ("r3")
        "ldmia r12, {r4-r8, lr}\n\t"
        "strb r0, [r8]\n\t"
        "strb r1, [r8, #1]\n\t"
        "strb r2, [r8, #2]\n\t"
        "strb r3, [r8, #3]\n\t"
        "ldr r9, [r12, #48]\n\t"
        "add r8, r8, r9\n\t"
        "7:\n\t"
        "add r4, r4, r5\n\t"
        "add r6, r6, r7\n\t"
        "subs lr, lr, #1\n\t"
        "stmia r12, {r4-r8, lr}\n\t"
        "bne 1b\n\t"
        "add sp, sp, #8\n\t"
        "pop {r4-r11, pc}\n\t");
}
typedef char mr_pairs_check[MR_PAIRS == 8 ? 1 : -1];  /* the .rept counts above */
#undef MR_RQ
#else
static void mr_run(mr_args *a)
{
    for (; a->n > 0; --a->n) {
        int32_t a0 = a->init[0], a1 = a->init[1], a2 = a->init[2], a3 = a->init[3];
        const uint32_t *w = a->w;
        const uint8_t *px = a->px;
        for (int32_t r = 0; r < a->rows; ++r, px += a->rstep) {
            for (int32_t k = 0; k < a->pairs; ++k, px += 4, w += a->width) {
                const uint32_t xv = dsp_ld32(px);
                a0 = dsp_smlad(w[0], xv, a0);
                a1 = dsp_smlad(w[1], xv, a1);
                if (a->width == 4) {
                    a2 = dsp_smlad(w[2], xv, a2);
                    a3 = dsp_smlad(w[3], xv, a3);
                }
            }
        }
        if (a->rq != NULL) {
            const int32_t acc[4] = {a0, a1, a2, a3};
            int8_t *y = (int8_t *)(void *)a->out;
            for (int32_t c = 0; c < 4; ++c) {
                const int32_t *k = a->rq + 3 * c;
                y[c] = (int8_t)dsp_ssat8(dsp_dw_rq_short(acc[c], k[0], k[1], k[2]));
            }
            a->out = (int32_t *)(void *)(y + a->ystep);
        } else {
            a->out[0] = a0;
            a->out[1] = a1;
            a->out[2] = a2;
            a->out[3] = a3;
            a->out += 4;
        }
        a->px += a->pxstep;
        a->init = (const int32_t *)(const void *)((const uint8_t *)a->init + a->initstep);
    }
}
#endif

/* One channel's output stage. */
typedef struct {
    int32_t mult, shift, right, hv, out_offset, act_min, act_max;
} mr_chan;

/* The short requantization of accumulators kept doubled (the weights and
 * bias were doubled, so SRDHM is one SMMULR), with the output offset folded
 * into the rounding constant (hv = 2^(right-1) + offset * 2^right, exact:
 * adding a multiple of 2^right commutes with the shift); when the clamp is
 * the whole int8 range, one SSAT (the assembly loop below; the clamp gives
 * the same bytes). */
static inline __attribute__((always_inline)) int8_t requant(const mr_chan *k, int32_t acc)
{
    int32_t v = dsp_dw_rq_short(acc, k->mult, k->hv, k->right);
    v = v < k->act_min ? k->act_min : v;
    return (int8_t)(v > k->act_max ? k->act_max : v);
}

/* Output channels oc0 .. oc0 + nk - 1 of n pixels from their accumulators
 * acc[4 * i + c] into y[i * ystep + c] (groups the pass does not store:
 * fewer than four channels, bands of pairs, a clamp inside int8). */
static void __attribute__((noinline)) group_short(const dsp_out *o, int32_t oc0, int32_t nk, const int32_t *acc,
                                                  int32_t n, int8_t *y, int32_t ystep)
{
    for (int32_t c = 0; c < nk; ++c) {
        mr_chan k;
        k.mult = o->mult[oc0 + c];
        k.shift = o->shift[oc0 + c];
        k.right = -k.shift;
        k.out_offset = o->out_offset;
        k.act_min = o->act_min;
        k.act_max = o->act_max;
        k.hv = (int32_t)((2u * (uint32_t)k.out_offset + 1u) << (k.right - 1));
        int8_t *yp = y + c;
        for (int32_t i = 0; i < n; ++i, yp += ystep) {
            *yp = requant(&k, acc[4 * i + c]);
        }
    }
}

/* The general stage (right shifts past 22, left shifts, accumulators past
 * the short stage's bound), accumulators not doubled: dsp_requant.h's. */
static void __attribute__((noinline)) group_general(const dsp_out *o, int32_t oc0, int32_t nk,
                                                    const int32_t *acc, int32_t n, int8_t *y, int32_t ystep)
{
    for (int32_t c = 0; c < nk; ++c) {
        for (int32_t i = 0; i < n; ++i) {
            y[i * ystep + c] = dsp_out_one_call(o, acc[4 * i + c], oc0 + c);
        }
    }
}

/* Per channel oc0 .. oc0 + 3: multiplier, folded rounding constant, right shift. */
static void rq_consts(const dsp_out *o, int32_t oc0, int32_t *k)
{
    for (int32_t c = 0; c < 4; ++c, k += 3) {
        const int32_t right = -o->shift[oc0 + c];
        k[0] = o->mult[oc0 + c];
        k[1] = (int32_t)((2u * (uint32_t)o->out_offset + 1u) << (right - 1));
        k[2] = right;
    }
}

void dsp_dw_mult(const kwsq_conv_params *p, const dsp_out *o, const kwsq_dims *in, const int8_t *x,
                 const kwsq_dims *f, const int8_t *filter, const int32_t *bias, const kwsq_dims *out, int8_t *y)
{
    mr_geom g;
    (void)geometry(p, in, f, out, &g);
    const int32_t in_ch = in->c, dm = p->depth_multiplier;
    const int32_t out_h = out->h, out_w = out->w, out_ch = out->c;
    uint32_t wbuf[g.wall ? in_ch * g.groups * g.gwords : g.gwords];
    int16_t slots[(g.slide ? in_ch : 1) * g.cap * g.slot];
    int32_t acc[4 * g.pix];
    int32_t binit[4];
    /* every channel takes the short output stage: accumulate doubled (x2
     * weights, in int16 lanes; 2 * acc fits: the stage's bound) */
    bool fold = o->short_rq;
    for (int32_t c = 0; c < out_ch && fold; ++c) {
        fold = -o->shift[c] >= 1 && -o->shift[c] <= 22;
    }
    const int32_t scale = fold ? 2 : 1;
    int32_t rqt[12];    /* the fused stage's constants of a group */
    if (g.wall) {
        for (int32_t ic = 0; ic < in_ch; ++ic) {
            for (int32_t grp = 0; grp < g.groups; ++grp) {
                const int32_t oc0 = ic * dm + 4 * grp;
                const int32_t nk = dm - 4 * grp < 4 ? dm - 4 * grp : 4;
                group_weights(&g, filter, out_ch, oc0, nk, nk <= 2 ? 2 : 4, scale,
                              wbuf + (int64_t)(ic * g.groups + grp) * g.gwords);
            }
        }
    }
    /* pixels a constant number of halfwords apart in one phase */
    const bool steps = g.s % g.d == 0;
    int32_t base = 0, have = 0;     /* input rows of slot 0 and of the first slot not filled */
    mr_args a;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in->h * in->w * in_ch;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            for (int32_t ox0 = 0; ox0 < out_w; ox0 += g.pix) {
                const int32_t n = out_w - ox0 < g.pix ? out_w - ox0 : g.pix;
                int8_t *yrow = y + (((int64_t)bt * out_h + oy) * out_w + ox0) * out_ch;
                /* the window's input rows: rows [base, have) are in the slots
                 * already (sliding); move the ones still needed to the front
                 * when the window would run past the buffer */
                const int32_t iy0 = oy * p->stride_h - p->pad_h, iy_end = iy0 + g.span_h + 1;
                int32_t nbase = base, keep = 0;
                if (!g.slide || oy == 0) {
                    nbase = have = iy0;
                } else if (iy_end - base > g.cap) {
                    keep = have > iy0 ? have - iy0 : 0;
                    nbase = iy0;
                }
                const int32_t from = have > iy0 ? have : iy0;
                for (int32_t ic = 0; ic < in_ch; ++ic) {
                    int16_t *set = slots + (g.slide ? (int64_t)ic * g.cap * g.slot : 0);
                    for (int32_t i = 0; i < keep * g.slot; i += 4) {
                        /* forward copy, 8 bytes a step */
                        uint64_t v;
                        __asm__("");
                        memcpy(&v, set + (iy0 - base) * g.slot + i, 8);
                        memcpy(set + i, &v, 8);
                    }
                    widen_rows(&g, p, img, in, ic, ox0, from, iy_end, set + (from - nbase) * g.slot);
                    const int16_t *rows = set + (iy0 - nbase) * g.slot;
                    for (int32_t grp = 0; grp < g.groups; ++grp) {
                        const int32_t oc0 = ic * dm + 4 * grp, nk = dm - 4 * grp < 4 ? dm - 4 * grp : 4;
                        /* groups of one or two channels take the 2-wide block */
                        const int32_t width = nk <= 2 ? 2 : 4;
                        const uint32_t *wg = wbuf;
                        if (g.wall) {
                            wg += (int64_t)(ic * g.groups + grp) * g.gwords;
                        } else {
                            group_weights(&g, filter, out_ch, oc0, nk, width, scale, wbuf);
                        }
                        for (int32_t c = 0; c < 4; ++c) {
                            binit[c] = c < nk && bias != NULL ? (int32_t)((uint32_t)bias[oc0 + c] * (uint32_t)scale) : 0;
                        }
                        /* four channels, one band of pairs, the short stage with the
                         * whole int8 range: the pass stores the outputs */
                        const bool fused = fold && o->full_range && nk == 4 && g.np <= MR_PAIRS;
                        a.rq = NULL;
                        if (fused) {
                            rq_consts(o, oc0, rqt);
                            a.rq = rqt;
                            a.ystep = out_ch;
                        }
                        for (int32_t b0 = 0; b0 < g.np; b0 += MR_PAIRS) {
                            const int32_t pairs = g.np - b0 < MR_PAIRS ? g.np - b0 : MR_PAIRS;
                            a.w = wg + (int64_t)g.fh * b0 * width;
                            a.width = width;
                            a.rstep = p->dilation_h * g.slot * 2 - pairs * 4;
                            a.pairs = pairs;
                            a.rows = g.fh;
                            for (int32_t i = 0; i < n; i = steps ? n : i + 1) {
                                /* all pixels at once, or one by one when their phases differ */
                                const int32_t c = i * g.s;
                                a.px = (const uint8_t *)(rows + (c % g.d) * g.lq + c / g.d + 2 * b0);
                                a.pxstep = 2 * (g.s / g.d);
                                a.init = b0 == 0 ? binit : acc + 4 * i;
                                a.initstep = b0 == 0 ? 0 : 16;
                                a.out = fused ? (int32_t *)(void *)(yrow + oc0 + (int64_t)i * out_ch) : acc + 4 * i;
                                a.n = steps ? n : 1;
                                mr_run(&a);
                            }
                        }
                        if (fused) {
                            continue;
                        }
                        if (fold) {
                            group_short(o, oc0, nk, acc, n, yrow + oc0, out_ch);
                        } else {
                            group_general(o, oc0, nk, acc, n, yrow + oc0, out_ch);
                        }
                    }
                }
                base = nbase;
                have = iy_end;
            }
        }
    }
}
