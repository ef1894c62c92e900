/*
 * int8 CONV_2D of one group for Cortex-M55 Helium, bit-exact with
 * kernels/ref: any convolution as a 1x1 one over its receptive field.
 *
 * Pixels go in blocks of up to MVE_BLOCK_PX: the block's receptive fields
 * are first copied into stack columns (zero-point bytes for padding, whose
 * value after the input offset is 0; zeros past the field up to a multiple
 * of 16), then for each group of four output channels every pixel of the
 * block runs one dot loop: one 16-byte input load feeds four VMLADAVA
 * against the four weight rows (10 instructions per 64 MACs; the first
 * 16 values with VMLADAV, so the sums need no clearing), and the four sums
 * become one vector (two VMOV) requantized with the group's multipliers,
 * shifts and bases held in registers across the block. The input offset is
 * folded once per call: base[c] = bias[c] + offset * sum(row c).
 *
 * The columns are zero past the field, so the dot loop runs whole 16-byte
 * steps and reads up to 15 weight bytes past a row: harmless inside the
 * weight tensor (x 0), and the group holding the tensor's last row loads its
 * last step predicated instead.
 *
 * Order of memory accesses (in place, or when the planner overlaps output
 * and input): a block's input is read in full before any of its outputs is
 * written, and blocks move forward; within a block, the outputs are written
 * channel group by channel group.
 */
#include <arm_mve.h>
#include <string.h>

#include "mve_conv.h"
#include "mve_int4.h"
#include "mve_requant.h"

#define MVE_BLOCK_PX 16
#define MVE_BLOCK_BYTES 1024 /* stack columns: fewer pixels for deep fields */
#define MVE_BLOCK_MAX_DEPTH 512 /* the interleaved rows of a group: 4 x 512 bytes of stack */

/* The pixels of a block against one group's four rows, all in assembly:
 * per pixel, the first 16-byte step with VMLADAV (no clearing), n16 - 1
 * more with VMLADAVA (the interleaved rows: one pointer, immediate
 * offsets), the four sums into one vector (two VMOV), then requantization
 * (mve_requant.h: VQRDMULH, the -1 fixup on negatives, VRSHL), output
 * offset, clamp and a 4-byte store (VSTRB.32). X advances from column to
 * column by itself (columns are n16 * 16 bytes). LEFT_SHIFT is empty or
 * the left shift of the accumulator by the group's shifts (in memory). */
#define MVE_BLOCK_ASM(LEFT_SHIFT, ...)                                                                      \
    __asm__ volatile("1:\n\t"                                                                               \
                     "mov %[w], %[wb]\n\t"                                                                  \
                     "vldrb.8 q0, [%[x]], #16\n\t"                                                          \
                     "vldrb.8 q1, [%[w]], #64\n\t"                                                          \
                     "vmladav.s8 %[a0], q1, q0\n\t"                                                         \
                     "vldrb.8 q1, [%[w], #-48]\n\t"                                                         \
                     "vmladav.s8 %[a1], q1, q0\n\t"                                                         \
                     "vldrb.8 q1, [%[w], #-32]\n\t"                                                         \
                     "vmladav.s8 %[a2], q1, q0\n\t"                                                         \
                     "vldrb.8 q1, [%[w], #-16]\n\t"                                                         \
                     "vmladav.s8 %[a3], q1, q0\n\t"                                                         \
                     "wls lr, %[n], 3f\n"                                                                   \
                     "2:\n\t"                                                                               \
                     "vldrb.8 q0, [%[x]], #16\n\t"                                                          \
                     "vldrb.8 q1, [%[w]], #64\n\t"                                                          \
                     "vmladava.s8 %[a0], q1, q0\n\t"                                                        \
                     "vldrb.8 q1, [%[w], #-48]\n\t"                                                         \
                     "vmladava.s8 %[a1], q1, q0\n\t"                                                        \
                     "vldrb.8 q1, [%[w], #-32]\n\t"                                                         \
                     "vmladava.s8 %[a2], q1, q0\n\t"                                                        \
                     "vldrb.8 q1, [%[w], #-16]\n\t"                                                         \
                     "vmladava.s8 %[a3], q1, q0\n\t"                                                        \
                     "le lr, 2b\n"                                                                          \
                     "3:\n\t"                                                                               \
                     "vmov q2[2], q2[0], %[a0], %[a2]\n\t"                                                  \
                     "vmov q2[3], q2[1], %[a1], %[a3]\n\t"                                                  \
                     "vadd.i32 q2, q2, %q[b]\n\t"                                                           \
                     LEFT_SHIFT                                                                             \
                     "vqrdmulh.s32 q2, q2, %q[m]\n\t"                                                       \
                     "vand q0, q2, %q[r]\n\t"                                                               \
                     "vshr.s32 q0, q0, #31\n\t"                                                             \
                     "vqadd.s32 q2, q2, q0\n\t"                                                             \
                     "vrshl.s32 q2, q2, %q[r]\n\t"                                                          \
                     "vadd.i32 q2, q2, %[off]\n\t"                                                          \
                     "vmax.s32 q2, q2, %q[lo]\n\t"                                                          \
                     "vmin.s32 q2, q2, %q[hi]\n\t"                                                          \
                     "vstrb.32 q2, [%[y]]\n\t"                                                              \
                     "add %[y], %[y], %[och]\n\t"                                                           \
                     "subs %[j], %[j], #1\n\t"                                                              \
                     "bne 1b\n"                                                                             \
                     : [a0] "=&Te"(a0_), [a1] "=&Te"(a1_), [a2] "=&Te"(a2_), [a3] "=&Te"(a3_), [x] "+r"(xc), \
                       [w] "=&r"(w_), [y] "+l"(yp), [j] "+r"(j_)                                           \
                     : [wb] "r"(wblk), [n] "r"(n16 - 1), [och] "r"(och), [off] "r"(out_off), [b] "w"(b),    \
                       [m] "w"(mult), [r] "w"(rsh), [lo] "w"(lo), [hi] "w"(hi) __VA_ARGS__                  \
                     : "q0", "q1", "q2", "lr", "memory", "cc")

/* Weight row `r` (depth values) as int8: int8 rows are read in place,
 * packed int4 rows widened into `buf` (mve_int4.h). */
static inline const int8_t *weight_row(bool s4, const uint8_t *w, int32_t r, int32_t depth, int8_t *buf)
{
    if (!s4) {
        return (const int8_t *)w + (int64_t)r * depth;
    }
    mve_widen_s4(w, (int64_t)r * depth, depth, buf);
    return buf;
}

/* The columns of pixels px .. px + np - 1 (stride `col` bytes, the zero
 * tail already in place). */
static void fill_block(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const int8_t *img,
                       const kwsq_dims *out, int32_t px, int32_t np, int32_t col, int8_t *cols)
{
    const bool plain = f->h == 1 && f->w == 1 && p->pad_h == 0 && p->pad_w == 0;
    const int32_t depth = f->h * f->w * f->c;
    for (int32_t j = 0; j < np; ++j) {
        const int32_t oy = (px + j) / out->w, ox = (px + j) % out->w;
        const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
        if (plain && iy0 < in->h && ix0 < in->w) {
            memcpy(cols + j * col, img + ((int64_t)iy0 * in->w + ix0) * in->c, (size_t)depth);
        } else {
            mve_fill_col(p, in, f, img, iy0, ix0, 0, false, cols + j * col);
        }
    }
}

/* Every block of pixels; `left`: some channel's shift is > 0 (a constant,
 * instantiated both ways by blocks_any). wblk: 4 * col bytes, the group's
 * rows interleaved 16 bytes at a time, zeros past the row and past the last
 * channel. */
static inline __attribute__((always_inline)) void blocks(bool s4, bool left, const kwsq_conv_params *p,
                                                         const kwsq_quant_params *q, const kwsq_dims *in,
                                                         const int8_t *x, const kwsq_dims *f, const uint8_t *w,
                                                         const int32_t *base, const kwsq_dims *out, int8_t *y,
                                                         int8_t *cols, int32_t col, int32_t bpx, int8_t *wblk,
                                                         int8_t *rowbuf)
{
    const int32_t depth = f->h * f->w * f->c, och = out->c, pixels = out->h * out->w;
    const int32_t n16 = col / 16, out_off = p->output_offset;
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max), zero = vdupq_n_s32(0);
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *img = x + (int64_t)bt * in->h * in->w * in->c;
        int8_t *y_img = y + (int64_t)bt * pixels * och;
        for (int32_t px = 0; px < pixels; px += bpx) {
            const int32_t np = pixels - px < bpx ? pixels - px : bpx;
            fill_block(p, in, f, img, out, px, np, col, cols);
            for (int32_t oc0 = 0; oc0 < och; oc0 += 4) {
                const int32_t nr = och - oc0 < 4 ? och - oc0 : 4;
                for (int32_t r = 0; s4 && (depth & 1) == 0 && r < 4; ++r) {
                    /* byte-aligned int4 rows straight into their interleaved place */
                    mve_widen_s4_16(r < nr ? w + (int64_t)(oc0 + r) * (depth / 2) : w, r < nr ? depth : 0, col,
                                    wblk + 16 * r, 64);
                }
                for (int32_t r = 0; !(s4 && (depth & 1) == 0) && r < 4; ++r) {
                    const int8_t *row = r < nr ? weight_row(s4, w, oc0 + r, depth, rowbuf) : rowbuf;
                    int8_t *dst = wblk + 16 * r;
                    int32_t k = 0;
                    for (; r < nr && k + 16 <= depth; k += 16, dst += 64) {
                        vstrbq_s8(dst, vldrbq_s8(row + k));
                    }
                    for (; k < col; k += 16, dst += 64) {
                        const int32_t left_in_row = r < nr ? depth - k : 0;
                        vstrbq_s8(dst, vldrbq_z_s8(row + k, vctp8q((uint32_t)(left_in_row > 0 ? left_in_row : 0))));
                    }
                }
                const mve_pred16_t pr = vctp32q((uint32_t)nr);
                const int32x4_t b = vldrwq_z_s32(base + oc0, pr);
                const int32x4_t mult = vldrwq_z_s32(q->multiplier + oc0, pr);
                const int32x4_t shift = vldrbq_z_s32(q->shift + oc0, pr);
                const int32x4_t rsh = vminq_s32(shift, zero);
                const int8_t *xc = cols;
                int8_t *yp = y_img + (int64_t)px * och + oc0;
                if (nr == 4) {
                    int32_t a0_, a1_, a2_, a3_, j_ = np;
                    const int8_t *w_;
                    if (left) {
                        const int32x4_t lsh = vmaxq_s32(shift, zero);
                        MVE_BLOCK_ASM("vldrw.32 q0, %[l]\n\tvshl.s32 q2, q2, q0\n\t", , [l] "m"(lsh));
                    } else {
                        MVE_BLOCK_ASM("", );
                    }
                } else {
                    /* the last 1..3 channels, with the same interleaved rows */
                    const int32x4_t lsh = vmaxq_s32(shift, zero);
                    for (int32_t j = 0; j < np; ++j, yp += och) {
                        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                        const int8_t *wr = wblk;
                        for (int32_t k = 0; k < n16; ++k, xc += 16, wr += 64) {
                            const int8x16_t v = vldrbq_s8(xc);
                            a0 = vmladavaq_s8(a0, vldrbq_s8(wr), v);
                            a1 = vmladavaq_s8(a1, vldrbq_s8(wr + 16), v);
                            a2 = vmladavaq_s8(a2, vldrbq_s8(wr + 32), v);
                            a3 = vmladavaq_s8(a3, vldrbq_s8(wr + 48), v);
                        }
                        int32x4_t acc = vdupq_n_s32(a0);
                        acc = vsetq_lane_s32(a1, acc, 1);
                        acc = vsetq_lane_s32(a2, acc, 2);
                        acc = vsetq_lane_s32(a3, acc, 3);
                        acc = vshlq_s32(vaddq_s32(acc, b), lsh);
                        acc = vaddq_n_s32(mve_requant_r(acc, mult, rsh), out_off);
                        vstrbq_p_s32(yp, vminq_s32(vmaxq_s32(acc, lo), hi), pr);
                    }
                }
            }
        }
    }
}

/* Not inlined, so the caller's stack arrays do not take the frame pointer
 * the dot loop's registers need; one instantiation per weight format and
 * shift direction. */
static __attribute__((noinline)) void blocks_any(bool s4, bool left, const kwsq_conv_params *p,
                                                 const kwsq_quant_params *q, const kwsq_dims *in, const int8_t *x,
                                                 const kwsq_dims *f, const uint8_t *w, const int32_t *base,
                                                 const kwsq_dims *out, int8_t *y, int8_t *cols, int32_t col,
                                                 int32_t bpx, int8_t *wblk, int8_t *rowbuf)
{
    if (s4 && left) {
        blocks(true, true, p, q, in, x, f, w, base, out, y, cols, col, bpx, wblk, rowbuf);
    } else if (s4) {
        blocks(true, false, p, q, in, x, f, w, base, out, y, cols, col, bpx, wblk, rowbuf);
    } else if (left) {
        blocks(false, true, p, q, in, x, f, w, base, out, y, cols, col, bpx, wblk, rowbuf);
    } else {
        blocks(false, false, p, q, in, x, f, w, base, out, y, cols, col, bpx, wblk, rowbuf);
    }
}

bool mve_conv_block(bool s4, const kwsq_conv_params *p, const kwsq_quant_params *q, const kwsq_dims *in,
                    const int8_t *x, const kwsq_dims *f, const uint8_t *w, const int32_t *bias,
                    const kwsq_dims *out, int8_t *y)
{
    const int32_t depth = f->h * f->w * f->c, och = out->c;
    if (och > MVE_MAX_1X1_CH || depth > MVE_BLOCK_MAX_DEPTH) {
        return false;
    }
    /* in place (a 1x1 convolution), a block's outputs may only cover its
     * own inputs and earlier ones */
    if (p->in_place && out->c > in->c) {
        return false;
    }
    const int32_t col = (depth + 15) & ~15;
    /* an int4 row widened: whole 32-value steps */
    int8_t rowbuf[s4 ? ((depth + 31) & ~31) : 1] __attribute__((aligned(16)));
    int32_t base[och + 3]; /* + 3: the last group's vector load stays inside */
    bool left = false;
    const int32_t grouped = depth & ~15;
    const mve_pred16_t tail_pr = vctp8q((uint32_t)(depth - grouped));
    for (int32_t c = 0; c < och; ++c) {
        const int8_t *row = weight_row(s4, w, c, depth, rowbuf);
        int32_t s = 0;
        for (int32_t k = 0; k < grouped; k += 16) {
            s = vaddvaq_s8(s, vldrbq_s8(row + k));
        }
        if (grouped < depth) {
            s = vaddvaq_s8(s, vldrbq_z_s8(row + grouped, tail_pr));
        }
        base[c] = (bias != NULL ? bias[c] : 0) + p->input_offset * s;
        left = left || q->shift[c] > 0;
    }
    base[och] = base[och + 1] = base[och + 2] = 0;
    int32_t bpx = MVE_BLOCK_BYTES / col;
    bpx = bpx < 1 ? 1 : bpx > MVE_BLOCK_PX ? MVE_BLOCK_PX : bpx;
    int8_t cols[bpx * col];
    for (int32_t j = 0; j < bpx; ++j) {
        memset(cols + j * col + depth, 0, (size_t)(col - depth));
    }
    int8_t wblk[4 * col];
    blocks_any(s4, left, p, q, in, x, f, w, base, out, y, cols, col, bpx, wblk, rowbuf);
    return true;
}
