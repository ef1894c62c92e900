/*
 * PACK: stacks N equal-shaped inputs along a new axis (byte copies; see
 * concat_common.h).
 */
#include "concat_common.h"
#include "kwsq_schema.h"

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *out = kwsq_node_output(ip, n, 0);
    kwsq_tensor_int *first = kwsq_node_input(ip, n, 0);
    if (out == NULL || first == NULL) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: missing inputs or output");
    }
    int32_t count = kwsq_opt_i32(ip, n, KWSQ_FIELD_PACK_OPTIONS_VALUES_COUNT, n->num_inputs);
    int32_t axis = kwsq_opt_i32(ip, n, KWSQ_FIELD_PACK_OPTIONS_AXIS, 0);
    if (axis < 0) {
        axis += out->v.num_dims;
    }
    if (count != n->num_inputs || out->v.num_dims != first->v.num_dims + 1 || axis < 0 ||
        axis >= out->v.num_dims || out->v.dims[axis] != count) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: output shape does not match the inputs");
    }
    for (int32_t i = 0; i < n->num_inputs; ++i) {
        kwsq_tensor_int *t = kwsq_node_input(ip, n, i);
        if (t == NULL || !kwsq_same_shape(&t->v, &first->v)) {
            return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input %d shape differs", (int)i);
        }
        for (int32_t k = 0; k < first->v.num_dims; ++k) {
            if (first->v.dims[k] != out->v.dims[k < axis ? k : k + 1]) {
                return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: output shape does not match the inputs");
            }
        }
    }
    return kwsq_concat_prepare_copy(ip, n, axis);
}

const kwsq_kernel kwsq_kernel_pack = {KWSQ_OP_PACK, KWSQ_OPTIONS_PACK_OPTIONS, prepare, kwsq_concat_eval, 0, KWSQ_OP_NAME("PACK")};
