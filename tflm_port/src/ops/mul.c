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
    kwsq_quantize_multiplier((double)a->v.scale * (double)b->v.scale / (double)o->v.scale, &d->q.output_multiplier, &so);
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
        BINARY_CALL_RUNS(d, st, false, kwsq_mul_f32, &d->act, x1, d->run_stride1, x2, d->run_stride2, y);
        return st;
    }
    const int8_t *x1 = a->data, *x2 = b->data;
    int8_t *y = o->data;
    BINARY_CALL_RUNS(d, st, false, kwsq_mul_s8, &d->q, x1, d->run_stride1, x2, d->run_stride2, y);
    return st;
}

const kwsq_kernel kwsq_kernel_mul = {KWSQ_OP_MUL, KWSQ_OPTIONS_MUL_OPTIONS, prepare, eval, 0, KWSQ_OP_NAME("MUL")};
