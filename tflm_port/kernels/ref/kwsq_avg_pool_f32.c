/*
 * kwsq_avg_pool_f32: AVERAGE_POOL_2D float: the mean over the in-image taps.
 */
#include "kwsq_kernels.h"
#include "kwsq_math.h"

kwsq_status kwsq_avg_pool_f32(const kwsq_pool_params *params, const kwsq_dims *input_dims,
                              const float *input, const kwsq_dims *output_dims, float *output)
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
                for (int32_t c = 0; c < depth; ++c) {
                    float acc = 0.0f;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const float *xr = input + (((int64_t)b * in_h + iy0 + fy) * in_w + ix0) * depth + c;
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            acc += xr[(int64_t)fx * depth];
                        }
                    }
                    output[o + c] = kwsq_clampf(acc / (float)count, params->fact_min, params->fact_max);
                }
            }
        }
    }
    return KWSQ_OK;
}
