/*
 * Shared by the elementwise binary ops ADD and MUL: NumPy-style broadcasting
 * over up to KWSQ_MAX_DIMS dimensions, resolved to strides once in Prepare
 * (binary_common.c, always built from kernels/ref) and walked in Eval.
 */
#ifndef KWSQ_BINARY_COMMON_H
#define KWSQ_BINARY_COMMON_H

#include "kwsq_kernel_util.h"

typedef struct {
    int32_t dims[KWSQ_MAX_DIMS];      /* output dims, left-padded with 1 */
    int32_t stride1[KWSQ_MAX_DIMS];   /* 0 where input 1 is broadcast */
    int32_t stride2[KWSQ_MAX_DIMS];
    int32_t count;
    int32_t in1_offset, in2_offset, out_offset;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift, out_mult, out_shift;
    int32_t left_shift;
    int32_t act_min, act_max;
    float fact_min, fact_max;
} binary_data;

/* The Prepare ADD and MUL share: types, broadcast strides and the element
 * count, op data in n->data, the fused activation's ranges and, for int8,
 * the three zero-point offsets. The caller then derives its multipliers. */
kwsq_status kwsq_binary_prepare(struct kwsq_interpreter *ip, kwsq_node *n, bool *is_float);

/* Calls `body(d, i1, i2, o)` for every output element in row-major order. */
#define BINARY_FOR_EACH(d, body)                                                          \
    do {                                                                                  \
        int32_t idx_[KWSQ_MAX_DIMS] = {0};                                                \
        int64_t i1_ = 0, i2_ = 0;                                                         \
        for (int64_t o_ = 0; o_ < (d)->count; ++o_) {                                     \
            body(i1_, i2_, o_);                                                           \
            for (int32_t k_ = KWSQ_MAX_DIMS - 1; k_ >= 0; --k_) {                         \
                i1_ += (d)->stride1[k_];                                                  \
                i2_ += (d)->stride2[k_];                                                  \
                if (++idx_[k_] < (d)->dims[k_]) {                                         \
                    break;                                                                \
                }                                                                         \
                i1_ -= (int64_t)(d)->stride1[k_] * (d)->dims[k_];                         \
                i2_ -= (int64_t)(d)->stride2[k_] * (d)->dims[k_];                         \
                idx_[k_] = 0;                                                             \
            }                                                                             \
        }                                                                                 \
    } while (0)

#endif /* KWSQ_BINARY_COMMON_H */
