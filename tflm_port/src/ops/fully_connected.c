/*
 * FULLY_CONNECTED: Prepare checks the model and precomputes everything
 * (multipliers, shifts, activation range, and bias + input_offset * sum(row)
 * folded into one constant per row); Eval calls one kernel entry point:
 * kwsq_fully_connected_s8 (int8 weights, per-tensor or per-row),
 * kwsq_fully_connected_s4 (packed INT4 weights), kwsq_fully_connected_hybrid_f32
 * (float input, int8 weights, as LiteRT's hybrid kernel) or
 * kwsq_fully_connected_f32.
 */
#include <math.h>
#include <string.h>

#include "kwsq_kernel_util.h"
#include "kwsq_kernels.h"
#include "kwsq_schema.h"

enum { FC_S8, FC_S4, FC_HYBRID, FC_F32 };

typedef struct {
    int32_t kind;
    kwsq_fc_dims dims;
    kwsq_fc_params params;
    kwsq_quant_params quant;
    kwsq_float_range fact;
    int32_t mult1;         /* per-tensor: quant points here, no separate arrays */
    int8_t shift1;
    bool asymmetric;       /* hybrid: asymmetric input quantization */
    int32_t scratch_bytes; /* hybrid: scratch slot 0 */
    int32_t *row_const;    /* bias + input_offset * row sum (int8/int4); row sums (hybrid) */
    float *row_scale;      /* hybrid: weight scale of each row */
    const void *weights;   /* the constant weights and bias, in the model */
    const float *bias;     /* float bias (hybrid, f32); NULL = none */
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

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
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
        if ((st = kwsq_check_tensor(ip, n, output, "output", KWSQ_FLOAT32, -1)) != KWSQ_OK) {
            return st;
        }
        if (bias != NULL && (st = kwsq_check_tensor(ip, n, bias, "bias", KWSQ_FLOAT32, -1)) != KWSQ_OK) {
            return st;
        }
        if (activation > 3) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
        }
        kwsq_activation_range_f(activation, &d->fact.act_min, &d->fact.act_max);
        d->bias = bias != NULL ? (const float *)bias->v.data : NULL;
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
        d->asymmetric = kwsq_opt_i8(ip, n, KWSQ_FIELD_FULLY_CONNECTED_OPTIONS_ASYMMETRIC_QUANTIZE_INPUTS, 0) != 0;
        d->row_const = kwsq_alloc_persistent_array(ip, (size_t)d->dims.output_depth, 4u);
        d->row_scale = kwsq_alloc_persistent_array(ip, (size_t)d->dims.output_depth, 4u);
        if (d->row_const == NULL || d->row_scale == NULL) {
            return KWSQ_ERR_ARENA;
        }
        for (int32_t o = 0; o < d->dims.output_depth; ++o) {
            if (kwsq_channel_zero(filter, o) != 0) {
                return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "hybrid weights must be symmetric");
            }
            d->row_const[o] = weight_sum(filter, o, d->dims.accum_depth, false);
            d->row_scale[o] = kwsq_channel_scale(filter, o);
        }
        d->scratch_bytes = kwsq_fully_connected_hybrid_f32_get_buffer_size(&d->dims);
        if (kwsq_request_scratch(ip, n, (size_t)d->scratch_bytes) != 0) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "too many scratch buffers");
        }
        return KWSQ_OK;
    }

    if ((st = kwsq_check_q8(ip, n, input, "input")) != KWSQ_OK ||
        (st = kwsq_check_q8(ip, n, output, "output")) != KWSQ_OK) {
        return st;
    }
    if (filter->v.type == KWSQ_INT8) {
        d->kind = FC_S8;
    } else if (filter->v.type == KWSQ_INT4) {
        d->kind = FC_S4;
    } else {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "weights %T: type %s not supported with int8 input",
                         filter, kwsq_type_name(filter->v.type));
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
                                 &d->params.act_min, &d->params.act_max)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    d->params.filter_offset = filter->v.num_channels > 1 ? 0 : -filter->v.zero_point;
    d->params.output_offset = output->v.zero_point;
    d->quant.per_channel = filter->v.num_channels > 1;
    int32_t *mult = d->quant.per_channel ? NULL : &d->mult1;
    int8_t *shift = d->quant.per_channel ? NULL : &d->shift1;
    st = kwsq_conv_multipliers(ip, n, input, filter, output, d->quant.per_channel ? d->dims.output_depth : 1,
                               &mult, &shift, &d->quant.pot);
    d->quant.multiplier = mult;
    d->quant.shift = shift;
    if (st != KWSQ_OK) {
        return st;
    }
    d->row_const = kwsq_alloc_persistent_array(ip, (size_t)d->dims.output_depth, 4u);
    if (d->row_const == NULL) {
        return KWSQ_ERR_ARENA;
    }
    d->params.accum_bound = kwsq_accum_bound(filter, d->dims.output_depth, d->dims.accum_depth,
                                             d->dims.accum_depth, 1, input->v.zero_point);
    const int32_t input_offset = -input->v.zero_point;
    const int32_t *bias_data = bias != NULL ? (const int32_t *)bias->v.data : NULL;
    for (int32_t o = 0; o < d->dims.output_depth; ++o) {
        /* (w + fo)(x + io) = wx + io*w + fo*x + fo*io; the x-only term is per batch. */
        uint32_t c = (uint32_t)input_offset * (uint32_t)weight_sum(filter, o, d->dims.accum_depth, d->kind == FC_S4);
        c += (uint32_t)d->params.filter_offset * (uint32_t)input_offset * (uint32_t)d->dims.accum_depth;
        d->row_const[o] = (int32_t)(c + (uint32_t)(bias_data != NULL ? bias_data[o] : 0));
    }
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const fc_data *d = n->data;
    const void *in = kwsq_node_input(ip, n, 0)->v.data;
    void *out = kwsq_node_output(ip, n, 0)->v.data;
    kwsq_status st;
    switch (d->kind) {
    case FC_S8:
        st = kwsq_fully_connected_s8(&d->params, &d->quant, &d->dims, in, d->weights, d->row_const, out);
        break;
    case FC_S4:
        st = kwsq_fully_connected_s4(&d->params, &d->quant, &d->dims, in, d->weights, d->row_const, out);
        break;
    case FC_HYBRID: {
        const kwsq_context ctx = {kwsq_scratch(ip, n, 0), d->scratch_bytes};
        st = kwsq_fully_connected_hybrid_f32(&ctx, &d->fact, d->asymmetric, &d->dims, in, d->weights,
                                             d->row_const, d->row_scale, d->bias, out);
        break;
    }
    default:
        st = kwsq_fully_connected_f32(&d->fact, &d->dims, in, d->weights, d->bias, out);
        break;
    }
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "kernel failed");
}

const kwsq_kernel kwsq_kernel_fully_connected = {KWSQ_OP_FULLY_CONNECTED, KWSQ_OPTIONS_FULLY_CONNECTED_OPTIONS,
                                                 prepare, eval, KWSQ_PREPARE_ONLY(1) | KWSQ_PREPARE_ONLY(2)};
