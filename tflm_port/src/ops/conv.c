/*
 * CONV_2D int8 (NHWC input, OHWI weights int8 or packed INT4, per-channel
 * multipliers, grouped convolution): Prepare checks and precomputes, Eval
 * calls kwsq_conv_s8 / kwsq_conv_s4 (kernels/ref or a variant folder).
 */
#include "conv_common.h"
#include "kwsq_schema.h"

static const kwsq_conv_kind k_conv = {
    KWSQ_FIELD_CONV2D_OPTIONS_PADDING,
    KWSQ_FIELD_CONV2D_OPTIONS_STRIDE_W,
    KWSQ_FIELD_CONV2D_OPTIONS_STRIDE_H,
    KWSQ_FIELD_CONV2D_OPTIONS_FUSED_ACTIVATION_FUNCTION,
    KWSQ_FIELD_CONV2D_OPTIONS_DILATION_W_FACTOR,
    KWSQ_FIELD_CONV2D_OPTIONS_DILATION_H_FACTOR,
    0,
};

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *filter = kwsq_node_input(ip, n, 1);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if ((st = kwsq_check_q8(ip, n, input, "input")) != KWSQ_OK ||
        (st = kwsq_check_q8(ip, n, output, "output")) != KWSQ_OK) {
        return st;
    }
    if (filter == NULL || !filter->m->is_const || filter->v.num_dims != 4 || input->v.num_dims != 4 ||
        output->v.num_dims != 4) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "needs 4-D input/output and constant 4-D weights");
    }
    if ((st = kwsq_conv_check_weights(ip, n, filter)) != KWSQ_OK) {
        return st;
    }
    const int32_t out_ch = output->v.dims[3];
    const int32_t in_ch = input->v.dims[3];
    const int32_t filter_in = filter->v.dims[3];
    /* in_ch > 0 before in_ch / filter_in divides: a 0-channel input is refused. */
    if (filter->v.dims[0] != out_ch || filter_in <= 0 || in_ch <= 0 || in_ch % filter_in != 0 ||
        out_ch % (in_ch / filter_in) != 0 || input->v.dims[0] != output->v.dims[0]) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: channel counts do not match");
    }
    kwsq_conv_op *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    if ((st = kwsq_conv_prepare_params(ip, n, &k_conv, d)) != KWSQ_OK) {
        return st;
    }
    /* A pointwise conv reads pixel p entirely before writing pixel p, and output
     * pixel p lies at or before input pixel p: it can overwrite its input. */
    if (filter->v.dims[1] == 1 && filter->v.dims[2] == 1 && d->p.stride_h == 1 && d->p.stride_w == 1 &&
        filter_in == in_ch && output->v.dims[1] == input->v.dims[1] && output->v.dims[2] == input->v.dims[2] &&
        out_ch <= in_ch && kwsq_alias_output(ip, n, 0, 0)) {
        d->p.in_place = true;
    }
    const kwsq_dims out_dims = kwsq_dims_of(&output->v);
    d->scratch_bytes = d->s4 ? kwsq_conv_s4_get_buffer_size(&d->p, &out_dims)
                             : kwsq_conv_s8_get_buffer_size(&d->p, &out_dims);
    if (d->scratch_bytes > 0 && kwsq_request_scratch(ip, n, (size_t)d->scratch_bytes) != 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "too many scratch buffers");
    }
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const kwsq_conv_op *d = n->data;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    const kwsq_dims in_dims = kwsq_dims_of(in), out_dims = kwsq_dims_of(out);
    const kwsq_context ctx = {d->scratch_bytes > 0 ? kwsq_scratch(ip, n, 0) : NULL, d->scratch_bytes};
    const kwsq_status st =
        d->s4 ? kwsq_conv_s4(&ctx, &d->p, &d->q, &in_dims, in->data, &d->filter_dims, d->filter, d->bias,
                             &out_dims, out->data)
              : kwsq_conv_s8(&ctx, &d->p, &d->q, &in_dims, in->data, &d->filter_dims,
                             (const int8_t *)d->filter, d->bias, &out_dims, out->data);
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "kernel failed");
}

const kwsq_kernel kwsq_kernel_conv_2d = {KWSQ_OP_CONV_2D, KWSQ_OPTIONS_CONV2D_OPTIONS, prepare, eval,
                                         KWSQ_PREPARE_ONLY(1) | KWSQ_PREPARE_ONLY(2)};
