/*
 * Preparation helpers shared by several kernels (multipliers, padding), so
 * every kernel derives them the same way TFLite Micro does.
 */
#ifndef KWSQ_KERNEL_UTIL_H
#define KWSQ_KERNEL_UTIL_H

#include "kwsq_internal.h"
#include "kwsq_kernels.h"
#include "kwsq_math.h"

/* Schema enums used by several kernels. */
#define KWSQ_PADDING_SAME 0
#define KWSQ_PADDING_VALID 1

/* Per-channel (or replicated per-tensor) requantization multipliers for
 * input * filter -> output, as TFLM's PopulateConvolutionQuantizationParams;
 * *pot is set when every ratio is a power of two (shift-only path; never
 * with -DKWSQ_NO_SHIFT_ONLY, a switch for measuring what it buys). The
 * arrays are allocated (persistent) unless *mult and *shift already point to
 * room for `channels` values. */
kwsq_status kwsq_conv_multipliers(struct kwsq_interpreter *ip, const kwsq_node *n,
                                  const kwsq_tensor_int *input, const kwsq_tensor_int *filter,
                                  const kwsq_tensor_int *output, int32_t channels, int32_t **mult,
                                  int8_t **shift, bool *pot);

/* accum_bound of kwsq_kernels.h: the weights of channel c are elements
 * c * ch_stride + k * k_stride, k < len, of the constant filter (int8 or
 * packed INT4); z is the input zero point. */
int32_t kwsq_accum_bound(const kwsq_tensor_int *filter, int32_t channels, int32_t len, int32_t ch_stride,
                         int32_t k_stride, int32_t z);

int32_t kwsq_out_size(int32_t padding, int32_t in, int32_t filter, int32_t stride, int32_t dilation);
/* ComputePaddingWithOffset: the leading padding. */
int32_t kwsq_padding(int32_t stride, int32_t dilation, int32_t in, int32_t filter, int32_t out);

/* Checks that a tensor exists, has the type and rank given (rank < 0: any). */
kwsq_status kwsq_check_tensor(struct kwsq_interpreter *ip, const kwsq_node *n,
                              const kwsq_tensor_int *t, const char *role, kwsq_type type,
                              int32_t rank);
/* Quantized int8 tensor with a per-tensor scale > 0. */
kwsq_status kwsq_check_q8(struct kwsq_interpreter *ip, const kwsq_node *n,
                          const kwsq_tensor_int *t, const char *role);

/* NHWC dims of a 4-D tensor view. */
static inline kwsq_dims kwsq_dims_of(const kwsq_tensor *t)
{
    kwsq_dims d;
    d.n = t->dims[0];
    d.h = t->dims[1];
    d.w = t->dims[2];
    d.c = t->dims[3];
    return d;
}

#endif /* KWSQ_KERNEL_UTIL_H */
