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
                int32x4_t acc = acc16 ? kwsq_neon_dot_4rows16(weights + (int64_t)o * n, x, n, xt)
                                      : kwsq_neon_dot_4rows(weights + (int64_t)o * n, x, n, xt);
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
