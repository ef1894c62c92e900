/*
 * kwsq_avg_pool_s8 with NEON: sixteen channels at a time, the window summed
 * in int32 lanes (widening adds), then TFLite Micro's division per value:
 * the sum over the in-image taps divided by their count, rounded half away
 * from zero, clamped. Bit-exact with the reference (the same integer sum
 * and the same division).
 */
#include "kwsq_neon.h"

kwsq_status kwsq_avg_pool_s8(const kwsq_pool_params *params, const kwsq_dims *input_dims,
                             const int8_t *input, const kwsq_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, depth = input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * params->stride_h - params->pad_h;
            int32_t fy0, fy1;
            kwsq_window_clip(iy0, 1, params->filter_h, in_h, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * params->stride_w - params->pad_w;
                int32_t fx0, fx1;
                kwsq_window_clip(ix0, 1, params->filter_w, in_w, &fx0, &fx1);
                const int64_t o = (((int64_t)b * out_h + oy) * out_w + ox) * depth;
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);
                if (count == 0) {
                    return KWSQ_ERR_EVAL;
                }
                int32_t c = 0;
                for (; c + 16 <= depth; c += 16) {
                    int32x4_t s[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const int8_t *xr = input + (((int64_t)b * in_h + iy0 + fy) * in_w + ix0) * depth + c;
                        /* int16 partial sums: at most 256 taps of |x| <= 128 before widening. */
                        for (int32_t fx = fx0; fx < fx1;) {
                            const int32_t end = fx1 - fx > 256 ? fx + 256 : fx1;
                            int16x8_t lo = vdupq_n_s16(0), hi = vdupq_n_s16(0);
                            for (; fx < end; ++fx) {
                                const int8x16_t v = vld1q_s8(xr + (int64_t)fx * depth);
                                lo = vaddw_s8(lo, vget_low_s8(v));
                                hi = vaddw_s8(hi, vget_high_s8(v));
                            }
                            s[0] = vaddw_s16(s[0], vget_low_s16(lo));
                            s[1] = vaddw_s16(s[1], vget_high_s16(lo));
                            s[2] = vaddw_s16(s[2], vget_low_s16(hi));
                            s[3] = vaddw_s16(s[3], vget_high_s16(hi));
                        }
                    }
                    int32_t sums[16];
                    for (int32_t i = 0; i < 4; ++i) {
                        vst1q_s32(sums + 4 * i, s[i]);
                    }
                    for (int32_t i = 0; i < 16; ++i) {
                        const int32_t acc = sums[i] > 0 ? (sums[i] + count / 2) / count
                                                        : (sums[i] - count / 2) / count;
                        output[o + c + i] = (int8_t)kwsq_clamp(acc, params->act_min, params->act_max);
                    }
                }
                for (; c < depth; ++c) {
                    int32_t acc = 0;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const int8_t *xr = input + (((int64_t)b * in_h + iy0 + fy) * in_w + ix0) * depth + c;
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            acc += xr[(int64_t)fx * depth];
                        }
                    }
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    output[o + c] = (int8_t)kwsq_clamp(acc, params->act_min, params->act_max);
                }
            }
        }
    }
    return KWSQ_OK;
}
