/*
 * CONCATENATION along any axis (byte copies; see concat_common.h).
 */
#include "concat_common.h"
#include "kwsq_schema.h"

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *out = kwsq_node_output(ip, n, 0);
    if (out == NULL || n->num_inputs < 1) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: missing inputs or output");
    }
    int32_t axis = kwsq_opt_i32(ip, n, KWSQ_FIELD_CONCATENATION_OPTIONS_AXIS, 0);
    if (kwsq_opt_i8(ip, n, KWSQ_FIELD_CONCATENATION_OPTIONS_FUSED_ACTIVATION_FUNCTION, 0) != 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation not supported");
    }
    if (axis < 0) {
        axis += out->v.num_dims;
    }
    if (axis < 0 || axis >= out->v.num_dims) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: axis out of range");
    }
    for (int32_t i = 0; i < n->num_inputs; ++i) {
        kwsq_tensor_int *t = kwsq_node_input(ip, n, i);
        if (t == NULL || t->v.num_dims != out->v.num_dims) {
            return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input %d rank differs", (int)i);
        }
        for (int32_t k = 0; k < out->v.num_dims; ++k) {
            if (k != axis && t->v.dims[k] != out->v.dims[k]) {
                return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input %d shape differs", (int)i);
            }
        }
    }
    return kwsq_concat_prepare_copy(ip, n, axis);
}

const kwsq_kernel kwsq_kernel_concatenation = {KWSQ_OP_CONCATENATION, KWSQ_OPTIONS_CONCATENATION_OPTIONS, prepare, kwsq_concat_eval, 0, KWSQ_OP_NAME("CONCATENATION")};
