/*
 * LOGISTIC int8 -> int8 (output zero point -128) and float -> float. int8
 * looks its result up in a table Prepare fills by running TFLite Micro's
 * gemmlowp fixed-point sigmoid (kwsq_logistic_s8) on every int8 value: the
 * same bits, ~100x fewer instructions a value, 256 bytes of arena.
 */
#include "unary_common.h"
#include "kwsq_schema.h"

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    return kwsq_fx_act_prepare(ip, n, -128, kwsq_logistic_s8);
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const kwsq_fx_act_data *d = n->data;
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    if (input->v.type == KWSQ_FLOAT32) {
        return kwsq_logistic_f32(d->count, input->v.data, output->v.data);
    }
    return kwsq_lut_s8(d->table, d->count, input->v.data, output->v.data);
}

const kwsq_kernel kwsq_kernel_logistic = {KWSQ_OP_LOGISTIC, KWSQ_OPTIONS_NONE, prepare, eval, 0, KWSQ_OP_NAME("LOGISTIC")};
