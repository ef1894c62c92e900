/*
 * Shared Prepare for the one-input elementwise ops; see unary_common.h.
 */
#include <math.h>

#include "unary_common.h"

kwsq_status kwsq_unary_check_sizes(struct kwsq_interpreter *ip, const kwsq_node *n, bool same_shape)
{
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    const kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    if (same_shape) {
        if (input == NULL || output == NULL || !kwsq_same_shape(&input->v, &output->v)) {
            return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input and output shapes differ");
        }
    } else if (input == NULL || output == NULL ||
               kwsq_num_elements(&input->v) != kwsq_num_elements(&output->v)) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input and output sizes differ");
    }
    return KWSQ_OK;
}

kwsq_status kwsq_unary_prepare(struct kwsq_interpreter *ip, kwsq_node *n, bool same_shape, size_t bytes,
                               bool *is_float)
{
    kwsq_status st = kwsq_unary_check_sizes(ip, n, same_shape);
    if (st != KWSQ_OK) {
        return st;
    }
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    const kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    n->data = kwsq_alloc_persistent(ip, bytes);
    if (n->data == NULL) {
        return KWSQ_ERR_ARENA;
    }
    *is_float = input->v.type == KWSQ_FLOAT32;
    if (*is_float) {
        return kwsq_check_tensor(ip, n, output, "output", KWSQ_FLOAT32, -1);
    }
    if ((st = kwsq_check_q8(ip, n, input, "input")) != KWSQ_OK) {
        return st;
    }
    return kwsq_check_q8(ip, n, output, "output");
}

kwsq_status kwsq_fx_act_prepare(struct kwsq_interpreter *ip, kwsq_node *n, int32_t output_zero_point,
                                kwsq_s8_unary_fn fn)
{
    bool is_float = false;
    kwsq_status st = kwsq_unary_prepare(ip, n, true, sizeof(kwsq_fx_act_data), &is_float);
    if (st != KWSQ_OK) {
        return st;
    }
    const kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_fx_act_data *d = n->data;
    d->count = (int32_t)kwsq_num_elements(&input->v);
    if (is_float) {
        return KWSQ_OK;
    }
    if (kwsq_node_output(ip, n, 0)->v.zero_point != output_zero_point) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "int8 output must have zero point %d",
                         (int)output_zero_point);
    }
    double real = (double)input->v.scale * (double)(1 << (31 - KWSQ_FX_ACT_INPUT_INT_BITS));
    int shift;
    double q = frexp(real, &shift);
    d->params.input_multiplier = (int32_t)round(q * (double)(1LL << 31));
    if (shift < 0 || shift > 30) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "input scale out of range");
    }
    d->params.input_left_shift = shift;
    d->params.input_zero_point = input->v.zero_point;
    d->params.input_radius = kwsq_input_radius(KWSQ_FX_ACT_INPUT_INT_BITS, shift, 31);
    d->table = kwsq_alloc_persistent(ip, KWSQ_S8_TABLE_SIZE);
    if (d->table == NULL) {
        return KWSQ_ERR_ARENA;
    }
    int8_t all[KWSQ_S8_TABLE_SIZE];
    for (int32_t i = 0; i < KWSQ_S8_TABLE_SIZE; ++i) {
        all[i] = (int8_t)(i - 128);
    }
    return fn(&d->params, KWSQ_S8_TABLE_SIZE, all, d->table);
}
