/*
 * kwsq_fully_connected_s8 with NEON: four rows per block, each input vector
 * load serving four dot products (kwsq_dot16: `sdot`, or smull/sadalp and
 * vmull/vpadal; kwsq_mla16 into int16 lanes when the layer's accum_bound
 * proves 16 bits cannot overflow), the four sums folded into one vector and
 * requantized together. A row tail of n % 16 values is one more block: the
 * row's last 16 weights (an overlapping load, inside the row) times the
 * input's last 16 values with the lanes already counted zeroed, prepared
 * once per batch. Bit-exact with the reference: the int32 sums are the same
 * numbers added in another order.
 */
#include "kwsq_neon.h"

/* Rows w, w + n, w + 2n, w + 3n (n >= 16) times x: {dot0, dot1, dot2, dot3};
 * xt is kwsq_neon_tail16(x + n, n % 16) when n % 16 != 0. */
static int32x4_t dot_4rows(const int8_t *w, const int8_t *x, int32_t n, int8x16_t xt)
{
    const int8_t *w0 = w, *w1 = w + n, *w2 = w + 2 * n, *w3 = w + 3 * n;
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const int8x16_t xv = vld1q_s8(x + i);
        a0 = kwsq_dot16(a0, vld1q_s8(w0 + i), xv);
        a1 = kwsq_dot16(a1, vld1q_s8(w1 + i), xv);
        a2 = kwsq_dot16(a2, vld1q_s8(w2 + i), xv);
        a3 = kwsq_dot16(a3, vld1q_s8(w3 + i), xv);
    }
    if (i < n) {
        const int32_t t = n - 16;
        a0 = kwsq_dot16(a0, vld1q_s8(w0 + t), xt);
        a1 = kwsq_dot16(a1, vld1q_s8(w1 + t), xt);
        a2 = kwsq_dot16(a2, vld1q_s8(w2 + t), xt);
        a3 = kwsq_dot16(a3, vld1q_s8(w3 + t), xt);
    }
    return kwsq_hsum4(a0, a1, a2, a3);
}

/* dot_4rows with int16 lanes (accum_bound <= 32767). */
static int32x4_t dot_4rows16(const int8_t *w, const int8_t *x, int32_t n, int8x16_t xt)
{
    const int8_t *w0 = w, *w1 = w + n, *w2 = w + 2 * n, *w3 = w + 3 * n;
    int16x8_t a0 = vdupq_n_s16(0), a1 = a0, a2 = a0, a3 = a0;
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const int8x16_t xv = vld1q_s8(x + i);
        a0 = kwsq_mla16(a0, vld1q_s8(w0 + i), xv);
        a1 = kwsq_mla16(a1, vld1q_s8(w1 + i), xv);
        a2 = kwsq_mla16(a2, vld1q_s8(w2 + i), xv);
        a3 = kwsq_mla16(a3, vld1q_s8(w3 + i), xv);
    }
    if (i < n) {
        const int32_t t = n - 16;
        a0 = kwsq_mla16(a0, vld1q_s8(w0 + t), xt);
        a1 = kwsq_mla16(a1, vld1q_s8(w1 + t), xt);
        a2 = kwsq_mla16(a2, vld1q_s8(w2 + t), xt);
        a3 = kwsq_mla16(a3, vld1q_s8(w3 + t), xt);
    }
    return kwsq_hsum4(kwsq_widen16(a0), kwsq_widen16(a1), kwsq_widen16(a2), kwsq_widen16(a3));
}

kwsq_status kwsq_fully_connected_s8(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const int8_t *weights, const int32_t *row_const, int8_t *output)
{
    const int32_t n = dims->accum_depth, rows = dims->output_depth;
    const bool acc16 = KWSQ_NEON_ACC16(params->accum_bound);
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
        if (n >= 16) {
            const int8x16_t xt = n % 16 != 0 ? kwsq_neon_tail16(x + n, n % 16) : vdupq_n_s8(0);
            for (; o + 4 <= rows; o += 4) {
                int32x4_t acc = acc16 ? dot_4rows16(weights + (int64_t)o * n, x, n, xt)
                                      : dot_4rows(weights + (int64_t)o * n, x, n, xt);
                acc = vaddq_s32(acc, vaddq_s32(vld1q_s32(row_const + o), vdupq_n_s32(xsum)));
                kwsq_neon_store4(y + o, kwsq_neon_rq4(acc, kwsq_neon_quant4(quant, o)), op);
            }
        }
        for (; o < rows; ++o) {
            const int32_t acc = kwsq_neon_dot(weights + (int64_t)o * n, x, n) + row_const[o] + xsum;
            y[o] = kwsq_neon_out1(acc, quant, o, params->output_offset, params->act_min, params->act_max);
        }
    }
    return KWSQ_OK;
}
