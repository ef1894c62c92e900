/*
 * AVERAGE_POOL_2D int8 and float, as TFLite Micro's reference kernel (int8:
 * rounded division by the number of in-image taps, half away from zero).
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
                    int32_t acc = 0, count = 0;
                    float facc = 0.0f;
                    for (int32_t fy = w.fy0; fy < w.fy1; ++fy) {
                        for (int32_t fx = w.fx0; fx < w.fx1; ++fx) {
                            int64_t i = (((int64_t)b * in_h + w.iy0 + fy) * in_w + w.ix0 + fx) * depth + c;
                            if (is_float) {
                                facc += ((const float *)in->data)[i];
                            } else {
                                acc += ((const int8_t *)in->data)[i];
                            }
                            ++count;
                        }
                    }
                    if (count == 0) {
                        return kwsq_fail(ip, n, KWSQ_ERR_EVAL, "window outside the input");
                    }
                    if (is_float) {
                        float v = facc / (float)count;
                        v = v < d->fact_min ? d->fact_min : (v > d->fact_max ? d->fact_max : v);
                        ((float *)out->data)[o + c] = v;
                    } else {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                        ((int8_t *)out->data)[o + c] = (int8_t)kwsq_clamp(acc, d->act_min, d->act_max);
                    }
                }
            }
        }
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_average_pool_2d = {1, 5, kwsq_pool_prepare, eval, 0};
