/*
 * kwsq_fully_connected_s8 for Cortex-M55 Helium: int8 weights, 16 per load;
 * four rows per pass share each input load, one VMLADAVA per 16 MACs (the
 * tail predicated by VCTP); requantization as mve_requant.h, four rows per
 * vector.
 */
#include <arm_mve.h>

#include "kwsq_kernels.h"
#include "kwsq_math.h"
#include "mve_requant.h"

static void rows_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t rows, int32_t *acc)
{
    const int8_t *w0 = w, *w1 = rows > 1 ? w + n : w, *w2 = rows > 2 ? w + 2 * n : w;
    const int8_t *w3 = rows > 3 ? w + 3 * n : w;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int32_t grouped = n & ~15;
    int32_t k = 0;
    for (; k < grouped; k += 16) {
        const int8x16_t xv = vldrbq_s8(x + k);
        a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w0 + k));
        a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w1 + k));
        a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w2 + k));
        a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w3 + k));
    }
    if (k < n) {
        const mve_pred16_t pr = vctp8q((uint32_t)(n - k));
        const int8x16_t xv = vldrbq_z_s8(x + k, pr);
        a0 = vmladavaq_s8(a0, xv, vldrbq_z_s8(w0 + k, pr));
        a1 = vmladavaq_s8(a1, xv, vldrbq_z_s8(w1 + k, pr));
        a2 = vmladavaq_s8(a2, xv, vldrbq_z_s8(w2 + k, pr));
        a3 = vmladavaq_s8(a3, xv, vldrbq_z_s8(w3 + k, pr));
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

kwsq_status kwsq_fully_connected_s8(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const int8_t *weights, const int32_t *row_const, int8_t *output)
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
            rows_s8(weights + (int64_t)o * accum, x, accum, rows, acc);
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
