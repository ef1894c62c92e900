/*
 * 3x3 depthwise int8 convolution (stride 1, no dilation, depth multiplier 1)
 * for the dsp kernels, int8 or packed int4 weights (read into registers once
 * per channel, so int4 costs the same as int8).
 *
 * SMLAD multiplies two lanes into ONE accumulator, so its pairs must be two
 * taps of one channel. In the channels-last input those are C bytes apart;
 * here the input of one or two channels is widened once into int16 "planes"
 * (a padded image per channel, padding = the input zero point, so the input
 * offset folds into the bias: bias + offset * sum(w)), in which horizontally
 * adjacent pixels are adjacent halfwords. Then, per filter row, for two
 * output pixels f and f+1:
 *   A = (p[f], p[f+1]), X = (p[f+1], p[f+2]) (an unaligned LDR), B = (p[f+2], p[f+3])
 *   acc0 += SMLAD(A, (w0, w1)) + B.lo * w2,  acc1 += SMLAD(X, (w0, w1)) + B.hi * w2
 * (SMLABB/SMLATB with the third column's weights packed two rows per word):
 * 9 loads and 12 multiply instructions for 18 MACs, weights and per-channel
 * requantization constants kept in registers for the whole plane.
 *
 * The planes run along the longer output axis when that wastes fewer odd
 * pixels (a 25x5 output runs as 5 columns of 25 pixels: 130 computed
 * instead of 150); the "fast" axis is the one pixel pairs move along.
 * Planes larger than the stack budget are done in bands of output lines,
 * channel block by channel block (the output is not written in increasing
 * address order, so these layers never overlap their input). A band takes
 * its first two plane lines from the band before, so in place (output =
 * input buffer) works with any number of bands: a block's output overwrites
 * only its own channels, and a band reads from the input only lines below
 * the ones the bands before it wrote.
 */
#include "dsp_dw3x3.h"

#include <stddef.h>
#include <string.h>

#include "dsp_dw_rq.h"
#include "dsp_simd.h"
#include "kwsq_math.h"

/* Bytes of int16 planes on the stack. */
#define DW3_PLANE_MAX 1664

typedef struct {
    bool fast_y;                    /* pixel pairs move along y */
    int32_t f_len, s_len;           /* output pixels along the fast / slow axis */
    int32_t in_f, in_s;             /* input pixels along them */
    int32_t pad_f, pad_s;
    int32_t sf, ss;                 /* strides along the fast / slow axis, 1 or 2 */
    int32_t fast_in, slow_in;       /* input byte steps */
    int32_t fast_out, slow_out;     /* output byte steps */
    int32_t line;                   /* plane line stride, halfwords (even) */
    int32_t nc;                     /* channels per block: 1 or 2 */
    int32_t band;                   /* output lines per band */
} dw3_geom;

/* The geometry with pixel groups along y (fast_y) or x; false when one
 * channel's band of one line does not fit the planes' budget. */
static bool orient(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *out, bool fast_y, dw3_geom *g)
{
    const int64_t ow = out->w, ch = in->c;
    g->fast_y = fast_y;
    g->f_len = g->fast_y ? out->h : out->w;
    g->s_len = g->fast_y ? out->w : out->h;
    g->in_f = g->fast_y ? in->h : in->w;
    g->in_s = g->fast_y ? in->w : in->h;
    g->pad_f = g->fast_y ? p->pad_h : p->pad_w;
    g->pad_s = g->fast_y ? p->pad_w : p->pad_h;
    g->sf = g->fast_y ? p->stride_h : p->stride_w;
    g->ss = g->fast_y ? p->stride_w : p->stride_h;
    g->fast_in = (int32_t)(g->fast_y ? in->w * ch : ch);
    g->slow_in = (int32_t)(g->fast_y ? ch : in->w * ch);
    g->fast_out = (int32_t)(g->fast_y ? ow * ch : ch);
    g->slow_out = (int32_t)(g->fast_y ? ch : ow * ch);
    if (g->f_len > KWSQ_DW_3X3_SIDE) {
        return false;
    }
    /* a line holds the input (and padding) of its f_len pixels, the
     * halfwords a group of four reads (dw3_run: six, ten at stride 2) and
     * those a pass of two reads after them (four, six) */
    const int32_t t2 = (g->f_len & 3) <= 2 ? g->f_len & 3 : 0, groups = (g->f_len - t2 + 3) / 4;
    int32_t line = 4 * g->sf * groups + (t2 > 0 ? 2 * g->sf + 2 : 2);
    const int32_t need = (g->f_len - 1) * g->sf + 3;
    line = line > need ? line : need;
    g->line = (line + 1) & ~1;
    /* the most channels per block whose planes hold every output line (no
     * bands), else two or one channel in bands */
    g->nc = 0;
    for (int32_t nc = 4; nc >= 1; nc /= 2) {
        const int32_t lines = DW3_PLANE_MAX / (nc * g->line * 2);
        const int32_t band = lines >= 3 ? (lines - 3) / g->ss + 1 : 0;
        if (nc <= ch && band >= 1 && (band >= g->s_len || nc <= 2)) {
            g->nc = nc;
            g->band = band;
            break;
        }
    }
    if (g->band > g->s_len) {
        g->band = g->s_len;
    }
    return g->nc >= 1;
}

static bool geometry(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *out, dw3_geom *g)
{
    const int64_t oh = out->h, ow = out->w;
    /* pixels computed (groups of four along the fast axis, a pass of two
     * for a tail of one or two) plus a line's fixed cost, in pixels */
    static const int8_t tail_cost[4] = {0, 3, 3, 4};
    const int64_t cost_x = (ow / 4 * 4 + tail_cost[ow & 3] + 3) * oh;
    const int64_t cost_y = (oh / 4 * 4 + tail_cost[oh & 3] + 3) * ow;
    const bool fast_y = cost_y < cost_x;
    return orient(p, in, out, fast_y, g) || orient(p, in, out, !fast_y, g);
}

/* one channel's band of one line fits whenever the line does */
typedef char dw3_side_check[DW3_PLANE_MAX / ((KWSQ_DW_3X3_SIDE + 4) * 2) - 2 >= 1 ? 1 : -1];

static bool shape_ok(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out)
{
    return p->depth_multiplier == 1 && f->h == 3 && f->w == 3 && p->stride_w >= 1 && p->stride_w <= 2 &&
           p->stride_h >= 1 && p->stride_h <= 2 && p->dilation_w == 1 && p->dilation_h == 1 &&
           out->c == in->c && in->w < 32768 && in->h < 32768 && (int64_t)in->h * in->w * in->c < (1LL << 30);
}

static bool fits(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out)
{
    dw3_geom g;
    return shape_ok(p, in, f, out) && geometry(p, in, out, &g);
}

bool dsp_dw3x3_fits(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out)
{
    /* at stride 1 the geometry exists exactly when an output side is at
     * most KWSQ_DW_3X3_SIDE (dw3_side_check): no need to compute it */
    return p->stride_w == 1 && p->stride_h == 1 && shape_ok(p, in, f, out) &&
           (out->h <= KWSQ_DW_3X3_SIDE || out->w <= KWSQ_DW_3X3_SIDE);
}

bool dsp_dw3x3_s2_fits(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out,
                       const dsp_out *o)
{
    if (!(p->stride_w == 2 || p->stride_h == 2) || p->in_place || !o->short_rq || !o->full_range ||
        !fits(p, in, f, out)) {
        return false;
    }
    for (int32_t c = 0; c < out->c; ++c) {
        if (o->shift[c] < -22 || o->shift[c] > -1) {
            return false;
        }
    }
    return true;
}

/* Plane lines [0, lines) of channels c .. c + nc - 1 (nc = 1, 2 or 4):
 * line l holds input slow coordinate i0 + l. Only input pixels are written: the padding around them
 * keeps the zero point the band's planes were filled with. */
static void widen(const dw3_geom *g, const int8_t *img, int32_t c, int32_t nc, int32_t i0, int32_t lines,
                  int16_t *plane, int32_t plane_size)
{
    const int32_t line = g->line;
    const int32_t f_lo = g->pad_f < line ? g->pad_f : line;
    const int32_t f_end = g->pad_f + g->in_f;
    const int32_t f_hi = f_end < line ? f_end : line;
    const int32_t step = g->fast_in, slow = g->slow_in;
    /* the lines inside the input */
    const int32_t l0 = i0 < 0 ? -i0 : 0;
    const int32_t l1 = g->in_s - i0 < lines ? g->in_s - i0 : lines;
    const int32_t n = f_hi - f_lo;
    if (l0 >= l1 || n <= 0) {
        return;
    }
    const int8_t *src = img + (int64_t)(i0 + l0) * slow + (int64_t)(f_lo - g->pad_f) * step + c;
    int16_t *d0 = plane + l0 * line + f_lo;
    for (int32_t l = l0; l < l1; ++l, src += slow, d0 += line) {
        const int8_t *sp = src;
        int16_t *d = d0;
        int32_t k = n;
        if (nc == 4) {
            for (; k >= 2; k -= 2, sp += 2 * step, d += 2) {
                /* channels c..c+3 of two pixels: pairs by channel */
                const uint32_t v0 = dsp_ld32(sp), v1 = dsp_ld32(sp + step);
                const uint32_t lo = dsp_pack_lo(v0, v1), hi = dsp_pack_hi(v0, v1);
                dsp_st32(d, dsp_sxtb16(lo));
                dsp_st32(d + plane_size, dsp_sxtb16_ror8(lo));
                dsp_st32(d + 2 * plane_size, dsp_sxtb16(hi));
                dsp_st32(d + 3 * plane_size, dsp_sxtb16_ror8(hi));
            }
            if (k > 0) {
                d[0] = sp[0];
                d[plane_size] = sp[1];
                d[2 * plane_size] = sp[2];
                d[3 * plane_size] = sp[3];
            }
        } else if (nc == 2) {
            for (; k >= 2; k -= 2, sp += 2 * step, d += 2) {
                /* bytes (c, c+1) of two pixels: SXTB16 splits them by channel */
                const uint32_t v = dsp_pack_lo(dsp_ld16(sp), dsp_ld16(sp + step));
                dsp_st32(d, dsp_sxtb16(v));
                dsp_st32(d + plane_size, dsp_sxtb16_ror8(v));
            }
            if (k > 0) {
                d[0] = sp[0];
                d[plane_size] = sp[1];
            }
        } else {
            for (; k > 0; --k, sp += step) {
                *d++ = *sp;
            }
        }
    }
}

/* The zero point wherever plane lines [0, lines) (line l: input slow
 * coordinate i0 + l) hold no input value: whole lines outside the input,
 * and (`cols`, the first band: widen writes only input values, so the
 * columns keep it) the columns outside it. */
static void fill(const dw3_geom *g, int32_t i0, int32_t lines, bool cols, int16_t *planes, int32_t plane_size,
                 uint32_t zp2)
{
    const int32_t line = g->line;
    const int32_t f_lo = g->pad_f < line ? g->pad_f : line;
    const int32_t f_end = g->pad_f + g->in_f;
    const int32_t f_hi = f_end < line ? f_end : line;
    const int16_t zp = (int16_t)zp2;
    for (int32_t l = 0; l < lines; ++l) {
        const int32_t is = i0 + l;
        const bool in = is >= 0 && is < g->in_s;
        if (in && !cols) {
            continue;
        }
        for (int32_t c = 0; c < g->nc; ++c) {
            int16_t *d = planes + c * plane_size + l * line;
            if (!in) {
                uint32_t *dw = (uint32_t *)(void *)d;   /* line and plane_size even: aligned */
                for (int32_t i = 0; i < line / 2; ++i) {
                    dw[i] = zp2;
                }
                continue;
            }
            for (int32_t i = 0; i < f_lo; ++i) {
                d[i] = zp;
            }
            for (int32_t i = f_hi; i < line; ++i) {
                d[i] = zp;
            }
        }
    }
}

static inline uint32_t lanes16(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

/* One channel's filter and output stage, in registers for its plane. */
typedef struct {
    uint32_t w01[3];        /* (w[i][0], w[i][1]) per filter line i */
    uint32_t k0, k1;        /* (w[0][2], w[1][2]), (w[2][2], 0) */
    int32_t bias2;          /* 2 * (bias + input offset * sum(w)), wrapping */
    int32_t bias;           /* bias + input offset * sum(w) */
    int32_t mult, shift, right, hv, out_offset, act_min, act_max;
} dw3_chan;

/* Output stages: RQ_FULL and RQ_SHORT need the short requantization with the
 * output offset folded into the rounding constant (hv = 2^(right-1) +
 * offset * 2^right, exact since adding a multiple of 2^right commutes with
 * the shift); RQ_FULL also the whole int8 range (one SSAT). */
enum { RQ_FULL, RQ_SHORT, RQ_GENERAL };

static inline __attribute__((always_inline)) int8_t requant(const dw3_chan *k, int32_t acc, int mode)
{
    int32_t v;
    if (mode != RQ_GENERAL) {
        v = dsp_dw_rq_short((int32_t)((uint32_t)k->bias2 + ((uint32_t)acc << 1)), k->mult, k->hv, k->right);
        if (mode == RQ_FULL) {
            return (int8_t)dsp_ssat8(v);
        }
    } else {
        v = dsp_requant(acc + k->bias, k->mult, k->shift) + k->out_offset;
    }
    v = v < k->act_min ? k->act_min : v;
    return (int8_t)(v > k->act_max ? k->act_max : v);
}

/* acc[f] (bias not included) for the pixels f = 0 .. pairs * 2 - 1 of one
 * output line from plane lines r, r + line, r + 2 * line. */
static __attribute__((noinline)) void line_acc(const dw3_chan *k, const int16_t *r, int32_t line,
                                                           int32_t pairs, int32_t *acc)
{
    const int16_t *p0 = r, *p1 = r + line, *p2 = r + 2 * line;
    int32_t *end = acc + 2 * pairs;
#ifdef KWSQ_DSP_NATIVE
    uint32_t w0 = k->w01[0], w1 = k->w01[1], w2 = k->w01[2], k0 = k->k0, k1 = k->k1;
    int32_t a0, a1;
    uint32_t t;
    /* per line: X = (p[f+1], p[f+2]) (unaligned), A = (p[f], p[f+1]), then B = (p[f+2], p[f+3]) */
    __asm__ volatile(
        "1:\n\t"
        "ldr %[t], [%[p0], #2]\n\t"
        "smuad %[a1], %[t], %[w0]\n\t"
        "ldr %[t], [%[p0]], #4\n\t"
        "smuad %[a0], %[t], %[w0]\n\t"
        "ldr %[t], [%[p0]]\n\t"
        "smlabb %[a0], %[t], %[k0], %[a0]\n\t"
        "smlatb %[a1], %[t], %[k0], %[a1]\n\t"
        "ldr %[t], [%[p1], #2]\n\t"
        "smlad %[a1], %[t], %[w1], %[a1]\n\t"
        "ldr %[t], [%[p1]], #4\n\t"
        "smlad %[a0], %[t], %[w1], %[a0]\n\t"
        "ldr %[t], [%[p1]]\n\t"
        "smlabt %[a0], %[t], %[k0], %[a0]\n\t"
        "smlatt %[a1], %[t], %[k0], %[a1]\n\t"
        "ldr %[t], [%[p2], #2]\n\t"
        "smlad %[a1], %[t], %[w2], %[a1]\n\t"
        "ldr %[t], [%[p2]], #4\n\t"
        "smlad %[a0], %[t], %[w2], %[a0]\n\t"
        "ldr %[t], [%[p2]]\n\t"
        "smlabb %[a0], %[t], %[k1], %[a0]\n\t"
        "smlatb %[a1], %[t], %[k1], %[a1]\n\t"
        "strd %[a0], %[a1], [%[acc]], #8\n\t"
        "cmp %[acc], %[end]\n\t"
        "bne 1b\n\t"
        : [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [acc] "+r"(acc), [a0] "=&r"(a0), [a1] "=&r"(a1),
          [t] "=&r"(t)
        : [w0] "r"(w0), [w1] "r"(w1), [w2] "r"(w2), [k0] "r"(k0), [k1] "r"(k1), [end] "r"(end)
        : "cc", "memory");
#else
    for (; acc != end; acc += 2, p0 += 2, p1 += 2, p2 += 2) {
        uint32_t b = dsp_ld32(p0 + 2);
        int32_t a0 = dsp_smlad(dsp_ld32(p0), k->w01[0], 0);
        int32_t a1 = dsp_smlad(dsp_ld32(p0 + 1), k->w01[0], 0);
        a0 = dsp_smlabb(b, k->k0, a0);
        a1 = dsp_smlatb(b, k->k0, a1);
        b = dsp_ld32(p1 + 2);
        a0 = dsp_smlad(dsp_ld32(p1), k->w01[1], a0);
        a1 = dsp_smlad(dsp_ld32(p1 + 1), k->w01[1], a1);
        a0 = dsp_smlabt(b, k->k0, a0);
        a1 = dsp_smlatt(b, k->k0, a1);
        b = dsp_ld32(p2 + 2);
        a0 = dsp_smlad(dsp_ld32(p2), k->w01[2], a0);
        a1 = dsp_smlad(dsp_ld32(p2 + 1), k->w01[2], a1);
        a0 = dsp_smlabb(b, k->k1, a0);
        a1 = dsp_smlatb(b, k->k1, a1);
        acc[0] = a0;
        acc[1] = a1;
    }
#endif
}

/* One channel's lines, four output pixels per pass with the output stage
 * fused (the short stage, whole int8 range): the layout the assembly reads.
 * Per filter line i and four pixels f .. f+3, one LDM loads A = (p[f],
 * p[f+1]), B = (p[f+2], p[f+3]), C = (p[f+4], p[f+5]) and, with the
 * weights W = (w0, w1), V = (w1, w2):
 *   acc_f += A.W + B.lo * w2     acc_f+1 += B.V + A.hi * w0
 *   acc_f+2 += B.W + C.lo * w2   acc_f+3 += C.V + B.hi * w0
 * (SMLAD, SMLABT, SMLATB): 36 MACs in 27 instructions plus 3 of pointers.
 * The weights are doubled and the accumulators start at twice the bias, so
 * the stage is dsp_dw_rq_short's four instructions. */
typedef struct {
    int32_t b2[4];          /* 0: 2 * (bias + input offset * sum(w)), wrapping, four times */
    int32_t hv, mult;       /* 16: folded rounding constant, 20: multiplier */
    int32_t right, fo;      /* 24: right shift 1..22, 28: output bytes from pixel to pixel */
    uint32_t w[6];          /* 32: per filter line (2 w0, 2 w1), (2 w1, 2 w2) */
    const int16_t *pline;   /* 56: plane line 0 of the current output line */
    int32_t lstep;          /* 60: plane line stride, bytes */
    int8_t *yline;          /* 64: the current output line's first output */
    int32_t slow_out;       /* 68: output bytes from line to line */
    int32_t groups;         /* 72: groups of four pixels a line, >= 0 */
    int32_t lines;          /* 76: output lines left, >= 1 */
    int32_t tail;           /* 80: valid pixels of a line's last group of four, 3..4 (4 when t2 > 0) */
    int32_t t2;             /* 84: pixels after the groups of four, 0..2 (one pass of two) */
    int32_t ladv;           /* 88: plane bytes from output line to output line (stride x lstep) */
    int32_t ylast;          /* 92: (stride 2) output bytes from a line's first group to its last */
    int8_t *yend;           /* 96: (stride 2) the current line's last group */
} dw3_run;

#ifdef KWSQ_DSP_NATIVE
typedef char dw3_run_layout_check[(offsetof(dw3_run, w) == 32 && offsetof(dw3_run, pline) == 56 &&
                                   offsetof(dw3_run, groups) == 72 && offsetof(dw3_run, t2) == 84 && offsetof(dw3_run, yend) == 96 &&
                                   sizeof(void *) == 4) ? 1 : -1];

#define DW3_MAC8                                                                                          \
    "smlad r0, r4, r7, r0\n\t"                                                                            \
    "smlabt r0, r5, r8, r0\n\t"                                                                           \
    "smlad r1, r5, r8, r1\n\t"                                                                            \
    "smlatb r1, r4, r7, r1\n\t"                                                                           \
    "smlad r2, r5, r7, r2\n\t"                                                                            \
    "smlabt r2, r6, r8, r2\n\t"                                                                           \
    "smlad r3, r6, r8, r3\n\t"                                                                            \
    "smlatb r3, r5, r7, r3\n\t"
#define DW3_MAC4                                                                                          \
    "smlad r0, r4, r7, r0\n\t"                                                                            \
    "smlabt r0, r5, r8, r0\n\t"                                                                           \
    "smlad r1, r5, r8, r1\n\t"                                                                            \
    "smlatb r1, r4, r7, r1\n\t"
#define DW3_RQ(R)                                                                                         \
    "add r8, r4, " R ", asr #31\n\t"                                                                      \
    "smmlar " R ", " R ", r5, r8\n\t"                                                                     \
    "asr " R ", " R ", r6\n\t"                                                                            \
    "ssat " R ", #8, " R "\n\t"

/* the four outputs r0-r3 of a group stored ys (r7) apart from r12, r12 advanced past them */
#define DW3_STORE4 \
    "strb r0, [r12]\n\t"                                    \
    "strb r1, [r12, r7]\n\t"                                \
    "add r12, r12, r7, lsl #1\n\t"                          \
    "strb r2, [r12]\n\t"                                    \
    "strb r3, [r12, r7]\n\t"                                \
    "add r12, r12, r7, lsl #1\n\t"

/* label 2: the line's last group (tail4 outputs, [lr, #80]) stored; label 3:
 * when one or two pixels follow ([lr, #84]), r12 steps on to them, else on to label 4 */
#define DW3_TAIL4 \
    "2:\n\t"                                                \
    "ldr r8, [lr, #80]\n\t"                                 \
    "strb r0, [r12]\n\t"                                    \
    "cmp r8, #2\n\t"                                        \
    "blt 3f\n\t"                                            \
    "strb r1, [r12, r7]\n\t"                                \
    "beq 3f\n\t"                                            \
    "add r12, r12, r7, lsl #1\n\t"                          \
    "strb r2, [r12]\n\t"                                    \
    "cmp r8, #3\n\t"                                        \
    "beq 3f\n\t"                                            \
    "strb r3, [r12, r7]\n\t"                                \
    "3:\n\t"                                                \
    "ldr r8, [lr, #84]\n\t"                                 \
    "cmp r8, #0\n\t"                                        \
    "beq 4f\n\t"                                            \
    "add r12, r12, r7, lsl #1\n\t"

/* r0-r3 accumulators, r4-r6 A, B, C, r7-r8 W, V, r9 plane line, r10 groups
 * left, r11 line stride, r12 output, lr the args. */
__attribute__((naked, noinline)) static void dw3_run_full(dw3_run *a)
{
    (void)a;
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "mov lr, r0\n\t"
        "ldrd r9, r11, [lr, #56]\n\t"
        "ldr r12, [lr, #64]\n\t"
        "0:\n\t"
        "ldr r10, [lr, #72]\n\t"
        "cmp r10, #0\n\t"
        "beq 5f\n\t"
        "1:\n\t"
        "ldmia lr, {r0-r3}\n\t"
        "ldmia r9, {r4-r6}\n\t"
        "ldrd r7, r8, [lr, #32]\n\t"
        DW3_MAC8
        "add r6, r9, r11\n\t"
        "ldmia r6, {r4-r6}\n\t"
        "ldrd r7, r8, [lr, #40]\n\t"
        DW3_MAC8
        "add r6, r9, r11, lsl #1\n\t"
        "ldmia r6, {r4-r6}\n\t"
        "ldrd r7, r8, [lr, #48]\n\t"
        DW3_MAC8
        "add r9, r9, #8\n\t"
        "ldrd r4, r5, [lr, #16]\n\t"
        "ldrd r6, r7, [lr, #24]\n\t"
        DW3_RQ("r0")
        DW3_RQ("r1")
        DW3_RQ("r2")
        DW3_RQ("r3")
        "subs r10, r10, #1\n\t"
        "beq 2f\n\t"
        DW3_STORE4
        "b 1b\n\t"
        /* the line's last group of four: tail4 outputs */
        DW3_TAIL4
        /* one or two pixels after the groups (t2 of them) */
        "5:\n\t"
        "ldrd r0, r1, [lr, #0]\n\t"
        "ldrd r4, r5, [r9]\n\t"
        "ldrd r7, r8, [lr, #32]\n\t"
        DW3_MAC4
        "add r6, r9, r11\n\t"
        "ldrd r4, r5, [r6]\n\t"
        "ldrd r7, r8, [lr, #40]\n\t"
        DW3_MAC4
        "add r6, r9, r11, lsl #1\n\t"
        "ldrd r4, r5, [r6]\n\t"
        "ldrd r7, r8, [lr, #48]\n\t"
        DW3_MAC4
        "ldrd r4, r5, [lr, #16]\n\t"
        "ldrd r6, r7, [lr, #24]\n\t"
        DW3_RQ("r0")
        DW3_RQ("r1")
        "strb r0, [r12]\n\t"
        "ldr r8, [lr, #84]\n\t"
        "cmp r8, #2\n\t"
        "bne 4f\n\t"
        "strb r1, [r12, r7]\n\t"
        /* the next line */
        "4:\n\t"
        "ldrd r4, r5, [lr, #64]\n\t"
        "add r12, r4, r5\n\t"
        "str r12, [lr, #64]\n\t"
        "ldr r9, [lr, #56]\n\t"
        "ldr r4, [lr, #88]\n\t"
        "add r9, r9, r4\n\t"
        "str r9, [lr, #56]\n\t"
        "ldr r4, [lr, #76]\n\t"
        "subs r4, r4, #1\n\t"
        "str r4, [lr, #76]\n\t"
        "bne 0b\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* Stride 2 along the fast axis: pixel f reads p[2f .. 2f+2], so for four
 * pixels one LDM loads A .. E = (p[2f], p[2f+1]) .. (p[2f+8], p[2f+9]) and,
 * with W = (w0, w1), K = (w2, 0):
 *   acc_f+k += (A+k).W + (A+k+1).lo * w2      (SMLAD, SMLABB)
 * r0-r3 accumulators, r4-r8 A .. E, r9-r10 W, K (and the line stride
 * while forming a row's address), r11 plane line, r12 output, lr args;
 * the group count is the output address of the line's last group. */
#define DW3_MAC8S2                                                                                        \
    "smlad r0, r4, r9, r0\n\t"                                                                            \
    "smlabb r0, r5, r10, r0\n\t"                                                                          \
    "smlad r1, r5, r9, r1\n\t"                                                                            \
    "smlabb r1, r6, r10, r1\n\t"                                                                          \
    "smlad r2, r6, r9, r2\n\t"                                                                            \
    "smlabb r2, r7, r10, r2\n\t"                                                                          \
    "smlad r3, r7, r9, r3\n\t"                                                                            \
    "smlabb r3, r8, r10, r3\n\t"
#define DW3_MAC4S2                                                                                        \
    "smlad r0, r4, r9, r0\n\t"                                                                            \
    "smlabb r0, r5, r10, r0\n\t"                                                                          \
    "smlad r1, r5, r9, r1\n\t"                                                                            \
    "smlabb r1, r6, r10, r1\n\t"
__attribute__((naked, noinline)) static void dw3_run_s2(dw3_run *a)
{
    (void)a;
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "mov lr, r0\n\t"
        "0:\n\t"
        "ldr r11, [lr, #56]\n\t"
        "ldr r12, [lr, #64]\n\t"
        "ldrd r9, r10, [lr, #72]\n\t"
        "cmp r9, #0\n\t"
        "beq 5f\n\t"
        "ldr r9, [lr, #92]\n\t"
        "add r9, r12, r9\n\t"
        "str r9, [lr, #96]\n\t"
        "1:\n\t"
        "ldmia lr, {r0-r3}\n\t"
        "ldmia r11, {r4-r8}\n\t"
        "ldrd r9, r10, [lr, #32]\n\t"
        DW3_MAC8S2
        "ldr r9, [lr, #60]\n\t"
        "add r10, r11, r9\n\t"
        "ldmia r10, {r4-r8}\n\t"
        "ldrd r9, r10, [lr, #40]\n\t"
        DW3_MAC8S2
        "ldr r9, [lr, #60]\n\t"
        "add r10, r11, r9, lsl #1\n\t"
        "ldmia r10, {r4-r8}\n\t"
        "ldrd r9, r10, [lr, #48]\n\t"
        DW3_MAC8S2
        "add r11, r11, #16\n\t"
        "ldrd r4, r5, [lr, #16]\n\t"
        "ldrd r6, r7, [lr, #24]\n\t"
        DW3_RQ("r0")
        DW3_RQ("r1")
        DW3_RQ("r2")
        DW3_RQ("r3")
        "ldr r9, [lr, #96]\n\t"
        "cmp r12, r9\n\t"
        "beq 2f\n\t"
        DW3_STORE4
        "b 1b\n\t"
        DW3_TAIL4
        "5:\n\t"
        "ldrd r0, r1, [lr, #0]\n\t"
        "ldmia r11, {r4-r6}\n\t"
        "ldrd r9, r10, [lr, #32]\n\t"
        DW3_MAC4S2
        "ldr r9, [lr, #60]\n\t"
        "add r10, r11, r9\n\t"
        "ldmia r10, {r4-r6}\n\t"
        "ldrd r9, r10, [lr, #40]\n\t"
        DW3_MAC4S2
        "ldr r9, [lr, #60]\n\t"
        "add r10, r11, r9, lsl #1\n\t"
        "ldmia r10, {r4-r6}\n\t"
        "ldrd r9, r10, [lr, #48]\n\t"
        DW3_MAC4S2
        "ldrd r4, r5, [lr, #16]\n\t"
        "ldrd r6, r7, [lr, #24]\n\t"
        DW3_RQ("r0")
        DW3_RQ("r1")
        "strb r0, [r12]\n\t"
        "ldr r8, [lr, #84]\n\t"
        "cmp r8, #2\n\t"
        "bne 4f\n\t"
        "strb r1, [r12, r7]\n\t"
        "4:\n\t"
        "ldrd r4, r5, [lr, #64]\n\t"
        "add r4, r4, r5\n\t"
        "str r4, [lr, #64]\n\t"
        "ldr r9, [lr, #56]\n\t"
        "ldr r4, [lr, #88]\n\t"
        "add r9, r9, r4\n\t"
        "str r9, [lr, #56]\n\t"
        "ldr r4, [lr, #76]\n\t"
        "subs r4, r4, #1\n\t"
        "str r4, [lr, #76]\n\t"
        "bne 0b\n\t"
        "pop {r4-r11, pc}\n\t");
}
#undef DW3_MAC8S2
#undef DW3_MAC4S2
#undef DW3_MAC4
#undef DW3_MAC8
#undef DW3_RQ
#else
static inline int32_t lo16(uint32_t v)
{
    return (int16_t)(v & 0xFFFFu);
}

static inline int32_t hi16(uint32_t v)
{
    return (int16_t)(v >> 16);
}

static void dw3_run_full(dw3_run *a)
{
    for (; a->lines > 0; --a->lines) {
        const int32_t n = a->groups + (a->t2 > 0);
        for (int32_t gi = 0; gi < n; ++gi) {
            const bool pair = gi == a->groups;
            int32_t acc[4] = {a->b2[0], a->b2[1], a->b2[2], a->b2[3]};
            for (int32_t i = 0; i < 3; ++i) {
                const uint8_t *row = (const uint8_t *)a->pline + (int64_t)i * a->lstep + 8 * gi;
                const uint32_t A = dsp_ld32(row), B = dsp_ld32(row + 4), C = pair ? 0u : dsp_ld32(row + 8);
                const uint32_t W = a->w[2 * i], V = a->w[2 * i + 1];
                acc[0] = (int32_t)((uint32_t)dsp_smlad(A, W, acc[0]) + (uint32_t)(lo16(B) * hi16(V)));
                acc[1] = (int32_t)((uint32_t)dsp_smlad(B, V, acc[1]) + (uint32_t)(hi16(A) * lo16(W)));
                acc[2] = (int32_t)((uint32_t)dsp_smlad(B, W, acc[2]) + (uint32_t)(lo16(C) * hi16(V)));
                acc[3] = (int32_t)((uint32_t)dsp_smlad(C, V, acc[3]) + (uint32_t)(hi16(B) * lo16(W)));
            }
            const int32_t valid = pair ? a->t2 : gi + 1 < a->groups ? 4 : a->tail;
            for (int32_t k = 0; k < valid; ++k) {
                a->yline[(4 * gi + k) * a->fo] =
                    (int8_t)dsp_ssat8(dsp_dw_rq_short(acc[k], a->mult, a->hv, a->right));
            }
        }
        a->pline = (const int16_t *)(const void *)((const uint8_t *)a->pline + a->ladv);
        a->yline += a->slow_out;
    }
}

static void dw3_run_s2(dw3_run *a)
{
    for (; a->lines > 0; --a->lines) {
        const int32_t n = a->groups + (a->t2 > 0);
        for (int32_t gi = 0; gi < n; ++gi) {
            const bool pair = gi == a->groups;
            int32_t acc[4] = {a->b2[0], a->b2[1], a->b2[2], a->b2[3]};
            for (int32_t i = 0; i < 3; ++i) {
                const uint8_t *row = (const uint8_t *)a->pline + (int64_t)i * a->lstep + 16 * gi;
                const uint32_t W = a->w[2 * i], K = a->w[2 * i + 1];
                for (int32_t k = 0; k < (pair ? 2 : 4); ++k) {
                    const uint32_t x = dsp_ld32(row + 4 * k), x1 = dsp_ld32(row + 4 * k + 4);
                    acc[k] = (int32_t)((uint32_t)dsp_smlad(x, W, acc[k]) + (uint32_t)(lo16(x1) * lo16(K)));
                }
            }
            const int32_t valid = pair ? a->t2 : gi + 1 < a->groups ? 4 : a->tail;
            for (int32_t k = 0; k < valid; ++k) {
                a->yline[(4 * gi + k) * a->fo] =
                    (int8_t)dsp_ssat8(dsp_dw_rq_short(acc[k], a->mult, a->hv, a->right));
            }
        }
        a->pline = (const int16_t *)(const void *)((const uint8_t *)a->pline + a->ladv);
        a->yline += a->slow_out;
    }
}
#endif

/* Output lines [0, lines) of one channel from its plane. */
static inline __attribute__((always_inline)) void channel(const dw3_geom *g, const dw3_chan *kc,
                                                          const int16_t *plane, int32_t lines, int8_t *yo,
                                                          int32_t *acc, int mode)
{
    const dw3_chan k = *kc;
    const int32_t line = g->line, f_len = g->f_len, fast_out = g->fast_out, pairs = (f_len + 1) / 2;
    for (int32_t s = 0; s < lines; ++s) {
        line_acc(&k, plane + s * line, line, pairs, acc);
        int8_t *yp = yo + (int64_t)s * g->slow_out;
        const int32_t *a = acc, *a_end2 = acc + (f_len & ~1);
        for (; a != a_end2; a += 2, yp += 2 * fast_out) {
            const int8_t v0 = requant(&k, a[0], mode), v1 = requant(&k, a[1], mode);
            yp[0] = v0;
            yp[fast_out] = v1;
        }
        if (f_len & 1) {
            *yp = requant(&k, *a, mode);
        }
    }
}

static void __attribute__((noinline)) channel_short(const dw3_geom *g, const dw3_chan *k, const int16_t *plane,
                                                    int32_t lines, int8_t *yo, int32_t *acc)
{
    channel(g, k, plane, lines, yo, acc, RQ_SHORT);
}

static void __attribute__((noinline)) channel_general(const dw3_geom *g, const dw3_chan *k, const int16_t *plane,
                                                      int32_t lines, int8_t *yo, int32_t *acc)
{
    channel(g, k, plane, lines, yo, acc, RQ_GENERAL);
}

void dsp_dw3x3(bool s4, const kwsq_conv_params *p, const dsp_out *o, const kwsq_dims *in, const int8_t *x,
               const uint8_t *filter, const int32_t *bias, const kwsq_dims *out, int8_t *y)
{
    dw3_geom g;
    (void)geometry(p, in, out, &g);
    const int32_t ch = in->c;
    const int32_t plane_size = ((g.band - 1) * g.ss + 3) * g.line;
    uint32_t plane_words[(g.nc * plane_size + 1) / 2];  /* word-aligned planes */
    int16_t *planes = (int16_t *)(void *)plane_words;
    const uint32_t zp2 = dsp_dup16(-p->input_offset);
    int32_t acc[g.f_len + 1];
    bool first = true;      /* the planes' padding columns not filled yet */
    /* byte offsets of tap (i, t) in the filter, [i * 3 + t] */
    int32_t toff[9];
    for (int32_t q = 0; q < 9; ++q) {
        const int32_t i = q / 3, t = q % 3;
        toff[q] = (g.fast_y ? t * 3 + i : i * 3 + t) * ch;
    }
    /* the fused pass's fields that are the same for every channel */
    dw3_run r;
    r.fo = g.fast_out;
    r.lstep = 2 * g.line;
    r.slow_out = g.slow_out;
    /* a tail of one or two pixels takes the pass of two */
    r.t2 = (g.f_len & 3) <= 2 ? g.f_len & 3 : 0;
    r.groups = (g.f_len - r.t2 + 3) / 4;
    r.tail = r.t2 > 0 ? 4 : g.f_len - 4 * (r.groups - 1);
    r.ladv = g.ss * r.lstep;
    r.ylast = 4 * (r.groups - 1) * g.fast_out;
    for (int32_t n = 0; n < in->n; ++n) {
        const int8_t *img = x + (int64_t)n * in->h * in->w * ch;
        int8_t *yimg = y + (int64_t)n * out->h * out->w * ch;
        for (int32_t c = 0, nc = 0; c < ch; c += nc) {
            nc = ch - c >= g.nc ? g.nc : (ch - c >= 2 ? 2 : 1);
            for (int32_t s0 = 0; s0 < g.s_len; s0 += g.band) {
                const int32_t lines = g.s_len - s0 < g.band ? g.s_len - s0 : g.band;
                /* plane lines of the band and the input line of the first */
                const int32_t pls = (lines - 1) * g.ss + 3, i0 = s0 * g.ss - g.pad_s;
                /* with one band, the lines outside the input stay filled
                 * from the first block (widen writes only input lines) */
                if (first || g.band < g.s_len) {
                    fill(&g, i0, pls, first, planes, plane_size, zp2);
                }
                first = false;
                if (s0 == 0 || g.ss == 2) {
                    widen(&g, img, c, nc, i0, pls, planes, plane_size);
                } else {
                    /* the band's first two lines are the last two of the one
                     * before (in place, the first of them is overwritten in
                     * the input by now) */
                    for (int32_t j = 0; j < nc; ++j) {
                        int16_t *pj = planes + j * plane_size;
                        memmove(pj, pj + g.band * g.line, (size_t)(4 * g.line));
                    }
                    widen(&g, img, c, nc, i0 + 2, lines, planes + 2 * g.line, plane_size);
                }
                for (int32_t j = 0; j < nc; ++j) {
                    const int32_t cc = c + j;
                    /* filter line i along the slow axis, tap t along the fast one */
                    int32_t w[3][3], sum = 0;
                    if (s4) {
                        for (int32_t q = 0; q < 9; ++q) {
                            w[q / 3][q % 3] = kwsq_int4_at(filter, (int64_t)toff[q] + cc);
                        }
                    } else {
                        const int8_t *f8 = (const int8_t *)filter + cc;
#pragma GCC unroll 9
                        for (int32_t q = 0; q < 9; ++q) {
                            w[q / 3][q % 3] = f8[toff[q]];
                        }
                    }
#pragma GCC unroll 9
                    for (int32_t q = 0; q < 9; ++q) {
                        sum += w[q / 3][q % 3];
                    }
                    const int32_t bias_c = (int32_t)((uint32_t)(bias != NULL ? bias[cc] : 0) +
                                                     (uint32_t)p->input_offset * (uint32_t)sum);
                    const int32_t right = -o->shift[cc];
                    /* the short form with the offset folded: right shift 1..22 */
                    const bool fold = o->short_rq && right >= 1 && right <= 22;
                    const int32_t hv = fold ? (int32_t)((2u * (uint32_t)o->out_offset + 1u) << (right - 1)) : 0;
                    int8_t *yo = yimg + (int64_t)s0 * g.slow_out + cc;
                    const int16_t *pl = planes + j * plane_size;
                    if (fold && o->full_range) {
                        const int32_t b2 = (int32_t)((uint32_t)bias_c << 1);
                        r.b2[0] = r.b2[1] = r.b2[2] = r.b2[3] = b2;
                        r.hv = hv;
                        r.mult = o->mult[cc];
                        r.right = right;
#pragma GCC unroll 3
                        for (int32_t i = 0; i < 3; ++i) {
                            r.w[2 * i] = lanes16(2 * w[i][0], 2 * w[i][1]);
                            r.w[2 * i + 1] = lanes16(2 * w[i][1], 2 * w[i][2]);
                        }
                        r.pline = pl;
                        r.yline = yo;
                        r.lines = lines;
                        if (g.sf == 2) {
                            r.w[1] = lanes16(2 * w[0][2], 0);
                            r.w[3] = lanes16(2 * w[1][2], 0);
                            r.w[5] = lanes16(2 * w[2][2], 0);
                            dw3_run_s2(&r);
                        } else {
                            dw3_run_full(&r);
                        }
                        continue;
                    }
                    dw3_chan k;
                    for (int32_t i = 0; i < 3; ++i) {
                        k.w01[i] = lanes16(w[i][0], w[i][1]);
                    }
                    k.k0 = lanes16(w[0][2], w[1][2]);
                    k.k1 = lanes16(w[2][2], 0);
                    k.bias = bias_c;
                    k.bias2 = (int32_t)((uint32_t)bias_c << 1);
                    k.mult = o->mult[cc];
                    k.shift = o->shift[cc];
                    k.right = right;
                    k.out_offset = o->out_offset;
                    k.act_min = o->act_min;
                    k.act_max = o->act_max;
                    k.hv = hv;
                    if (fold) {
                        channel_short(&g, &k, pl, lines, yo, acc);
                    } else {
                        channel_general(&g, &k, pl, lines, yo, acc);
                    }
                }
            }
        }
    }
}
