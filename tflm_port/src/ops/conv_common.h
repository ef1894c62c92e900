/*
 * CONV_2D and DEPTHWISE_CONV_2D share their Prepare and Eval (TFLM's
 * conv_common.cc and depthwise_conv_common.cc): weight and bias checks,
 * stride, dilation, padding, output size, activation range, the
 * requantization tables, in-place and overlapped placement, and the call of
 * the kernel entry points (kwsq_kernels.h). What differs between the two ops
 * is a kwsq_conv_kind; an op record per weight type (kwsq_ops.h) links only
 * that type's kernels.
 */
#ifndef KWSQ_CONV_COMMON_H
#define KWSQ_CONV_COMMON_H

#include "kwsq_kernel_util.h"
#include "kwsq_kernels.h"

typedef int32_t (*kwsq_conv_size_fn)(const kwsq_conv_params *params, const kwsq_dims *input_dims,
                                     const kwsq_dims *filter_dims, const kwsq_dims *output_dims);
typedef kwsq_status (*kwsq_conv_s8_fn)(const kwsq_context *ctx, const kwsq_conv_params *params,
                                       const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                                       const int8_t *input, const kwsq_dims *filter_dims, const int8_t *filter,
                                       const int32_t *bias, const kwsq_dims *output_dims, int8_t *output);
typedef kwsq_status (*kwsq_conv_s4_fn)(const kwsq_context *ctx, const kwsq_conv_params *params,
                                       const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                                       const int8_t *input, const kwsq_dims *filter_dims,
                                       const uint8_t *packed_filter, const int32_t *bias,
                                       const kwsq_dims *output_dims, int8_t *output);

typedef int32_t (*kwsq_conv_persist_fn)(const kwsq_conv_params *params, const kwsq_quant_params *quant,
                                        const kwsq_dims *input_dims, const kwsq_dims *filter_dims,
                                        const int8_t *filter, const int32_t *bias, const kwsq_dims *output_dims,
                                        void *persist);

/* One op record's view of the two ops: the option field ids of
 * Conv2DOptions / DepthwiseConv2DOptions, and its kernels (NULL: the record
 * refuses that weight type). */
typedef struct {
    int32_t padding_id, stride_w_id, stride_h_id, activation_id, dilation_w_id, dilation_h_id;
    bool depthwise;           /* per-channel weights along dim 3, 1HWC weights */
    kwsq_conv_s8_fn s8;
    kwsq_conv_size_fn s8_size;
    kwsq_conv_s4_fn s4;
    kwsq_conv_size_fn s4_size;
#ifdef KWSQ_PERSISTENT_QUANT
    kwsq_conv_persist_fn s8_persist; /* kwsq_context.persist of s8 (NULL: none) */
#endif
} kwsq_conv_kind;

/* The s8_persist entry of a kind's initializer (nothing without it). */
#ifdef KWSQ_PERSISTENT_QUANT
#define KWSQ_CONV_PERSIST(fn) , fn
#else
#define KWSQ_CONV_PERSIST(fn)
#endif

kwsq_status kwsq_conv_prepare(struct kwsq_interpreter *ip, kwsq_node *n, const kwsq_conv_kind *kind);
kwsq_status kwsq_conv_eval(struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_conv_kind *kind);
/* The same two ops on float32 input, weights, bias and output (TFLM's
 * reference float kernels): conv_f32.c. The records that take every type
 * (KWSQ_CONV_RECORD_ANY) send a float input there. */
kwsq_status kwsq_conv_f32_prepare(struct kwsq_interpreter *ip, kwsq_node *n, const kwsq_conv_kind *kind);
kwsq_status kwsq_conv_f32_eval(struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_conv_kind *kind);

/* The channel counts of either op: conv OHWI weights (grouped when the input
 * has a multiple of the filter's channels), depthwise 1HWC weights with
 * out_ch a multiple of in_ch. */
kwsq_status kwsq_conv_channels(struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_conv_kind *kind,
                               const kwsq_tensor *input, const kwsq_tensor *filter, const kwsq_tensor *output);
/* Stride, dilation and padding from the options, checked against the
 * output's size (TFLM's ComputeOutSize and ComputePaddingHeightWidth), into
 * `p`. */
kwsq_status kwsq_conv_geometry(struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_conv_kind *kind,
                               const kwsq_tensor *input, const kwsq_tensor *filter, const kwsq_tensor *output,
                               kwsq_conv_params *p);

/* One op record `name` (builtin `op` called `opname`, options table `options`) whose Prepare and Eval
 * run the shared conv code with `kind`: conv.c and depthwise_conv.c each define three
 * (both weight types, int8 only, INT4 only). */
#define KWSQ_CONV_RECORD(name, kind, op, opname, options)                                        \
    static kwsq_status name##_prepare(struct kwsq_interpreter *ip, kwsq_node *n)                \
    {                                                                                            \
        return kwsq_conv_prepare(ip, n, &kind);                                                  \
    }                                                                                            \
    static kwsq_status name##_eval(struct kwsq_interpreter *ip, const kwsq_node *n)             \
    {                                                                                            \
        return kwsq_conv_eval(ip, n, &kind);                                                     \
    }                                                                                            \
    const kwsq_kernel name = {op, options, name##_prepare, name##_eval,                          \
                              KWSQ_PREPARE_ONLY(1) | KWSQ_PREPARE_ONLY(2), KWSQ_OP_NAME(opname)};

/* The op record `name` that takes every weight type and float: a float32
 * input goes to the float Prepare and Eval, any other to the int8 ones. */
#define KWSQ_CONV_RECORD_ANY(name, kind, op, opname, options)                                    \
    static kwsq_status name##_prepare(struct kwsq_interpreter *ip, kwsq_node *n)                \
    {                                                                                            \
        const kwsq_tensor_int *in = kwsq_node_input(ip, n, 0);                                   \
        return in != NULL && in->v.type == KWSQ_FLOAT32 ? kwsq_conv_f32_prepare(ip, n, &kind)    \
                                                        : kwsq_conv_prepare(ip, n, &kind);       \
    }                                                                                            \
    static kwsq_status name##_eval(struct kwsq_interpreter *ip, const kwsq_node *n)             \
    {                                                                                            \
        return kwsq_node_input(ip, n, 0)->v.type == KWSQ_FLOAT32 ? kwsq_conv_f32_eval(ip, n, &kind) \
                                                                 : kwsq_conv_eval(ip, n, &kind);    \
    }                                                                                            \
    const kwsq_kernel name = {op, options, name##_prepare, name##_eval,                          \
                              KWSQ_PREPARE_ONLY(1) | KWSQ_PREPARE_ONLY(2), KWSQ_OP_NAME(opname)};

#endif /* KWSQ_CONV_COMMON_H */
