/*
 * CONV_2D with int8 weights and a small receptive field (at most 48 values:
 * a 3x3 window on 1-5 input channels, 10x4 on one, 1x1 on up to 48) for
 * Cortex-M55 Helium, bit-exact with kernels/ref.
 *
 * The receptive field of a pixel, in the filter's own order (row, column,
 * input channel), is gathered into one to three vectors of 16 bytes (VLDRB
 * with 8-bit offsets from the window rows), once per pixel; then every
 * output channel is one VMLAV.S8 per vector against its weights, read where
 * they lie (the filter holds each channel's field contiguously; lanes past
 * the field's end gather zeros, so the next channel's weights there add
 * nothing; the last group of channels, and every channel of fields under 16
 * values, read a zero-padded copy instead of past the filter's end). Four
 * channels' sums are requantized as one vector (mve_rq4): per four output
 * channels 4 x (vectors + 2) + 16 instructions (CDOT_QUADS), against a
 * column fill per pixel and 12 instructions per 16 MACs on the block path
 * (mve_conv_block.c), which keeps the wider fields.
 *
 * The window's input rows are copied per output row into a stack buffer
 * with zero-point padding (input offset folded into the bases as in the
 * depthwise paths), so borders need no test; rows are read from the
 * window's first on and outputs are written one row at a time, so
 * overlapped placements keep the row-order contract (kwsq_overlap.h), and
 * in place (1x1) output row y, no wider than input row y when there are no
 * more output than input channels, overwrites only rows already copied.
 */
#include <arm_mve.h>
#include <string.h>

#include "mve_conv.h"
#include "mve_requant.h"

/* The geometry of a layer on this path. */
typedef struct {
    int32_t window; /* input rows a window spans */
    int32_t rowb;   /* bytes of one padded row (wp pixels of in->c) */
    int32_t chunks; /* 16-value vectors of the field */
    int32_t base[MVE_CONV_DOT_MAX_CHUNKS];
    uint8_t offs[MVE_CONV_DOT_MAX_CHUNKS * 16];
} cdot_geom;

static bool cdot_geom_of(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out,
                         cdot_geom *g)
{
    const int32_t field = f->h * f->w * f->c;
    /* in place (1x1, stride 1): each row is copied before its outputs are
     * written, which then end within it when there are no more output than
     * input channels */
    if ((d->in_place && out->c > in->c) || f->c != in->c || field < 1 || field > 16 * MVE_CONV_DOT_MAX_CHUNKS || d->stride_w < 1 ||
        d->stride_h < 1 || d->dilation_w < 1 || d->dilation_h < 1 || d->pad_w < 0 || d->pad_h < 0 || out->w < 1 ||
        out->c > MVE_CONV_DOT_MAX_CH) {
        return false;
    }
    const int64_t window = (int64_t)(f->h - 1) * d->dilation_h + 1;
    const int64_t span = (int64_t)(out->w - 1) * d->stride_w + (int64_t)(f->w - 1) * d->dilation_w + 1;
    const int64_t wp = span > (int64_t)in->w + d->pad_w ? span : (int64_t)in->w + d->pad_w;
    if (window * wp * in->c > MVE_CONV_DOT_MAX_ROWS) {
        return false;
    }
    g->window = (int32_t)window;
    g->rowb = (int32_t)(wp * in->c);
    g->chunks = (field + 15) / 16;
    /* value i of the field (row fy, column fx, channel ic) at fy * dil_h
     * rows + fx * dil_w pixels + ic; each vector's offsets from its first */
    for (int32_t k = 0, i = 0; k < g->chunks; ++k) {
        int32_t first = 0;
        for (int32_t j = 0; j < 16; ++j, ++i) {
            const int32_t v = i < field ? i : field - 1;
            const int32_t fy = v / (f->w * f->c), fx = (v / f->c) % f->w, ic = v % f->c;
            const int32_t at = fy * d->dilation_h * g->rowb + fx * d->dilation_w * in->c + ic;
            if (j == 0) {
                first = at;
                g->base[k] = at;
            }
            if (at - first > 255) {
                return false;
            }
            g->offs[16 * k + j] = (uint8_t)(at - first);
        }
    }
    return true;
}

/* Per channel: its weights (vectors at w, then w += field) against the
 * gathered field, the sum in register R (VMLAV writes even registers). */
#define CDOT_W1(R) "vldrb.8 q0, [%[w]]\n\t" "add %[w], %[w], %[fld]\n\t" "vmlav.s8 " R ", %q[x0], q0\n\t"
#define CDOT_W2(R)                                                                                             \
    "vldrb.8 q0, [%[w]]\n\t" "vldrb.8 q1, [%[w], #16]\n\t" "add %[w], %[w], %[fld]\n\t"                         \
    "vmlav.s8 " R ", %q[x0], q0\n\t" "vmlava.s8 " R ", %q[x1], q1\n\t"
#define CDOT_W3(R)                                                                                             \
    "vldrb.8 q0, [%[w]]\n\t" "vldrb.8 q1, [%[w], #16]\n\t" "vldrb.8 q2, [%[w], #32]\n\t"                        \
    "add %[w], %[w], %[fld]\n\t" "vmlav.s8 " R ", %q[x0], q0\n\t" "vmlava.s8 " R ", %q[x1], q1\n\t"             \
    "vmlava.s8 " R ", %q[x2], q2\n\t"

/* N (> 0) groups of four channels (no left shift): four sums moved into q0
 * (lanes r6, r8, r10, r12), requantized with the record at R (40 bytes a
 * group), clamped and stored at Y. */
#define CDOT_QUADS(WN, W, FLD, R, Y, N, XS, OFF, LO, HI)                                               \
    __asm__ volatile("dls lr, %[n]\n"                                                                         \
                     "1:\n\t" WN("r6") WN("r8") WN("r10") WN("r12")                                             \
                     MVE_RQ4_ASM_R6_R12                                                                       \
                     "le lr, 1b\n"                                                                            \
                     : [w] "+r"(W), [r] "+l"(R), [y] "+l"(Y)                                                 \
                     : [n] "r"(N), [fld] "r"(FLD), XS, [off] "r"(OFF), [lo] "w"(LO), [hi] "w"(HI)             \
                     : "r6", "r8", "r10", "r12", "q0", "q1", "q2", "lr", "memory")

#define CDOT_X2 [x0] "w"(x0), [x1] "w"(x1)
#define CDOT_X3 [x0] "w"(x0), [x1] "w"(x1), [x2] "w"(x2)

/* One output pixel: the field's vectors gathered at p, every channel's sums
 * (weights at w, `field` apart; the last channel's zero-padded at wlast),
 * four channels per record. */
static inline __attribute__((always_inline)) void cdot_pixel(int32_t chunks, bool left, const int8_t *p,
                                                             const cdot_geom *g, int32_t field, const int8_t *w,
                                                             const int8_t *wlast, int32_t och, const mve_rq4 *r,
                                                             int32_t out_off, int32x4_t lo, int32x4_t hi, int8_t *y)
{
    const mve_pred16_t tail = vctp8q((uint32_t)(field - 16 * (chunks - 1)));
    int8x16_t x0 = chunks == 1 ? vldrbq_gather_offset_z_s8(p + g->base[0], vldrbq_u8(g->offs), tail)
                               : vldrbq_gather_offset_s8(p + g->base[0], vldrbq_u8(g->offs));
    int8x16_t x1 = vdupq_n_s8(0), x2 = vdupq_n_s8(0);
    if (chunks >= 2) {
        x1 = chunks == 2 ? vldrbq_gather_offset_z_s8(p + g->base[1], vldrbq_u8(g->offs + 16), tail)
                         : vldrbq_gather_offset_s8(p + g->base[1], vldrbq_u8(g->offs + 16));
    }
    if (chunks >= 3) {
        x2 = chunks == 3 ? vldrbq_gather_offset_z_s8(p + g->base[2], vldrbq_u8(g->offs + 32), tail)
                         : vldrbq_gather_offset_s8(p + g->base[2], vldrbq_u8(g->offs + 32));
    }
    /* groups before the last from w, the last group (1-4 channels) from its
     * zero-padded copy wlast, full groups without left shifts in assembly */
    const int32_t nq = (och - 1) / 4, nl = och - 4 * nq;
    if (!left && nq > 0) {
        if (chunks == 1) {
            CDOT_QUADS(CDOT_W1, w, field, r, y, nq, [x0] "w"(x0), out_off, lo, hi);
        } else if (chunks == 2) {
            CDOT_QUADS(CDOT_W2, w, field, r, y, nq, CDOT_X2, out_off, lo, hi);
        } else {
            CDOT_QUADS(CDOT_W3, w, field, r, y, nq, CDOT_X3, out_off, lo, hi);
        }
    }
    if (!left && nl == 4) {
        const int8_t *wl = wlast;
        if (chunks == 1) {
            CDOT_QUADS(CDOT_W1, wl, field, r, y, 1, [x0] "w"(x0), out_off, lo, hi);
        } else if (chunks == 2) {
            CDOT_QUADS(CDOT_W2, wl, field, r, y, 1, CDOT_X2, out_off, lo, hi);
        } else {
            CDOT_QUADS(CDOT_W3, wl, field, r, y, 1, CDOT_X3, out_off, lo, hi);
        }
        return;
    }
    int32_t s[4];
    for (int32_t c = left ? 0 : 4 * nq; c < och; c += 4, ++r, y += 4) {
        const int8_t *wg = c < 4 * nq ? w + (int64_t)c * field : wlast;
        for (int32_t j = 0; j < 4; ++j, wg += field) {
            int32_t a = 0;
            if (c + j < och) {
                a = vmladavq_s8(x0, vldrbq_s8(wg));
                if (chunks >= 2) {
                    a = vmladavaq_s8(a, x1, vldrbq_s8(wg + 16));
                }
                if (chunks >= 3) {
                    a = vmladavaq_s8(a, x2, vldrbq_s8(wg + 32));
                }
            }
            s[j] = a;
        }
        mve_rq4_out(left, vldrwq_s32(s), r, och - c < 4 ? och - c : 4, out_off, lo, hi, y);
    }
}

static inline __attribute__((always_inline)) void cdot_rows(int32_t chunks, bool left, const kwsq_conv_params *d,
                                                            const kwsq_dims *in, const int8_t *x,
                                                            const kwsq_dims *out, int8_t *y, const cdot_geom *g,
                                                            int32_t field, const int8_t *w, const int8_t *wlast,
                                                            const mve_rq4 *r)
{
    const int32_t in_h = in->h, in_c = in->c, och = out->c, rowb = g->rowb, sw = d->stride_w * in_c;
    const int32_t row_in = in->w * in_c, lead = d->pad_w * in_c;
    const int8_t zp = (int8_t)-d->input_offset;
    const int32x4_t lo = vdupq_n_s32(d->act_min), hi = vdupq_n_s32(d->act_max);
    /* a one-row window inside the input (no padding) reads the input
     * itself: a pixel's field is gathered before its outputs are written,
     * and in place (1x1, out c <= in c) they end within its own input */
    const bool direct = g->window == 1 && d->pad_w == 0 && d->pad_h == 0 && rowb == row_in &&
                        (int64_t)(out->h - 1) * d->stride_h < in_h;
    /* when every row the windows span fits the buffer (small first
     * layers), each input row is copied once per image, before any output
     * of it is written; otherwise a window's rows per output row */
    const int64_t all_rows = (int64_t)(out->h - 1) * d->stride_h + g->window;
    const bool whole = !direct && all_rows * rowb <= MVE_CONV_DOT_MAX_ROWS;
    const int32_t held = whole ? (int32_t)all_rows : g->window;
    int8_t wb[MVE_CONV_DOT_MAX_ROWS];
    if (!direct) {
        memset(wb, zp, (size_t)(held * rowb));
    }
    int8_t *yp = y;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in_h * row_in;
        for (int32_t oy = 0; oy < out->h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            /* slot k holds input row first + k: the window's rows, or all */
            const int32_t first = whole ? -d->pad_h : iy0;
            const int32_t copies = direct || (whole && oy > 0) ? 0 : held;
            for (int32_t k = 0; k < copies; ++k) {
                const int32_t iy = first + k;
                int8_t *dst = wb + k * rowb + lead;
                /* 16 bytes per predicated load/store pair: the short rows
                 * of small layers cost a few instructions, not a call */
                const int8_t *src = img + (int64_t)iy * row_in;
                const bool inside = iy >= 0 && iy < in_h;
                for (int32_t j = 0; j < row_in; j += 16) {
                    const mve_pred16_t pr = vctp8q((uint32_t)(row_in - j));
                    vstrbq_p_s8(dst + j, inside ? vldrbq_z_s8(src + j, pr) : vdupq_n_s8(zp), pr);
                }
            }
            const int8_t *p = direct ? img + (int64_t)iy0 * row_in : whole ? wb + (iy0 - first) * rowb : wb;
            for (int32_t ox = 0; ox < out->w; ++ox, p += sw, yp += och) {
                cdot_pixel(chunks, left, p, g, field, w, wlast, och, r, d->output_offset, lo, hi, yp);
            }
        }
    }
}

static __attribute__((noinline)) void cdot_any(int32_t chunks, bool left, const kwsq_conv_params *d,
                                               const kwsq_dims *in, const int8_t *x, const kwsq_dims *out, int8_t *y,
                                               const cdot_geom *g, int32_t field, const int8_t *w,
                                               const int8_t *wlast, const mve_rq4 *r)
{
    if (left) {
        cdot_rows(chunks, true, d, in, x, out, y, g, field, w, wlast, r);
    } else if (chunks == 1) {
        cdot_rows(1, false, d, in, x, out, y, g, field, w, wlast, r);
    } else if (chunks == 2) {
        cdot_rows(2, false, d, in, x, out, y, g, field, w, wlast, r);
    } else {
        cdot_rows(3, false, d, in, x, out, y, g, field, w, wlast, r);
    }
}

/* The per-layer constants of the path: the geometry, the records of four
 * channels and the zero-padded weight copy; `most`: the largest shift. */
typedef struct {
    int32_t filled; /* the persistent copy is computed (mve_conv_dot_persist) */
    int32_t most;
    cdot_geom g;
} cdot_head;

typedef char cdot_head_aligned[sizeof(cdot_head) % 8 == 0 ? 1 : -1];

static int32_t cdot_copy_bytes(int32_t och, int32_t field)
{
    return (field < 16 ? och : 4) * field + 16 * MVE_CONV_DOT_MAX_CHUNKS;
}

/* The records (rec, (och + 3) / 4 of them) and the weight copy (wcopy,
 * cdot_copy_bytes): the channels of the last group of four (1-4), and with
 * fields under 16 values every channel (whose vectors would read past the
 * filter's end), copied with zeros after them; the other groups read the
 * filter. Returns the largest shift. */
static int32_t cdot_fill(const kwsq_conv_params *d, const kwsq_quant_params *q, const int8_t *w,
                         const int32_t *bias, int32_t och, int32_t field, mve_rq4 *rec, int8_t *wcopy)
{
    const int32_t from = field < 16 ? 0 : 4 * ((och - 1) / 4), quads = (och + 3) / 4;
    memset(wcopy, 0, (size_t)cdot_copy_bytes(och, field));
    memcpy(wcopy, w + (int64_t)from * field, (size_t)((och - from) * field));
    int32_t most = 0;
    int32_t sums[4] __attribute__((aligned(16)));
    for (int32_t k = 0; k < quads; ++k) {
        const int32_t c = 4 * k;
        for (int32_t j = 0; j < 4; ++j) {
            int32_t s = 0;
            const int8_t *wc = w + (int64_t)(c + j) * field;
            for (int32_t i = 0; c + j < och && i < field; i += 16) {
                s = vaddvaq_p_s8(s, vldrbq_z_s8(wc + i, vctp8q((uint32_t)(field - i))),
                                 vctp8q((uint32_t)(field - i)));
            }
            sums[j] = s;
        }
        const int32_t sh =
            mve_rq4_fill(&rec[k], bias, q->multiplier, q->shift, c, och, vldrwq_s32(sums), d->input_offset);
        most = sh > most ? sh : most;
    }
    return most;
}

static void cdot_run(const kwsq_conv_params *d, const kwsq_dims *in, const int8_t *x, const kwsq_dims *out,
                     int8_t *y, const cdot_geom *g, int32_t most, int32_t field, const int8_t *w,
                     const mve_rq4 *rec, const int8_t *wcopy)
{
    const int32_t och = out->c;
    const int8_t *wsrc = field < 16 ? wcopy : w;
    const int8_t *wlast = field < 16 ? wcopy + (int64_t)(4 * ((och - 1) / 4)) * field : wcopy;
    cdot_any(g->chunks, most > 0, d, in, x, out, y, g, field, wsrc, wlast, rec);
}

int32_t mve_conv_dot_persist(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in,
                             const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out,
                             void *persist)
{
    cdot_head g;
    if (!cdot_geom_of(d, in, f, out, &g.g)) {
        return 0;
    }
    const int32_t och = out->c, field = f->h * f->w * f->c;
    if (persist != NULL) {
        /* the records follow the head (a multiple of 8 bytes), the copy them */
        cdot_head *h = persist;
        mve_rq4 *rec = (mve_rq4 *)(h + 1);
        h->g = g.g;
        h->most = cdot_fill(d, q, w, bias, och, field, rec, (int8_t *)(rec + (och + 3) / 4));
        h->filled = 1;
    }
    return (int32_t)sizeof(cdot_head) + (och + 3) / 4 * (int32_t)sizeof(mve_rq4) + cdot_copy_bytes(och, field);
}

bool mve_conv_dot(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in, const int8_t *x,
                  const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out, int8_t *y,
                  void *persist)
{
    const int32_t och = out->c, field = f->h * f->w * f->c, quads = (och + 3) / 4;
    const cdot_head *ph = persist;
    if (ph != NULL && ph->filled) {
        const mve_rq4 *rec = (const mve_rq4 *)(ph + 1);
        cdot_run(d, in, x, out, y, &ph->g, ph->most, field, w, rec, (const int8_t *)(rec + quads));
        return true;
    }
    cdot_head h;
    if (!cdot_geom_of(d, in, f, out, &h.g)) {
        return false;
    }
    mve_rq4 rec[quads];
    int8_t wcopy[cdot_copy_bytes(och, field)];
    h.most = cdot_fill(d, q, w, bias, och, field, rec, wcopy);
    cdot_run(d, in, x, out, y, &h.g, h.most, field, w, rec, wcopy);
    return true;
}
