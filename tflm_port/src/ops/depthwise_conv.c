/*
 * DEPTHWISE_CONV_2D int8 (weights 1HWC int8 or packed INT4, per-channel,
 * any depth multiplier): conv_common.c prepares, Eval calls
 * kwsq_depthwise_conv_s8 / _s4 (kernels/ref or a variant folder). Three op
 * records: both weight types, int8 only, INT4 only (kwsq_ops.h); the first
 * also takes float32 (conv_f32.c).
 */
#include "conv_common.h"
#include "kwsq_schema.h"

#define KIND(s8, s8_size, s4, s4_size, persist) \
    {KWSQ_FIELD_DEPTHWISE_CONV2D_OPTIONS_PADDING, KWSQ_FIELD_DEPTHWISE_CONV2D_OPTIONS_STRIDE_W, KWSQ_FIELD_DEPTHWISE_CONV2D_OPTIONS_STRIDE_H, \
     KWSQ_FIELD_DEPTHWISE_CONV2D_OPTIONS_FUSED_ACTIVATION_FUNCTION, KWSQ_FIELD_DEPTHWISE_CONV2D_OPTIONS_DILATION_W_FACTOR, \
     KWSQ_FIELD_DEPTHWISE_CONV2D_OPTIONS_DILATION_H_FACTOR, true, s8, s8_size, s4, s4_size KWSQ_CONV_PERSIST(persist)}
#define RECORD(name, kind) KWSQ_CONV_RECORD(name, kind, KWSQ_OP_DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D", KWSQ_OPTIONS_DEPTHWISE_CONV2D_OPTIONS)

static const kwsq_conv_kind k_all = KIND(kwsq_depthwise_conv_s8, kwsq_depthwise_conv_s8_get_buffer_size, kwsq_depthwise_conv_s4,
                                         kwsq_depthwise_conv_s4_get_buffer_size, kwsq_depthwise_conv_s8_persist);
static const kwsq_conv_kind k_s8 = KIND(kwsq_depthwise_conv_s8, kwsq_depthwise_conv_s8_get_buffer_size, NULL, NULL,
                                        kwsq_depthwise_conv_s8_persist);
static const kwsq_conv_kind k_s4 = KIND(NULL, NULL, kwsq_depthwise_conv_s4, kwsq_depthwise_conv_s4_get_buffer_size, NULL);

KWSQ_CONV_RECORD_ANY(kwsq_kernel_depthwise_conv_2d, k_all, KWSQ_OP_DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D",
                     KWSQ_OPTIONS_DEPTHWISE_CONV2D_OPTIONS)
RECORD(kwsq_kernel_depthwise_conv_2d_s8, k_s8)
RECORD(kwsq_kernel_depthwise_conv_2d_s4, k_s4)
