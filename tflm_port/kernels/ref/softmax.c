/*
 * SOFTMAX int8 -> int8 (output scale 1/256, zero point -128) with TFLite
 * Micro's fixed-point exp and reciprocal, and float -> float.
 */
#include <math.h>

#include "unary_common.h"

#define SCALED_DIFF_INT_BITS 5
#define ACCUM_INT_BITS 12

typedef struct {
    int32_t outer;
    int32_t depth;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
    float beta;
} softmax_data;

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
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
    softmax_data *d = n->data;
    d->depth = input->v.dims[input->v.num_dims - 1];
    d->outer = d->depth ? (int32_t)(kwsq_num_elements(&input->v) / d->depth) : 0;
    d->beta = kwsq_opt_f32(ip, n, 0, 1.0f);
    if (is_float) {
        return KWSQ_OK;
    }
    if (output->v.zero_point != -128 || fabsf(output->v.scale - 1.0f / 256.0f) > 0.001f / 256.0f) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "int8 output must have scale 1/256 and zero point -128");
    }
    double real = (double)d->beta * (double)input->v.scale * (double)(1LL << (31 - SCALED_DIFF_INT_BITS));
    if (real > (double)((1LL << 31) - 1)) {
        real = (double)((1LL << 31) - 1);
    }
    int shift;
    kwsq_quantize_multiplier(real, &d->input_multiplier, &shift);
    if (real <= 1.0 || shift < 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "input scale times beta is too small");
    }
    d->input_left_shift = shift;
    d->diff_min = -kwsq_input_radius(SCALED_DIFF_INT_BITS, shift, 31);
    return KWSQ_OK;
}

static void eval_s8(const softmax_data *d, const int8_t *in, int8_t *out)
{
    for (int32_t r = 0; r < d->outer; ++r) {
        const int8_t *x = in + (int64_t)r * d->depth;
        int8_t *y = out + (int64_t)r * d->depth;
        int32_t max = -128;
        for (int32_t c = 0; c < d->depth; ++c) {
            max = x[c] > max ? x[c] : max;
        }
        int32_t sum_of_exps = 0; /* Q12.19 */
        for (int32_t c = 0; c < d->depth; ++c) {
            int32_t diff = (int32_t)x[c] - max;
            if (diff >= d->diff_min) {
                int32_t scaled = kwsq_srdhm((int32_t)((uint32_t)diff << d->input_left_shift), d->input_multiplier);
                int32_t e = kwsq_exp_on_negative_values(scaled, SCALED_DIFF_INT_BITS);
                sum_of_exps += kwsq_rdbpot(e, ACCUM_INT_BITS);
            }
        }
        int num_bits_over_unit;
        int32_t shifted_scale = kwsq_get_reciprocal(sum_of_exps, ACCUM_INT_BITS, &num_bits_over_unit);
        for (int32_t c = 0; c < d->depth; ++c) {
            int32_t diff = (int32_t)x[c] - max;
            if (diff >= d->diff_min) {
                int32_t scaled = kwsq_srdhm((int32_t)((uint32_t)diff << d->input_left_shift), d->input_multiplier);
                int32_t e = kwsq_exp_on_negative_values(scaled, SCALED_DIFF_INT_BITS);
                int32_t unsat = kwsq_rdbpot(kwsq_srdhm(shifted_scale, e), num_bits_over_unit + 31 - 8);
                y[c] = (int8_t)kwsq_clamp(unsat - 128, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
}

static void eval_f32(const softmax_data *d, const float *in, float *out)
{
    for (int32_t r = 0; r < d->outer; ++r) {
        const float *x = in + (int64_t)r * d->depth;
        float *y = out + (int64_t)r * d->depth;
        float max = x[0];
        for (int32_t c = 1; c < d->depth; ++c) {
            max = x[c] > max ? x[c] : max;
        }
        float sum = 0.0f;
        for (int32_t c = 0; c < d->depth; ++c) {
            y[c] = expf((x[c] - max) * d->beta);
            sum += y[c];
        }
        for (int32_t c = 0; c < d->depth; ++c) {
            y[c] = y[c] / sum;
        }
    }
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const softmax_data *d = n->data;
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    if (input->v.type == KWSQ_FLOAT32) {
        eval_f32(d, input->v.data, output->v.data);
    } else {
        eval_s8(d, input->v.data, output->v.data);
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_softmax = {25, 9, prepare, eval, 0};
