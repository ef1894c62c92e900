/*
 * ADD int8 (TFLite Micro's scheme: inputs shifted left by 20, rescaled to a
 * common scale, summed, rescaled to the output) and float, with broadcasting.
 */
#include "binary_common.h"
#include "kwsq_schema.h"

/* A small constant input (batch-norm folded to ADD, a bias): its rescaled
 * terms once, so Eval requantizes only the other input (kwsq_add_s8_const). */
static kwsq_status prepare_constant(struct kwsq_interpreter *ip, binary_data *d,
                                   const kwsq_tensor_int *a, const kwsq_tensor_int *b)
{
    d->const_input = -1;
    const bool b_const = b->m != NULL && b->m->is_const && b->v.data != NULL;
    const bool a_const = a->m != NULL && a->m->is_const && a->v.data != NULL;
    const kwsq_tensor_int *c = b_const ? b : (a_const ? a : NULL);
    if (c == NULL || (a_const && b_const)) {
        return KWSQ_OK;
    }
    const int64_t k = kwsq_num_elements(&c->v);
    if (k < 1 || k > KWSQ_ADD_CONST_MAX) {
        return KWSQ_OK;
    }
    d->qc = d->q;
    if (c == a) { /* input 1 constant: the variable one goes first */
        d->qc.in1_offset = d->q.in2_offset;
        d->qc.in2_offset = d->q.in1_offset;
        d->qc.in1_multiplier = d->q.in2_multiplier;
        d->qc.in2_multiplier = d->q.in1_multiplier;
        d->qc.in1_shift = d->q.in2_shift;
        d->qc.in2_shift = d->q.in1_shift;
    }
    int32_t *scaled = kwsq_alloc_persistent(ip, (size_t)k * sizeof(int32_t));
    if (scaled == NULL) {
        return KWSQ_ERR_ARENA;
    }
    const int8_t *x = c->v.data;
    for (int64_t j = 0; j < k; ++j) {
        const int32_t s = (int32_t)((uint32_t)(d->qc.in2_offset + x[j]) << d->qc.left_shift);
        scaled[j] = kwsq_mbqm(s, d->qc.in2_multiplier, d->qc.in2_shift);
    }
    d->scaled_const = scaled;
    d->const_input = c == b ? 1 : 0;
    return KWSQ_OK;
}

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
    return prepare_constant(ip, d, a, b);
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
        BINARY_CALL_RUNS(d, st, false, kwsq_add_f32, &d->act, x1, d->run_stride1, x2, d->run_stride2, y);
        return st;
    }
    const int8_t *x1 = a->data, *x2 = b->data;
    int8_t *y = o->data;
    if (d->const_input >= 0) {
        /* the variable input first, the constant's rescaled terms second */
        const bool c2 = d->const_input == 1;
        const int8_t *xv = c2 ? x1 : x2;
        const int32_t sv = c2 ? d->run_stride1 : d->run_stride2;
        const int32_t sc = c2 ? d->run_stride2 : d->run_stride1;
        BINARY_CALL_RUNS(d, st, !c2, kwsq_add_s8_const, &d->qc, xv, sv, d->scaled_const, sc, y);
        return st;
    }
    BINARY_CALL_RUNS(d, st, false, kwsq_add_s8, &d->q, x1, d->run_stride1, x2, d->run_stride2, y);
    return st;
}

const kwsq_kernel kwsq_kernel_add = {KWSQ_OP_ADD, KWSQ_OPTIONS_ADD_OPTIONS, prepare, eval, 0, KWSQ_OP_NAME("ADD")};
