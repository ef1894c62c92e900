/*
 * Shared Prepare for the one-input elementwise ops (LOGISTIC, TANH, RELU,
 * RELU6, SOFTMAX, QUANTIZE, DEQUANTIZE): the input/output checks they all
 * start with, and the fixed-point input scaling LOGISTIC and TANH share
 * (TFLM's logistic_common.cc / tanh_common.cc). Always built from kernels/ref.
 */
#ifndef KWSQ_UNARY_COMMON_H
#define KWSQ_UNARY_COMMON_H

#include "kwsq_kernel_util.h"
#include "kwsq_kernels.h"

/* Integer bits of the fixed-point input of LOGISTIC and TANH (Q4.27). */
#define KWSQ_FX_ACT_INPUT_INT_BITS 4
/* Entries of an int8 lookup table. */
#define KWSQ_S8_TABLE_SIZE 256

/* Input 0 and output 0 exist and have the same shape (same_shape) or the
 * same number of elements. */
kwsq_status kwsq_unary_check_sizes(struct kwsq_interpreter *ip, const kwsq_node *n, bool same_shape);

/* kwsq_unary_check_sizes, then `bytes` of zeroed op data in n->data, then the
 * types: float input needs a float output (*is_float set), any other input
 * must be int8 quantized per tensor, as the output. */
kwsq_status kwsq_unary_prepare(struct kwsq_interpreter *ip, kwsq_node *n, bool same_shape, size_t bytes,
                               bool *is_float);

/* LOGISTIC and TANH: int8 in Q4.27 fixed point, or float. `table` (int8
 * only) holds the op's result for every int8 input, table[x + 128]. */
typedef struct {
    kwsq_fx_act_params params;
    int32_t count;
    int8_t *table;
} kwsq_fx_act_data;

/* The int8 kernel a table is built from. */
typedef kwsq_status (*kwsq_s8_unary_fn)(const kwsq_fx_act_params *params, int32_t count,
                                         const int8_t *input, int8_t *output);

/* The whole Prepare of LOGISTIC and TANH; their int8 output must have
 * zero point `output_zero_point` (scale 1/256 resp. 1/128). For int8 it
 * allocates a 256-byte table in the persistent arena and fills it by running
 * `fn` (the exact reference computation) on all 256 input values, so Eval's
 * lookup equals TFLite Micro bit for bit. */
kwsq_status kwsq_fx_act_prepare(struct kwsq_interpreter *ip, kwsq_node *n, int32_t output_zero_point,
                                kwsq_s8_unary_fn fn);

#endif /* KWSQ_UNARY_COMMON_H */
