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
    d->q.left_shift = 20;
    double twice_max = 2.0 * (double)(a->v.scale > b->v.scale ? a->v.scale : b->v.scale);
    int s1, s2, so;
    kwsq_quantize_multiplier((double)a->v.scale / twice_max, &d->q.in1_multiplier, &s1);
    kwsq_quantize_multiplier((double)b->v.scale / twice_max, &d->q.in2_multiplier, &s2);
    kwsq_quantize_multiplier(twice_max / ((double)(1 << d->q.left_shift) * (double)o->v.scale),
                             &d->q.output_multiplier, &so);
    if (s1 > 0 || s2 > 0 || so > 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "output scale too small for the input scales");
    }
    d->q.in1_shift = s1;
    d->q.in2_shift = s2;
    d->q.output_shift = so;
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const binary_data *d = n->data;
    const kwsq_tensor *a = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *b = &kwsq_node_input(ip, n, 1)->v;
    const kwsq_tensor *o = &kwsq_node_output(ip, n, 0)->v;
    kwsq_status st = KWSQ_OK;
    if (a->type == KWSQ_FLOAT32) {
        const float *x1 = a->data, *x2 = b->data;
        float *y = o->data;
#define RUN_F(i1, i2, io)                                                                             \
    do {                                                                                              \
        kwsq_status s_ = kwsq_add_f32(&d->act, d->run, x1 + (i1), d->run_stride1, x2 + (i2),           \
                                      d->run_stride2, y + (io));                                      \
        st = s_ != KWSQ_OK ? s_ : st;                                                                 \
    } while (0)
        BINARY_FOR_EACH_RUN(d, RUN_F);
#undef RUN_F
        return st;
    }
    const int8_t *x1 = a->data, *x2 = b->data;
    int8_t *y = o->data;
#define RUN_Q(i1, i2, io)                                                                             \
    do {                                                                                              \
        kwsq_status s_ = kwsq_add_s8(&d->q, d->run, x1 + (i1), d->run_stride1, x2 + (i2),              \
                                     d->run_stride2, y + (io));                                       \
        st = s_ != KWSQ_OK ? s_ : st;                                                                 \
    } while (0)
    BINARY_FOR_EACH_RUN(d, RUN_Q);
#undef RUN_Q
    return st;
}

const kwsq_kernel kwsq_kernel_add = {KWSQ_OP_ADD, KWSQ_OPTIONS_ADD_OPTIONS, prepare, eval, 0};
