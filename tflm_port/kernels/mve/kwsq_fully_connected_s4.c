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
    for (int32_t k = 0; k < grouped; k += 32) {
        const int8x16x2_t xv = vld2q_s8(x + k);   /* val[0] even, val[1] odd inputs */
        int8x16_t v = vldrbq_s8(wr[0] + k / 2);
        a0 = vmladavaq_s8(vmladavaq_s8(a0, vshrq_n_s8(vshlq_n_s8(v, 4), 4), xv.val[0]), vshrq_n_s8(v, 4), xv.val[1]);
        v = vldrbq_s8(wr[1] + k / 2);
        a1 = vmladavaq_s8(vmladavaq_s8(a1, vshrq_n_s8(vshlq_n_s8(v, 4), 4), xv.val[0]), vshrq_n_s8(v, 4), xv.val[1]);
        v = vldrbq_s8(wr[2] + k / 2);
        a2 = vmladavaq_s8(vmladavaq_s8(a2, vshrq_n_s8(vshlq_n_s8(v, 4), 4), xv.val[0]), vshrq_n_s8(v, 4), xv.val[1]);
        v = vldrbq_s8(wr[3] + k / 2);
        a3 = vmladavaq_s8(vmladavaq_s8(a3, vshrq_n_s8(vshlq_n_s8(v, 4), 4), xv.val[0]), vshrq_n_s8(v, 4), xv.val[1]);
    }
    for (int32_t k = grouped; k < n; ++k) {
        a0 += kwsq_int4_at((const uint8_t *)wr[0], k) * x[k];
        a1 += kwsq_int4_at((const uint8_t *)wr[1], k) * x[k];
        a2 += kwsq_int4_at((const uint8_t *)wr[2], k) * x[k];
        a3 += kwsq_int4_at((const uint8_t *)wr[3], k) * x[k];
    }
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
