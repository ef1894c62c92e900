/*
 * MAX_POOL_2D int8 and float, as TFLite Micro's reference kernel.
 */
#include "pool_common.h"

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const pool_data *d = n->data;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    const int32_t batches = in->dims[0], in_h = in->dims[1], in_w = in->dims[2], depth = in->dims[3];
    const int32_t out_h = out->dims[1], out_w = out->dims[2];
    const bool is_float = in->type == KWSQ_FLOAT32;
    for (int32_t b = 0; b < batches; ++b) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const pool_window w = pool_window_at(d, in_h, in_w, oy, ox);
                const int64_t o = (((int64_t)b * out_h + oy) * out_w + ox) * depth;
                for (int32_t c = 0; c < depth; ++c) {
                    int32_t max = -128;
                    float fmax = -3.402823466e+38f;
                    for (int32_t fy = w.fy0; fy < w.fy1; ++fy) {
                        for (int32_t fx = w.fx0; fx < w.fx1; ++fx) {
                            int64_t i = (((int64_t)b * in_h + w.iy0 + fy) * in_w + w.ix0 + fx) * depth + c;
                            if (is_float) {
                                float v = ((const float *)in->data)[i];
                                fmax = v > fmax ? v : fmax;
                            } else {
                                int32_t v = ((const int8_t *)in->data)[i];
                                max = v > max ? v : max;
                            }
                        }
                    }
                    if (is_float) {
                        fmax = fmax < d->fact_min ? d->fact_min : (fmax > d->fact_max ? d->fact_max : fmax);
                        ((float *)out->data)[o + c] = fmax;
                    } else {
                        ((int8_t *)out->data)[o + c] = (int8_t)kwsq_clamp(max, d->act_min, d->act_max);
                    }
                }
            }
        }
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_max_pool_2d = {17, 5, kwsq_pool_prepare, eval, 0};
