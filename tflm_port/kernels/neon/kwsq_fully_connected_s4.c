/*
 * kwsq_fully_connected_s4 with NEON, weights read packed.
 *
 * A byte b holds weight 2j in its low nibble and 2j+1 in its high nibble.
 * (b << 4) as int8 is 16 * w[2j] and (b & 0xF0) as int8 is 16 * w[2j+1], so
 * with the input split once per call into its even and odd elements (xe,
 * xo, on the stack), one row costs per 16 bytes one load, two bit
 * operations and two dot products (kwsq_dot16) into one accumulator that
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
 * products per instruction). Rows that start mid-byte (odd accum_depth),
 * short rows (< 32 values) and longer inputs unpack the row into a stack
 * buffer instead.
 */
#include "kwsq_neon.h"

#define KWSQ_NEON_FC4_MAX_HALF 4096 /* accum_depth <= 8192 for the packed path */

enum { FC4_X16, FC4_ACC16 };

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

/* Four byte-aligned packed rows (half >= 16 bytes per row) times the split
 * input: {dot0, dot1, dot2, dot3}. */
KWSQ_NEON_INLINE int32x4_t dot_4rows_s4(const int mode, const uint8_t *w, const int8_t *xe, const int8_t *xo,
                                        int32_t half, int8x16_t te, int8x16_t to)
{
    const int8_t *w0 = (const int8_t *)w, *w1 = w0 + half, *w2 = w0 + 2 * half, *w3 = w0 + 3 * half;
    if (mode == FC4_ACC16) {
        int16x8_t a0 = vdupq_n_s16(0), a1 = a0, a2 = a0, a3 = a0;
        int32_t j = 0;
        for (; j + 16 <= half; j += 16) {
            const int8x16_t e = vld1q_s8(xe + j), o = vld1q_s8(xo + j);
            a0 = mla16_s4(a0, vld1q_s8(w0 + j), e, o);
            a1 = mla16_s4(a1, vld1q_s8(w1 + j), e, o);
            a2 = mla16_s4(a2, vld1q_s8(w2 + j), e, o);
            a3 = mla16_s4(a3, vld1q_s8(w3 + j), e, o);
        }
        if (j < half) {
            const int32_t t = half - 16;
            a0 = mla16_s4(a0, vld1q_s8(w0 + t), te, to);
            a1 = mla16_s4(a1, vld1q_s8(w1 + t), te, to);
            a2 = mla16_s4(a2, vld1q_s8(w2 + t), te, to);
            a3 = mla16_s4(a3, vld1q_s8(w3 + t), te, to);
        }
        return kwsq_hsum4(kwsq_widen16(a0), kwsq_widen16(a1), kwsq_widen16(a2), kwsq_widen16(a3));
    }
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32_t j = 0;
    for (; j + 16 <= half; j += 16) {
        const int8x16_t e = vld1q_s8(xe + j), o = vld1q_s8(xo + j);
        a0 = dot16_s4(a0, vld1q_s8(w0 + j), e, o);
        a1 = dot16_s4(a1, vld1q_s8(w1 + j), e, o);
        a2 = dot16_s4(a2, vld1q_s8(w2 + j), e, o);
        a3 = dot16_s4(a3, vld1q_s8(w3 + j), e, o);
    }
    if (j < half) {
        const int32_t t = half - 16;
        a0 = dot16_s4(a0, vld1q_s8(w0 + t), te, to);
        a1 = dot16_s4(a1, vld1q_s8(w1 + t), te, to);
        a2 = dot16_s4(a2, vld1q_s8(w2 + t), te, to);
        a3 = dot16_s4(a3, vld1q_s8(w3 + t), te, to);
    }
    return vshrq_n_s32(kwsq_hsum4(a0, a1, a2, a3), 4);
}

/* The four-row blocks of one batch; returns the rows done. */
KWSQ_NEON_INLINE int32_t packed_rows(const int mode, const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                     int32_t rows, int32_t half, const uint8_t *packed_weights,
                                     const int32_t *row_const, int32_t xsum, const int8_t *xe, const int8_t *xo,
                                     int8_t *y)
{
    const kwsq_neon_out op = kwsq_neon_out_params(params->output_offset, params->act_min, params->act_max);
    const int32_t rem = half % 16;
    const int8x16_t te = rem != 0 ? kwsq_neon_tail16(xe + half, rem) : vdupq_n_s8(0);
    const int8x16_t to = rem != 0 ? kwsq_neon_tail16(xo + half, rem) : vdupq_n_s8(0);
    const int32x4_t vxsum = vdupq_n_s32(xsum);
    int32_t o = 0;
    for (; o + 4 <= rows; o += 4) {
        int32x4_t acc = dot_4rows_s4(mode, packed_weights + (int64_t)o * half, xe, xo, half, te, to);
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
    int8_t xe[KWSQ_NEON_FC4_MAX_HALF], xo[KWSQ_NEON_FC4_MAX_HALF];
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
            int32_t j = 0;
            for (; j + 16 <= half; j += 16) {
                const int8x16x2_t v = vld2q_s8(x + 2 * j);
                vst1q_s8(xe + j, v.val[0]);
                vst1q_s8(xo + j, v.val[1]);
            }
            for (; j < half; ++j) {
                xe[j] = x[2 * j];
                xo[j] = x[2 * j + 1];
            }
            o = acc16 ? packed_rows(FC4_ACC16, params, quant, rows, half, packed_weights, row_const, xsum, xe, xo, y)
                      : packed_rows(FC4_X16, params, quant, rows, half, packed_weights, row_const, xsum, xe, xo, y);
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
