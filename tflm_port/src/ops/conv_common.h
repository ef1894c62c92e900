/*
 * Shared Prepare for CONV_2D and DEPTHWISE_CONV_2D (TFLM's conv_common.cc
 * and depthwise_conv_common.cc): weight and bias checks, stride, dilation,
 * padding, output size, activation range and per-channel multipliers, into
 * the parameter structs of the kernel entry points (kwsq_kernels.h).
 */
#ifndef KWSQ_CONV_COMMON_H
#define KWSQ_CONV_COMMON_H

#include "kwsq_kernel_util.h"
#include "kwsq_kernels.h"

/* Where the two ops' option tables differ (field ids of Conv2DOptions /
 * DepthwiseConv2DOptions) and which weight dimension holds the channels. */
typedef struct {
    int32_t padding_id, stride_w_id, stride_h_id, activation_id, dilation_w_id, dilation_h_id;
    int32_t quant_dim;       /* per-channel weights' quantized dimension */
} kwsq_conv_kind;

/* The op data of both ops: what Eval passes to kwsq_conv_* /
 * kwsq_depthwise_conv_*. */
typedef struct {
    kwsq_conv_params p;
    kwsq_quant_params q;
    kwsq_dims filter_dims;
    const uint8_t *filter;  /* the constant weights and bias, in the model */
    const int32_t *bias;    /* NULL = none */
    int32_t scratch_bytes;  /* from the kernel's ..._get_buffer_size; scratch slot 0 */
    bool s4;                /* packed INT4 weights */
} kwsq_conv_op;

/* Checks the weight type; the caller has checked that input/output are int8
 * and that all three are 4-D with the weights constant. */
kwsq_status kwsq_conv_check_weights(struct kwsq_interpreter *ip, const kwsq_node *n,
                                    const kwsq_tensor_int *filter);

/* Everything after the op's own channel-count check: per-channel dimension,
 * bias, options, output size, padding, activation, offsets, multipliers,
 * and the weight and bias pointers and filter dims Eval uses. */
kwsq_status kwsq_conv_prepare_params(struct kwsq_interpreter *ip, kwsq_node *n, const kwsq_conv_kind *kind,
                                     kwsq_conv_op *op);

#endif /* KWSQ_CONV_COMMON_H */
