/*
 * Op-selective builds, as TFLite Micro's MicroMutableOpResolver: an
 * application lists the ops its model uses and initializes the interpreter
 * with that list, so the firmware links only those kernels (with
 * -ffunction-sections -fdata-sections and --gc-sections, as boards/ builds).
 * `kwsq convert` writes the list for a model beside model.h (model_ops.c):
 *
 *   static const kwsq_kernel *const k_ops[] = {&kwsq_kernel_conv_2d, ...};
 *   const kwsq_op_resolver kwsq_model_ops = {k_ops, 2, false};
 *   ...
 *   kwsq_init_with_ops(&ip, &kwsq_model_ops, model, model_len, arena, sizeof arena, &err);
 *
 * kwsq_init (kwsq_rt.h) uses kwsq_all_ops, every op the runtime has.
 */
#ifndef KWSQ_OPS_H
#define KWSQ_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "kwsq_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kwsq_kernel kwsq_kernel; /* one op's Prepare and Eval (internal) */

typedef struct {
    const kwsq_kernel *const *kernels;
    size_t count;
    bool complete;  /* every op of the runtime (kwsq_all_ops): a missing op is unsupported */
} kwsq_op_resolver;

/* The ops, one per builtin operator, named after TFLite's BuiltinOperator. */
extern const kwsq_kernel kwsq_kernel_add;
extern const kwsq_kernel kwsq_kernel_average_pool_2d;
extern const kwsq_kernel kwsq_kernel_concatenation;
extern const kwsq_kernel kwsq_kernel_conv_2d;
extern const kwsq_kernel kwsq_kernel_depthwise_conv_2d;
extern const kwsq_kernel kwsq_kernel_dequantize;
extern const kwsq_kernel kwsq_kernel_fully_connected;
extern const kwsq_kernel kwsq_kernel_logistic;
extern const kwsq_kernel kwsq_kernel_max_pool_2d;
extern const kwsq_kernel kwsq_kernel_mul;
extern const kwsq_kernel kwsq_kernel_pack;
extern const kwsq_kernel kwsq_kernel_quantize;
extern const kwsq_kernel kwsq_kernel_relu;
extern const kwsq_kernel kwsq_kernel_relu6;
extern const kwsq_kernel kwsq_kernel_reshape;
extern const kwsq_kernel kwsq_kernel_shape;
extern const kwsq_kernel kwsq_kernel_softmax;
extern const kwsq_kernel kwsq_kernel_strided_slice;
extern const kwsq_kernel kwsq_kernel_tanh;

/* Typed records of some ops, <op>_<type>: the same op with only one data
 * type's kernels linked; its Prepare refuses any other type, saying so.
 * `kwsq convert` lists one where every use of the op in the model has that
 * type. s8: int8 input and (for conv, depthwise, FULLY_CONNECTED) int8
 * weights; s4: int8 input and packed INT4 weights. SOFTMAX and the pools: s8 only. */
extern const kwsq_kernel kwsq_kernel_conv_2d_s8;
extern const kwsq_kernel kwsq_kernel_conv_2d_s4;
extern const kwsq_kernel kwsq_kernel_depthwise_conv_2d_s8;
extern const kwsq_kernel kwsq_kernel_depthwise_conv_2d_s4;
extern const kwsq_kernel kwsq_kernel_fully_connected_s8;
extern const kwsq_kernel kwsq_kernel_fully_connected_s4;
extern const kwsq_kernel kwsq_kernel_softmax_s8;
extern const kwsq_kernel kwsq_kernel_average_pool_2d_s8;
extern const kwsq_kernel kwsq_kernel_max_pool_2d_s8;

/* Every op (what kwsq_init uses). */
extern const kwsq_op_resolver kwsq_all_ops;

/* kwsq_init with the application's op list: an op of the model missing from
 * `ops` is refused at load time, naming the op. */
kwsq_status kwsq_init_with_ops(kwsq_interpreter **out, const kwsq_op_resolver *ops, const uint8_t *model,
                               size_t model_len, uint8_t *arena, size_t arena_len, kwsq_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KWSQ_OPS_H */
