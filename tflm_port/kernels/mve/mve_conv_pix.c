/*
 * 1x1 CONV_2D with few input channels (1-8) for Cortex-M55 Helium,
 * bit-exact with kernels/ref: pixels in the lanes.
 *
 * With 1-8 input channels a 16-lane dot product (mve_conv_dot.c) is mostly
 * empty and each output pays a scalar's share of the requantization. Here a
 * vector holds one channel of four output pixels as int32: each input
 * channel of the four pixels is gathered once per block (VLDRB.S32 with
 * offsets: one instruction under -icount, about one cycle a lane on the
 * core) and every output channel is C_in VMUL/VMLA by its weights as
 * scalars, loaded with its base, multiplier and right shift by one LDM from
 * a per-channel record. The requantization runs on the four pixels at once
 * with scalar operands: VSHR #31 gives the -1 for negative sums, VQRDMLAH
 * adds SaturatingRoundingDoublingHighMul(sum, multiplier) to it, VRSHL by
 * the (negative) shift rounds. Four channels are narrowed together
 * (VQMOVNB/VQMOVNT: int32 -> int16 with the output offset, then -> int8), so
 * each 32-bit lane holds one pixel's four channels, clamped and stored by
 * one word scatter (VSTRW.32 with offsets 0, C_out, 2 C_out, 3 C_out).
 * Per four channels of four pixels: 4 (C_in + 6) + 12 instructions.
 *
 * The -1 comes from the sum's sign instead of the product's: they differ
 * only when the product rounds to 0, and -1 then rounds back to 0 because
 * every right shift is at least 1 (a path condition, with multipliers >= 0
 * and C_out a multiple of 4). Sums, as int32 arithmetic, equal the
 * reference's modulo 2^32: base = bias + input_offset * sum(row).
 *
 * Order of memory accesses: a block's four pixels are read in full before
 * any of their outputs are written, blocks move forward (the 4-pixel pass
 * of kwsq_overlap.h).
 */
#include <arm_mve.h>
#include <stddef.h>
#include <string.h>

#include "mve_conv.h"

#define PIX_MAGIC 0x31584950 /* "PIX1": the persistent bytes are this path's */

/* The per-layer constants (persistent or on the stack), read by the
 * assembly at fixed offsets: groups of four output channels, the bytes
 * from one block's outputs to the next's after them, the output scatter's
 * offsets, the clamp as bytes, the offsets of a block's four input pixels;
 * then per output channel cin + 3 words: weights, base, multiplier,
 * shift (< 0). */
typedef struct {
    int32_t magic;
    int32_t cin;
    int32_t nq;        /* #8 */
    int32_t skip;      /* #12: 3 * C_out */
    uint32_t offs[4];  /* #16 */
    int8_t lo[16];     /* #32 */
    int8_t hi[16];     /* #48 */
    uint32_t at[4];    /* #64 */
} pix_head;

typedef char pix_head_layout[sizeof(pix_head) == 80 && offsetof(pix_head, at) == 64 ? 1 : -1];

static bool pix_applies(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in,
                        const kwsq_dims *f, const kwsq_dims *out)
{
    if (f->h != 1 || f->w != 1 || f->c != in->c || in->c < 1 || in->c > MVE_CONV_PIX_MAX_CIN || out->c < 4 ||
        out->c % 4 != 0 || out->c > MVE_CONV_PIX_MAX_CH || d->pad_w != 0 || d->pad_h != 0 || d->stride_w < 1 ||
        d->stride_h < 1 || (int64_t)(out->h - 1) * d->stride_h >= in->h ||
        (int64_t)(out->w - 1) * d->stride_w >= in->w || (d->in_place && out->c > in->c)) {
        return false;
    }
    for (int32_t c = 0; c < out->c; ++c) {
        if (q->shift[c] >= 0 || q->multiplier[c] < 0) {
            return false;
        }
    }
    return true;
}

static int32_t pix_bytes(const kwsq_dims *in, const kwsq_dims *out)
{
    return (int32_t)sizeof(pix_head) + out->c * (in->c + 3) * 4;
}

static void pix_fill(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in, const int8_t *w,
                     const int32_t *bias, const kwsq_dims *out, pix_head *h)
{
    const int32_t cin = in->c, och = out->c;
    int32_t *rec = (int32_t *)(h + 1);
    for (int32_t o = 0; o < och; ++o, rec += cin + 3) {
        int32_t sum = 0;
        for (int32_t c = 0; c < cin; ++c) {
            rec[c] = w[o * cin + c];
            sum += rec[c];
        }
        rec[cin] = (int32_t)((uint32_t)(bias != NULL ? bias[o] : 0) + (uint32_t)d->input_offset * (uint32_t)sum);
        rec[cin + 1] = q->multiplier[o];
        rec[cin + 2] = q->shift[o];
    }
    for (int32_t j = 0; j < 4; ++j) {
        h->offs[j] = (uint32_t)(j * och);
        h->at[j] = (uint32_t)(j * cin);
    }
    memset(h->lo, (int8_t)d->act_min, 16);
    memset(h->hi, (int8_t)d->act_max, 16);
    h->cin = cin;
    h->nq = och / 4;
    h->skip = 3 * och;
    h->magic = PIX_MAGIC;
}

/* One output channel's sum of the four pixels in q0 (PIX_Mn: n input
 * channels, the first four in q4-q7, the rest on the stack), requantized
 * into q1; the record's base, multiplier and shift are in registers B, M, S. */
#define PIX_REQ(B, M, S)                                                                                        \
    "vadd.i32 q0, q0, " B "\n\t"                                                                            \
    "vshr.s32 q1, q0, #31\n\t"                                                                              \
    "vqrdmlah.s32 q1, q0, " M "\n\t"                                                                        \
    "vrshl.s32 q1, " S "\n\t"
#define PIX_M1 "vmul.i32 q0, q4, r0\n\t"
#define PIX_M2 PIX_M1 "vmla.s32 q0, q5, r1\n\t"
#define PIX_M3 PIX_M2 "vmla.s32 q0, q6, r2\n\t"
#define PIX_M4 PIX_M3 "vmla.s32 q0, q7, r3\n\t"
#define PIX_XS(K, R) "vldrw.u32 q1, [sp, #" K "]\n\t" "vmla.s32 q0, q1, " R "\n\t"
#define PIX_CH1 "ldm %[w]!, {r0-r3}\n\t" PIX_M1 PIX_REQ("r1", "r2", "r3")
#define PIX_CH2 "ldm %[w]!, {r0-r4}\n\t" PIX_M2 PIX_REQ("r2", "r3", "r4")
#define PIX_CH3 "ldm %[w]!, {r0-r5}\n\t" PIX_M3 PIX_REQ("r3", "r4", "r5")
#define PIX_CH4 "ldm %[w]!, {r0-r6}\n\t" PIX_M4 PIX_REQ("r4", "r5", "r6")
#define PIX_HI "ldm %[w]!, {r0-r3}\n\t" PIX_M4
#define PIX_CH5 PIX_HI "ldm %[w]!, {r0-r3}\n\t" PIX_XS("0", "r0") PIX_REQ("r1", "r2", "r3")
#define PIX_CH6 PIX_HI "ldm %[w]!, {r0-r4}\n\t" PIX_XS("0", "r0") PIX_XS("16", "r1") PIX_REQ("r2", "r3", "r4")
#define PIX_CH7                                                                                                 \
    PIX_HI "ldm %[w]!, {r0-r5}\n\t" PIX_XS("0", "r0") PIX_XS("16", "r1") PIX_XS("32", "r2")                  \
        PIX_REQ("r3", "r4", "r5")
#define PIX_CH8                                                                                                 \
    PIX_HI "ldm %[w]!, {r0-r6}\n\t" PIX_XS("0", "r0") PIX_XS("16", "r1") PIX_XS("32", "r2")                  \
        PIX_XS("48", "r3") PIX_REQ("r4", "r5", "r6")

/* A block's input channels K (gathered with the offsets in q1) into q4-q7
 * and, from the fifth on, the stack. */
#define PIX_G(K, Q) "add r0, %[x], #" K "\n\t" "vldrb.s32 " Q ", [r0, q1]\n\t"
#define PIX_GS(K, AT) "add r0, %[x], #" K "\n\t" "vldrb.s32 q0, [r0, q1]\n\t" "vstrw.32 q0, [sp, #" AT "]\n\t"
#define PIX_X1 "mov r0, %[x]\n\t" "vldrb.s32 q4, [r0]\n\t" /* four bytes in a row (low register base) */
#define PIX_X2 "vldrw.u32 q1, [%[cp], #64]\n\t" "vldrb.s32 q4, [%[x], q1]\n\t" PIX_G("1", "q5")
#define PIX_X3 PIX_X2 PIX_G("2", "q6")
#define PIX_X4 PIX_X3 PIX_G("3", "q7")
#define PIX_X5 PIX_X4 PIX_GS("4", "0")
#define PIX_X6 PIX_X5 PIX_GS("5", "16")
#define PIX_X7 PIX_X6 PIX_GS("6", "32")
#define PIX_X8 PIX_X7 PIX_GS("7", "48")

/* nb blocks of four pixels (input at x, 4 * cin bytes a block), each every
 * group of four output channels: channels 0 and 2 into the even and odd
 * int16 lanes of q2, 1 and 3 into q3, so that after the int8 narrowing byte
 * 4i + k is channel k of pixel i. */
#define PIX_BLOCKS(XN, CH, STEP)                                                                                \
    __asm__ volatile("sub sp, sp, #64\n"                                                                      \
                     "1:\n\t" XN                                                                              \
                     "add %[x], %[x], #" STEP "\n\t"                                                          \
                     "add %[w], %[cp], #80\n\t"                                                               \
                     "ldr r0, [%[cp], #8]\n\t"                                                                \
                     "dls lr, r0\n"                                                                           \
                     "2:\n\t" CH "vqmovnb.s32 q2, q1\n\t" CH "vqmovnb.s32 q3, q1\n\t" CH                      \
                     "vqmovnt.s32 q2, q1\n\t" CH "vqmovnt.s32 q3, q1\n\t"                                      \
                     "vqadd.s16 q2, q2, %[off]\n\t"                                                           \
                     "vqadd.s16 q3, q3, %[off]\n\t"                                                           \
                     "vqmovnb.s16 q0, q2\n\t"                                                                 \
                     "vqmovnt.s16 q0, q3\n\t"                                                                 \
                     "vldrw.u32 q1, [%[cp], #32]\n\t"                                                         \
                     "vmax.s8 q0, q0, q1\n\t"                                                                 \
                     "vldrw.u32 q1, [%[cp], #48]\n\t"                                                         \
                     "vmin.s8 q0, q0, q1\n\t"                                                                 \
                     "vldrw.u32 q1, [%[cp], #16]\n\t"                                                         \
                     "vstrw.32 q0, [%[y], q1]\n\t"                                                            \
                     "add %[y], %[y], #4\n\t"                                                                 \
                     "le lr, 2b\n\t"                                                                          \
                     "ldr r0, [%[cp], #12]\n\t"                                                               \
                     "add %[y], %[y], r0\n\t"                                                                 \
                     "subs %[nb], %[nb], #1\n\t"                                                              \
                     "bne 1b\n\t"                                                                             \
                     "add sp, sp, #64\n"                                                                      \
                     : [w] "=&r"(w), [y] "+r"(y), [x] "+r"(x), [nb] "+r"(nb)                                 \
                     : [cp] "r"(h), [off] "r"(off)                                                            \
                     : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7",  \
                       "lr", "memory", "cc")

/* nb (>= 1) blocks of four pixels whose input channels lie contiguous at x
 * (4 * cin bytes a block), their outputs contiguous at y (word-aligned). */
static __attribute__((noinline)) void pix_blocks(const pix_head *h, int32_t nb, int32_t off, const int8_t *x,
                                                 int8_t *y)
{
    const int32_t *w;
    switch (h->cin) {
    case 1:
        PIX_BLOCKS(PIX_X1, PIX_CH1, "4");
        break;
    case 2:
        PIX_BLOCKS(PIX_X2, PIX_CH2, "8");
        break;
    case 3:
        PIX_BLOCKS(PIX_X3, PIX_CH3, "12");
        break;
    case 4:
        PIX_BLOCKS(PIX_X4, PIX_CH4, "16");
        break;
    case 5:
        PIX_BLOCKS(PIX_X5, PIX_CH5, "20");
        break;
    case 6:
        PIX_BLOCKS(PIX_X6, PIX_CH6, "24");
        break;
    case 7:
        PIX_BLOCKS(PIX_X7, PIX_CH7, "28");
        break;
    default:
        PIX_BLOCKS(PIX_X8, PIX_CH8, "32");
        break;
    }
    (void)w;
}

static void pix_run(const pix_head *h, const kwsq_conv_params *d, const kwsq_dims *in, const int8_t *x,
                    const kwsq_dims *out, int8_t *y)
{
    const int32_t cin = in->c, och = out->c, ow = out->w, pixels = out->h * ow;
    /* output pixel p reads input pixel p when the map is not strided */
    const bool flat = d->stride_w == 1 && d->stride_h == 1 && in->w == ow;
    /* word-aligned outputs are scattered in place, others (and a last
     * block's missing pixels) go through a copy */
    const bool aligned = ((uintptr_t)y & 3) == 0;
    const int32_t off = d->output_offset;
    int8_t tmp[4 * MVE_CONV_PIX_MAX_CH] __attribute__((aligned(4)));
    int8_t xt[4 * MVE_CONV_PIX_MAX_CIN];
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in->h * in->w * cin;
        int8_t *y_img = y + (int64_t)bt * pixels * och;
        int32_t px = 0;
        if (flat && aligned && pixels >= 4) {
            px = pixels & ~3;
            pix_blocks(h, px / 4, off, img, y_img);
        }
        for (; px < pixels; px += 4) {
            /* the block's input pixels side by side; missing pixels of the
             * last block repeat the first */
            const int32_t np = pixels - px < 4 ? pixels - px : 4;
            for (int32_t j = 0; j < 4; ++j) {
                const int32_t p = px + (j < np ? j : 0), oy = p / ow, ox = p % ow;
                memcpy(xt + j * cin, img + ((int64_t)oy * d->stride_h * in->w + (int64_t)ox * d->stride_w) * cin,
                       (size_t)cin);
            }
            int8_t *yb = y_img + (int64_t)px * och;
            if (np == 4 && aligned) {
                pix_blocks(h, 1, off, xt, yb);
            } else {
                pix_blocks(h, 1, off, xt, tmp);
                memcpy(yb, tmp, (size_t)(np * och));
            }
        }
    }
}

int32_t mve_conv_pix_persist(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in,
                             const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out,
                             void *persist)
{
    if (!pix_applies(d, q, in, f, out)) {
        return 0;
    }
    if (persist != NULL) {
        pix_fill(d, q, in, w, bias, out, persist);
    }
    return pix_bytes(in, out);
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
        pix_run(ph, d, in, x, out, y);
        return true;
    }
    if (!pix_applies(d, q, in, f, out) || pix_bytes(in, out) > MVE_CONV_PIX_STACK) {
        return false;
    }
    int32_t buf[MVE_CONV_PIX_STACK / 4] __attribute__((aligned(16)));
    pix_fill(d, q, in, w, bias, out, (pix_head *)buf);
    pix_run((const pix_head *)buf, d, in, x, out, y);
    return true;
}
