/*
 * kwsq_fully_connected_s4 for Cortex-M55 Helium: packed int4 weights widened in registers (32 per 16-byte load);
 * four rows per pass share each input load, one VMLADAVA per 16 MACs (the
 * tail predicated by VCTP); requantization as mve_requant.h, four rows per
 * vector.
 */
#include <arm_mve.h>

#include "kwsq_kernels.h"
#include "kwsq_math.h"
#include "mve_requant.h"

/* Rows o..o+rows-1; byte-aligned rows (n even) 32 nibbles per load, the
 * input de-interleaved into even and odd values to match the low and high
 * nibbles; odd n one nibble at a time. */
static void rows_s4(const uint8_t *w, int32_t o, const int8_t *x, int32_t n, int32_t rows, int32_t *acc)
{
    for (int32_t r = 0; r < 4; ++r) {
        acc[r] = 0;
    }
    if ((n & 1) != 0) {
        for (int32_t r = 0; r < rows; ++r) {
            const int64_t start = (int64_t)(o + r) * n;
            for (int32_t k = 0; k < n; ++k) {
                acc[r] += kwsq_int4_at(w, start + k) * x[k];
            }
        }
        return;
    }
    const int8_t *w0 = (const int8_t *)w + (int64_t)o * (n / 2);
    const int8_t *wr[4] = {w0, rows > 1 ? w0 + n / 2 : w0, rows > 2 ? w0 + n : w0, rows > 3 ? w0 + 3 * (n / 2) : w0};
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int32_t grouped = n & ~31;
    /* VSHL #4 puts the low nibble in the top of its byte and VAND keeps the
     * high one there: both are 16x the weight, so the sums are 16x the dot
     * product (exact, |sum| < 2^27 for rows up to 65536 values) */
    const int8x16_t top = vdupq_n_s8((int8_t)0xF0);
    for (int32_t k = 0; k < grouped; k += 32) {
        const int8x16x2_t xv = vld2q_s8(x + k);   /* val[0] even, val[1] odd inputs */
        int8x16_t v = vldrbq_s8(wr[0] + k / 2);
        a0 = vmladavaq_s8(vmladavaq_s8(a0, vshlq_n_s8(v, 4), xv.val[0]), vandq_s8(v, top), xv.val[1]);
        v = vldrbq_s8(wr[1] + k / 2);
        a1 = vmladavaq_s8(vmladavaq_s8(a1, vshlq_n_s8(v, 4), xv.val[0]), vandq_s8(v, top), xv.val[1]);
        v = vldrbq_s8(wr[2] + k / 2);
        a2 = vmladavaq_s8(vmladavaq_s8(a2, vshlq_n_s8(v, 4), xv.val[0]), vandq_s8(v, top), xv.val[1]);
        v = vldrbq_s8(wr[3] + k / 2);
        a3 = vmladavaq_s8(vmladavaq_s8(a3, vshlq_n_s8(v, 4), xv.val[0]), vandq_s8(v, top), xv.val[1]);
    }
    if (grouped < n) {
        /* the tail (< 32 values, even count): predicated loads, the inputs
         * gathered even/odd so nothing past the row is read */
        const int32_t bytes = (n - grouped) / 2;
        const mve_pred16_t pr = vctp8q((uint32_t)bytes);
        const uint8x16_t even = vmulq_n_u8(vidupq_n_u8(0, 1), 2);
        const int8x16_t xe = vldrbq_gather_offset_z_s8(x + grouped, even, pr);
        const int8x16_t xo = vldrbq_gather_offset_z_s8(x + grouped + 1, even, pr);
        int8x16_t v = vldrbq_z_s8(wr[0] + grouped / 2, pr);
        a0 = vmladavaq_s8(vmladavaq_s8(a0, vshlq_n_s8(v, 4), xe), vandq_s8(v, top), xo);
        v = vldrbq_z_s8(wr[1] + grouped / 2, pr);
        a1 = vmladavaq_s8(vmladavaq_s8(a1, vshlq_n_s8(v, 4), xe), vandq_s8(v, top), xo);
        v = vldrbq_z_s8(wr[2] + grouped / 2, pr);
        a2 = vmladavaq_s8(vmladavaq_s8(a2, vshlq_n_s8(v, 4), xe), vandq_s8(v, top), xo);
        v = vldrbq_z_s8(wr[3] + grouped / 2, pr);
        a3 = vmladavaq_s8(vmladavaq_s8(a3, vshlq_n_s8(v, 4), xe), vandq_s8(v, top), xo);
    }
    a0 >>= 4;
    a1 >>= 4;
    a2 >>= 4;
    a3 >>= 4;
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

kwsq_status kwsq_fully_connected_s4(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const uint8_t *packed_weights, const int32_t *row_const, int8_t *output)
{
    const int32_t accum = dims->accum_depth, out_depth = dims->output_depth;
    for (int32_t b = 0; b < dims->batches; ++b) {
        const int8_t *x = input + (int64_t)b * accum;
        int32_t xsum = 0;
        if (params->filter_offset != 0) {
            for (int32_t i = 0; i < accum; ++i) {
                xsum += x[i];
            }
            xsum *= params->filter_offset;
        }
        int8_t *y = output + (int64_t)b * out_depth;
        for (int32_t o = 0; o < out_depth; o += 4) {
            const int32_t rows = out_depth - o < 4 ? out_depth - o : 4;
            const mve_pred16_t pr = vctp32q((uint32_t)rows);
            int32_t acc[4];
            rows_s4(packed_weights, o, x, accum, rows, acc);
            const int32x4_t a = vaddq_n_s32(vaddq_s32(vldrwq_s32(acc), vldrwq_z_s32(row_const + o, pr)), xsum);
            int32x4_t mult, shift;
            if (quant->per_channel) {
                mult = vldrwq_z_s32(quant->multiplier + o, pr);
                shift = vldrbq_z_s32(quant->shift + o, pr);
            } else {
                mult = vdupq_n_s32(quant->multiplier[0]);
                shift = vdupq_n_s32(quant->shift[0]);
            }
            vstrbq_p_s32(y + o, mve_out_s32(a, mult, shift, params->output_offset, params->act_min, params->act_max),
                         pr);
        }
    }
    return KWSQ_OK;
}
