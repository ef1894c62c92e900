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
 * below, so nothing wraps that the reference would not. Rows that start
 * mid-byte (odd accum_depth) and longer inputs unpack the row into a stack
 * buffer instead.
 */
#include "kwsq_neon.h"

#define KWSQ_NEON_FC4_MAX_HALF 4096 /* accum_depth <= 8192 for the packed path */

static inline int32x4_t dot16_s4(int32x4_t acc, int8x16_t b, int8x16_t xe, int8x16_t xo)
{
    acc = kwsq_dot16(acc, vshlq_n_s8(b, 4), xe);
    return kwsq_dot16(acc, vandq_s8(b, vdupq_n_s8((int8_t)0xF0)), xo);
}

/* Four byte-aligned packed rows (half = bytes per row) times the split input:
 * 16 x {dot0, dot1, dot2, dot3}. */
static int32x4_t dot_4rows_x16(const uint8_t *w, const int8_t *xe, const int8_t *xo, int32_t half)
{
    const int8_t *w0 = (const int8_t *)w, *w1 = w0 + half, *w2 = w0 + 2 * half, *w3 = w0 + 3 * half;
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32_t j = 0;
    for (; j + 16 <= half; j += 16) {
        const int8x16_t e = vld1q_s8(xe + j), o = vld1q_s8(xo + j);
        a0 = dot16_s4(a0, vld1q_s8(w0 + j), e, o);
        a1 = dot16_s4(a1, vld1q_s8(w1 + j), e, o);
        a2 = dot16_s4(a2, vld1q_s8(w2 + j), e, o);
        a3 = dot16_s4(a3, vld1q_s8(w3 + j), e, o);
    }
    if (j + 8 <= half) {
        const int8x8_t z = vdup_n_s8(0);
        const int8x16_t e = vcombine_s8(vld1_s8(xe + j), z), o = vcombine_s8(vld1_s8(xo + j), z);
        a0 = dot16_s4(a0, vcombine_s8(vld1_s8(w0 + j), z), e, o);
        a1 = dot16_s4(a1, vcombine_s8(vld1_s8(w1 + j), z), e, o);
        a2 = dot16_s4(a2, vcombine_s8(vld1_s8(w2 + j), z), e, o);
        a3 = dot16_s4(a3, vcombine_s8(vld1_s8(w3 + j), z), e, o);
        j += 8;
    }
    int32x4_t s = kwsq_hsum4(a0, a1, a2, a3);
    if (j < half) {
        int32_t t[4] = {0, 0, 0, 0};
        const int8_t *rows[4] = {w0, w1, w2, w3};
        for (; j < half; ++j) {
            for (int r = 0; r < 4; ++r) {
                const int32_t b = (uint8_t)rows[r][j];
                t[r] += 16 * ((((b & 0x0F) ^ 8) - 8) * xe[j] + (((b >> 4) ^ 8) - 8) * xo[j]);
            }
        }
        s = vaddq_s32(s, vld1q_s32(t));
    }
    return s;
}

kwsq_status kwsq_fully_connected_s4(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const uint8_t *packed_weights, const int32_t *row_const,
                                    int8_t *output)
{
    const int32_t n = dims->accum_depth, rows = dims->output_depth;
    const bool packed_path = n % 2 == 0 && n / 2 <= KWSQ_NEON_FC4_MAX_HALF;
    const int32_t half = n / 2;
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
        const kwsq_neon_out op = kwsq_neon_out_params(params->output_offset, params->act_min, params->act_max);
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
            for (; o + 4 <= rows; o += 4) {
                int32x4_t acc = vshrq_n_s32(dot_4rows_x16(packed_weights + (int64_t)o * half, xe, xo, half), 4);
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
