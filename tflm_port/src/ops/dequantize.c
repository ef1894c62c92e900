/*
 * DEQUANTIZE int8 -> float: scale * (q - zero_point) computed in double and
 * rounded once to float, as TFLite Micro's reference kernel.
 */
#include "unary_common.h"
#include "kwsq_schema.h"

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if ((st = kwsq_unary_check_sizes(ip, n, false)) != KWSQ_OK ||
        (st = kwsq_check_q8(ip, n, input, "input")) != KWSQ_OK) {
        return st;
    }
    return kwsq_check_tensor(ip, n, output, "output", KWSQ_FLOAT32, -1);
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    const int64_t count = kwsq_num_elements(&input->v);
    return kwsq_dequantize_s8_f32((double)input->v.scale, input->v.zero_point, (int32_t)count,
                                  input->v.data, output->v.data);
}

const kwsq_kernel kwsq_kernel_dequantize = {KWSQ_OP_DEQUANTIZE, KWSQ_OPTIONS_NONE, prepare, eval, 0, KWSQ_OP_NAME("DEQUANTIZE")};
