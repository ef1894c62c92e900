/*
 * Shared Prepare and Eval of CONV_2D and DEPTHWISE_CONV_2D; see conv_common.h.
 */
#include "conv_common.h"
#include "kwsq_overlap.h"
#include "kwsq_schema.h"

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

/* The op data of both ops, packed (it is kept for the whole run, per op):
 * Eval unpacks it into the kernels' kwsq_conv_params, filter dims and
 * requantization tables. Strides and dilations are at most 65536 (Prepare
 * refuses more), stored minus one; offsets and the clamp are int8 values. */
typedef struct {
    const uint8_t *filter;  /* the constant weights and bias, in the model */
    const int32_t *bias;    /* NULL = none */
    const uint8_t *scales;  /* the weights' scales, in the model (kwsq_quant_tables) */
#ifdef KWSQ_PERSISTENT_QUANT
    int32_t *mult;
    int8_t *shift;
    void *persist;          /* the kernel's kwsq_context.persist */
#endif
    int32_t pad_w, pad_h;
    int32_t accum_bound;
    int32_t scratch_bytes;  /* from the kernel's ..._get_buffer_size; scratch slot 0 */
    int32_t filter_h, filter_w, filter_c;
    uint16_t stride_w1, stride_h1, dilation_w1, dilation_h1;
    int16_t input_offset;
    int8_t output_offset, act_min, act_max;
    int8_t slot;            /* of the requantization tables */
    uint8_t flags;
} conv_op;

enum { F_IN_PLACE = 1, F_S4 = 2, F_PER_CHANNEL = 4, F_POT = 8 };

static void pack(conv_op *op, const kwsq_conv_params *p, const kwsq_dims *fd, const kwsq_quant_tables *qt,
                 bool s4)
{
    op->pad_w = p->pad_w;
    op->pad_h = p->pad_h;
    op->accum_bound = p->accum_bound;
    op->filter_h = fd->h;
    op->filter_w = fd->w;
    op->filter_c = fd->c;
    op->stride_w1 = (uint16_t)(p->stride_w - 1);
    op->stride_h1 = (uint16_t)(p->stride_h - 1);
    op->dilation_w1 = (uint16_t)(p->dilation_w - 1);
    op->dilation_h1 = (uint16_t)(p->dilation_h - 1);
    op->input_offset = (int16_t)p->input_offset;
    op->output_offset = (int8_t)p->output_offset;
    op->act_min = (int8_t)p->act_min;
    op->act_max = (int8_t)p->act_max;
    op->scales = qt->scales;
#ifdef KWSQ_PERSISTENT_QUANT
    op->mult = qt->mult;
    op->shift = qt->shift;
#endif
    op->slot = qt->slot;
    op->flags = (uint8_t)((p->in_place ? F_IN_PLACE : 0) | (s4 ? F_S4 : 0) | (qt->per_channel ? F_PER_CHANNEL : 0) |
                          (qt->pot ? F_POT : 0));
}

/* conv_common.h's kwsq_conv_channels, inlined into the int8 Prepare (no call
 * in the smallest builds). */
static KWSQ_ALWAYS_INLINE kwsq_status channels(struct kwsq_interpreter *ip, const kwsq_node *n,
                                                   const kwsq_conv_kind *kind, const kwsq_tensor *input,
                                                   const kwsq_tensor *filter, const kwsq_tensor *output)
{
    const int32_t out_ch = output->dims[3];
    const int32_t in_ch = input->dims[3];
    const int32_t filter_in = filter->dims[3];
    /* in_ch > 0 before a division by it: a 0-channel input is refused. */
    const bool ok = kind->depthwise
                        ? filter_in == out_ch && in_ch > 0 && out_ch % in_ch == 0
                        : filter->dims[0] == out_ch && filter_in > 0 && in_ch > 0 && in_ch % filter_in == 0 &&
                              out_ch % (in_ch / filter_in) == 0;
    if (!ok || input->dims[0] != output->dims[0]) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: channel counts do not match");
    }
    return KWSQ_OK;
}

/* conv_common.h's kwsq_conv_geometry, inlined into the int8 Prepare. */
static KWSQ_ALWAYS_INLINE kwsq_status geometry(struct kwsq_interpreter *ip, const kwsq_node *n,
                                                   const kwsq_conv_kind *kind, const kwsq_tensor *input,
                                                   const kwsq_tensor *filter, const kwsq_tensor *output,
                                                   kwsq_conv_params *p)
{
    const int32_t padding = kwsq_opt_i8(ip, n, kind->padding_id, 0);
    p->stride_w = kwsq_opt_i32(ip, n, kind->stride_w_id, 0);
    p->stride_h = kwsq_opt_i32(ip, n, kind->stride_h_id, 0);
    p->dilation_w = kwsq_opt_i32(ip, n, kind->dilation_w_id, 1);
    p->dilation_h = kwsq_opt_i32(ip, n, kind->dilation_h_id, 1);
    if (p->stride_w <= 0 || p->stride_h <= 0 || p->dilation_w <= 0 || p->dilation_h <= 0 || padding > 1 ||
        p->stride_w > 65536 || p->stride_h > 65536 || ((int64_t)filter->dims[1] - 1) * p->dilation_h > 65536 ||
        ((int64_t)filter->dims[2] - 1) * p->dilation_w > 65536) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: bad stride, dilation or padding");
    }
    const int32_t out_h = kwsq_out_size(padding, input->dims[1], filter->dims[1], p->stride_h, p->dilation_h);
    const int32_t out_w = kwsq_out_size(padding, input->dims[2], filter->dims[2], p->stride_w, p->dilation_w);
    if (out_h != output->dims[1] || out_w != output->dims[2]) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: output is %dx%d, expected %dx%d",
                         (int)output->dims[1], (int)output->dims[2], (int)out_h, (int)out_w);
    }
    p->pad_h = kwsq_padding(p->stride_h, p->dilation_h, input->dims[1], filter->dims[1], out_h);
    p->pad_w = kwsq_padding(p->stride_w, p->dilation_w, input->dims[2], filter->dims[2], out_w);
    return KWSQ_OK;
}

kwsq_status kwsq_conv_channels(struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_conv_kind *kind,
                               const kwsq_tensor *input, const kwsq_tensor *filter, const kwsq_tensor *output)
{
    return channels(ip, n, kind, input, filter, output);
}

kwsq_status kwsq_conv_geometry(struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_conv_kind *kind,
                               const kwsq_tensor *input, const kwsq_tensor *filter, const kwsq_tensor *output,
                               kwsq_conv_params *p)
{
    return geometry(ip, n, kind, input, filter, output, p);
}

/* Input, output and weight checks, and the channel counts of either op. */
static kwsq_status check_tensors(struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_conv_kind *kind)
{
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    const kwsq_tensor_int *filter = kwsq_node_input(ip, n, 1);
    const kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if ((st = kwsq_check_q8(ip, n, input, "input")) != KWSQ_OK ||
        (st = kwsq_check_q8(ip, n, output, "output")) != KWSQ_OK) {
        return st;
    }
    if (filter == NULL || !filter->m->is_const || filter->v.num_dims != 4 || input->v.num_dims != 4 ||
        output->v.num_dims != 4 || (kind->depthwise && filter->v.dims[0] != 1)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, kind->depthwise
                             ? "needs 4-D input/output and constant 1xHxWxC weights"
                             : "needs 4-D input/output and constant 4-D weights");
    }
    const bool s4 = filter->v.type == KWSQ_INT4;
    if ((filter->v.type != KWSQ_INT8 && !s4) || (s4 ? kind->s4 == NULL : kind->s8 == NULL)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "weights %T: type %s not supported%s", filter,
                         kwsq_type_name(filter->v.type),
                         filter->v.type == KWSQ_INT8 || s4 ? " by this op list (kwsq_ops.h)" : "");
    }
    return channels(ip, n, kind, &input->v, &filter->v, &output->v);
}

/* Whether the op may compute in place (its kernels read every input byte
 * before overwriting it). A pointwise conv reads pixel p entirely before
 * writing pixel p, and output pixel p lies at or before input pixel p; a
 * stride-1 depthwise keeps the rows it still needs aside. */
static bool in_place_ok(const kwsq_conv_kind *kind, const kwsq_conv_params *p, const kwsq_tensor *in,
                        const kwsq_tensor *out, const kwsq_dims *fd)
{
    const bool same = out->dims[1] == in->dims[1] && out->dims[2] == in->dims[2];
    if (kind->depthwise) {
        return same && p->stride_h == 1 && p->stride_w == 1 && p->dilation_h == 1 && p->dilation_w == 1 &&
               p->depth_multiplier == 1 && ((int64_t)p->pad_h + 1) * out->dims[2] * out->dims[3] <= INT32_MAX;
    }
    return same && fd->h == 1 && fd->w == 1 && p->stride_h == 1 && p->stride_w == 1 && fd->c == in->dims[3] &&
           out->dims[3] <= in->dims[3];
}

kwsq_status kwsq_conv_prepare(struct kwsq_interpreter *ip, kwsq_node *n, const kwsq_conv_kind *kind)
{
    kwsq_status st = check_tensors(ip, n, kind);
    if (st != KWSQ_OK) {
        return st;
    }
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    const kwsq_tensor_int *filter = kwsq_node_input(ip, n, 1);
    const kwsq_tensor_int *bias = kwsq_node_input(ip, n, 2);
    const kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    conv_op *op = kwsq_alloc_persistent(ip, sizeof *op);
    if (op == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = op;
    kwsq_conv_params params = {0};
    kwsq_conv_params *p = &params;
    const int32_t out_ch = output->v.dims[3];
    p->depth_multiplier = kind->depthwise ? out_ch / input->v.dims[3] : 0;
    const int32_t quant_dim = kind->depthwise ? 3 : 0;
    if (filter->v.num_channels > 1 && filter->m->quant_dim != quant_dim) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "per-channel weights must be quantized along dim %d",
                         (int)quant_dim);
    }
    if (bias != NULL && (bias->v.type != KWSQ_INT32 || !bias->m->is_const ||
                         kwsq_num_elements(&bias->v) != out_ch)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "bias must be constant int32, one per output channel");
    }
    if ((st = geometry(ip, n, kind, &input->v, &filter->v, &output->v, p)) != KWSQ_OK) {
        return st;
    }
    const int32_t activation = kwsq_opt_i8(ip, n, kind->activation_id, 0);
    if (!kwsq_activation_range_q(activation, output->v.scale, output->v.zero_point, -128, 127,
                                 &p->act_min, &p->act_max)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    p->input_offset = -input->v.zero_point;
    p->output_offset = output->v.zero_point;
    const bool s4 = filter->v.type == KWSQ_INT4;
    op->filter = filter->v.data;
    op->bias = bias != NULL ? (const int32_t *)bias->v.data : NULL;
    const kwsq_dims fd = kwsq_dims_of(&filter->v);
    /* conv OHWI: channel o is one block of h*w*c; depthwise 1HWC: channel c every c-th value. */
    const int32_t len = kind->depthwise ? fd.h * fd.w : fd.h * fd.w * fd.c;
    p->accum_bound = kwsq_accum_bound(filter, kind->depthwise ? fd.c : fd.n, len, kind->depthwise ? 1 : len,
                                      kind->depthwise ? fd.c : 1, input->v.zero_point);
    request_overlap(ip, n, p, &input->v, &output->v,
                    kind->depthwise ? KWSQ_DEPTHWISE_OVERLAP_SPILL(p, &fd) : KWSQ_CONV_OVERLAP_SPILL(p, &fd));
    if (in_place_ok(kind, p, &input->v, &output->v, &fd) && kwsq_alias_output(ip, n, 0, 0)) {
        p->in_place = true;
    }
    const kwsq_dims in_dims = kwsq_dims_of(&input->v), out_dims = kwsq_dims_of(&output->v);
    op->scratch_bytes = (s4 ? kind->s4_size : kind->s8_size)(p, &in_dims, &fd, &out_dims);
    if (op->scratch_bytes < 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED,
                         "its shape needs a kernel path this model-selective build leaves out (kwsq_kernels.h)");
    }
    if (op->scratch_bytes > 0 && kwsq_request_scratch(ip, n, (size_t)op->scratch_bytes) != 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "too many scratch buffers");
    }
    kwsq_quant_tables qt;
    if ((st = kwsq_quant_tables_prepare(ip, n, input, filter, output, out_ch, &qt)) != KWSQ_OK) {
        return st;
    }
#ifdef KWSQ_PERSISTENT_QUANT
    /* the kernel's constants, computed once from the kept tables */
    if (!s4 && kind->s8_persist != NULL) {
        kwsq_quant_params q;
        kwsq_quant_tables_eval(ip, n, &qt, input->v.scale, output->v.scale, &q);
        const int8_t *w = (const int8_t *)filter->v.data;
        const int32_t bytes = kind->s8_persist(p, &q, &in_dims, &fd, w, op->bias, &out_dims, NULL);
        if (bytes > 0) {
            if ((op->persist = kwsq_alloc_persistent(ip, (size_t)bytes)) == NULL) {
                return KWSQ_ERR_ARENA;
            }
            (void)kind->s8_persist(p, &q, &in_dims, &fd, w, op->bias, &out_dims, op->persist);
        }
    }
#endif
    pack(op, p, &fd, &qt, s4);
    return KWSQ_OK;
}

kwsq_status kwsq_conv_eval(struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_conv_kind *kind)
{
    const conv_op *d = n->data;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    const kwsq_dims in_dims = kwsq_dims_of(in), out_dims = kwsq_dims_of(out);
    const kwsq_dims fd = {kind->depthwise ? 1 : out_dims.c, d->filter_h, d->filter_w, d->filter_c};
    const kwsq_conv_params p = {
        .input_offset = d->input_offset,
        .output_offset = d->output_offset,
        .stride_w = d->stride_w1 + 1,
        .stride_h = d->stride_h1 + 1,
        .dilation_w = d->dilation_w1 + 1,
        .dilation_h = d->dilation_h1 + 1,
        .pad_w = d->pad_w,
        .pad_h = d->pad_h,
        .act_min = d->act_min,
        .act_max = d->act_max,
        .depth_multiplier = kind->depthwise ? out_dims.c / in_dims.c : 0,
        .in_place = (d->flags & F_IN_PLACE) != 0,
        .accum_bound = d->accum_bound,
    };
    const kwsq_quant_tables qt = {
        .scales = d->scales,
        .channels = out_dims.c,
#ifdef KWSQ_PERSISTENT_QUANT
        .mult = d->mult,
        .shift = d->shift,
#endif
        .per_channel = (d->flags & F_PER_CHANNEL) != 0,
        .pot = (d->flags & F_POT) != 0,
        .slot = d->slot,
    };
    kwsq_quant_params q;
    kwsq_quant_tables_eval(ip, n, &qt, in->scale, out->scale, &q);
    const kwsq_context ctx = {
        .buf = d->scratch_bytes > 0 ? kwsq_scratch(ip, n, 0) : NULL,
        .size = d->scratch_bytes,
#ifdef KWSQ_PERSISTENT_QUANT
        .persist = d->persist,
#endif
    };
    const kwsq_status st =
        (d->flags & F_S4) != 0
            ? kind->s4(&ctx, &p, &q, &in_dims, in->data, &fd, d->filter, d->bias, &out_dims, out->data)
            : kind->s8(&ctx, &p, &q, &in_dims, in->data, &fd, (const int8_t *)d->filter, d->bias, &out_dims,
                       out->data);
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "kernel failed");
}
