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
    kwsq_requant_params q;
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
    d->q.output_offset = output->v.zero_point;
    d->q.act_min = -128;
    d->q.act_max = 127;
    if (input->v.type == KWSQ_FLOAT32) {
        return KWSQ_OK;
    }
    if ((st = kwsq_check_q8(ip, n, input, "input")) != KWSQ_OK) {
        return st;
    }
    int shift;
    kwsq_quantize_multiplier((double)input->v.scale / (double)output->v.scale, &d->q.multiplier, &shift);
    d->q.shift = shift;
    d->q.input_zero_point = input->v.zero_point;
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const quantize_data *d = n->data;
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    if (input->v.type == KWSQ_FLOAT32) {
        return kwsq_quantize_f32_s8(d->scale, d->q.output_offset, d->count, input->v.data, output->v.data);
    }
    return kwsq_requantize_s8(&d->q, d->count, input->v.data, output->v.data);
}

const kwsq_kernel kwsq_kernel_quantize = {KWSQ_OP_QUANTIZE, KWSQ_OPTIONS_NONE, prepare, eval, 0, KWSQ_OP_NAME("QUANTIZE")};
