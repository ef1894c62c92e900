/*
 * QUANTIZE: float -> int8 (round half away from zero, as TfLiteRound) and
 * int8 -> int8 requantization with a fixed-point multiplier.
 */
#include <math.h>

#include "unary_common.h"
#include "kwsq_schema.h"

typedef struct {
    int32_t count;
    float scale;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier;
    int32_t shift;
} quantize_data;

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if ((st = kwsq_unary_check_sizes(ip, n, false)) != KWSQ_OK ||
        (st = kwsq_check_q8(ip, n, output, "output")) != KWSQ_OK) {
        return st;
    }
    quantize_data *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    d->count = (int32_t)kwsq_num_elements(&input->v);
    d->scale = output->v.scale;
    d->output_zero_point = output->v.zero_point;
    if (input->v.type == KWSQ_FLOAT32) {
        return KWSQ_OK;
    }
    if ((st = kwsq_check_q8(ip, n, input, "input")) != KWSQ_OK) {
        return st;
    }
    int shift;
    kwsq_quantize_multiplier((double)input->v.scale / (double)output->v.scale, &d->multiplier, &shift);
    d->shift = shift;
    d->input_zero_point = input->v.zero_point;
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const quantize_data *d = n->data;
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    int8_t *y = output->v.data;
    if (input->v.type == KWSQ_FLOAT32) {
        const float *x = input->v.data;
        for (int32_t i = 0; i < d->count; ++i) {
            float r = roundf(x[i] / d->scale);
            int32_t q = (r >= 2147483647.0f) ? INT32_MAX : (r <= -2147483648.0f ? INT32_MIN : (int32_t)r);
            int64_t v = (int64_t)q + d->output_zero_point;
            y[i] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
        }
        return KWSQ_OK;
    }
    const int8_t *x = input->v.data;
    for (int32_t i = 0; i < d->count; ++i) {
        int32_t v = kwsq_mbqm((int32_t)x[i] - d->input_zero_point, d->multiplier, d->shift) + d->output_zero_point;
        y[i] = (int8_t)kwsq_clamp(v, -128, 127);
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_quantize = {KWSQ_OP_QUANTIZE, KWSQ_OPTIONS_NONE, prepare, eval, 0};
