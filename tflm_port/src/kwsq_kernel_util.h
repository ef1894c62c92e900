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

/* The per-channel requantization of a conv, depthwise or FULLY_CONNECTED op
 * (input * filter -> output, TFLM's PopulateConvolutionQuantizationParams):
 * the multiplier and shift tables of kwsq_quant_params. TFLM keeps them for
 * the whole run (5 bytes per channel and op); here each op's Eval computes
 * them from the scales in the model (kwsq_quantize_ratio, integer only) into
 * a scratch buffer of its own, which the planner overlaps with every other
 * op's scratch and dead activations. -DKWSQ_PERSISTENT_QUANT keeps them
 * persistent instead, computed once in Prepare (TFLM's way: more RAM, a few
 * instructions less per channel and inference). */
typedef struct {
    const uint8_t *scales;  /* the filter's float32 scales in the model; NULL = scale 0 */
    int32_t channels;       /* table entries */
#ifdef KWSQ_PERSISTENT_QUANT
    int32_t *mult;
    int8_t *shift;
#endif
    bool per_channel;       /* one filter scale per channel, else scales[0] for all */
    bool pot;               /* kwsq_quant_params.pot */
    int8_t slot;            /* scratch slot of the tables */
} kwsq_quant_tables;

/* Checks the filter's scale count, computes every channel once (the shift
 * range, the power-of-two flag; never pot with -DKWSQ_NO_SHIFT_ONLY, a switch
 * for measuring what it buys) and asks for the tables' scratch: call it after
 * the op's own scratch requests. */
kwsq_status kwsq_quant_tables_prepare(struct kwsq_interpreter *ip, kwsq_node *n, const kwsq_tensor_int *input,
                                      const kwsq_tensor_int *filter, const kwsq_tensor_int *output,
                                      int32_t channels, kwsq_quant_tables *qt);
/* Eval: fills the tables for input scale `in_scale` and output scale
 * `out_scale` (the op's kept tensors) and points `q` at them. */
void kwsq_quant_tables_eval(const struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_quant_tables *qt,
                            float in_scale, float out_scale, kwsq_quant_params *q);

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
#ifdef KWSQ_SHORT_ERRORS
/* `role` only names the tensor in a message: none is kept (kwsq_internal.h). */
#define kwsq_check_tensor(ip, n, t, role, type, rank) kwsq_check_tensor((ip), (n), (t), NULL, (type), (rank))
#define kwsq_check_q8(ip, n, t, role) kwsq_check_q8((ip), (n), (t), NULL)
#endif

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
