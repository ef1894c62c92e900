/*
 * Shared Prepare for CONV_2D and DEPTHWISE_CONV_2D; see conv_common.h.
 */
#include "conv_common.h"
#include "kwsq_overlap.h"
#include "kwsq_schema.h"

kwsq_status kwsq_conv_check_weights(struct kwsq_interpreter *ip, const kwsq_node *n,
                                    const kwsq_tensor_int *filter)
{
    if (filter->v.type != KWSQ_INT8 && filter->v.type != KWSQ_INT4) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "weights %T: type %s not supported", filter,
                         kwsq_type_name(filter->v.type));
    }
    return KWSQ_OK;
}

/* Overlapped placement (include/kwsq_kernels.h, row-order contract): a pass
 * starting in output row r (batch-major) writes nothing past pixel
 * (r + 1) * out_w + spill and reads no input row before first(r), the first
 * row of row r's window. With the input `delta` bytes above the output's
 * start, no byte still to be read is overwritten when, for every r,
 * written(r) <= delta + first(r) * input row bytes. */
static void request_overlap(struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_conv_params *p,
                            const kwsq_tensor *in, const kwsq_tensor *out, int32_t spill)
{
#ifdef KWSQ_NO_OVERLAP /* a build without overlapped placement (tests compare) */
    spill = -1;
#endif
    if (spill < 0 || in->dims[0] != out->dims[0]) {
        return;
    }
    const int64_t in_h = in->dims[1], in_row = (int64_t)in->dims[2] * in->dims[3];
    const int64_t out_h = out->dims[1], out_w = out->dims[2], out_px = out->dims[3];
    const int64_t pixels = (int64_t)out->dims[0] * out_h * out_w;
    int64_t delta = 0;
    for (int64_t b = 0; b < out->dims[0]; ++b) {
        for (int64_t oy = 0; oy < out_h; ++oy) {
            int64_t first = oy * p->stride_h - p->pad_h;
            first = first < 0 ? 0 : (first > in_h ? in_h : first);
            int64_t written = (b * out_h + oy + 1) * out_w + spill;
            written = written < pixels ? written : pixels;
            const int64_t d = written * out_px - (b * in_h + first) * in_row;
            delta = d > delta ? d : delta;
        }
    }
    (void)kwsq_overlap_output(ip, n, 0, 0, delta);
}

kwsq_status kwsq_conv_prepare_params(struct kwsq_interpreter *ip, kwsq_node *n, const kwsq_conv_kind *kind,
                                     kwsq_conv_op *op)
{
    kwsq_conv_params *p = &op->p;
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    const kwsq_tensor_int *filter = kwsq_node_input(ip, n, 1);
    const kwsq_tensor_int *bias = kwsq_node_input(ip, n, 2);
    const kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    const int32_t out_ch = output->v.dims[3];
    if (filter->v.num_channels > 1 && filter->m->quant_dim != kind->quant_dim) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "per-channel weights must be quantized along dim %d",
                         (int)kind->quant_dim);
    }
    if (bias != NULL && (bias->v.type != KWSQ_INT32 || !bias->m->is_const ||
                         kwsq_num_elements(&bias->v) != out_ch)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "bias must be constant int32, one per output channel");
    }
    int32_t padding = kwsq_opt_i8(ip, n, kind->padding_id, 0);
    p->stride_w = kwsq_opt_i32(ip, n, kind->stride_w_id, 0);
    p->stride_h = kwsq_opt_i32(ip, n, kind->stride_h_id, 0);
    int32_t activation = kwsq_opt_i8(ip, n, kind->activation_id, 0);
    p->dilation_w = kwsq_opt_i32(ip, n, kind->dilation_w_id, 1);
    p->dilation_h = kwsq_opt_i32(ip, n, kind->dilation_h_id, 1);
    if (p->stride_w <= 0 || p->stride_h <= 0 || p->dilation_w <= 0 || p->dilation_h <= 0 || padding > 1 ||
        p->stride_w > 65536 || p->stride_h > 65536 ||
        ((int64_t)filter->v.dims[1] - 1) * p->dilation_h > 65536 ||
        ((int64_t)filter->v.dims[2] - 1) * p->dilation_w > 65536) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: bad stride, dilation or padding");
    }
    const int32_t out_h = kwsq_out_size(padding, input->v.dims[1], filter->v.dims[1], p->stride_h, p->dilation_h);
    const int32_t out_w = kwsq_out_size(padding, input->v.dims[2], filter->v.dims[2], p->stride_w, p->dilation_w);
    if (out_h != output->v.dims[1] || out_w != output->v.dims[2]) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: output is %dx%d, expected %dx%d",
                         (int)output->v.dims[1], (int)output->v.dims[2], (int)out_h, (int)out_w);
    }
    p->pad_h = kwsq_padding(p->stride_h, p->dilation_h, input->v.dims[1], filter->v.dims[1], out_h);
    p->pad_w = kwsq_padding(p->stride_w, p->dilation_w, input->v.dims[2], filter->v.dims[2], out_w);
    if (!kwsq_activation_range_q(activation, output->v.scale, output->v.zero_point, -128, 127,
                                 &p->act_min, &p->act_max)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    p->input_offset = -input->v.zero_point;
    p->output_offset = output->v.zero_point;
    op->s4 = filter->v.type == KWSQ_INT4;
    op->filter = filter->v.data;
    op->bias = bias != NULL ? (const int32_t *)bias->v.data : NULL;
    op->filter_dims = kwsq_dims_of(&filter->v);
    int32_t *mult = NULL;
    int8_t *shift = NULL;
    kwsq_status st = kwsq_conv_multipliers(ip, n, input, filter, output, out_ch, &mult, &shift, &op->q.pot);
    op->q.multiplier = mult;
    op->q.shift = shift;
    op->q.per_channel = true;
    if (st == KWSQ_OK) {
        /* conv OHWI: channel o is one block of h*w*c; depthwise 1HWC: channel c every c-th value. */
        const kwsq_dims fd = op->filter_dims;
        const bool dw = kind->quant_dim == 3;
        const int32_t len = dw ? fd.h * fd.w : fd.h * fd.w * fd.c;
        p->accum_bound = kwsq_accum_bound(filter, dw ? fd.c : fd.n, len, dw ? 1 : len, dw ? fd.c : 1,
                                          input->v.zero_point);
    }
    if (st == KWSQ_OK) {
        request_overlap(ip, n, p, &input->v, &output->v,
                        n->kernel->builtin == KWSQ_OP_DEPTHWISE_CONV_2D
                            ? KWSQ_DEPTHWISE_OVERLAP_SPILL(p, &op->filter_dims)
                            : KWSQ_CONV_OVERLAP_SPILL(p, &op->filter_dims));
    }
    return st;
}
