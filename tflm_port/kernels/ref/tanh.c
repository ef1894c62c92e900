/*
 * TANH int8 -> int8 (output scale 1/128, zero point 0) with TFLite Micro's
 * gemmlowp fixed-point tanh, and float -> float.
 */
#include <math.h>

#include "kwsq_kernel_util.h"

#define INPUT_INT_BITS 4

typedef struct {
    int32_t input_zero_point;
    int32_t radius;
    int32_t multiplier;
    int32_t left_shift;
    int32_t count;
} tanh_data;

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if (input == NULL || output == NULL || !kwsq_same_shape(&input->v, &output->v)) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input and output shapes differ");
    }
    tanh_data *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    d->count = (int32_t)kwsq_num_elements(&input->v);
    if (input->v.type == KWSQ_FLOAT32) {
        return kwsq_check_tensor(ip, n, output, "output", KWSQ_FLOAT32, -1);
    }
    if ((st = kwsq_check_q8(ip, n, input, "input")) != KWSQ_OK ||
        (st = kwsq_check_q8(ip, n, output, "output")) != KWSQ_OK) {
        return st;
    }
    if (output->v.zero_point != 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "int8 output must have zero point 0");
    }
    double real = (double)input->v.scale * (double)(1 << (31 - INPUT_INT_BITS));
    int shift;
    double q = frexp(real, &shift);
    d->multiplier = (int32_t)round(q * (double)(1LL << 31));
    if (shift < 0 || shift > 30) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "input scale out of range");
    }
    d->left_shift = shift;
    d->input_zero_point = input->v.zero_point;
    d->radius = kwsq_input_radius(INPUT_INT_BITS, shift, 31);
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const tanh_data *d = n->data;
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    if (input->v.type == KWSQ_FLOAT32) {
        const float *x = input->v.data;
        float *y = output->v.data;
        for (int32_t i = 0; i < d->count; ++i) {
            y[i] = tanhf(x[i]);
        }
        return KWSQ_OK;
    }
    const int8_t *x = input->v.data;
    int8_t *y = output->v.data;
    for (int32_t i = 0; i < d->count; ++i) {
        int32_t v = (int32_t)x[i] - d->input_zero_point;
        if (v <= -d->radius) {
            y[i] = -128;
        } else if (v >= d->radius) {
            y[i] = 127;
        } else {
            int32_t in_q4 = kwsq_mbqm(v, d->multiplier, d->left_shift);
            int32_t out_q0 = kwsq_fx_tanh(in_q4, INPUT_INT_BITS);
            y[i] = (int8_t)kwsq_clamp(kwsq_rdbpot(out_q0, 31 - 7), -128, 127);
        }
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_tanh = {28, 0, prepare, eval};
