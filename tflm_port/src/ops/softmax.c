/*
 * SOFTMAX int8 -> int8 (output scale 1/256, zero point -128) and float ->
 * float: Prepare derives the fixed-point input scaling, Eval calls
 * kwsq_softmax_s8 / kwsq_softmax_f32. kwsq_kernel_softmax_s8 (kwsq_ops.h)
 * takes int8 only and links no float kernel.
 */
#include <math.h>

#include "unary_common.h"
#include "kwsq_schema.h"

#define SCALED_DIFF_INT_BITS 5   /* as kwsq_softmax_s8 */

typedef struct {
    int32_t outer;
    int32_t depth;
    float beta;
    kwsq_softmax_params params;
} softmax_data;

static kwsq_status prepare_any(struct kwsq_interpreter *ip, kwsq_node *n, bool float_ok)
{
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    const kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    bool is_float = false;
    kwsq_status st;
    if (input == NULL || output == NULL || input->v.num_dims < 1) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: missing input or output");
    }
    if ((st = kwsq_unary_prepare(ip, n, true, sizeof(softmax_data), &is_float)) != KWSQ_OK) {
        return st;
    }
    if (is_float && !float_ok) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "input %T: type float32 not supported by this op list "
                         "(kwsq_ops.h)", input);
    }
    softmax_data *d = n->data;
    d->depth = input->v.dims[input->v.num_dims - 1];
    d->outer = d->depth ? (int32_t)(kwsq_num_elements(&input->v) / d->depth) : 0;
    d->beta = kwsq_opt_f32(ip, n, KWSQ_FIELD_SOFTMAX_OPTIONS_BETA, 1.0f);
    if (is_float) {
        return KWSQ_OK;
    }
    if (output->v.zero_point != -128 || fabsf(output->v.scale - 1.0f / 256.0f) > 0.001f / 256.0f) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "int8 output must have scale 1/256 and zero point -128");
    }
    int shift;
    if (!kwsq_softmax_scaling(d->beta, input->v.scale, SCALED_DIFF_INT_BITS, &d->params.input_multiplier, &shift)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "input scale times beta is too small");
    }
    d->params.input_left_shift = shift;
    d->params.diff_min = -kwsq_input_radius(SCALED_DIFF_INT_BITS, shift, 31);
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const softmax_data *d = n->data;
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    const kwsq_status st = input->v.type == KWSQ_FLOAT32
                               ? kwsq_softmax_f32(d->beta, d->outer, d->depth, input->v.data, output->v.data)
                               : kwsq_softmax_s8(&d->params, d->outer, d->depth, input->v.data, output->v.data);
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "kernel failed");
}

static kwsq_status eval_s8(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const softmax_data *d = n->data;
    const kwsq_status st = kwsq_softmax_s8(&d->params, d->outer, d->depth, kwsq_node_input(ip, n, 0)->v.data,
                                           kwsq_node_output(ip, n, 0)->v.data);
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "kernel failed");
}

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    return prepare_any(ip, n, true);
}

static kwsq_status prepare_s8(struct kwsq_interpreter *ip, kwsq_node *n)
{
    return prepare_any(ip, n, false);
}

const kwsq_kernel kwsq_kernel_softmax = {KWSQ_OP_SOFTMAX, KWSQ_OPTIONS_SOFTMAX_OPTIONS, prepare, eval, 0, KWSQ_OP_NAME("SOFTMAX")};
const kwsq_kernel kwsq_kernel_softmax_s8 = {KWSQ_OP_SOFTMAX, KWSQ_OPTIONS_SOFTMAX_OPTIONS, prepare_s8, eval_s8, 0, KWSQ_OP_NAME("SOFTMAX")};
