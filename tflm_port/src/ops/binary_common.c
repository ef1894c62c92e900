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

/* Mode of one input over an output dimension: 1 contiguous with the run so
 * far, 0 one repeated value, -1 neither. */
static int32_t run_mode(int32_t stride, int32_t run)
{
    return stride == run ? 1 : (stride == 0 ? 0 : -1);
}

/* The longest trailing run where each input keeps one mode (see
 * binary_data). */
static void binary_runs(binary_data *d)
{
    int32_t run = 1, m1 = -1, m2 = -1, k = KWSQ_MAX_DIMS - 1;
    for (; k >= 0; --k) {
        if (d->dims[k] == 1) {
            continue;
        }
        int32_t c1 = run_mode(d->stride1[k], run), c2 = run_mode(d->stride2[k], run);
        if (c1 < 0 || c2 < 0 || (m1 >= 0 && c1 != m1) || (m2 >= 0 && c2 != m2)) {
            break;
        }
        m1 = c1;
        m2 = c2;
        run *= d->dims[k];
    }
    d->run = run;
    d->run_stride1 = m1 > 0 ? 1 : 0;
    d->run_stride2 = m2 > 0 ? 1 : 0;
    d->outer_dims = k + 1;
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
    binary_runs(d);
    int32_t activation = kwsq_opt_i8(ip, n, KWSQ_FIELD_ADD_OPTIONS_FUSED_ACTIVATION_FUNCTION, 0);
    if (activation > 3) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    kwsq_activation_range_f(activation, &d->act.act_min, &d->act.act_max);
    if (*is_float) {
        return KWSQ_OK;
    }
    d->q.in1_offset = -a->v.zero_point;
    d->q.in2_offset = -b->v.zero_point;
    d->q.output_offset = o->v.zero_point;
    if (!kwsq_activation_range_q(activation, o->v.scale, o->v.zero_point, -128, 127, &d->q.act_min,
                                 &d->q.act_max)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    return KWSQ_OK;
}
