/*
 * ADD int8 (TFLite Micro's scheme: inputs shifted left by 20, rescaled to a
 * common scale, summed, rescaled to the output) and float, with broadcasting.
 */
#include "binary_common.h"
#include "kwsq_schema.h"

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    bool is_float = false;
    kwsq_status st = kwsq_binary_prepare(ip, n, &is_float);
    if (st != KWSQ_OK || is_float) {
        return st;
    }
    binary_data *d = n->data;
    const kwsq_tensor_int *a = kwsq_node_input(ip, n, 0);
    const kwsq_tensor_int *b = kwsq_node_input(ip, n, 1);
    const kwsq_tensor_int *o = kwsq_node_output(ip, n, 0);
    d->left_shift = 20;
    double twice_max = 2.0 * (double)(a->v.scale > b->v.scale ? a->v.scale : b->v.scale);
    int s1, s2, so;
    kwsq_quantize_multiplier((double)a->v.scale / twice_max, &d->in1_mult, &s1);
    kwsq_quantize_multiplier((double)b->v.scale / twice_max, &d->in2_mult, &s2);
    kwsq_quantize_multiplier(twice_max / ((double)(1 << d->left_shift) * (double)o->v.scale), &d->out_mult, &so);
    if (s1 > 0 || s2 > 0 || so > 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "output scale too small for the input scales");
    }
    d->in1_shift = s1;
    d->in2_shift = s2;
    d->out_shift = so;
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const binary_data *d = n->data;
    const kwsq_tensor *a = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *b = &kwsq_node_input(ip, n, 1)->v;
    const kwsq_tensor *o = &kwsq_node_output(ip, n, 0)->v;
    if (a->type == KWSQ_FLOAT32) {
        const float *x1 = a->data, *x2 = b->data;
        float *y = o->data;
#define ADD_F(i1, i2, io)                                                   \
    do {                                                                    \
        float v_ = x1[i1] + x2[i2];                                         \
        y[io] = kwsq_clampf(v_, d->fact_min, d->fact_max);                  \
    } while (0)
        BINARY_FOR_EACH(d, ADD_F);
#undef ADD_F
        return KWSQ_OK;
    }
    const int8_t *x1 = a->data, *x2 = b->data;
    int8_t *y = o->data;
#define ADD_Q(i1, i2, io)                                                                        \
    do {                                                                                         \
        int32_t s1_ = (int32_t)((uint32_t)(d->in1_offset + x1[i1]) << d->left_shift);            \
        int32_t s2_ = (int32_t)((uint32_t)(d->in2_offset + x2[i2]) << d->left_shift);            \
        int32_t sum_ = kwsq_mbqm(s1_, d->in1_mult, d->in1_shift) + kwsq_mbqm(s2_, d->in2_mult, d->in2_shift); \
        int32_t r_ = kwsq_mbqm(sum_, d->out_mult, d->out_shift) + d->out_offset;                 \
        y[io] = (int8_t)kwsq_clamp(r_, d->act_min, d->act_max);                                  \
    } while (0)
    BINARY_FOR_EACH(d, ADD_Q);
#undef ADD_Q
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_add = {KWSQ_OP_ADD, KWSQ_OPTIONS_ADD_OPTIONS, prepare, eval, 0};
