/*
 * Shared Prepare for ADD and MUL; see binary_common.h.
 */
#include "binary_common.h"
#include "kwsq_schema.h"

static bool binary_strides(const kwsq_tensor *t, const binary_data *d, int32_t *stride)
{
    int32_t pad = KWSQ_MAX_DIMS - t->num_dims;
    int32_t s = 1;
    for (int32_t i = KWSQ_MAX_DIMS - 1; i >= 0; --i) {
        int32_t dim = i >= pad ? t->dims[i - pad] : 1;
        if (dim != d->dims[i] && dim != 1) {
            return false;
        }
        stride[i] = dim == 1 ? 0 : s;
        s *= dim;
    }
    return true;
}

kwsq_status kwsq_binary_prepare(struct kwsq_interpreter *ip, kwsq_node *n, bool *is_float)
{
    kwsq_tensor_int *a = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *b = kwsq_node_input(ip, n, 1);
    kwsq_tensor_int *o = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if (a == NULL || b == NULL || o == NULL) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: needs two inputs and an output");
    }
    *is_float = a->v.type == KWSQ_FLOAT32;
    if (*is_float) {
        if ((st = kwsq_check_tensor(ip, n, b, "input 2", KWSQ_FLOAT32, -1)) != KWSQ_OK ||
            (st = kwsq_check_tensor(ip, n, o, "output", KWSQ_FLOAT32, -1)) != KWSQ_OK) {
            return st;
        }
    } else if ((st = kwsq_check_q8(ip, n, a, "input 1")) != KWSQ_OK ||
               (st = kwsq_check_q8(ip, n, b, "input 2")) != KWSQ_OK ||
               (st = kwsq_check_q8(ip, n, o, "output")) != KWSQ_OK) {
        return st;
    }
    binary_data *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    int32_t pad = KWSQ_MAX_DIMS - o->v.num_dims;
    for (int32_t i = 0; i < KWSQ_MAX_DIMS; ++i) {
        d->dims[i] = i >= pad ? o->v.dims[i - pad] : 1;
    }
    if (!binary_strides(&a->v, d, d->stride1) || !binary_strides(&b->v, d, d->stride2)) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input shapes do not broadcast to the output");
    }
    d->count = (int32_t)kwsq_num_elements(&o->v);
    int32_t activation = kwsq_opt_i8(ip, n, KWSQ_FIELD_ADD_OPTIONS_FUSED_ACTIVATION_FUNCTION, 0);
    if (activation > 3) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    kwsq_activation_range_f(activation, &d->fact_min, &d->fact_max);
    if (*is_float) {
        return KWSQ_OK;
    }
    d->in1_offset = -a->v.zero_point;
    d->in2_offset = -b->v.zero_point;
    d->out_offset = o->v.zero_point;
    if (!kwsq_activation_range_q(activation, o->v.scale, o->v.zero_point, -128, 127, &d->act_min, &d->act_max)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    return KWSQ_OK;
}
