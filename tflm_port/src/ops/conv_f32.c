/*
 * CONV_2D and DEPTHWISE_CONV_2D on float32 tensors (input, constant weights,
 * optional constant bias, output), as TFLM's reference float kernels: a
 * float model (a float baseline next to its int8 twin, a third-party float
 * model) runs unmodified. Only the op records that take every type reach
 * this file (conv_common.h, KWSQ_CONV_RECORD_ANY); the geometry checks are
 * the int8 Prepare's. No in-place or overlapped placement: float models are
 * a reference, not the deployment target.
 */
#include "conv_common.h"

typedef struct {
    kwsq_conv_params params;
    kwsq_float_range act;
    const float *filter;
    const float *bias;      /* NULL = none */
    kwsq_dims filter_dims;  /* the weights are Prepare-only inputs (KWSQ_PREPARE_ONLY) */
} conv_f32_op;

kwsq_status kwsq_conv_f32_prepare(struct kwsq_interpreter *ip, kwsq_node *n, const kwsq_conv_kind *kind)
{
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    const kwsq_tensor_int *filter = kwsq_node_input(ip, n, 1);
    const kwsq_tensor_int *bias = kwsq_node_input(ip, n, 2);
    const kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if ((st = kwsq_check_tensor(ip, n, input, "input", KWSQ_FLOAT32, 4)) != KWSQ_OK ||
        (st = kwsq_check_tensor(ip, n, output, "output", KWSQ_FLOAT32, 4)) != KWSQ_OK ||
        (st = kwsq_check_tensor(ip, n, filter, "weights", KWSQ_FLOAT32, 4)) != KWSQ_OK) {
        return st;
    }
    if (!filter->m->is_const || (kind->depthwise && filter->v.dims[0] != 1)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, kind->depthwise ? "needs constant 1xHxWxC weights"
                                                                      : "needs constant weights");
    }
    if ((st = kwsq_conv_channels(ip, n, kind, &input->v, &filter->v, &output->v)) != KWSQ_OK) {
        return st;
    }
    const int32_t out_ch = output->v.dims[3];
    if (bias != NULL && (bias->v.type != KWSQ_FLOAT32 || !bias->m->is_const ||
                         kwsq_num_elements(&bias->v) != out_ch)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "bias must be constant float32, one per output channel");
    }
    conv_f32_op *op = kwsq_alloc_persistent(ip, sizeof *op);
    if (op == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = op;
    kwsq_conv_params *p = &op->params;
    *p = (kwsq_conv_params){0};
    if ((st = kwsq_conv_geometry(ip, n, kind, &input->v, &filter->v, &output->v, p)) != KWSQ_OK) {
        return st;
    }
    p->depth_multiplier = kind->depthwise ? out_ch / input->v.dims[3] : 0;
    const int32_t activation = kwsq_opt_i8(ip, n, kind->activation_id, 0);
    if (activation < 0 || activation > 3) { /* NONE, RELU, RELU_N1_TO_1, RELU6, as TFLM */
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    kwsq_activation_range_f(activation, &op->act.act_min, &op->act.act_max);
    op->filter = (const float *)filter->v.data;
    op->filter_dims = kwsq_dims_of(&filter->v);
    op->bias = bias != NULL ? (const float *)bias->v.data : NULL;
    return KWSQ_OK;
}

kwsq_status kwsq_conv_f32_eval(struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_conv_kind *kind)
{
    const conv_f32_op *op = n->data;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    const kwsq_dims in_dims = kwsq_dims_of(in), out_dims = kwsq_dims_of(out);
    const kwsq_status st =
        kind->depthwise ? kwsq_depthwise_conv_f32(&op->params, &op->act, &in_dims, in->data, &op->filter_dims, op->filter,
                                                  op->bias, &out_dims, out->data)
                        : kwsq_conv_f32(&op->params, &op->act, &in_dims, in->data, &op->filter_dims, op->filter, op->bias,
                                        &out_dims, out->data);
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "kernel failed");
}
