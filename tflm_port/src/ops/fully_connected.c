/*
 * FULLY_CONNECTED: Prepare checks the model and precomputes everything
 * (multipliers, shifts, activation range, and bias + input_offset * sum(row)
 * folded into one constant per row); Eval calls one kernel entry point:
 * kwsq_fully_connected_s8 (int8 weights, per-tensor or per-row),
 * kwsq_fully_connected_s4 (packed INT4 weights), kwsq_fully_connected_hybrid_f32
 * (float input, int8 weights, as LiteRT's hybrid kernel) or
 * kwsq_fully_connected_f32. Three op records (kwsq_ops.h): every type, int8
 * only (kwsq_kernel_fully_connected_s8), INT4 only (_s4); the typed ones
 * link only their kernel and refuse the other types.
 */
#include <math.h>
#include <string.h>

#include "kwsq_kernel_util.h"
#include "kwsq_kernels.h"
#include "kwsq_schema.h"

/* The kernel of an op, and as a mask the kinds an op record takes. */
enum { FC_S8 = 1, FC_S4 = 2, FC_HYBRID = 4, FC_F32 = 8 };

/* The int8 / INT4 kernels' state. */
typedef struct {
    kwsq_fc_params params;
    kwsq_quant_params quant; /* per-tensor weights: one multiplier and shift */
    kwsq_quant_tables qt;    /* per-row weights: the tables, filled in Eval */
    int32_t mult1;           /* per-tensor: quant points here */
    int8_t shift1;
} fc_int;

/* The float and hybrid kernels' state. */
typedef struct {
    kwsq_float_range fact;
    bool asymmetric;         /* hybrid: asymmetric input quantization */
    int32_t scratch_bytes;   /* hybrid: scratch slot 0 */
    float *row_scale;        /* hybrid: weight scale of each row */
    const float *bias;       /* float bias (hybrid, f32); NULL = none */
} fc_float;

/* Per-op data, persistent: one kind's state at a time (a union: the arena
 * holds only the larger). */
typedef struct {
    int32_t kind;
    kwsq_fc_dims dims;
    int32_t *row_const;    /* bias + input_offset * row sum (int8/int4); row sums (hybrid) */
    const void *weights;   /* the constant weights and bias, in the model */
    union {
        fc_int q;
        fc_float f;
    } u;
} fc_data;

/* Sums wrap modulo 2^32 (unsigned arithmetic, no undefined overflow): the
 * folded constants equal TFLM's per-element sums modulo 2^32, which is all
 * the int32 accumulator keeps. */
static int32_t weight_sum(const kwsq_tensor_int *filter, int32_t row, int32_t accum, bool s4)
{
    uint32_t sum = 0;
    const uint8_t *w = (const uint8_t *)filter->v.data;
    for (int32_t d = 0; d < accum; ++d) {
        int64_t i = (int64_t)row * accum + d;
        sum += (uint32_t)(s4 ? kwsq_int4_at(w, i) : (int32_t)(int8_t)w[i]);
    }
    return (int32_t)sum;
}

typedef kwsq_status (*float_prepare_fn)(struct kwsq_interpreter *ip, kwsq_node *n, fc_data *d, int32_t activation);

/* Float input: FC_F32 or FC_HYBRID. */
static kwsq_status prepare_float(struct kwsq_interpreter *ip, kwsq_node *n, fc_data *d, int32_t activation)
{
    const kwsq_tensor_int *filter = kwsq_node_input(ip, n, 1);
    const kwsq_tensor_int *bias = kwsq_node_input(ip, n, 2);
    const kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if ((st = kwsq_check_tensor(ip, n, output, "output", KWSQ_FLOAT32, -1)) != KWSQ_OK) {
        return st;
    }
    if (bias != NULL && (st = kwsq_check_tensor(ip, n, bias, "bias", KWSQ_FLOAT32, -1)) != KWSQ_OK) {
        return st;
    }
    if (activation > 3) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    kwsq_activation_range_f(activation, &d->u.f.fact.act_min, &d->u.f.fact.act_max);
    d->u.f.bias = bias != NULL ? (const float *)bias->v.data : NULL;
    if (filter->v.type == KWSQ_FLOAT32) {
        d->kind = FC_F32;
        return KWSQ_OK;
    }
    if (filter->v.type != KWSQ_INT8 || !(filter->v.scale > 0.0f) ||
        (filter->v.num_channels > 1 && filter->m->quant_dim != 0)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED,
                         "hybrid weights must be int8, quantized per tensor or per row");
    }
    d->kind = FC_HYBRID;
    d->u.f.asymmetric = kwsq_opt_i8(ip, n, KWSQ_FIELD_FULLY_CONNECTED_OPTIONS_ASYMMETRIC_QUANTIZE_INPUTS, 0) != 0;
    d->row_const = kwsq_alloc_persistent_array(ip, (size_t)d->dims.output_depth, 4u);
    d->u.f.row_scale = kwsq_alloc_persistent_array(ip, (size_t)d->dims.output_depth, 4u);
    if (d->row_const == NULL || d->u.f.row_scale == NULL) {
        return KWSQ_ERR_ARENA;
    }
    for (int32_t o = 0; o < d->dims.output_depth; ++o) {
        if (kwsq_channel_zero(filter, o) != 0) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "hybrid weights must be symmetric");
        }
        d->row_const[o] = weight_sum(filter, o, d->dims.accum_depth, false);
        d->u.f.row_scale[o] = kwsq_channel_scale(filter, o);
    }
    d->u.f.scratch_bytes = kwsq_fully_connected_hybrid_f32_get_buffer_size(&d->dims);
    if (kwsq_request_scratch(ip, n, (size_t)d->u.f.scratch_bytes) != 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "too many scratch buffers");
    }
    return KWSQ_OK;
}

/* `allowed`: the kinds this op record takes; float input goes to `prepare_f`
 * (NULL: refused). */
static kwsq_status prepare_any(struct kwsq_interpreter *ip, kwsq_node *n, int32_t allowed,
                               float_prepare_fn prepare_f)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *filter = kwsq_node_input(ip, n, 1);
    kwsq_tensor_int *bias = kwsq_node_input(ip, n, 2);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if (input == NULL || filter == NULL || output == NULL || n->num_outputs != 1) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: needs input, weights and one output");
    }
    int32_t activation = kwsq_opt_i8(ip, n, KWSQ_FIELD_FULLY_CONNECTED_OPTIONS_FUSED_ACTIVATION_FUNCTION, 0);
    if (kwsq_opt_i8(ip, n, KWSQ_FIELD_FULLY_CONNECTED_OPTIONS_WEIGHTS_FORMAT, 0) != 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "shuffled weights format not supported");
    }
    if (!filter->m->is_const || filter->v.num_dims != 2) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "weights must be a constant 2-D tensor");
    }
    fc_data *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    d->dims.output_depth = filter->v.dims[0];
    d->weights = filter->v.data;
    d->dims.accum_depth = filter->v.dims[1];
    if (output->v.num_dims < 1 || output->v.dims[output->v.num_dims - 1] != d->dims.output_depth ||
        d->dims.output_depth == 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: output depth differs from weight rows");
    }
    d->dims.batches = (int32_t)(kwsq_num_elements(&output->v) / d->dims.output_depth);
    if (kwsq_num_elements(&input->v) != (int64_t)d->dims.batches * d->dims.accum_depth) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input has %d elements, expected %d",
                         (int)kwsq_num_elements(&input->v), (int)(d->dims.batches * d->dims.accum_depth));
    }
    if (bias != NULL && (!bias->m->is_const || kwsq_num_elements(&bias->v) != d->dims.output_depth)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "bias must be constant with one value per output");
    }

    if (input->v.type == KWSQ_FLOAT32) {
        if (prepare_f == NULL) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "input %T: type float32 not supported by this op list "
                             "(kwsq_ops.h)", input);
        }
        return prepare_f(ip, n, d, activation);
    }
    if ((st = kwsq_check_q8(ip, n, input, "input")) != KWSQ_OK ||
        (st = kwsq_check_q8(ip, n, output, "output")) != KWSQ_OK) {
        return st;
    }
    d->kind = filter->v.type == KWSQ_INT8 ? FC_S8 : filter->v.type == KWSQ_INT4 ? FC_S4 : 0;
    if ((d->kind & allowed) == 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "weights %T: type %s not supported with int8 input%s",
                         filter, kwsq_type_name(filter->v.type),
                         d->kind != 0 ? " by this op list (kwsq_ops.h)" : "");
    }
    if (!(filter->v.scale > 0.0f)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "weights are not quantized");
    }
    if (bias != NULL && (st = kwsq_check_tensor(ip, n, bias, "bias", KWSQ_INT32, -1)) != KWSQ_OK) {
        return st;
    }
    if (filter->v.num_channels > 1 && filter->m->quant_dim != 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "per-channel weights must be quantized along rows");
    }
    for (int32_t c = 0; c < filter->v.num_channels; ++c) {
        if (filter->v.num_channels > 1 && kwsq_channel_zero(filter, c) != 0) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "per-channel weights must have zero point 0");
        }
    }
    if (!kwsq_activation_range_q(activation, output->v.scale, output->v.zero_point, -128, 127,
                                 &d->u.q.params.act_min, &d->u.q.params.act_max)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    d->u.q.params.filter_offset = filter->v.num_channels > 1 ? 0 : -filter->v.zero_point;
    d->u.q.params.output_offset = output->v.zero_point;
    d->u.q.quant.per_channel = filter->v.num_channels > 1;
    if (d->u.q.quant.per_channel) {
        if ((st = kwsq_quant_tables_prepare(ip, n, input, filter, output, d->dims.output_depth, &d->u.q.qt)) !=
            KWSQ_OK) {
            return st;
        }
    } else {
        int shift;
        kwsq_quantize_ratio(input->v.scale, filter->v.scale, output->v.scale, &d->u.q.mult1, &shift);
        d->u.q.shift1 = (int8_t)shift;
        d->u.q.quant.multiplier = &d->u.q.mult1;
        d->u.q.quant.shift = &d->u.q.shift1;
        d->u.q.quant.pot = d->u.q.mult1 == (1 << 30);
#ifdef KWSQ_NO_SHIFT_ONLY
        d->u.q.quant.pot = false; /* measuring what the shift-only requantization buys */
#endif
    }
    d->row_const = kwsq_alloc_persistent_array(ip, (size_t)d->dims.output_depth, 4u);
    if (d->row_const == NULL) {
        return KWSQ_ERR_ARENA;
    }
    d->u.q.params.accum_bound = kwsq_accum_bound(filter, d->dims.output_depth, d->dims.accum_depth,
                                             d->dims.accum_depth, 1, input->v.zero_point);
    const int32_t input_offset = -input->v.zero_point;
    const int32_t *bias_data = bias != NULL ? (const int32_t *)bias->v.data : NULL;
    for (int32_t o = 0; o < d->dims.output_depth; ++o) {
        /* (w + fo)(x + io) = wx + io*w + fo*x + fo*io; the x-only term is per batch. */
        uint32_t c = (uint32_t)input_offset * (uint32_t)weight_sum(filter, o, d->dims.accum_depth, d->kind == FC_S4);
        c += (uint32_t)d->u.q.params.filter_offset * (uint32_t)input_offset * (uint32_t)d->dims.accum_depth;
        d->row_const[o] = (int32_t)(c + (uint32_t)(bias_data != NULL ? bias_data[o] : 0));
        const int64_t mag = d->row_const[o] < 0 ? -(int64_t)d->row_const[o] : d->row_const[o];
        if (mag > d->u.q.params.row_const_max) {
            d->u.q.params.row_const_max = mag > INT32_MAX ? INT32_MAX : (int32_t)mag;
        }
    }
    return KWSQ_OK;
}

/* The int8 and INT4 kernels' requantization: per tensor the op data itself,
 * per row the tables filled now into *q. */
static const kwsq_quant_params *quant_of(struct kwsq_interpreter *ip, const kwsq_node *n, const fc_data *d,
                                         kwsq_quant_params *q)
{
    if (!d->u.q.quant.per_channel) {
        return &d->u.q.quant;
    }
    *q = d->u.q.quant;
    kwsq_quant_tables_eval(ip, n, &d->u.q.qt, kwsq_node_input(ip, n, 0)->v.scale,
                           kwsq_node_output(ip, n, 0)->v.scale, q);
    return q;
}

/* The data of io slot k in Eval: after init every slot Eval reads is a kept
 * tensor (kwsq_node_input's init-time lookup is not needed). */
static inline void *eval_data(const struct kwsq_interpreter *ip, const kwsq_node *n, int32_t k)
{
    return ip->tensors[n->io[k]].v.data;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const fc_data *d = n->data;
    const void *in = eval_data(ip, n, 0);
    void *out = eval_data(ip, n, n->num_inputs);
    kwsq_status st;
    switch (d->kind) {
    case FC_S8:
    case FC_S4: {
        kwsq_quant_params qt;
        const kwsq_quant_params *q = quant_of(ip, n, d, &qt);
        st = d->kind == FC_S8
                 ? kwsq_fully_connected_s8(&d->u.q.params, q, &d->dims, in, d->weights, d->row_const, out)
                 : kwsq_fully_connected_s4(&d->u.q.params, q, &d->dims, in, d->weights, d->row_const, out);
        break;
    }
    case FC_HYBRID: {
        const kwsq_context ctx = {.buf = kwsq_scratch(ip, n, 0), .size = d->u.f.scratch_bytes};
        st = kwsq_fully_connected_hybrid_f32(&ctx, &d->u.f.fact, d->u.f.asymmetric, &d->dims, in, d->weights,
                                             d->row_const, d->u.f.row_scale, d->u.f.bias, out);
        break;
    }
    default:
        st = kwsq_fully_connected_f32(&d->u.f.fact, &d->dims, in, d->weights, d->u.f.bias, out);
        break;
    }
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "kernel failed");
}

static kwsq_status eval_s8(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const fc_data *d = n->data;
    kwsq_quant_params qt;
    const kwsq_quant_params *q = quant_of(ip, n, d, &qt);
    const kwsq_status st = kwsq_fully_connected_s8(&d->u.q.params, q, &d->dims, eval_data(ip, n, 0), d->weights,
                                                   d->row_const, eval_data(ip, n, n->num_inputs));
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "kernel failed");
}

static kwsq_status eval_s4(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const fc_data *d = n->data;
    kwsq_quant_params qt;
    const kwsq_quant_params *q = quant_of(ip, n, d, &qt);
    const kwsq_status st = kwsq_fully_connected_s4(&d->u.q.params, q, &d->dims, eval_data(ip, n, 0), d->weights,
                                                   d->row_const, eval_data(ip, n, n->num_inputs));
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "kernel failed");
}

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    return prepare_any(ip, n, FC_S8 | FC_S4, prepare_float);
}

static kwsq_status prepare_s8(struct kwsq_interpreter *ip, kwsq_node *n)
{
    return prepare_any(ip, n, FC_S8, NULL);
}

static kwsq_status prepare_s4(struct kwsq_interpreter *ip, kwsq_node *n)
{
    return prepare_any(ip, n, FC_S4, NULL);
}

#define FC_RECORD(name, prepare_fn, eval_fn)                                                        \
    const kwsq_kernel name = {KWSQ_OP_FULLY_CONNECTED, KWSQ_OPTIONS_FULLY_CONNECTED_OPTIONS, prepare_fn, \
                              eval_fn, KWSQ_PREPARE_ONLY(1) | KWSQ_PREPARE_ONLY(2), KWSQ_OP_NAME("FULLY_CONNECTED")}
FC_RECORD(kwsq_kernel_fully_connected, prepare, eval);
FC_RECORD(kwsq_kernel_fully_connected_s8, prepare_s8, eval_s8);
FC_RECORD(kwsq_kernel_fully_connected_s4, prepare_s4, eval_s4);
