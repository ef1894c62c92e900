/*
 * FULLY_CONNECTED, reference kernels:
 *  - fully_connected_s8: int8 input/weights/output, per-tensor or per-channel
 *    weights, bit-exact with TFLite Micro's reference kernel;
 *  - fully_connected_s4: the same with packed INT4 weights read packed (two
 *    per byte, low nibble first), so no unpacked copy of the weights exists;
 *  - fully_connected_hybrid: float input/output, int8 weights, each input row
 *    quantized on the fly (symmetric or asymmetric) as LiteRT's hybrid kernel;
 *  - fully_connected_f32: float everything.
 * Prepare folds bias + input_offset * sum(row) into one constant per row, so
 * Eval's inner loop is a plain dot product (same result modulo 2^32).
 */
#include <math.h>
#include <string.h>

#include "kwsq_kernel_util.h"

enum { FC_S8, FC_S4, FC_HYBRID, FC_F32 };

typedef struct {
    int32_t kind;
    int32_t batches;
    int32_t out_depth;
    int32_t accum;
    int32_t filter_offset;
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    float fact_min;
    float fact_max;
    int32_t num_mult;      /* 1 = per-tensor */
    int32_t *mult;
    int8_t *shift;
    bool pot;              /* power-of-two scales: shift-only requantization */
    int8_t shift1;         /* per-tensor: mult/shift point here, no separate arrays */
    int32_t mult1;
    int32_t *row_const;    /* bias + input_offset * row sum (int8/int4); row sums (hybrid) */
    int32_t asymmetric;
    float *row_scale;      /* hybrid: weight scale of each row */
    const void *weights;   /* the constant weights and bias, in the model */
    const float *bias;     /* float bias (hybrid, f32); NULL = none */
} fc_data;

static int32_t weight_sum(const kwsq_tensor_int *filter, int32_t row, int32_t accum, bool s4)
{
    int32_t sum = 0;
    const uint8_t *w = (const uint8_t *)filter->v.data;
    for (int32_t d = 0; d < accum; ++d) {
        int64_t i = (int64_t)row * accum + d;
        sum += s4 ? kwsq_int4_at(w, i) : (int32_t)(int8_t)w[i];
    }
    return sum;
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
    int32_t activation = kwsq_opt_i8(ip, n, 0, 0);
    if (kwsq_opt_i8(ip, n, 1, 0) != 0) {
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
    d->out_depth = filter->v.dims[0];
    d->weights = filter->v.data;
    d->accum = filter->v.dims[1];
    if (output->v.num_dims < 1 || output->v.dims[output->v.num_dims - 1] != d->out_depth ||
        d->out_depth == 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: output depth differs from weight rows");
    }
    d->batches = (int32_t)(kwsq_num_elements(&output->v) / d->out_depth);
    if (kwsq_num_elements(&input->v) != (int64_t)d->batches * d->accum) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input has %d elements, expected %d",
                         (int)kwsq_num_elements(&input->v), (int)(d->batches * d->accum));
    }
    if (bias != NULL && (!bias->m->is_const || kwsq_num_elements(&bias->v) != d->out_depth)) {
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
        kwsq_activation_range_f(activation, &d->fact_min, &d->fact_max);
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
        d->asymmetric = kwsq_opt_i8(ip, n, 3, 0) != 0;
        d->row_const = kwsq_alloc_persistent(ip, 4u * (size_t)d->out_depth);
        d->row_scale = kwsq_alloc_persistent(ip, 4u * (size_t)d->out_depth);
        if (d->row_const == NULL || d->row_scale == NULL) {
            return KWSQ_ERR_ARENA;
        }
        for (int32_t o = 0; o < d->out_depth; ++o) {
            if (kwsq_channel_zero(filter, o) != 0) {
                return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "hybrid weights must be symmetric");
            }
            d->row_const[o] = weight_sum(filter, o, d->accum, false);
            d->row_scale[o] = kwsq_channel_scale(filter, o);
        }
        if (kwsq_request_scratch(ip, n, (size_t)d->accum) < 0) {
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
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "weights type %s not supported with int8 input",
                         kwsq_type_name(filter->v.type));
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
                                 &d->act_min, &d->act_max)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    d->filter_offset = filter->v.num_channels > 1 ? 0 : -filter->v.zero_point;
    d->output_offset = output->v.zero_point;
    d->num_mult = filter->v.num_channels > 1 ? d->out_depth : 1;
    if (d->num_mult == 1) {
        d->mult = &d->mult1;
        d->shift = &d->shift1;
    }
    st = kwsq_conv_multipliers(ip, n, input, filter, output, d->num_mult, &d->mult, &d->shift, &d->pot);
    if (st != KWSQ_OK) {
        return st;
    }
    d->row_const = kwsq_alloc_persistent(ip, 4u * (size_t)d->out_depth);
    if (d->row_const == NULL) {
        return KWSQ_ERR_ARENA;
    }
    const int32_t input_offset = -input->v.zero_point;
    const int32_t *bias_data = bias != NULL ? (const int32_t *)bias->v.data : NULL;
    for (int32_t o = 0; o < d->out_depth; ++o) {
        /* (w + fo)(x + io) = wx + io*w + fo*x + fo*io; the x-only term is per batch. */
        int32_t c = input_offset * weight_sum(filter, o, d->accum, d->kind == FC_S4);
        c += d->filter_offset * input_offset * d->accum;
        d->row_const[o] = c + (bias_data != NULL ? bias_data[o] : 0);
    }
    return KWSQ_OK;
}

static int32_t dot_s8(const int8_t *w, const int8_t *x, int32_t n)
{
    int32_t acc = 0;
    for (int32_t i = 0; i < n; ++i) {
        acc += (int32_t)w[i] * (int32_t)x[i];
    }
    return acc;
}

/* Row `row` of packed int4 weights times x; rows may start mid-byte. */
static int32_t dot_s4(const uint8_t *w, int32_t row, const int8_t *x, int32_t n)
{
    int64_t start = (int64_t)row * n;
    int32_t acc = 0;
    int32_t i = 0;
    if (start & 1) {
        acc += kwsq_int4_at(w, start) * (int32_t)x[0];
        i = 1;
    }
    const uint8_t *p = w + ((start + i) >> 1);
    for (; i + 1 < n; i += 2) {
        int8_t b = (int8_t)*p++;
        int32_t lo = (int8_t)(b << 4) >> 4;
        int32_t hi = b >> 4;
        acc += lo * (int32_t)x[i] + hi * (int32_t)x[i + 1];
    }
    if (i < n) {
        acc += kwsq_int4_at(w, start + i) * (int32_t)x[i];
    }
    return acc;
}

static void eval_quantized(const fc_data *d, const int8_t *in, const uint8_t *w, int8_t *out)
{
    for (int32_t b = 0; b < d->batches; ++b) {
        const int8_t *x = in + (int64_t)b * d->accum;
        int32_t xsum = 0;
        if (d->filter_offset != 0) {
            for (int32_t i = 0; i < d->accum; ++i) {
                xsum += x[i];
            }
            xsum *= d->filter_offset;
        }
        for (int32_t o = 0; o < d->out_depth; ++o) {
            int32_t acc = d->kind == FC_S4 ? dot_s4(w, o, x, d->accum)
                                           : dot_s8((const int8_t *)w + (int64_t)o * d->accum, x, d->accum);
            acc += d->row_const[o] + xsum;
            int32_t c = d->num_mult > 1 ? o : 0;
            acc = d->pot ? kwsq_mbqm_pot(acc, d->shift[c]) : kwsq_mbqm(acc, d->mult[c], d->shift[c]);
            acc += d->output_offset;
            out[(int64_t)b * d->out_depth + o] = (int8_t)kwsq_clamp(acc, d->act_min, d->act_max);
        }
    }
}

static float clampf(float x, float lo, float hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* LiteRT's SymmetricQuantizeFloats / AsymmetricQuantizeFloats for one row. */
static void quantize_row(const float *x, int32_t n, bool asymmetric, int8_t *q, float *scale,
                         int32_t *offset)
{
    float lo = x[0], hi = x[0];
    for (int32_t i = 1; i < n; ++i) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    *offset = 0;
    if (!asymmetric) {
        float range = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
        if (range == 0.0f) {
            memset(q, 0, (size_t)n);
            *scale = 1.0f;
            return;
        }
        *scale = range / 127.0f;
        float inv = 127.0f / range;
        for (int32_t i = 0; i < n; ++i) {
            q[i] = (int8_t)kwsq_clamp((int32_t)roundf(x[i] * inv), -127, 127);
        }
        return;
    }
    double rmin = (double)(lo < 0.0f ? lo : 0.0f);
    double rmax = (double)(hi > 0.0f ? hi : 0.0f);
    if (rmin == rmax) {
        memset(q, 0, (size_t)n);
        *scale = 1.0f;
        return;
    }
    double s = (rmax - rmin) / 255.0;
    double zp_from_min = -128.0 - rmin / s;
    double zp_from_max = 127.0 - rmax / s;
    double err_min = 128.0 + fabs(rmin / s);
    double err_max = 127.0 + fabs(rmax / s);
    double zp = err_min < err_max ? zp_from_min : zp_from_max;
    int32_t nudged = zp <= -128.0 ? -128 : (zp >= 127.0 ? 127 : (int32_t)(int8_t)round(zp));
    *scale = (float)s;
    *offset = nudged;
    float inv = 1.0f / *scale;
    for (int32_t i = 0; i < n; ++i) {
        q[i] = (int8_t)kwsq_clamp((int32_t)roundf((float)nudged + x[i] * inv), -128, 127);
    }
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const fc_data *d = n->data;
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);

    if (d->kind == FC_S8 || d->kind == FC_S4) {
        eval_quantized(d, input->v.data, d->weights, output->v.data);
        return KWSQ_OK;
    }
    const float *in = input->v.data;
    const float *bias_data = d->bias;
    float *out = output->v.data;
    int8_t *q = d->kind == FC_HYBRID ? kwsq_scratch(ip, n, 0) : NULL;
    for (int32_t b = 0; b < d->batches; ++b) {
        const float *x = in + (int64_t)b * d->accum;
        float *y = out + (int64_t)b * d->out_depth;
        for (int32_t o = 0; o < d->out_depth; ++o) {
            y[o] = bias_data != NULL ? bias_data[o] : 0.0f;
        }
        if (d->kind == FC_F32) {
            const float *w = d->weights;
            for (int32_t o = 0; o < d->out_depth; ++o) {
                float acc = 0.0f;
                for (int32_t i = 0; i < d->accum; ++i) {
                    acc += w[(int64_t)o * d->accum + i] * x[i];
                }
                y[o] = clampf(y[o] + acc, d->fact_min, d->fact_max);
            }
            continue;
        }
        float scale;
        int32_t offset;
        quantize_row(x, d->accum, d->asymmetric != 0, q, &scale, &offset);
        const int8_t *w = d->weights;
        for (int32_t o = 0; o < d->out_depth; ++o) {
            int32_t dot = dot_s8(w + (int64_t)o * d->accum, q, d->accum);
            dot -= d->row_const[o] * offset;
            y[o] += (float)dot * (scale * d->row_scale[o]);
        }
        for (int32_t o = 0; o < d->out_depth; ++o) {
            y[o] = clampf(y[o], d->fact_min, d->fact_max);
        }
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_fully_connected = {9, 8, prepare, eval, 0x6u};
