/*
 * TANH int8 -> int8 (output scale 1/128, zero point 0) and float -> float.
 * int8 looks its result up in a table Prepare fills by running TFLite
 * Micro's gemmlowp fixed-point tanh (kwsq_tanh_s8) on every int8 value: the
 * same bits, 256 bytes of arena.
 */
#include "unary_common.h"
#include "kwsq_schema.h"

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    return kwsq_fx_act_prepare(ip, n, 0, kwsq_tanh_s8);
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const kwsq_fx_act_data *d = n->data;
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    if (input->v.type == KWSQ_FLOAT32) {
        return kwsq_tanh_f32(d->count, input->v.data, output->v.data);
    }
    return kwsq_lut_s8(d->table, d->count, input->v.data, output->v.data);
}

const kwsq_kernel kwsq_kernel_tanh = {KWSQ_OP_TANH, KWSQ_OPTIONS_NONE, prepare, eval, 0, KWSQ_OP_NAME("TANH")};
