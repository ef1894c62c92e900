/*
 * RELU: int8 requantizes (input scale may differ from output scale) and
 * clamps at the quantized zero, as TFLite Micro; float is max(0, x).
 */
#include <math.h>

#include "unary_common.h"
#include "kwsq_schema.h"

typedef struct {
    int32_t count;
    kwsq_requant_params q;
} relu_data;

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    bool is_float = false;
    kwsq_status st = kwsq_unary_prepare(ip, n, false, sizeof(relu_data), &is_float);
    if (st != KWSQ_OK) {
        return st;
    }
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    const kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    relu_data *d = n->data;
    d->count = (int32_t)kwsq_num_elements(&input->v);
    if (is_float) {
        return KWSQ_OK;
    }
    int shift;
    kwsq_quantize_multiplier((double)input->v.scale / (double)output->v.scale, &d->q.multiplier, &shift);
    d->q.shift = shift;
    int32_t lo = output->v.zero_point + (int32_t)roundf(0.0f / output->v.scale);
    d->q.act_min = lo > -128 ? lo : -128;
    d->q.act_max = 127;
    d->q.input_zero_point = input->v.zero_point;
    d->q.output_offset = output->v.zero_point;
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const relu_data *d = n->data;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    if (in->type == KWSQ_FLOAT32) {
        return kwsq_clamp_f32(0.0f, INFINITY, d->count, in->data, out->data);
    }
    return kwsq_requantize_s8(&d->q, d->count, in->data, out->data);
}

const kwsq_kernel kwsq_kernel_relu = {KWSQ_OP_RELU, KWSQ_OPTIONS_NONE, prepare, eval, 0, KWSQ_OP_NAME("RELU")};
