/*
 * MUL int8 (product of offset inputs rescaled by in1*in2/out) and float,
 * with broadcasting, as TFLite Micro's reference kernel.
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
    int so;
    kwsq_quantize_multiplier((double)a->v.scale * (double)b->v.scale / (double)o->v.scale, &d->out_mult, &so);
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
#define MUL_F(i1, i2, io)                                                   \
    do {                                                                    \
        float v_ = x1[i1] * x2[i2];                                         \
        y[io] = kwsq_clampf(v_, d->fact_min, d->fact_max);                  \
    } while (0)
        BINARY_FOR_EACH(d, MUL_F);
#undef MUL_F
        return KWSQ_OK;
    }
    const int8_t *x1 = a->data, *x2 = b->data;
    int8_t *y = o->data;
#define MUL_Q(i1, i2, io)                                                                    \
    do {                                                                                     \
        int32_t p_ = (d->in1_offset + x1[i1]) * (d->in2_offset + x2[i2]);                    \
        int32_t r_ = d->out_offset + kwsq_mbqm(p_, d->out_mult, d->out_shift);               \
        y[io] = (int8_t)kwsq_clamp(r_, d->act_min, d->act_max);                              \
    } while (0)
    BINARY_FOR_EACH(d, MUL_Q);
#undef MUL_Q
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_mul = {KWSQ_OP_MUL, KWSQ_OPTIONS_MUL_OPTIONS, prepare, eval, 0};
