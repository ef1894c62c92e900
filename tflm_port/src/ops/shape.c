/*
 * SHAPE: writes the (static) input dimensions as int32 or int64.
 */
#include "kwsq_kernel_util.h"
#include "kwsq_schema.h"

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *in = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *out = kwsq_node_output(ip, n, 0);
    if (in == NULL || out == NULL || (out->v.type != KWSQ_INT32 && out->v.type != KWSQ_INT64) ||
        kwsq_num_elements(&out->v) != in->v.num_dims) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "output must be int32/int64 with one value per input dim");
    }
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    for (int32_t i = 0; i < in->num_dims; ++i) {
        if (out->type == KWSQ_INT32) {
            ((int32_t *)out->data)[i] = in->dims[i];
        } else {
            ((int64_t *)out->data)[i] = in->dims[i];
        }
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_shape = {KWSQ_OP_SHAPE, KWSQ_OPTIONS_SHAPE_OPTIONS, prepare, eval, 0, KWSQ_OP_NAME("SHAPE")};
