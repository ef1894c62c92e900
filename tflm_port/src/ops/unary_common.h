/*
 * Shared Prepare for the one-input elementwise ops (LOGISTIC, TANH, RELU,
 * RELU6, SOFTMAX, QUANTIZE, DEQUANTIZE): the input/output checks they all
 * start with, and the fixed-point input scaling LOGISTIC and TANH share
 * (TFLM's logistic_common.cc / tanh_common.cc). Always built from kernels/ref.
 */
#ifndef KWSQ_UNARY_COMMON_H
#define KWSQ_UNARY_COMMON_H

#include "kwsq_kernel_util.h"

/* Integer bits of the fixed-point input of LOGISTIC and TANH (Q4.27). */
#define KWSQ_FX_ACT_INPUT_INT_BITS 4

/* Input 0 and output 0 exist and have the same shape (same_shape) or the
 * same number of elements. */
kwsq_status kwsq_unary_check_sizes(struct kwsq_interpreter *ip, const kwsq_node *n, bool same_shape);

/* kwsq_unary_check_sizes, then `bytes` of zeroed op data in n->data, then the
 * types: float input needs a float output (*is_float set), any other input
 * must be int8 quantized per tensor, as the output. */
kwsq_status kwsq_unary_prepare(struct kwsq_interpreter *ip, kwsq_node *n, bool same_shape, size_t bytes,
                               bool *is_float);

/* LOGISTIC and TANH: int8 in Q4.27 fixed point, or float. */
typedef struct {
    int32_t input_zero_point;
    int32_t radius;
    int32_t multiplier;
    int32_t left_shift;
    int32_t count;
} kwsq_fx_act_data;

/* The whole Prepare of LOGISTIC and TANH; their int8 output must have
 * zero point `output_zero_point` (scale 1/256 resp. 1/128). */
kwsq_status kwsq_fx_act_prepare(struct kwsq_interpreter *ip, kwsq_node *n, int32_t output_zero_point);

#endif /* KWSQ_UNARY_COMMON_H */
