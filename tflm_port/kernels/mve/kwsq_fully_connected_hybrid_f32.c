/*
 * kwsq_fully_connected_hybrid_f32 for Cortex-M55 Helium: float input and
 * output, int8 weights. The input row is quantized exactly as kernels/ref
 * does (LiteRT's SymmetricQuantizeFloats / AsymmetricQuantizeFloats, the
 * same scalar float code, so the same roundings), then four weight rows per
 * pass share each 16-value input load (VMLADAVA, the tail predicated), and
 * each row's sum is scaled back with the reference's float expression in the
 * same order (-std=c99: no contraction into FMA), so the outputs are the
 * reference's bit for bit.
 */
#include <arm_mve.h>
#include <math.h>
#include <string.h>

#include "kwsq_fc_hybrid_ref.h"
#include "kwsq_kernels.h"
#include "kwsq_math.h"

/* Rows o .. o + rows - 1 (rows <= 4) against the quantized input q. */
static void dot_rows(const int8_t *w, const int8_t *q, int32_t n, int32_t rows, int32_t *acc)
{
    const int8_t *w0 = w, *w1 = rows > 1 ? w + n : w, *w2 = rows > 2 ? w + 2 * n : w;
    const int8_t *w3 = rows > 3 ? w + 3 * n : w;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int32_t grouped = n & ~15;
    int32_t k = 0;
    for (; k < grouped; k += 16) {
        const int8x16_t xv = vldrbq_s8(q + k);
        a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w0 + k));
        a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w1 + k));
        a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w2 + k));
        a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w3 + k));
    }
    if (k < n) {
        const mve_pred16_t pr = vctp8q((uint32_t)(n - k));
        const int8x16_t xv = vldrbq_z_s8(q + k, pr);
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

int32_t kwsq_fully_connected_hybrid_f32_get_buffer_size(const kwsq_fc_dims *dims)
{
    return dims->accum_depth;
}

kwsq_status kwsq_fully_connected_hybrid_f32(const kwsq_context *ctx, const kwsq_float_range *act,
                                            bool asymmetric, const kwsq_fc_dims *dims,
                                            const float *input, const int8_t *weights,
                                            const int32_t *row_sums, const float *row_scales,
                                            const float *bias, float *output)
{
    const int32_t accum = dims->accum_depth, out_depth = dims->output_depth;
    int8_t *q = ctx->buf;
    for (int32_t b = 0; b < dims->batches; ++b) {
        const float *x = input + (int64_t)b * accum;
        float *y = output + (int64_t)b * out_depth;
        float scale;
        int32_t offset;
        kwsq_hybrid_quantize_row(x, accum, asymmetric, q, &scale, &offset);
        for (int32_t o = 0; o < out_depth; o += 4) {
            const int32_t rows = out_depth - o < 4 ? out_depth - o : 4;
            int32_t acc[4];
            dot_rows(weights + (int64_t)o * accum, q, accum, rows, acc);
            for (int32_t r = 0; r < rows; ++r) {
                const int32_t dot = acc[r] - row_sums[o + r] * offset;
                const float start = bias != NULL ? bias[o + r] : 0.0f;
                y[o + r] = kwsq_clampf(start + (float)dot * (scale * row_scales[o + r]), act->act_min, act->act_max);
            }
        }
    }
    return KWSQ_OK;
}
