/*
 * CONV_2D with small receptive fields for Cortex-M55 Helium, bit-exact with
 * kernels/ref: four output pixels at a time, every output channel's sums of
 * the four as one int32 vector.
 *
 * With 1-16 values in a pixel's field a 16-lane dot product per output
 * (mve_conv_dot.c) leaves lanes empty and each output pays a scalar's share
 * of the requantization. Here the four sums of a channel share one
 * requantization with scalar operands: VSHR #31 gives the -1 for negative
 * sums, VQRDMLAH adds SaturatingRoundingDoublingHighMul(sum, multiplier) to
 * it, VRSHL by the (negative) shift rounds. Four channels are narrowed
 * together (VQMOVNB/VQMOVNT: int32 -> int16 with the output offset, then ->
 * int8), so each 32-bit lane holds one pixel's four channels, clamped and
 * stored by one word scatter (VSTRW.32 with offsets 0, C_out, 2 C_out,
 * 3 C_out). Each channel's record (weights, base, multiplier, shift) is
 * read with LDM. The sums come two ways:
 * - lanes (1x1 without padding on 1-4 input channels): a vector holds one
 *   input channel of the four pixels as int32, gathered once per block
 *   (VLDRB.S32 with offsets: one instruction under -icount, about one cycle
 *   a lane on the core); per channel C_in VMUL/VMLA by the weights as
 *   scalars: C_in + 6 instructions;
 * - dots (5-16 field values): each pixel's field is one int8 vector, read
 *   from the input itself for 1x1 without padding, else gathered (16 lanes,
 *   8-bit offsets) from input rows copied with zero-point padding, whose
 *   value after the input offset is 0, at an address per pixel; per channel one VLDRB of its
 *   weights (zero past the field), one LDM that puts the base in the four
 *   sums' registers, four VMLADAVA and two VMOV: 12 instructions.
 * Per four channels of four pixels 8 more instructions, 12 when the
 * activation clamps inside int8's range.
 *
 * The -1 comes from the sum's sign instead of the product's: they differ
 * only when the product rounds to 0, and -1 then rounds back to 0 because
 * every right shift is at least 1 (a path condition, with multipliers >= 0
 * and C_out a multiple of 4). Sums, as int32 arithmetic, equal the
 * reference's modulo 2^32: base = bias + input_offset * sum(row).
 *
 * Order of memory accesses: a 1x1 block's four pixels are read in full
 * before any of their outputs are written, blocks move forward (the 4-pixel
 * pass of kwsq_overlap.h). A chunk of output rows reads all its input
 * before writing; when the output overlaps the input, chunks are single
 * rows (the last block of a row goes through a copy).
 */
#include <arm_mve.h>
#include <stddef.h>
#include <string.h>

#include "mve_conv.h"

#define PIX_MAGIC 0x31584950 /* "PIX1": the persistent bytes are this path's */

enum { PIX_LANES, PIX_DIRECT, PIX_WINDOWS };

/* The per-layer constants (persistent or on the stack), read by the
 * assembly at fixed offsets: groups of four output channels, the bytes
 * from one block's outputs to the next's after them, the output scatter's
 * offsets, the clamp as bytes, the lanes mode's offsets of a block's four
 * input pixels, the dots' bytes from one pixel's field to the next; then
 * per output channel a record: lanes, field weights as words, then base,
 * multiplier, shift (< 0); dots, 16 weight bytes (zero past the field),
 * then base, multiplier, base, shift, base, 0, base (one LDM puts the base
 * in the four sums' registers and the rest beside them). */
typedef struct {
    int32_t magic;
    int32_t field;    /* values of a pixel's field */
    int32_t nq;       /* #8 */
    int32_t skip;     /* #12: 3 * C_out */
    uint32_t offs[4]; /* #16 */
    int8_t lo[16];    /* #32 */
    int8_t hi[16];    /* #48 */
    uint32_t at[4];   /* #64 */
    int32_t pstride;  /* #80: dots */
    int32_t mode;
    int32_t rows;     /* windows: output rows per chunk */
    int32_t wp;       /* windows: pixels of a padded input row */
    uint8_t gather[16]; /* windows: a field's offsets in the padded rows */
    int32_t clamp;      /* the activation clamps something int8 does not */
    int32_t spare[3];
} pix_head;

typedef char pix_head_layout[sizeof(pix_head) == 128 && offsetof(pix_head, at) == 64 &&
                                     offsetof(pix_head, pstride) == 80 && offsetof(pix_head, gather) == 96
                                 ? 1
                                 : -1];

/* The geometry of a layer on the path (false: not on it). */
static bool pix_geometry(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out,
                         pix_head *h)
{
    const int64_t field = (int64_t)f->h * f->w * f->c;
    if (f->c != in->c || in->c < 1 || field < 1 || field > MVE_CONV_PIX_MAX_FIELD || out->c < 4 ||
        out->c % 4 != 0 || out->c > MVE_CONV_PIX_MAX_CH || d->stride_w < 1 || d->stride_h < 1 ||
        d->dilation_w < 1 || d->dilation_h < 1 || d->pad_w < 0 || d->pad_h < 0 || out->w < 1 || out->h < 1) {
        return false;
    }
    h->field = (int32_t)field;
    h->rows = h->wp = 0;
    h->pstride = in->c;
    if (f->h == 1 && f->w == 1 && d->pad_w == 0 && d->pad_h == 0 &&
        (int64_t)(out->h - 1) * d->stride_h < in->h && (int64_t)(out->w - 1) * d->stride_w < in->w &&
        !(d->in_place && out->c > in->c)) {
        h->mode = in->c <= MVE_CONV_PIX_MAX_CIN ? PIX_LANES : PIX_DIRECT;
        return true;
    }
    if (d->in_place || field < 5) {
        return false;
    }
    /* a padded row holds the leading padding, the input row and whatever
     * the windows reach past it */
    const int64_t span = (int64_t)(out->w - 1) * d->stride_w + (int64_t)(f->w - 1) * d->dilation_w + 1;
    const int64_t wp = span > (int64_t)in->w + d->pad_w ? span : (int64_t)in->w + d->pad_w;
    const int64_t rowb = wp * in->c;
    int64_t rows = 0;
    for (int64_t r = 1; r <= out->h; ++r) {
        const int64_t pad = ((r - 1) * d->stride_h + (int64_t)(f->h - 1) * d->dilation_h + 1) * rowb;
        if (4 * (r * out->w + 4) > MVE_CONV_PIX_ADDRS || pad > MVE_CONV_PIX_PAD) {
            break;
        }
        rows = r;
    }
    if (rows < 1) {
        return false;
    }
    /* value i of the field (row fy, column fx, channel ic); lanes past the
     * field repeat its last value (their weights are 0) */
    for (int32_t i = 0; i < 16; ++i) {
        const int32_t v = i < field ? i : (int32_t)field - 1;
        const int64_t fy = v / (f->w * f->c), fx = (v / f->c) % f->w, ic = v % f->c;
        const int64_t at = fy * d->dilation_h * rowb + fx * d->dilation_w * in->c + ic;
        if (at > 255) {
            return false;
        }
        h->gather[i] = (uint8_t)at;
    }
    h->mode = PIX_WINDOWS;
    h->pstride = 16;
    h->rows = (int32_t)rows;
    h->wp = (int32_t)wp;
    return true;
}

static bool pix_applies(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in,
                        const kwsq_dims *f, const kwsq_dims *out, pix_head *h)
{
    if (!pix_geometry(d, in, f, out, h)) {
        return false;
    }
    for (int32_t c = 0; c < out->c; ++c) {
        if (q->shift[c] >= 0 || q->multiplier[c] < 0) {
            return false;
        }
    }
    return true;
}

static int32_t pix_record_bytes(const pix_head *h)
{
    return h->mode == PIX_LANES ? (h->field + 3) * 4 : 16 + 7 * 4;
}

static int32_t pix_bytes(const pix_head *h, const kwsq_dims *out)
{
    return (int32_t)sizeof(pix_head) + out->c * pix_record_bytes(h);
}

/* The records and constants after the geometry (h filled by pix_applies). */
static void pix_fill(const kwsq_conv_params *d, const kwsq_quant_params *q, const int8_t *w, const int32_t *bias,
                     const kwsq_dims *out, pix_head *h)
{
    const int32_t field = h->field, och = out->c;
    uint8_t *rec = (uint8_t *)(h + 1);
    for (int32_t o = 0; o < och; ++o, rec += pix_record_bytes(h)) {
        int32_t sum = 0;
        int32_t *words = (int32_t *)rec;
        if (h->mode != PIX_LANES) {
            memset(rec, 0, 16);
            memcpy(rec, w + o * field, (size_t)field);
            words = (int32_t *)(rec + 16);
        }
        for (int32_t c = 0; c < field; ++c) {
            sum += w[o * field + c];
            if (h->mode == PIX_LANES) {
                words[c] = w[o * field + c];
            }
        }
        const int32_t base =
            (int32_t)((uint32_t)(bias != NULL ? bias[o] : 0) + (uint32_t)d->input_offset * (uint32_t)sum);
        if (h->mode == PIX_LANES) {
            const int32_t tail[3] = {base, q->multiplier[o], q->shift[o]};
            memcpy(words + field, tail, sizeof tail);
        } else {
            const int32_t tail[7] = {base, q->multiplier[o], base, q->shift[o], base, 0, base};
            memcpy(words, tail, sizeof tail);
        }
    }
    for (int32_t j = 0; j < 4; ++j) {
        h->offs[j] = (uint32_t)(j * och);
        h->at[j] = (uint32_t)(j * field);
    }
    memset(h->lo, (int8_t)d->act_min, 16);
    memset(h->hi, (int8_t)d->act_max, 16);
    h->clamp = d->act_min > -128 || d->act_max < 127;
    h->spare[0] = h->spare[1] = h->spare[2] = 0;
    h->nq = och / 4;
    h->skip = 3 * och;
    h->magic = PIX_MAGIC;
}

/* One output channel's four sums with their base in q0 requantized into
 * q1; the record's multiplier and shift in registers M, S. */
#define PIX_REQ(M, S)                                                                                           \
    "vshr.s32 q1, q0, #31\n\t"                                                                              \
    "vqrdmlah.s32 q1, q0, " M "\n\t"                                                                        \
    "vrshl.s32 q1, " S "\n\t"
#define PIX_BASE(B) "vadd.i32 q0, q0, " B "\n\t"
/* lanes: input channels of the four pixels in q4-q7, weights r0-r3 */
#define PIX_M1 "vmul.i32 q0, q4, r0\n\t"
#define PIX_M2 PIX_M1 "vmla.s32 q0, q5, r1\n\t"
#define PIX_M3 PIX_M2 "vmla.s32 q0, q6, r2\n\t"
#define PIX_M4 PIX_M3 "vmla.s32 q0, q7, r3\n\t"
#define PIX_CH1 "ldm %[w]!, {r0-r3}\n\t" PIX_M1 PIX_BASE("r1") PIX_REQ("r2", "r3")
#define PIX_CH2 "ldm %[w]!, {r0-r4}\n\t" PIX_M2 PIX_BASE("r2") PIX_REQ("r3", "r4")
#define PIX_CH3 "ldm %[w]!, {r0-r5}\n\t" PIX_M3 PIX_BASE("r3") PIX_REQ("r4", "r5")
#define PIX_CH4 "ldm %[w]!, {r0-r6}\n\t" PIX_M4 PIX_BASE("r4") PIX_REQ("r5", "r6")
/* dots: the four pixels' fields in q4-q7, the channel's weights in q1, the
 * sums accumulated onto the base */
#define PIX_CHD                                                                                                 \
    "vldrb.8 q1, [%[w]], #16\n\t"                                                                           \
    "ldm %[w]!, {r0-r6}\n\t"                                                                                \
    "vmladava.s8 r0, q4, q1\n\t"                                                                            \
    "vmladava.s8 r2, q5, q1\n\t"                                                                            \
    "vmladava.s8 r4, q6, q1\n\t"                                                                            \
    "vmladava.s8 r6, q7, q1\n\t"                                                                            \
    "vmov q0[2], q0[0], r0, r4\n\t"                                                                         \
    "vmov q0[3], q0[1], r2, r6\n\t" PIX_REQ("r1", "r3")

/* A block's input channels K (gathered with the offsets in q1) into q4-q7,
 * then x moved to the next block. */
#define PIX_G(K, Q) "add r0, %[x], #" K "\n\t" "vldrb.s32 " Q ", [r0, q1]\n\t"
#define PIX_X1 "mov r0, %[x]\n\t" "vldrb.s32 q4, [r0]\n\t" "add %[x], %[x], #4\n\t" /* low register base */
#define PIX_X2_ "vldrw.u32 q1, [%[cp], #64]\n\t" "vldrb.s32 q4, [%[x], q1]\n\t" PIX_G("1", "q5")
#define PIX_X3_ PIX_X2_ PIX_G("2", "q6")
#define PIX_X2 PIX_X2_ "add %[x], %[x], #8\n\t"
#define PIX_X3 PIX_X3_ "add %[x], %[x], #12\n\t"
#define PIX_X4 PIX_X3_ PIX_G("3", "q7") "add %[x], %[x], #16\n\t"
/* A block's four fields, #80 bytes apart (x then points past them). */
#define PIX_XD                                                                                                  \
    "ldr r1, [%[cp], #80]\n\t" "vldrb.8 q4, [%[x]]\n\t" "add %[x], %[x], r1\n\t" "vldrb.8 q5, [%[x]]\n\t"     \
    "add %[x], %[x], r1\n\t" "vldrb.8 q6, [%[x]]\n\t" "add %[x], %[x], r1\n\t" "vldrb.8 q7, [%[x]]\n\t"     \
    "add %[x], %[x], r1\n\t"

/* Padded windows: four addresses at x (then past them), each window
 * gathered with the field's offsets (#96). */
#define PIX_XC                                                                                                  \
    "vldrb.u8 q1, [%[cp], #96]\n\t" "ldr r0, [%[x]], #4\n\t" "vldrb.u8 q4, [r0, q1]\n\t"                     \
    "ldr r0, [%[x]], #4\n\t" "vldrb.u8 q5, [r0, q1]\n\t" "ldr r0, [%[x]], #4\n\t" "vldrb.u8 q6, [r0, q1]\n\t" \
    "ldr r0, [%[x]], #4\n\t" "vldrb.u8 q7, [r0, q1]\n\t"

/* nb blocks of four pixels (XN loads a block's values and moves x to the
 * next block's), each every group of four output channels: channels 0 and 2 into
 * the even and odd int16 lanes of q2, 1 and 3 into q3, so that after the
 * int8 narrowing byte 4i + k is channel k of pixel i. */
#define PIX_CLAMP                                                                                               \
    "vldrw.u32 q1, [%[cp], #32]\n\t" "vmax.s8 q0, q0, q1\n\t" "vldrw.u32 q1, [%[cp], #48]\n\t"             \
    "vmin.s8 q0, q0, q1\n\t"
#define PIX_BLOCKS(XN, CH, CLAMP)                                                                                \
    __asm__ volatile("1:\n\t" XN                                                                              \
                     "add %[w], %[cp], #128\n\t"                                                              \
                     "ldr r0, [%[cp], #8]\n\t"                                                                \
                     "dls lr, r0\n"                                                                           \
                     "2:\n\t" CH "vqmovnb.s32 q2, q1\n\t" CH "vqmovnb.s32 q3, q1\n\t" CH                      \
                     "vqmovnt.s32 q2, q1\n\t" CH "vqmovnt.s32 q3, q1\n\t"                                      \
                     "vqadd.s16 q2, q2, %[off]\n\t"                                                           \
                     "vqadd.s16 q3, q3, %[off]\n\t"                                                           \
                     "vqmovnb.s16 q0, q2\n\t"                                                                 \
                     "vqmovnt.s16 q0, q3\n\t"                                                                 \
                     CLAMP                                                                                    \
                     "vldrw.u32 q1, [%[cp], #16]\n\t"                                                         \
                     "vstrw.32 q0, [%[y], q1]\n\t"                                                            \
                     "add %[y], %[y], #4\n\t"                                                                 \
                     "le lr, 2b\n\t"                                                                          \
                     "ldr r0, [%[cp], #12]\n\t"                                                               \
                     "add %[y], %[y], r0\n\t"                                                                 \
                     "subs %[nb], %[nb], #1\n\t"                                                              \
                     "bne 1b\n"                                                                               \
                     : [w] "=&r"(w), [y] "+r"(y), [x] "+r"(x), [nb] "+r"(nb)                                 \
                     : [cp] "r"(h), [off] "r"(off)                                                            \
                     : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7",  \
                       "lr", "memory", "cc")

/* nb (>= 1) blocks of four pixels, their outputs contiguous at y
 * (word-aligned), their values from x: lanes, the input channels of the
 * four pixels contiguous (4 * field bytes a block); dots, the four fields
 * h->pstride bytes apart, 16 bytes readable from each. */
static __attribute__((noinline)) void pix_blocks(const pix_head *h, int32_t nb, int32_t off, const int8_t *x,
                                                 int8_t *y)
{
    const int32_t *w;
    /* int8 saturation clamps a full-range activation (no PIX_CLAMP) */
    switch ((h->mode == PIX_LANES ? h->field : h->mode == PIX_WINDOWS ? 5 : 0) * 2 + (h->clamp ? 1 : 0)) {
    case 2:
        PIX_BLOCKS(PIX_X1, PIX_CH1, "");
        break;
    case 3:
        PIX_BLOCKS(PIX_X1, PIX_CH1, PIX_CLAMP);
        break;
    case 4:
        PIX_BLOCKS(PIX_X2, PIX_CH2, "");
        break;
    case 5:
        PIX_BLOCKS(PIX_X2, PIX_CH2, PIX_CLAMP);
        break;
    case 6:
        PIX_BLOCKS(PIX_X3, PIX_CH3, "");
        break;
    case 7:
        PIX_BLOCKS(PIX_X3, PIX_CH3, PIX_CLAMP);
        break;
    case 8:
        PIX_BLOCKS(PIX_X4, PIX_CH4, "");
        break;
    case 9:
        PIX_BLOCKS(PIX_X4, PIX_CH4, PIX_CLAMP);
        break;
    case 10:
        PIX_BLOCKS(PIX_XC, PIX_CHD, "");
        break;
    case 11:
        PIX_BLOCKS(PIX_XC, PIX_CHD, PIX_CLAMP);
        break;
    case 1:
        PIX_BLOCKS(PIX_XD, PIX_CHD, PIX_CLAMP);
        break;
    default:
        PIX_BLOCKS(PIX_XD, PIX_CHD, "");
        break;
    }
    (void)w;
}

/* n bytes (n >= 0), 16 per predicated load/store pair: the few bytes of a
 * block's pixels or outputs cost a few instructions, not a memcpy call. */
static inline void pix_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n > 0; n -= 16, dst += 16, src += 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
    }
}

/* 1x1 without padding: blocks read the input in place when its pixels are
 * contiguous (no stride) and the output word-aligned, as far as a dot
 * block's 16-byte reads stay inside the input; other blocks (and a last
 * block's missing pixels, which repeat its first) go through copies. */
static void pix_run_1x1(const pix_head *h, const kwsq_conv_params *d, const kwsq_dims *in, const int8_t *x,
                        const kwsq_dims *out, int8_t *y)
{
    const int32_t cin = in->c, och = out->c, ow = out->w, pixels = out->h * ow;
    const bool flat = d->stride_w == 1 && d->stride_h == 1 && in->w == ow;
    const bool aligned = ((uintptr_t)y & 3) == 0;
    const int32_t off = d->output_offset;
    const int64_t in_bytes = (int64_t)in->n * in->h * in->w * cin;
    int8_t tmp[4 * MVE_CONV_PIX_MAX_CH] __attribute__((aligned(4)));
    int8_t xt[4 * MVE_CONV_PIX_MAX_FIELD + 16];
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int64_t img_at = (int64_t)bt * in->h * in->w * cin;
        const int8_t *img = x + img_at;
        int8_t *y_img = y + (int64_t)bt * pixels * och;
        int32_t px = 0;
        if (flat && aligned) {
            int64_t nb = pixels / 4;
            if (h->mode == PIX_DIRECT) {
                /* block b reads up to byte (4b + 3) cin + 15 of the image */
                const int64_t left = in_bytes - img_at - 16 - 3 * cin;
                const int64_t room = left < 0 ? 0 : left / (4 * cin) + 1;
                nb = room < nb ? room : nb;
            }
            if (nb > 0) {
                pix_blocks(h, (int32_t)nb, off, img, y_img);
            }
            px = (int32_t)(4 * nb);
        }
        for (; px < pixels; px += 4) {
            const int32_t np = pixels - px < 4 ? pixels - px : 4;
            for (int32_t j = 0; j < 4; ++j) {
                const int32_t p = px + (j < np ? j : 0), oy = p / ow, ox = p % ow;
                pix_copy(xt + j * cin, img + ((int64_t)oy * d->stride_h * in->w + (int64_t)ox * d->stride_w) * cin,
                         cin);
            }
            int8_t *yb = y_img + (int64_t)px * och;
            if (np == 4 && aligned) {
                pix_blocks(h, 1, off, xt, yb);
            } else {
                pix_blocks(h, 1, off, xt, tmp);
                pix_copy(yb, tmp, np * och);
            }
        }
    }
}

/* Output rows r0 .. r0 + rows - 1: the input rows their windows span
 * copied with zero-point padding into pad, and each pixel's window address
 * in it into at (four per vector store, row by row). */
static __attribute__((noinline)) void pix_windows(const pix_head *h, const kwsq_conv_params *d,
                                                  const kwsq_dims *in, const kwsq_dims *f, const int8_t *img,
                                                  const kwsq_dims *out, int32_t r0, int32_t rows, int8_t *pad,
                                                  uint32_t *at)
{
    const int32_t cin = in->c, ow = out->w, rowb = h->wp * cin, lead = d->pad_w * cin, row_in = in->w * cin;
    const int32_t first = r0 * d->stride_h - d->pad_h;
    const int32_t held = (rows - 1) * d->stride_h + (f->h - 1) * d->dilation_h + 1;
    const int8x16_t zp = vdupq_n_s8((int8_t)-d->input_offset);
    for (int32_t j = 0; j < held * rowb; j += 16) {
        vstrbq_s8(pad + j, zp);
    }
    const int32_t k0 = first < 0 ? -first : 0, k1 = in->h - first < held ? in->h - first : held;
    const int8_t *src = img + (int64_t)(first + k0) * row_in;
    int8_t *dst = pad + k0 * rowb + lead;
    if (row_in <= 16) {
        /* one predicated pair a row, the predicate set once */
        const mve_pred16_t pr = vctp8q((uint32_t)row_in);
        for (int32_t k = k0; k < k1; ++k, src += row_in, dst += rowb) {
            vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
        }
    } else {
        for (int32_t k = k0; k < k1; ++k, src += row_in, dst += rowb) {
            for (int32_t j = 0; j < row_in; j += 16) {
                const mve_pred16_t pr = vctp8q((uint32_t)(row_in - j));
                vstrbq_p_s8(dst + j, vldrbq_z_s8(src + j, pr), pr);
            }
        }
    }
    /* four addresses per store, unpredicated: a row's excess lands where
     * the next row's are written afterwards, or in at's 4 spare entries */
    const uint32_t down = (uint32_t)(d->stride_h * rowb), right = (uint32_t)(d->stride_w * cin);
    const uint32x4_t step = vmulq_n_u32(vidupq_n_u32(0, 1), right);
    uint32x4_t row = vaddq_n_u32(step, (uint32_t)(uintptr_t)pad);
    for (int32_t r = 0; r < rows; ++r, row = vaddq_n_u32(row, down), at += ow) {
        uint32x4_t a = row;
        for (int32_t ox = 0; ox < ow; ox += 4, a = vaddq_n_u32(a, 4 * right)) {
            vstrwq_u32(at + ox, a);
        }
    }
}

static void pix_run_windows(const pix_head *h, const kwsq_conv_params *d, const kwsq_dims *in,
                            const kwsq_dims *f, const int8_t *x, const kwsq_dims *out, int8_t *y)
{
    const int32_t och = out->c, ow = out->w, off = d->output_offset;
    const int64_t in_bytes = (int64_t)in->n * in->h * in->w * in->c, out_bytes = (int64_t)in->n * out->h * ow * och;
    /* an output overlapping its input (kwsq_overlap.h) goes one row per
     * pass; otherwise a chunk of rows per pass */
    const bool apart = (uintptr_t)y >= (uintptr_t)x + (uintptr_t)in_bytes ||
                       (uintptr_t)x >= (uintptr_t)y + (uintptr_t)out_bytes;
    const int32_t rows_per = apart ? h->rows : 1;
    const bool aligned = ((uintptr_t)y & 3) == 0;
    int8_t pad[MVE_CONV_PIX_PAD + 16];
    uint32_t at[MVE_CONV_PIX_ADDRS / 4];
    int8_t tmp[4 * MVE_CONV_PIX_MAX_CH] __attribute__((aligned(4)));
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in->h * in->w * in->c;
        int8_t *y_img = y + (int64_t)bt * out->h * ow * och;
        for (int32_t r0 = 0; r0 < out->h; r0 += rows_per) {
            const int32_t rows = out->h - r0 < rows_per ? out->h - r0 : rows_per;
            const int32_t pixels = rows * ow, full = aligned ? pixels / 4 : 0;
            pix_windows(h, d, in, f, img, out, r0, rows, pad, at);
            int8_t *yc = y_img + (int64_t)r0 * ow * och;
            if (full > 0) {
                pix_blocks(h, full, off, (const int8_t *)at, yc);
            }
            for (int32_t px = 4 * full; px < pixels; px += 4) {
                /* a last block's missing pixels repeat its first */
                const int32_t np = pixels - px < 4 ? pixels - px : 4;
                for (int32_t j = np; j < 4; ++j) {
                    at[px + j] = at[px];
                }
                pix_blocks(h, 1, off, (const int8_t *)(at + px), tmp);
                pix_copy(yc + (int64_t)px * och, tmp, np * och);
            }
        }
    }
}

int32_t mve_conv_pix_persist(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in,
                             const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out,
                             void *persist)
{
    pix_head h;
    if (!pix_applies(d, q, in, f, out, &h)) {
        return 0;
    }
    if (persist != NULL) {
        memcpy(persist, &h, sizeof h);
        pix_fill(d, q, w, bias, out, persist);
    }
    return pix_bytes(&h, out);
}

static void pix_run(const pix_head *h, const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f,
                    const int8_t *x, const kwsq_dims *out, int8_t *y)
{
    if (h->mode == PIX_WINDOWS) {
        pix_run_windows(h, d, in, f, x, out, y);
    } else {
        pix_run_1x1(h, d, in, x, out, y);
    }
}

bool mve_conv_pix(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in, const int8_t *x,
                  const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out, int8_t *y,
                  void *persist)
{
    const pix_head *ph = persist;
    if (ph != NULL) {
        /* Prepare gave the layer this path's bytes, or another path's */
        if (ph->magic != PIX_MAGIC) {
            return false;
        }
        pix_run(ph, d, in, f, x, out, y);
        return true;
    }
    int32_t buf[MVE_CONV_PIX_STACK / 4] __attribute__((aligned(16)));
    pix_head *h = (pix_head *)buf;
    if (!pix_applies(d, q, in, f, out, h) || pix_bytes(h, out) > MVE_CONV_PIX_STACK) {
        return false;
    }
    pix_fill(d, q, w, bias, out, h);
    pix_run(h, d, in, f, x, out, y);
    return true;
}
