/*
 * Depthwise int8 convolution for any filter size, stride, dilation, padding
 * and depth multiplier (dsp kernels): the multiplier-1 layers that are not
 * 3x3 stride 1 (dsp_dw3x3.c) and the multiplier > 1 layers on several input
 * channels (dsp_dw_mult.c serves one input channel).
 *
 * SMLAD needs two taps of one output channel in a word. For a band of output
 * rows, the input of 1, 2 or 4 channels is widened once into int16 "planes"
 * (one per channel: a line per input row of the band's windows, padding =
 * the input zero point, so the input offset folds into the bias: bias +
 * offset * sum(w)). With dilation d a line holds d phases (columns c, c + d,
 * c + 2d, ... of one phase adjacent), so the taps (fx, fx + 1) of a pixel
 * are adjacent halfwords: one (unaligned) LDR. The weights of an output
 * channel are paired the same way, (w[fx], w[fx + 1]) per filter row (an odd
 * row ends in a pair with a zero weight), and one weight pair serves four
 * output pixels of the same channel:
 *   LDR w; 4 x (LDR x; SMLAD)         (8 MACs in 9 instructions)
 * The pixels of a pass are a constant number of halfwords apart: with
 * dilation d and stride s, the pixels ox = r, r + m, r + 2m, ... (m = d /
 * gcd(s, d)) lie in one phase, s / gcd(s, d) halfwords apart, so a line's
 * pixels run as m such classes (m = 1 without dilation). Per filter row the
 * pairs run as a straight block entered at the right depth (up to DA_PAIRS
 * pairs; wider rows in bands that accumulate). A depth multiplier k runs k
 * output channels over one input channel's plane, so every input value is
 * widened once per band whatever k is.
 *
 * Output stage: accumulators kept doubled (x2 weights and bias) and
 * requantized with the output offset folded into the rounding, as
 * dsp_dw3x3.c does, on every channel whose right shift is 1..22 (when the
 * layer takes the short stage); the others take dsp_out_one_call.
 *
 * Output is written band by band and, within a band, channel block by
 * channel block: a layer whose output overlaps its input (an overlapped
 * plan, kwsq_kernels.h) takes the dispatch's row-ordered paths instead; in
 * place only when one band and one chunk hold the whole input, so that a
 * block reads all of its input before writing over it.
 */
#include "dsp_dw_any.h"

#include <stddef.h>

#include "dsp_dw_rq.h"
#include "dsp_simd.h"
#include "kwsq_math.h"

#define DA_BUF 2560         /* bytes of int16 planes (stack) */
#define DA_PAIRS 8          /* tap pairs of a filter row per assembly block */
#define DA_PIX 64           /* output pixels per chunk of a row */
#define DA_MAX_STEP 64      /* strides and dilations up to this */
/* Per output channel, a record in the scratch: DA_REC words of constants
 * (the starting accumulator, the multiplier, the folded rounding constant,
 * the right shift or -1 when the channel takes dsp_out_one_call), then its
 * paired weights. */
#define DA_REC 8


typedef struct {
    int32_t fh, fw, np;     /* filter rows, taps per row, tap pairs per row */
    int32_t sw, sh, dw, dh; /* strides and dilations */
    int32_t m;              /* pixel classes of a line (dw / gcd(sw, dw)) */
    int32_t step;           /* halfwords between neighbours of a class (sw / gcd) */
    int32_t pix;            /* output pixels per chunk */
    int32_t lq;             /* halfwords per dilation phase of a line */
    int32_t line;           /* halfwords per line (dw * lq, even) */
    int32_t win_h;          /* input rows of one output row's window */
    int32_t band;           /* output rows per band */
    int32_t nc;             /* channels widened per block: 1, 2 or 4 */
} da_geom;

static int32_t gcd32(int32_t a, int32_t b)
{
    while (b != 0) {
        const int32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Halfwords per phase for chunks of `pix` pixels: every pixel a pass
 * computes (classes rounded up to groups of four) and the zero lane after an
 * odd row's last tap lie inside its line. */
static int32_t phase_len(const da_geom *g, int32_t pix)
{
    const int32_t n = (pix + g->m - 1) / g->m;
    const int32_t last = ((n + 3) & ~3) * g->m - 1;
    const int32_t cols = last * g->sw + g->fw * g->dw + 1;
    return (cols + g->dw - 1) / g->dw;
}

static bool geometry(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out,
                     bool rowwise, da_geom *g)
{
    g->fh = f->h;
    g->fw = f->w;
    g->sw = p->stride_w;
    g->sh = p->stride_h;
    g->dw = p->dilation_w;
    g->dh = p->dilation_h;
    if (f->h < 1 || f->w < 1 || f->h > KWSQ_DW_PLAIN_TAPS || f->w > 2 * KWSQ_DW_PLAIN_TAPS || g->sw < 1 ||
        g->sh < 1 || g->dw < 1 || g->dh < 1 || g->sw > DA_MAX_STEP || g->sh > DA_MAX_STEP ||
        g->dw > DA_MAX_STEP || g->dh > DA_MAX_STEP || out->w < 1 || out->h < 1 || in->c < 1 ||
        in->w >= 32768 || in->h >= 32768) {
        return false;
    }
    g->np = (f->w + 1) / 2;
    if (g->fh * g->np > KWSQ_DW_PLAIN_TAPS) {
        return false;   /* weight pairs on the stack */
    }
    const int32_t gc = gcd32(g->sw, g->dw);
    g->m = g->dw / gc;
    g->step = g->sw / gc;
    g->win_h = (g->fh - 1) * g->dh + 1;
    /* widening cost per 2 values by block width (4, 2, 1 channels) */
    static const int32_t cost2[3] = {4, 6, 9};
    for (int32_t pix = out->w < DA_PIX ? out->w : DA_PIX; pix >= 1; pix = pix > 4 ? (pix + 1) / 2 : pix - 1) {
        const int32_t lq = phase_len(g, pix);
        const int32_t line = (g->dw * lq + 1) & ~1;
        int64_t best = -1;
        for (int32_t k = 0, nc = 4; k < 3; ++k, nc /= 2) {
            const int32_t max_lines = DA_BUF / (2 * nc * line);
            if (nc > in->c || max_lines < g->win_h) {
                continue;
            }
            int32_t band = (max_lines - g->win_h) / g->sh + 1;
            band = band < out->h ? band : out->h;
            /* an overlapped plan: a pass (band) writes at most
             * KWSQ_DSP_DW_SPILL pixels past the row it starts in */
            const int32_t most = 1 + KWSQ_DSP_DW_SPILL / out->w;
            band = rowwise && band > most ? most : band;
            if (p->in_place && (band < out->h || pix < out->w)) {
                continue;
            }
            /* values widened per channel (lines x line) times the cost */
            const int64_t bands = (out->h + band - 1) / band;
            const int64_t cost = bands * ((band - 1) * g->sh + g->win_h) * line * cost2[k];
            if (best < 0 || cost < best) {
                best = cost;
                g->nc = nc;
                g->band = band;
            }
        }
        if (best >= 0) {
            g->pix = pix;
            g->lq = lq;
            g->line = line;
            return true;
        }
    }
    return false;
}

bool dsp_dw_any_fits(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out)
{
    da_geom g;
    return p->depth_multiplier >= 1 && out->c == in->c * p->depth_multiplier && f->c == out->c &&
           (!p->in_place || p->depth_multiplier == 1) && geometry(p, in, f, out, false, &g);
}

int32_t dsp_dw_any_scratch(const kwsq_dims *f, const kwsq_dims *out)
{
    return out->c * (DA_REC + f->h * ((f->w + 1) / 2)) * 4;
}

/* n values from src (one every `step` bytes, channels ic .. ic + nc - 1 of
 * each) into the planes d, d + plane, ... (nc = 1, 2 or 4). */
static void widen_run(int16_t *d, int32_t plane, const int8_t *src, int32_t step, int32_t n, int32_t nc)
{
    int32_t i = 0;
    if (nc == 4) {
        int16_t *d1 = d + plane, *d2 = d1 + plane, *d3 = d2 + plane;
        for (; i + 2 <= n; i += 2, src += 2 * step) {
            /* channels c..c+3 of two pixels: pairs by channel */
            const uint32_t v0 = dsp_ld32(src), v1 = dsp_ld32(src + step);
            const uint32_t lo = dsp_pack_lo(v0, v1), hi = dsp_pack_hi(v0, v1);
            dsp_st32(d + i, dsp_sxtb16(lo));
            dsp_st32(d1 + i, dsp_sxtb16_ror8(lo));
            dsp_st32(d2 + i, dsp_sxtb16(hi));
            dsp_st32(d3 + i, dsp_sxtb16_ror8(hi));
        }
        if (i < n) {
            d[i] = src[0];
            d1[i] = src[1];
            d2[i] = src[2];
            d3[i] = src[3];
        }
    } else if (nc == 2) {
        int16_t *d1 = d + plane;
        for (; i + 2 <= n; i += 2, src += 2 * step) {
            const uint32_t v = dsp_pack_lo(dsp_ld16(src), dsp_ld16(src + step));
            dsp_st32(d + i, dsp_sxtb16(v));
            dsp_st32(d1 + i, dsp_sxtb16_ror8(v));
        }
        if (i < n) {
            d[i] = src[0];
            d1[i] = src[1];
        }
    } else {
        for (; i < n; ++i, src += step) {
            d[i] = *src;
        }
    }
}

/* Lines [0, lines) of the planes of channels ic .. ic + nc - 1: line l holds
 * input row iy0 + l, phase ph element i input column cx0 + ph + i * dw. Only
 * input values are written: the rest keeps the zero point. */
static void widen(const da_geom *g, const kwsq_dims *in, const int8_t *img, int32_t ic, int32_t nc, int32_t cx0,
                  int32_t iy0, int32_t lines, int16_t *planes, int32_t plane)
{
    const int32_t in_w = in->w, in_c = in->c, dw = g->dw, lq = g->lq, step = dw * in_c;
    const int32_t row_bytes = in_w * in_c;
    int32_t l0 = iy0 < 0 ? -iy0 : 0, l1 = in->h - iy0;
    l1 = l1 < lines ? l1 : lines;
    for (int32_t ph = 0; ph < dw; ++ph) {
        /* the phase's elements inside the input, the same on every line */
        const int32_t c0 = cx0 + ph;
        const int32_t lo = c0 >= 0 ? 0 : (-c0 + dw - 1) / dw;
        int32_t hi = c0 >= in_w ? 0 : (in_w - c0 + dw - 1) / dw;
        hi = hi < lq ? hi : lq;
        if (lo >= hi) {
            continue;
        }
        const int8_t *src = img + (int64_t)(iy0 + l0) * row_bytes + (int64_t)(c0 + lo * dw) * in_c + ic;
        int16_t *dst = planes + l0 * g->line + ph * lq + lo;
        for (int32_t l = l0; l < l1; ++l, src += row_bytes, dst += g->line) {
            widen_run(dst, plane, src, step, hi - lo, nc);
        }
    }
}

/* The zero point wherever the planes' lines [0, lines) hold no input
 * value: the whole line outside the input rows, else the columns outside
 * the input (`cols`: those too; without, the columns keep it from the
 * chunk's first band, since widen writes only input values). */
static void fill(const da_geom *g, const kwsq_dims *in, int32_t cx0, int32_t iy0, int32_t lines, bool cols,
                 uint32_t *words, int32_t plane, uint32_t zp2)
{
    const int16_t zp = (int16_t)zp2;
    for (int32_t l = 0; l < lines; ++l) {
        const bool row_in = iy0 + l >= 0 && iy0 + l < in->h;
        if (row_in && !cols) {
            continue;
        }
        for (int32_t c = 0; c < g->nc; ++c) {
            int16_t *ln = (int16_t *)(void *)(words + (c * plane + l * g->line) / 2);
            if (!row_in) {
                uint32_t *lw = words + (c * plane + l * g->line) / 2;
                for (int32_t i = 0; i < g->line / 2; ++i) {
                    lw[i] = zp2;
                }
                continue;
            }
            for (int32_t ph = 0; ph < g->dw; ++ph) {
                const int32_t c0 = cx0 + ph, dw = g->dw, lq = g->lq;
                int32_t lo = c0 >= 0 ? 0 : (-c0 + dw - 1) / dw;
                int32_t hi = c0 >= in->w ? 0 : (in->w - c0 + dw - 1) / dw;
                lo = lo < lq ? lo : lq;
                hi = hi < lo ? lo : (hi < lq ? hi : lq);
                int16_t *d = ln + ph * lq;
                for (int32_t i = 0; i < lo; ++i) {
                    d[i] = zp;
                }
                for (int32_t i = hi; i < lq; ++i) {
                    d[i] = zp;
                }
            }
            for (int32_t i = g->dw * g->lq; i < g->line; ++i) {
                ln[i] = zp;
            }
        }
    }
}

/* One call of the pixel loop: `orows` output rows of `ng` groups of four
 * pixels each. The assembly reads the fields at these offsets and updates
 * xp, init, out, n and orows as it goes. With `fused`, each group's four
 * outputs are requantized (short stage, whole int8 range) and stored at
 * out, out + ystep, ... (only `tail` of them in a row's last group);
 * otherwise its four accumulators are stored at out. */
typedef struct {
    const uint8_t *xp;      /* 0: the group's pixel 0: its first pair in the window's first line */
    int32_t gstep;          /* 4: bytes from group to group (four pixels) */
    const int32_t *init;    /* 8: the group's four starting accumulators */
    int32_t initstep;       /* 12: bytes from group to group (0: the same for all) */
    void *out;              /* 16: four accumulators per group, or (fused) the group's first output */
    int32_t n;              /* 20: groups left in this output row, >= 1 */
    const uint32_t *w;      /* 24: [row][pair] */
    int32_t rstep;          /* 28: bytes from after a filter row's last pair to the next row's first */
    int32_t pairs;          /* 32: pairs per filter row, 1 .. DA_PAIRS */
    int32_t rows;           /* 36: filter rows, >= 1 */
    int32_t pstep;          /* 40: bytes from pixel to pixel */
    int32_t ng;             /* 44: groups per output row */
    int32_t rowjump;        /* 48: bytes from the group after a row's last to the next row's first */
    int32_t orows;          /* 52: output rows left, >= 1 */
    int32_t mult;           /* 56: (fused) the channel's multiplier */
    int32_t hv;             /* 60: its rounding constant with the output offset folded in */
    int32_t right;          /* 64: its right shift, 1 .. 22 */
    int32_t ystep;          /* 68: output bytes from pixel to pixel */
    int32_t tail;           /* 72: valid pixels of a row's last group, 1 .. 4 */
    int32_t yrowjump;       /* 76: output bytes from the group after a row's last to the next row's first */
    int32_t fused;          /* 80 */
} da_args;

#ifdef KWSQ_DSP_NATIVE
typedef char da_args_layout_check[(offsetof(da_args, w) == 24 && offsetof(da_args, pstep) == 40 &&
                                   offsetof(da_args, orows) == 52 && offsetof(da_args, fused) == 80 &&
                                   sizeof(void *) == 4) ? 1 : -1];

/* The end of a group (accumulators in r0-r3, the args at [sp]); then back
 * to label 1 (the next group: r12 = args) or out through label 6. */
#define DA_RQ(R)                                                                                          \
    "add r7, r5, " R ", asr #31\n\t"                                                                      \
    "smmlar " R ", " R ", r4, r7\n\t"                                                                     \
    "asr " R ", " R ", r6\n\t"                                                                            \
    "ssat " R ", #8, " R "\n\t"
#define DA_GROUP_END                                                                                      \
    "ldr r12, [sp]\n\t"                                                                                   \
    "ldr r4, [r12, #80]\n\t"                                                                              \
    "cmp r4, #0\n\t"                                                                                      \
    "beq.w 10f\n\t"                                                                                       \
    "ldrd r4, r5, [r12, #56]\n\t"                                                                         \
    "ldrd r6, r11, [r12, #64]\n\t"                                                                        \
    "ldrd r10, r9, [r12, #16]\n\t"                                                                        \
    DA_RQ("r0")                                                                                           \
    "strb r0, [r10]\n\t"                                                                                  \
    "cmp r9, #1\n\t"                                                                                      \
    "bne 7f\n\t"                                                                                          \
    "ldr r8, [r12, #72]\n\t"                                                                              \
    "subs r8, r8, #1\n\t"                                                                                 \
    "beq 8f\n\t"                                                                                          \
    DA_RQ("r1")                                                                                           \
    "strb r1, [r10, r11]\n\t"                                                                             \
    "subs r8, r8, #1\n\t"                                                                                 \
    "beq 8f\n\t"                                                                                          \
    "add r10, r10, r11, lsl #1\n\t"                                                                       \
    DA_RQ("r2")                                                                                           \
    "strb r2, [r10]\n\t"                                                                                  \
    "subs r8, r8, #1\n\t"                                                                                 \
    "beq 8f\n\t"                                                                                          \
    DA_RQ("r3")                                                                                           \
    "strb r3, [r10, r11]\n\t"                                                                             \
    "b 8f\n\t"                                                                                            \
    "7:\n\t"                                                                                              \
    DA_RQ("r1")                                                                                           \
    "strb r1, [r10, r11]\n\t"                                                                             \
    "add r10, r10, r11, lsl #1\n\t"                                                                       \
    DA_RQ("r2")                                                                                           \
    "strb r2, [r10]\n\t"                                                                                  \
    DA_RQ("r3")                                                                                           \
    "strb r3, [r10, r11]\n\t"                                                                             \
    "8:\n\t"                                                                                              \
    "ldr r10, [r12, #16]\n\t"                                                                             \
    "add r10, r10, r11, lsl #2\n\t"                                                                       \
    "ldrd r4, r5, [r12, #0]\n\t"                                                                          \
    "add r4, r4, r5\n\t"                                                                                  \
    "subs r9, r9, #1\n\t"                                                                                 \
    "bne 9f\n\t"                                                                                          \
    "ldrd r9, r5, [r12, #44]\n\t"                                                                         \
    "add r4, r4, r5\n\t"                                                                                  \
    "ldr r5, [r12, #76]\n\t"                                                                              \
    "add r10, r10, r5\n\t"                                                                                \
    "ldr r5, [r12, #52]\n\t"                                                                              \
    "subs r5, r5, #1\n\t"                                                                                 \
    "beq 6f\n\t"                                                                                          \
    "str r5, [r12, #52]\n\t"                                                                              \
    "9:\n\t"                                                                                              \
    "str r4, [r12, #0]\n\t"                                                                               \
    "strd r10, r9, [r12, #16]\n\t"                                                                        \
    "b 1b\n\t"                                                                                            \
    "10:\n\t"                                                                                             \
    "ldmia r12, {r4-r9}\n\t"                                                                              \
    "stmia r8!, {r0-r3}\n\t"                                                                              \
    "add r4, r4, r5\n\t"                                                                                  \
    "add r6, r6, r7\n\t"                                                                                  \
    "subs r9, r9, #1\n\t"                                                                                 \
    "bne 5f\n\t"                                                                                          \
    "ldrd r9, r10, [r12, #44]\n\t"                                                                        \
    "add r4, r4, r10\n\t"                                                                                 \
    "ldr r10, [r12, #52]\n\t"                                                                             \
    "subs r10, r10, #1\n\t"                                                                               \
    "beq 6f\n\t"                                                                                          \
    "str r10, [r12, #52]\n\t"                                                                             \
    "5:\n\t"                                                                                              \
    "stmia r12, {r4-r9}\n\t"                                                                              \
    "b 1b\n\t"                                                                                            \
    "6:\n\t"                                                                                              \
    "add sp, sp, #8\n\t"                                                                                  \
    "pop {r4-r11, pc}\n\t"

/* r0-r3 accumulators of pixels 0-3, r4 weight pair, r5/r6 input pairs, r7
 * pixel 0's input, r8 pixel 2's, r9 the pixel step, r10 weights, r11 row
 * step, r12 filter rows left, lr the block entry: a computed jump into the
 * unrolled pairs (36 bytes a pair, 32-bit encodings forced). ADR's
 * Align(PC, 4) is resolved when assembling, against the function's section
 * start: the function must be 4-byte aligned (see dsp_dw_mult.c's mr_run). */
__attribute__((naked, noinline, aligned(4))) static void da_run(da_args *a)
{
    (void)a;
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "ldr r4, [r0, #32]\n\t"
        "adr.w r5, 3f\n\t"
        "movs r6, #36\n\t"
        "mul r4, r4, r6\n\t"
        "sub r5, r5, r4\n\t"
        "orr r5, r5, #1\n\t"
        "push {r0, r5}\n\t"
        "mov r12, r0\n\t"
        "1:\n\t"
        "ldr r7, [r12, #0]\n\t"
        "ldr r6, [r12, #8]\n\t"
        "ldmia r6, {r0-r3}\n\t"
        "ldr r9, [r12, #40]\n\t"
        "add r8, r7, r9, lsl #1\n\t"
        "ldrd r10, r11, [r12, #24]\n\t"
        "ldr lr, [sp, #4]\n\t"
        "ldr r12, [r12, #36]\n\t"
        "2:\n\t"
        "bx lr\n\t"
        ".rept 8\n\t"
        "ldr.w r4, [r10], #4\n\t"
        "ldr.w r5, [r7, r9]\n\t"
        "ldr.w r6, [r7], #4\n\t"
        "smlad r1, r5, r4, r1\n\t"
        "smlad r0, r6, r4, r0\n\t"
        "ldr.w r5, [r8, r9]\n\t"
        "ldr.w r6, [r8], #4\n\t"
        "smlad r3, r5, r4, r3\n\t"
        "smlad r2, r6, r4, r2\n\t"
        ".endr\n\t"
        "3:\n\t"
        "add r7, r7, r11\n\t"
        "add r8, r8, r11\n\t"
        "subs r12, r12, #1\n\t"
        "bne 2b\n\t"
        DA_GROUP_END);
}
typedef char da_pairs_check[DA_PAIRS == 8 ? 1 : -1];  /* the .rept count above */

/* Stride 2 without dilation, one or two tap pairs a filter row: the four
 * pixels' pairs are consecutive aligned words (pixel k, pair j: word k + j
 * of the line), so one LDM loads a row's inputs of the group:
 *   LDM x0-x4; LDM w0-w1; 8 x SMLAD     (16 MACs in 10 instructions)
 * rstep is the line-to-line byte step (no post-increment). */
#define DA_S2_BODY(WREGS, XREGS, MACS)                                                                    \
    "push {r4-r11, lr}\n\t"                                                                               \
    "ldr r4, [r0, #28]\n\t"                                                                               \
    "push {r0, r4}\n\t"                                                                                   \
    "mov r12, r0\n\t"                                                                                     \
    "1:\n\t"                                                                                              \
    "ldr r11, [r12, #0]\n\t"                                                                              \
    "ldr r4, [r12, #8]\n\t"                                                                               \
    "ldmia r4, {r0-r3}\n\t"                                                                               \
    "ldr lr, [r12, #36]\n\t"                                                                              \
    "ldr r12, [r12, #24]\n\t"                                                                             \
    "2:\n\t"                                                                                              \
    "ldmia r12!, {" WREGS "}\n\t"                                                                         \
    "ldmia r11, {" XREGS "}\n\t"                                                                          \
    MACS                                                                                                  \
    "ldr r4, [sp, #4]\n\t"                                                                                \
    "add r11, r11, r4\n\t"                                                                                \
    "subs lr, lr, #1\n\t"                                                                                 \
    "bne 2b\n\t"                                                                                          \
    DA_GROUP_END

__attribute__((naked, noinline)) static void da_run_s2p1(da_args *a)
{
    (void)a;
    __asm__ volatile(DA_S2_BODY("r9", "r4-r7",
                                "smlad r0, r4, r9, r0\n\t"
                                "smlad r1, r5, r9, r1\n\t"
                                "smlad r2, r6, r9, r2\n\t"
                                "smlad r3, r7, r9, r3\n\t"));
}

__attribute__((naked, noinline)) static void da_run_s2p2(da_args *a)
{
    (void)a;
    __asm__ volatile(DA_S2_BODY("r9, r10", "r4-r8",
                                "smlad r0, r4, r9, r0\n\t"
                                "smlad r1, r5, r9, r1\n\t"
                                "smlad r2, r6, r9, r2\n\t"
                                "smlad r3, r7, r9, r3\n\t"
                                "smlad r0, r5, r10, r0\n\t"
                                "smlad r1, r6, r10, r1\n\t"
                                "smlad r2, r7, r10, r2\n\t"
                                "smlad r3, r8, r10, r3\n\t"));
}

/* The same with three filter rows unrolled (3x3 and 3x4 filters): no row
 * counter, the line step in lr. */
#define DA_S2_ROW3                                                                                        \
    "ldmia r12!, {r9, r10}\n\t"                                                                         \
    "ldmia r11, {r4-r8}\n\t"                                                                            \
    "smlad r0, r4, r9, r0\n\t"                                                                          \
    "smlad r1, r5, r9, r1\n\t"                                                                          \
    "smlad r2, r6, r9, r2\n\t"                                                                          \
    "smlad r3, r7, r9, r3\n\t"                                                                          \
    "smlad r0, r5, r10, r0\n\t"                                                                         \
    "smlad r1, r6, r10, r1\n\t"                                                                         \
    "smlad r2, r7, r10, r2\n\t"                                                                         \
    "smlad r3, r8, r10, r3\n\t"
__attribute__((naked, noinline)) static void da_run_s2p2r3(da_args *a)
{
    (void)a;
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "ldr r4, [r0, #28]\n\t"
        "push {r0, r4}\n\t"
        "mov r12, r0\n\t"
        "1:\n\t"
        "ldr r11, [r12, #0]\n\t"
        "ldr r4, [r12, #8]\n\t"
        "ldmia r4, {r0-r3}\n\t"
        "ldr lr, [sp, #4]\n\t"
        "ldr r12, [r12, #24]\n\t"
        DA_S2_ROW3
        "add r11, r11, lr\n\t"
        DA_S2_ROW3
        "add r11, r11, lr\n\t"
        DA_S2_ROW3
        DA_GROUP_END);
}
#undef DA_S2_ROW3
#undef DA_S2_BODY
#undef DA_GROUP_END
#undef DA_RQ
#else
static void da_run(da_args *a)
{
    for (;;) {
        int32_t acc[4];
        for (int32_t k = 0; k < 4; ++k) {
            acc[k] = a->init[k];
        }
        const uint32_t *w = a->w;
        const uint8_t *px = a->xp;
        for (int32_t r = 0; r < a->rows; ++r, px += a->rstep) {
            for (int32_t j = 0; j < a->pairs; ++j, px += 4) {
                const uint32_t wv = *w++;
                for (int32_t k = 0; k < 4; ++k) {
                    acc[k] = dsp_smlad(dsp_ld32(px + k * a->pstep), wv, acc[k]);
                }
            }
        }
        if (a->fused) {
            int8_t *y = a->out;
            const int32_t valid = a->n == 1 ? a->tail : 4;
            for (int32_t k = 0; k < valid; ++k) {
                y[k * a->ystep] = (int8_t)dsp_ssat8(dsp_dw_rq_short(acc[k], a->mult, a->hv, a->right));
            }
            a->out = y + 4 * a->ystep;
        } else {
            int32_t *out = a->out;
            for (int32_t k = 0; k < 4; ++k) {
                out[k] = acc[k];
            }
            a->out = out + 4;
        }
        a->xp += a->gstep;
        a->init = (const int32_t *)(const void *)((const uint8_t *)a->init + a->initstep);
        if (--a->n == 0) {
            a->n = a->ng;
            a->xp += a->rowjump;
            if (a->fused) {
                a->out = (int8_t *)a->out + a->yrowjump;
            }
            if (--a->orows == 0) {
                return;
            }
        }
    }
}

/* Stride 2, no dilation, one or two pairs a row (rstep: line to line). */
static void da_run_s2(da_args *a)
{
    const int32_t rstep = a->rstep;
    a->rstep = rstep - 4 * a->pairs;
    a->pstep = 4;
    da_run(a);
}
#define da_run_s2p1 da_run_s2
#define da_run_s2p2 da_run_s2
#define da_run_s2p2r3 da_run_s2
#endif

/* Output channel oc (record k) of `rows` rows of n pixels from acc (astride
 * values a row) into y (ystep bytes from pixel to pixel, yrow from row to
 * row). */
static void store(const dsp_out *o, const int32_t *k, int32_t oc, const int32_t *acc, int32_t astride, int32_t n,
                  int32_t rows, int8_t *y, int32_t ystep, int32_t yrow)
{
    const int32_t mult = k[4], hv = k[5], right = k[6], lo = o->act_min, hi = o->act_max;
    for (int32_t r = 0; r < rows; ++r, acc += astride, y += yrow) {
        int8_t *yp = y;
        if (right < 0) {
            for (int32_t i = 0; i < n; ++i, yp += ystep) {
                *yp = dsp_out_one_call(o, acc[i], oc);
            }
        } else if (o->full_range) {
            for (int32_t i = 0; i < n; ++i, yp += ystep) {
                *yp = (int8_t)dsp_ssat8(dsp_dw_rq_short(acc[i], mult, hv, right));
            }
        } else {
            for (int32_t i = 0; i < n; ++i, yp += ystep) {
                int32_t v = dsp_dw_rq_short(acc[i], mult, hv, right);
                v = v < lo ? lo : v;
                *yp = (int8_t)(v > hi ? hi : v);
            }
        }
    }
}

/* The paired weights of output channel oc (times scale), bands of DA_PAIRS
 * pairs: [band][filter row][pair] = (w[fx], w[fx + 1]), 0 past the row's
 * end; returns the sum of the weights. */
static int32_t __attribute__((noinline)) pair_weights(const da_geom *g, bool s4, const uint8_t *filter,
                                                      int32_t out_c, int32_t oc, int32_t scale, uint32_t *wd)
{
    const int32_t fw = g->fw, fh = g->fh;
    int32_t sum = 0;
    for (int32_t b0 = 0; b0 < g->np; b0 += DA_PAIRS) {
        const int32_t nbp = g->np - b0 < DA_PAIRS ? g->np - b0 : DA_PAIRS;
        /* full pairs of the band; the band's last pair has one tap when odd */
        const int32_t full = 2 * (b0 + nbp) > fw ? nbp - 1 : nbp;
        for (int32_t fy = 0; fy < fh; ++fy) {
            const int32_t t0 = (fy * fw + 2 * b0) * out_c + oc;
            if (!s4) {
                const int8_t *w = (const int8_t *)filter + t0;
                for (int32_t j = 0; j < full; ++j, w += 2 * out_c) {
                    const int32_t w0 = w[0], w1 = w[out_c];
                    sum += w0 + w1;
                    *wd++ = ((uint32_t)(scale * w0) & 0xFFFFu) | ((uint32_t)(scale * w1) << 16);
                }
                if (full < nbp) {
                    sum += w[0];
                    *wd++ = (uint32_t)(scale * w[0]) & 0xFFFFu;
                }
            } else {
                for (int32_t j = 0; j < nbp; ++j) {
                    const int32_t t = t0 + 2 * j * out_c;
                    const int32_t w0 = kwsq_int4_at(filter, t);
                    const int32_t w1 = j < full ? kwsq_int4_at(filter, t + out_c) : 0;
                    sum += w0 + w1;
                    *wd++ = ((uint32_t)(scale * w0) & 0xFFFFu) | ((uint32_t)(scale * w1) << 16);
                }
            }
        }
    }
    return sum;
}

#define DA_ACC 128          /* accumulators of one call (stack) */

/* Output channel oc (record k) over the band of `rows` output rows of the
 * chunk of n pixels whose plane line 0 is at pl, into yb (the band and
 * chunk's first pixel, channel 0): every pixel class, band of pairs and
 * group of rows that fits the accumulator buffer, then the output stage
 * when the pass did not fuse it. `a` holds the fields that do not change. */
static void __attribute__((noinline)) channel(const da_geom *g, const dsp_out *o, bool s2, da_args *a,
                                               const int32_t *k, int32_t oc, const int16_t *pl, int32_t n,
                                               int32_t rows, int8_t *yb, int32_t out_w, int32_t out_c)
{
    int32_t acc[DA_ACC];
    a->fused = k[6] > 0 && o->full_range && g->np <= DA_PAIRS;
    a->mult = k[4];
    a->hv = k[5];
    a->right = k[6];
    for (int32_t cl = 0; cl < g->m && cl < n; ++cl) {
        const int32_t nr = (n - cl + g->m - 1) / g->m, ng = (nr + 3) / 4;
        const int32_t per = a->fused ? rows : DA_ACC / (4 * ng);
        const int32_t c = cl * g->sw;
        const int16_t *px = pl + (c % g->dw) * g->lq + c / g->dw;
        a->ng = ng;
        a->rowjump = 2 * g->sh * g->line - ng * a->gstep;
        a->ystep = g->m * out_c;
        a->tail = nr - 4 * (ng - 1);
        a->yrowjump = out_w * out_c - ng * 4 * a->ystep;
        for (int32_t r0 = 0; r0 < rows; r0 += per) {
            const int32_t nrow = rows - r0 < per ? rows - r0 : per;
            int8_t *yo = yb + ((int64_t)r0 * out_w + cl) * out_c + oc;
            for (int32_t b0 = 0; b0 < g->np; b0 += DA_PAIRS) {
                const int32_t pairs = g->np - b0 < DA_PAIRS ? g->np - b0 : DA_PAIRS;
                a->xp = (const uint8_t *)(px + r0 * g->sh * g->line + 2 * b0);
                a->init = b0 == 0 ? k : acc;
                a->initstep = b0 == 0 ? 0 : 16;
                a->out = a->fused ? (void *)yo : (void *)acc;
                a->n = ng;
                a->orows = nrow;
                a->w = (const uint32_t *)(const void *)(k + DA_REC) + g->fh * b0;
                a->pairs = pairs;
                if (s2) {
                    a->rstep = 2 * g->dh * g->line;
                    (pairs == 1 ? da_run_s2p1 : g->fh == 3 ? da_run_s2p2r3 : da_run_s2p2)(a);
                } else {
                    a->rstep = 2 * g->dh * g->line - 4 * pairs;
                    da_run(a);
                }
            }
            if (!a->fused) {
                store(o, k, oc, acc, 4 * ng, nr, nrow, yo, g->m * out_c, out_w * out_c);
            }
        }
    }
}

void dsp_dw_any(bool s4, bool rowwise, const kwsq_conv_params *p, const dsp_out *o, const kwsq_dims *in,
                const int8_t *x, const kwsq_dims *f, const uint8_t *filter, const int32_t *bias,
                const kwsq_dims *out, int8_t *y, int32_t *scratch)
{
    da_geom g;
    (void)geometry(p, in, f, out, rowwise, &g);
    const int32_t in_c = in->c, out_c = out->c, dm = p->depth_multiplier;
    const int32_t out_h = out->h, out_w = out->w;
    const int32_t rec = DA_REC + g.fh * g.np;
    /* the channel records: the starting accumulator four times, the
     * multiplier, the folded rounding constant, the right shift (-1: the
     * channel takes dsp_out_one_call), then the paired weights */
    for (int32_t oc = 0; oc < out_c; ++oc) {
        int32_t *k = scratch + oc * rec;
        const int32_t right = -o->shift[oc];
        const bool fold = o->short_rq && right >= 1 && right <= 22;
        const int32_t scale = fold ? 2 : 1;
        const int32_t sum = pair_weights(&g, s4, filter, out_c, oc, scale, (uint32_t *)(void *)(k + DA_REC));
        const uint32_t b = (uint32_t)(bias != NULL ? bias[oc] : 0) + (uint32_t)p->input_offset * (uint32_t)sum;
        k[0] = k[1] = k[2] = k[3] = (int32_t)(b * (uint32_t)scale);
        k[4] = o->mult[oc];
        k[5] = fold ? (int32_t)((2u * (uint32_t)o->out_offset + 1u) << (right - 1)) : 0;
        k[6] = fold ? right : -1;
    }
    const int32_t max_lines = (g.band - 1) * g.sh + g.win_h;
    const int32_t plane = max_lines * g.line;
    uint32_t words[(g.nc * plane + 1) / 2];     /* word-aligned planes */
    int16_t *planes = (int16_t *)(void *)words;
    const uint32_t zp2 = dsp_dup16(-p->input_offset);
    /* stride 2, no dilation, at most two pairs a row: the LDM kernels */
    const bool s2 = g.sw == 2 && g.dw == 1 && g.np <= 2;
    da_args a;
    a.gstep = 8 * g.step;
    a.pstep = 2 * g.step;
    a.rows = g.fh;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in->h * in->w * in_c;
        /* bands in row order, chunks of a row's pixels within a band */
        for (int32_t oy0 = 0; oy0 < out_h; oy0 += g.band) {
            const int32_t rows = out_h - oy0 < g.band ? out_h - oy0 : g.band;
            const int32_t lines = (rows - 1) * g.sh + g.win_h, iy0 = oy0 * g.sh - p->pad_h;
            for (int32_t ox0 = 0; ox0 < out_w; ox0 += g.pix) {
                const int32_t n = out_w - ox0 < g.pix ? out_w - ox0 : g.pix;
                const int32_t cx0 = ox0 * g.sw - p->pad_w;
                fill(&g, in, cx0, iy0, lines, oy0 == 0 || g.pix < out_w, words, plane, zp2);
                int8_t *yb = y + (((int64_t)bt * out_h + oy0) * out_w + ox0) * out_c;
                for (int32_t ic = 0, nb = 0; ic < in_c; ic += nb) {
                    nb = in_c - ic >= g.nc ? g.nc : (in_c - ic >= 2 ? 2 : 1);
                    widen(&g, in, img, ic, nb, cx0, iy0, lines, planes, plane);
                    const int16_t *pl = planes;
                    const int32_t *k = scratch + ic * dm * rec;
                    for (int32_t oc = ic * dm, j = 0; oc < (ic + nb) * dm; ++oc, k += rec) {
                        channel(&g, o, s2, &a, k, oc, pl, n, rows, yb, out_w, out_c);
                        if (++j == dm) {
                            j = 0;
                            pl += plane;
                        }
                    }
                }
            }
        }
    }
}
