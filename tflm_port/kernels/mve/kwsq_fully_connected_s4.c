/*
 * kwsq_fully_connected_s4 for Cortex-M55 Helium, weights read packed, any
 * shape.
 *
 * A byte b holds weight 2j in its low nibble and 2j+1 in its high nibble:
 * VSHL #4 puts the low nibble in the top of its byte and VAND #0xF0 keeps
 * the high one there, both 16 x the weight, so with the input's 32 values
 * split into even and odd elements (VLD20/VLD21, shared by the four rows of
 * a block) two VMLADAVA per 16 bytes add 16 x the row's products; an exact
 * shift right by 4 gives the reference's sum (16 * |sum| < 2^31 for rows up
 * to 65,536 values; longer rows take the nibble loop).
 *
 * Row r starts at nibble r * n, in byte (r * n) >> 1; rows o..o+3 (o a
 * multiple of 4) at the block's base + {0, m, n, n + m}, m = n / 2.
 *   - n even: a row is m bytes: m >> 4 blocks, then t = m % 16 bytes by a
 *     predicated load ("extra" vector).
 *   - n odd: the rows of a pair share a byte (the even row's last weight in
 *     its low nibble, the odd row's first in the high one). An even row "A"
 *     is its m >> 4 blocks, then t = m % 16 + 1 bytes up to the shared byte,
 *     whose high nibble meets a zero input lane; an odd row "B" is t bytes
 *     from the shared byte (its low nibble meets a zero lane, the others
 *     x[2j - 1], x[2j]), then its blocks, aligned to its end and dotted with
 *     the input from x + 2t - 1. When 2t - 1 <= 16 the A row's last t bytes
 *     and the B row's first t bytes (they overlap in the shared byte) are one
 *     load, multiplied with both rows' lanes.
 * The extra vectors' input lanes (zero where a block already counted, or
 * past the row) are built once per batch; every weight load is predicated
 * to the row, so nothing past the weights is read. A last block of 1..3
 * rows repeats the block's first row in the missing slots and stores only
 * the real rows.
 */
#include <arm_mve.h>
#include <string.h>

#include "kwsq_kernels.h"
#include "kwsq_math.h"
#include "mve_requant.h"

/* Input lanes: lane j pairs x[base + 2j] (even) and x[base + 2j + 1] (odd)
 * for lo <= j < hi; every other lane, and x[-1], x[n], zero. */
static int8x16x2_t fc4_lanes(const int8_t *x, int32_t n, int32_t base, int32_t lo, int32_t hi)
{
    int8_t buf[32];
    memset(buf, 0, sizeof buf);
    const int32_t first = base + 2 * lo > 0 ? base + 2 * lo : 0, end = base + 2 * hi < n ? base + 2 * hi : n;
    if (end > first) {
        memcpy(buf + (first - base), x + first, (size_t)(end - first));
    }
    return vld2q_s8(buf);
}

/* One row kind: blocks from byte p of the row, the extra t bytes from q,
 * the blocks' input x, the extra vector's lanes e. */
typedef struct {
    int32_t p, q;
    const int8_t *x;
    int8x16x2_t e;
} fc4_kind;

typedef struct {
    int32_t n, m, blocks, t;
    bool odd;
} fc4_shape;

#define FC4_MAC(ACC, V, E, O)                                                                              \
    do {                                                                                                   \
        ACC = vmladavaq_s8(ACC, vshlq_n_s8(V, 4), E);                                                      \
        ACC = vmladavaq_s8(ACC, vandq_s8(V, mask), O);                                                     \
    } while (0)

/* One row's 16 bytes in the blocks loop: 16 x (low nibbles . E + high
 * nibbles . O) into ACC (q4 holds 0xF0 in every byte). */
#define FC4_ROW_ASM(ACC, W, E, O)                                                                          \
    "vldrb.8 q5, [%[" #W "]], #16\n\t"                                                                    \
    "vshl.i8 q6, q5, #4\n\t"                                                                              \
    "vand q5, q5, q4\n\t"                                                                                 \
    "vmladava.s8 %[" #ACC "], q6, " #E "\n\t"                                                            \
    "vmladava.s8 %[" #ACC "], q5, " #O "\n\t"

/* Rows starting at bytes r0..r3 (r0, r2 of kind a; r1, r3 of kind b): the
 * four dot products. PAIRX: r1 = r0 + m, r3 = r2 + m, one extra load per pair
 * at off from the A row with lanes pa (A) and pb (B). */
static inline __attribute__((always_inline)) int32x4_t fc4_dot4(const bool two, const fc4_shape *s,
                                                                const int8_t *r0, const int8_t *r1,
                                                                const int8_t *r2, const int8_t *r3,
                                                                const fc4_kind *ka, const fc4_kind *kb,
                                                                const bool pairx, int32_t off,
                                                                const int8x16x2_t *pa, const int8x16x2_t *pb)
{
    const int8x16_t mask = vdupq_n_s8((int8_t)0xF0);
    const int8_t *w0 = r0 + ka->p, *w1 = r1 + kb->p, *w2 = r2 + ka->p, *w3 = r3 + kb->p;
    const int8_t *xa = ka->x, *xb = kb->x;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int32_t blocks = s->blocks;
    if (blocks > 0) {
        if (two) {
            __asm__("vmov.i8 q4, #0xf0\n\t"
                    "wls lr, %[c], 2f\n"
                    "1:\n\t"
                    "vld20.8 {q0, q1}, [%[xa]]\n\t"
                    "vld21.8 {q0, q1}, [%[xa]]!\n\t"
                    "vld20.8 {q2, q3}, [%[xb]]\n\t"
                    "vld21.8 {q2, q3}, [%[xb]]!\n\t"
                    FC4_ROW_ASM(a0, w0, q0, q1) FC4_ROW_ASM(a1, w1, q2, q3)
                    FC4_ROW_ASM(a2, w2, q0, q1) FC4_ROW_ASM(a3, w3, q2, q3)
                    "le lr, 1b\n"
                    "2:\n\t"
                    : [a0] "+Te"(a0), [a1] "+Te"(a1), [a2] "+Te"(a2), [a3] "+Te"(a3), [w0] "+r"(w0),
                      [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [xa] "+r"(xa), [xb] "+r"(xb)
                    : [c] "r"(blocks)
                    : "q0", "q1", "q2", "q3", "q4", "q5", "q6", "lr", "memory", "cc");
        } else {
            __asm__("vmov.i8 q4, #0xf0\n\t"
                    "wls lr, %[c], 2f\n"
                    "1:\n\t"
                    "vld20.8 {q0, q1}, [%[xa]]\n\t"
                    "vld21.8 {q0, q1}, [%[xa]]!\n\t"
                    FC4_ROW_ASM(a0, w0, q0, q1) FC4_ROW_ASM(a1, w1, q0, q1)
                    FC4_ROW_ASM(a2, w2, q0, q1) FC4_ROW_ASM(a3, w3, q0, q1)
                    "le lr, 1b\n"
                    "2:\n\t"
                    : [a0] "+Te"(a0), [a1] "+Te"(a1), [a2] "+Te"(a2), [a3] "+Te"(a3), [w0] "+r"(w0),
                      [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [xa] "+r"(xa)
                    : [c] "r"(blocks)
                    : "q0", "q1", "q4", "q5", "q6", "lr", "memory", "cc");
            (void)xb;
        }
    }
    if (two && pairx) {
        const mve_pred16_t pr = vctp8q((uint32_t)(2 * s->t - 1));
        int8x16_t v = vldrbq_z_s8(r0 + off, pr);
        FC4_MAC(a0, v, pa->val[0], pa->val[1]);
        FC4_MAC(a1, v, pb->val[0], pb->val[1]);
        v = vldrbq_z_s8(r2 + off, pr);
        FC4_MAC(a2, v, pa->val[0], pa->val[1]);
        FC4_MAC(a3, v, pb->val[0], pb->val[1]);
    } else if (s->t > 0) {
        const mve_pred16_t pr = vctp8q((uint32_t)s->t);
        int8x16_t v = vldrbq_z_s8(r0 + ka->q, pr);
        FC4_MAC(a0, v, ka->e.val[0], ka->e.val[1]);
        v = vldrbq_z_s8(r2 + ka->q, pr);
        FC4_MAC(a2, v, ka->e.val[0], ka->e.val[1]);
        v = vldrbq_z_s8(r1 + kb->q, pr);
        FC4_MAC(a1, v, kb->e.val[0], kb->e.val[1]);
        v = vldrbq_z_s8(r3 + kb->q, pr);
        FC4_MAC(a3, v, kb->e.val[0], kb->e.val[1]);
    }
    int32x4_t r = vdupq_n_s32(a0);
    r = vsetq_lane_s32(a1, r, 1);
    r = vsetq_lane_s32(a2, r, 2);
    r = vsetq_lane_s32(a3, r, 3);
    return vshrq_n_s32(r, 4); /* exact: the sums are 16 x the dot products */
}

static inline __attribute__((always_inline)) void fc4_batch(const bool two, const fc4_shape *s, const kwsq_fc_params *params,
                      const kwsq_quant_params *quant, int32_t rows, const int8_t *w, const int32_t *row_const,
                      int32_t xsum, const int8_t *x, int8_t *y)
{
    const int32_t n = s->n, m = s->m, t = s->t;
    fc4_kind ka, kb;
    ka.p = 0;
    ka.q = 16 * s->blocks;
    ka.x = x;
    ka.e = fc4_lanes(x, n, 32 * s->blocks, 0, t);
    kb = ka;
    int32_t off = 0;
    int8x16x2_t pa = ka.e, pb = ka.e;
    const bool pairx = two && 2 * t - 1 <= 16;
    if (two) {
        kb.p = t;
        kb.q = 0;
        kb.x = x + 2 * t - 1; /* x[2j - 1] for byte j from the shared byte */
        kb.e = fc4_lanes(x, n, -1, 0, t);
        if (pairx) {
            off = 16 * s->blocks;
            pa = ka.e;
            pb = fc4_lanes(x, n, 1 - 2 * t, t - 1, 2 * t - 1);
        }
    }
    const int32x4_t vxsum = vdupq_n_s32(xsum);
    int32x4_t mult = vdupq_n_s32(quant->multiplier[0]), shift = vdupq_n_s32(quant->shift[0]);
    /* copies: the stores to y (int8) could alias *quant and *params */
    const kwsq_quant_params q = *quant;
    const int32_t out_off = params->output_offset, lo = params->act_min, hi = params->act_max;
    const int8_t *base = w;
    int32_t o = 0;
    for (; o + 4 <= rows; o += 4, base += 2 * n) {
        int32x4_t acc = fc4_dot4(two, s, base, base + m, base + n, base + n + m, &ka, &kb, pairx, off, &pa, &pb);
        acc = vaddq_s32(vaddq_s32(acc, vldrwq_s32(row_const + o)), vxsum);
        if (q.per_channel) {
            mult = vldrwq_s32(q.multiplier + o);
            shift = vldrbq_s32(q.shift + o);
        }
        vstrbq_s32(y + o, mve_out_s32(acc, mult, shift, out_off, lo, hi));
    }
    const int32_t valid = rows - o;
    if (valid > 0) {
        const int8_t *r1 = valid > 1 ? base + m : base, *r2 = valid > 2 ? base + n : base;
        const mve_pred16_t pr = vctp32q((uint32_t)valid);
        int32x4_t acc = fc4_dot4(two, s, base, r1, r2, base, &ka, &kb, false, off, &pa, &pb);
        acc = vaddq_s32(vaddq_s32(acc, vldrwq_z_s32(row_const + o, pr)), vxsum);
        if (quant->per_channel) {
            mult = vldrwq_z_s32(quant->multiplier + o, pr);
            shift = vldrbq_z_s32(quant->shift + o, pr);
        }
        vstrbq_p_s32(y + o, mve_out_s32(acc, mult, shift, params->output_offset, params->act_min, params->act_max),
                     pr);
    }
}

kwsq_status kwsq_fully_connected_s4(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const uint8_t *packed_weights, const int32_t *row_const, int8_t *output)
{
    const int32_t n = dims->accum_depth, rows = dims->output_depth;
    fc4_shape s;
    s.n = n;
    s.m = n / 2;
    s.odd = (n & 1) != 0;
    s.blocks = s.m >> 4;
    s.t = (s.m & 15) + (s.odd ? 1 : 0);
    for (int32_t b = 0; b < dims->batches; ++b) {
        const int8_t *x = input + (int64_t)b * n;
        int8_t *y = output + (int64_t)b * rows;
        int32_t xsum = 0;
        if (params->filter_offset != 0) {
            for (int32_t i = 0; i < n; ++i) {
                xsum += x[i];
            }
            xsum *= params->filter_offset;
        }
        if (n <= 65536) {
            if (s.odd) {
                fc4_batch(true, &s, params, quant, rows, (const int8_t *)packed_weights, row_const, xsum, x, y);
            } else {
                fc4_batch(false, &s, params, quant, rows, (const int8_t *)packed_weights, row_const, xsum, x, y);
            }
            continue;
        }
        /* rows too long for 16 x the sum in int32 */
        for (int32_t o = 0; o < rows; ++o) {
            int32_t acc = 0;
            for (int32_t i = 0; i < n; ++i) {
                acc += kwsq_int4_at(packed_weights, (int64_t)o * n + i) * x[i];
            }
            acc += row_const[o] + xsum;
            const int32_t k = quant->per_channel ? o : 0;
            y[o] = (int8_t)kwsq_clamp(kwsq_mbqm(acc, quant->multiplier[k], quant->shift[k]) + params->output_offset,
                                      params->act_min, params->act_max);
        }
    }
    return KWSQ_OK;
}
