/*
 * TANH int8 -> int8 (output scale 1/128, zero point 0) with TFLite Micro's
 * gemmlowp fixed-point tanh, and float -> float.
 */
#include <math.h>

#include "unary_common.h"
#include "kwsq_schema.h"

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    return kwsq_fx_act_prepare(ip, n, 0);
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const kwsq_fx_act_data *d = n->data;
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
            int32_t out_q0 = kwsq_fx_tanh(in_q4, KWSQ_FX_ACT_INPUT_INT_BITS);
            y[i] = (int8_t)kwsq_clamp(kwsq_rdbpot(out_q0, 31 - 7), -128, 127);
        }
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_tanh = {KWSQ_OP_TANH, KWSQ_OPTIONS_NONE, prepare, eval, 0};
