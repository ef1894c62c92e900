/*
 * RELU6: int8 clamps to [zero, six] quantized with the input's parameters
 * (no rescale, as TFLite Micro); float clamps to [0, 6].
 */
#include <math.h>

#include "unary_common.h"
#include "kwsq_schema.h"

typedef struct {
    int32_t count, lo, hi;
} relu6_data;

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    bool is_float = false;
    kwsq_status st = kwsq_unary_prepare(ip, n, false, sizeof(relu6_data), &is_float);
    if (st != KWSQ_OK) {
        return st;
    }
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    relu6_data *d = n->data;
    d->count = (int32_t)kwsq_num_elements(&input->v);
    if (is_float) {
        return KWSQ_OK;
    }
    d->lo = input->v.zero_point;
    d->hi = kwsq_clamp((int32_t)roundf(6.0f / input->v.scale) + input->v.zero_point, -128, 127);
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const relu6_data *d = n->data;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    if (in->type == KWSQ_FLOAT32) {
        return kwsq_clamp_f32(0.0f, 6.0f, d->count, in->data, out->data);
    }
    return kwsq_clamp_s8(d->lo, d->hi, d->count, in->data, out->data);
}

const kwsq_kernel kwsq_kernel_relu6 = {KWSQ_OP_RELU6, KWSQ_OPTIONS_NONE, prepare, eval, 0, KWSQ_OP_NAME("RELU6")};
