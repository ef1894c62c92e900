/*
 * kwsq_fully_connected_s4 with NEON, weights read packed.
 *
 * A byte b holds weight 2j in its low nibble and 2j+1 in its high nibble.
 * (b << 4) as int8 is 16 * w[2j] and (b & 0xF0) as int8 is 16 * w[2j+1], so
 * with the input's 32 values split into their even and odd elements by
 * one deinterleaving load (`ld2`/`vld2.8`, shared by four rows), one row
 * costs per 16 bytes one load, two bit operations and two dot products
 * (kwsq_dot16) into one accumulator that
 * ends as 16 times the reference's sum; an exact shift right by 4 gives it
 * back. 16 x |sum| <= 16 * 4096 * 2 * 8 * 128 < 2^31 with the input bound
 * below, so nothing wraps that the reference would not. (No single bit
 * operation splits a byte: b itself is 16 * w[2j+1] + the low nibble read
 * unsigned, whose sign bit would need a correction term per row.)
 *
 * Four rows per block share the input loads. A row tail of half % 16 bytes
 * is one more block: the row's last 16 bytes (an overlapping load inside
 * the row) times the input's last 16 even/odd values with the lanes already
 * counted zeroed, prepared once per batch; so the per-row cost is that of
 * the full blocks plus one.
 *
 * With the layer's accum_bound <= 32767 and no `sdot` (ARMv7-A, AArch64
 * without the dot product), the nibbles are sign-extended unscaled
 * (`shl`+`sshr`, `sshr`) and multiplied into int16 lanes (kwsq_mla16: 8
 * products per instruction); without the bound, the same in chunks of 7
 * blocks whose worst case fits int16 whatever the weights (|w| <= 8), then
 * widened: so INT4 costs fewer instructions than int8 there. Rows that start mid-byte (odd accum_depth)
 * and short rows (16..31 values) unpack four rows at a time into a stack
 * buffer and run the int8 four-row block; shorter and longer rows, and the
 * last rows short of four, unpack one row at a time.
 */
#include "kwsq_neon.h"

#define KWSQ_NEON_FC4_MAX_HALF 4096 /* accum_depth <= 8192 for the packed path */

enum { FC4_X16, FC4_ACC16, FC4_CHUNK16 };

/* acc += 16 x (even nibbles . e + odd nibbles . o) */
KWSQ_NEON_INLINE int32x4_t dot16_s4(int32x4_t acc, int8x16_t b, int8x16_t e, int8x16_t o)
{
    acc = kwsq_dot16(acc, vshlq_n_s8(b, 4), e);
    return kwsq_dot16(acc, vandq_s8(b, vdupq_n_s8((int8_t)0xF0)), o);
}

/* acc (int16 lanes) += even nibbles . e + odd nibbles . o */
KWSQ_NEON_INLINE int16x8_t mla16_s4(int16x8_t acc, int8x16_t b, int8x16_t e, int8x16_t o)
{
    acc = kwsq_mla16(acc, vshrq_n_s8(vshlq_n_s8(b, 4), 4), e);
    return kwsq_mla16(acc, vshrq_n_s8(b, 4), o);
}

/* Four byte-aligned packed rows (half >= 16 bytes per row) times the
 * input: {dot0, dot1, dot2, dot3}; te/to: the tail's even/odd input values. */
#define KWSQ_NEON_DOT_4ROWS_S4(NAME, ACC_T, ZERO, MAC, FINISH)                                          \
    KWSQ_NEON_INLINE int32x4_t NAME(const uint8_t *w, const int8_t *x, int32_t half, int8x16_t te,       \
                                    int8x16_t to)                                                      \
    {                                                                                                  \
        const int8_t *w0 = (const int8_t *)w, *w1 = w0 + half, *w2 = w0 + 2 * half, *w3 = w0 + 3 * half; \
        const int8_t *xp = x;                                                                          \
        ACC_T a0 = ZERO, a1 = a0, a2 = a0, a3 = a0;                                                    \
        for (int32_t k = half >> 4; k > 0; --k) {                                                      \
            const int8x16x2_t v = vld2q_s8(xp); /* 32 inputs split even / odd */                       \
            a0 = MAC(a0, vld1q_s8(w0), v.val[0], v.val[1]);                                            \
            a1 = MAC(a1, vld1q_s8(w1), v.val[0], v.val[1]);                                            \
            a2 = MAC(a2, vld1q_s8(w2), v.val[0], v.val[1]);                                            \
            a3 = MAC(a3, vld1q_s8(w3), v.val[0], v.val[1]);                                            \
            xp += 32, w0 += 16, w1 += 16, w2 += 16, w3 += 16;                                          \
        }                                                                                              \
        if ((half & 15) != 0) {                                                                        \
            const int32_t t = (half & 15) - 16; /* back to the row's last 16 bytes */                 \
            a0 = MAC(a0, vld1q_s8(w0 + t), te, to);                                                    \
            a1 = MAC(a1, vld1q_s8(w1 + t), te, to);                                                    \
            a2 = MAC(a2, vld1q_s8(w2 + t), te, to);                                                    \
            a3 = MAC(a3, vld1q_s8(w3 + t), te, to);                                                    \
        }                                                                                              \
        return FINISH(a0, a1, a2, a3);                                                                 \
    }

KWSQ_NEON_INLINE int32x4_t finish_x16(int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3)
{
    return vshrq_n_s32(kwsq_hsum4(a0, a1, a2, a3), 4); /* exact: the sums are 16 x the dot products */
}

KWSQ_NEON_INLINE int32x4_t finish_16(int16x8_t a0, int16x8_t a1, int16x8_t a2, int16x8_t a3)
{
    return kwsq_hsum4(kwsq_widen16(a0), kwsq_widen16(a1), kwsq_widen16(a2), kwsq_widen16(a3));
}

KWSQ_NEON_DOT_4ROWS_S4(dot_4rows_x16, int32x4_t, vdupq_n_s32(0), dot16_s4, finish_x16)
KWSQ_NEON_DOT_4ROWS_S4(dot_4rows_acc16, int16x8_t, vdupq_n_s16(0), mla16_s4, finish_16)

/* Without `sdot` and without a proven 16-bit bound: 4-bit weights still
 * bound every product by 8 * 128 = 1024, so an int16 lane holds the 4
 * products a block adds for 7 blocks (28 * 1024 < 32768); then the lanes
 * are added pairwise into int32 (`sadalp`/`vpadal`) and start again. */
#define KWSQ_NEON_FC4_CHUNK 7

KWSQ_NEON_INLINE int32x4_t dot_4rows_chunk16(const uint8_t *w, const int8_t *x, int32_t half, int8x16_t te,
                                             int8x16_t to)
{
    const int8_t *w0 = (const int8_t *)w, *w1 = w0 + half, *w2 = w0 + 2 * half, *w3 = w0 + 3 * half;
    const int8_t *xp = x;
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    int32_t k = half >> 4;
    while (k > 0) {
        int32_t m = k < KWSQ_NEON_FC4_CHUNK ? k : KWSQ_NEON_FC4_CHUNK;
        k -= m;
        int16x8_t a0 = vdupq_n_s16(0), a1 = a0, a2 = a0, a3 = a0;
        for (; m > 0; --m) {
            const int8x16x2_t v = vld2q_s8(xp);
            a0 = mla16_s4(a0, vld1q_s8(w0), v.val[0], v.val[1]);
            a1 = mla16_s4(a1, vld1q_s8(w1), v.val[0], v.val[1]);
            a2 = mla16_s4(a2, vld1q_s8(w2), v.val[0], v.val[1]);
            a3 = mla16_s4(a3, vld1q_s8(w3), v.val[0], v.val[1]);
            xp += 32, w0 += 16, w1 += 16, w2 += 16, w3 += 16;
        }
        s0 = vpadalq_s16(s0, a0);
        s1 = vpadalq_s16(s1, a1);
        s2 = vpadalq_s16(s2, a2);
        s3 = vpadalq_s16(s3, a3);
    }
    if ((half & 15) != 0) {
        const int32_t t = (half & 15) - 16;
        s0 = vpadalq_s16(s0, mla16_s4(vdupq_n_s16(0), vld1q_s8(w0 + t), te, to));
        s1 = vpadalq_s16(s1, mla16_s4(vdupq_n_s16(0), vld1q_s8(w1 + t), te, to));
        s2 = vpadalq_s16(s2, mla16_s4(vdupq_n_s16(0), vld1q_s8(w2 + t), te, to));
        s3 = vpadalq_s16(s3, mla16_s4(vdupq_n_s16(0), vld1q_s8(w3 + t), te, to));
    }
    return kwsq_hsum4(s0, s1, s2, s3);
}

/* The four-row blocks of one batch; returns the rows done. */
KWSQ_NEON_INLINE int32_t packed_rows(const int mode, const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                     int32_t rows, int32_t half, const uint8_t *packed_weights,
                                     const int32_t *row_const, int32_t xsum, const int8_t *x, int8_t *y)
{
    const kwsq_neon_out op = kwsq_neon_out_params(params->output_offset, params->act_min, params->act_max);
    const int32_t rem = half % 16;
    int8x16_t te = vdupq_n_s8(0), to = te;
    if (rem != 0) {
        /* The last 16 even and odd input values, the lanes the full blocks counted zeroed. */
        int8_t xe[16], xo[16];
        for (int32_t j = 0; j < 16; ++j) {
            xe[j] = x[2 * (half - 16 + j)];
            xo[j] = x[2 * (half - 16 + j) + 1];
        }
        te = kwsq_neon_tail16(xe + 16, rem);
        to = kwsq_neon_tail16(xo + 16, rem);
    }
    const int32x4_t vxsum = vdupq_n_s32(xsum);
    int32_t o = 0;
    for (; o + 4 <= rows; o += 4) {
        const uint8_t *wr = packed_weights + (int64_t)o * half;
        int32x4_t acc = mode == FC4_ACC16     ? dot_4rows_acc16(wr, x, half, te, to)
                        : mode == FC4_CHUNK16 ? dot_4rows_chunk16(wr, x, half, te, to)
                                              : dot_4rows_x16(wr, x, half, te, to);
        acc = vaddq_s32(acc, vaddq_s32(vld1q_s32(row_const + o), vxsum));
        kwsq_neon_store4(y + o, kwsq_neon_rq4(acc, kwsq_neon_quant4(quant, o)), op);
    }
    return o;
}

kwsq_status kwsq_fully_connected_s4(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const uint8_t *packed_weights, const int32_t *row_const,
                                    int8_t *output)
{
    const int32_t n = dims->accum_depth, rows = dims->output_depth;
    const int32_t half = n / 2;
    const bool packed_path = n % 2 == 0 && half >= 16 && half <= KWSQ_NEON_FC4_MAX_HALF;
    const bool acc16 = KWSQ_NEON_ACC16(params->accum_bound);
    int8_t row[2 * KWSQ_NEON_FC4_MAX_HALF];
    for (int32_t bt = 0; bt < dims->batches; ++bt) {
        const int8_t *x = input + (int64_t)bt * n;
        int8_t *y = output + (int64_t)bt * rows;
        int32_t xsum = 0;
        if (params->filter_offset != 0) {
            for (int32_t i = 0; i < n; ++i) {
                xsum += x[i];
            }
            xsum *= params->filter_offset;
        }
        int32_t o = 0;
        if (packed_path) {
            if (acc16) {
                o = packed_rows(FC4_ACC16, params, quant, rows, half, packed_weights, row_const, xsum, x, y);
            } else if (!KWSQ_NEON_SDOT) {
                o = packed_rows(FC4_CHUNK16, params, quant, rows, half, packed_weights, row_const, xsum, x, y);
            } else {
                o = packed_rows(FC4_X16, params, quant, rows, half, packed_weights, row_const, xsum, x, y);
            }
        } else if (n >= 16 && 4 * n <= 2 * KWSQ_NEON_FC4_MAX_HALF) {
            /* Rows that start mid-byte (odd n) or short ones: four rows unpacked at a
             * time, then the int8 four-row block. */
            const kwsq_neon_out op = kwsq_neon_out_params(params->output_offset, params->act_min, params->act_max);
            const int8x16_t xt = n % 16 != 0 ? kwsq_neon_tail16(x + n, n % 16) : vdupq_n_s8(0);
            for (; o + 4 <= rows; o += 4) {
                kwsq_neon_unpack_s4(packed_weights, (int64_t)o * n, 4 * n, row);
                int32x4_t acc = acc16 ? kwsq_neon_dot_4rows16(row, x, n, xt) : kwsq_neon_dot_4rows(row, x, n, xt);
                acc = vaddq_s32(acc, vaddq_s32(vld1q_s32(row_const + o), vdupq_n_s32(xsum)));
                kwsq_neon_store4(y + o, kwsq_neon_rq4(acc, kwsq_neon_quant4(quant, o)), op);
            }
        }
        for (; o < rows; ++o) {
            int32_t acc = 0;
            for (int32_t i0 = 0; i0 < n; i0 += 2 * KWSQ_NEON_FC4_MAX_HALF) {
                const int32_t len = n - i0 < 2 * KWSQ_NEON_FC4_MAX_HALF ? n - i0 : 2 * KWSQ_NEON_FC4_MAX_HALF;
                kwsq_neon_unpack_s4(packed_weights, (int64_t)o * n + i0, len, row);
                acc += kwsq_neon_dot(row, x + i0, len);
            }
            acc += row_const[o] + xsum;
            y[o] = kwsq_neon_out1(acc, quant, o, params->output_offset, params->act_min, params->act_max);
        }
    }
    return KWSQ_OK;
}
