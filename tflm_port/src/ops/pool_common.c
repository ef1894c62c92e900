/*
 * Shared Prepare for AVERAGE_POOL_2D and MAX_POOL_2D; see pool_common.h.
 */
#include "pool_common.h"
#include "kwsq_schema.h"

kwsq_status kwsq_pool_prepare_s8(struct kwsq_interpreter *ip, kwsq_node *n)
{
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    if (input != NULL && input->v.type == KWSQ_FLOAT32) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "input %T: type float32 not supported by this op list "
                         "(kwsq_ops.h)", input);
    }
    return kwsq_pool_prepare(ip, n);
}

kwsq_status kwsq_pool_prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if (input == NULL || output == NULL) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: missing input or output");
    }
    if (input->v.type == KWSQ_FLOAT32) {
        st = kwsq_check_tensor(ip, n, output, "output", KWSQ_FLOAT32, 4);
    } else if ((st = kwsq_check_q8(ip, n, input, "input")) == KWSQ_OK) {
        st = kwsq_check_q8(ip, n, output, "output");
    }
    if (st != KWSQ_OK) {
        return st;
    }
    if (input->v.num_dims != 4 || output->v.num_dims != 4 || input->v.dims[0] != output->v.dims[0] ||
        input->v.dims[3] != output->v.dims[3]) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: needs matching 4-D input and output");
    }
    if (input->v.type == KWSQ_INT8 &&
        (input->v.scale != output->v.scale || input->v.zero_point != output->v.zero_point)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "input and output quantization must be equal");
    }
    kwsq_pool_params *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    int32_t padding = kwsq_opt_i8(ip, n, KWSQ_FIELD_POOL2D_OPTIONS_PADDING, 0);
    d->stride_w = kwsq_opt_i32(ip, n, KWSQ_FIELD_POOL2D_OPTIONS_STRIDE_W, 0);
    d->stride_h = kwsq_opt_i32(ip, n, KWSQ_FIELD_POOL2D_OPTIONS_STRIDE_H, 0);
    d->filter_w = kwsq_opt_i32(ip, n, KWSQ_FIELD_POOL2D_OPTIONS_FILTER_WIDTH, 0);
    d->filter_h = kwsq_opt_i32(ip, n, KWSQ_FIELD_POOL2D_OPTIONS_FILTER_HEIGHT, 0);
    int32_t activation = kwsq_opt_i8(ip, n, KWSQ_FIELD_POOL2D_OPTIONS_FUSED_ACTIVATION_FUNCTION, 0);
    if (d->stride_w <= 0 || d->stride_h <= 0 || d->filter_w <= 0 || d->filter_h <= 0 || padding > 1 ||
        d->stride_w > 65536 || d->stride_h > 65536 || d->filter_w > 65536 || d->filter_h > 65536) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: bad stride, filter or padding");
    }
    const int32_t out_h = kwsq_out_size(padding, input->v.dims[1], d->filter_h, d->stride_h, 1);
    const int32_t out_w = kwsq_out_size(padding, input->v.dims[2], d->filter_w, d->stride_w, 1);
    if (out_h != output->v.dims[1] || out_w != output->v.dims[2]) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: output is %dx%d, expected %dx%d",
                         (int)output->v.dims[1], (int)output->v.dims[2], (int)out_h, (int)out_w);
    }
    d->pad_h = kwsq_padding(d->stride_h, 1, input->v.dims[1], d->filter_h, out_h);
    d->pad_w = kwsq_padding(d->stride_w, 1, input->v.dims[2], d->filter_w, out_w);
    if (activation > 3) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    kwsq_activation_range_f(activation, &d->fact_min, &d->fact_max);
    if (input->v.type == KWSQ_INT8 &&
        !kwsq_activation_range_q(activation, output->v.scale, output->v.zero_point, -128, 127,
                                 &d->act_min, &d->act_max)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    return KWSQ_OK;
}
