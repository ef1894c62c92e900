/*
 * Shared Prepare for CONV_2D and DEPTHWISE_CONV_2D (TFLM's conv_common.cc
 * and depthwise_conv_common.cc): weight and bias checks, stride, dilation,
 * padding, output size, activation range and per-channel multipliers. Lives
 * in its own file, always built from kernels/ref, so a variant folder that
 * replaces conv.c or depthwise_conv.c keeps using it.
 */
#ifndef KWSQ_CONV_COMMON_H
#define KWSQ_CONV_COMMON_H

#include "kwsq_kernel_util.h"

/* Where the two ops' option tables differ (ids in Conv2DOptions /
 * DepthwiseConv2DOptions) and which weight dimension holds the channels. */
typedef struct {
    int32_t activation_id;
    int32_t dilation_w_id;   /* dilation_h is the next id */
    int32_t quant_dim;       /* per-channel weights' quantized dimension */
} kwsq_conv_kind;

typedef struct {
    int32_t stride_w, stride_h, dil_w, dil_h, pad_w, pad_h;
    int32_t input_offset, output_offset, act_min, act_max;
    int32_t *mult;
    int8_t *shift;
    const uint8_t *filter;  /* the constant weights and bias, in the model */
    const int32_t *bias;    /* NULL = none */
    int32_t filter_h, filter_w, filter_in;
    uint8_t s4;
    bool pot;
} kwsq_conv_params;

/* Checks the weight type; the caller has checked that input/output are int8
 * and that all three are 4-D with the weights constant. */
kwsq_status kwsq_conv_check_weights(struct kwsq_interpreter *ip, const kwsq_node *n,
                                    const kwsq_tensor_int *filter);

/* Everything after the op's own channel-count check: per-channel dimension,
 * bias, options, output size, padding, activation, offsets, multipliers,
 * and the weight and bias pointers and filter size Eval uses. */
kwsq_status kwsq_conv_prepare_params(struct kwsq_interpreter *ip, kwsq_node *n, const kwsq_conv_kind *kind,
                                     kwsq_conv_params *p);

#endif /* KWSQ_CONV_COMMON_H */
