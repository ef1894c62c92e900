/*
 * Shared by the elementwise binary ops ADD and MUL: NumPy-style broadcasting
 * over up to KWSQ_MAX_DIMS dimensions, resolved to strides and runs once in
 * Prepare (binary_common.c) and walked in Eval, one kernel call per run.
 */
#ifndef KWSQ_BINARY_COMMON_H
#define KWSQ_BINARY_COMMON_H

#include "kwsq_kernel_util.h"
#include "kwsq_kernels.h"

typedef struct {
    int32_t dims[KWSQ_MAX_DIMS];      /* output dims, left-padded with 1 */
    int32_t stride1[KWSQ_MAX_DIMS];   /* 0 where input 1 is broadcast */
    int32_t stride2[KWSQ_MAX_DIMS];
    int32_t count;
    /* The walk in runs: the trailing output elements where each input is
     * either contiguous or one repeated value form one run of `run` outputs
     * (one kernel call); run_stride1/2 are 1 or 0; the leading `outer_dims`
     * dimensions are walked with the strides above. */
    int32_t run;
    int32_t run_stride1, run_stride2;
    int32_t outer_dims;
    kwsq_arith_params q;
    kwsq_float_range act;
    /* ADD int8 with a small constant input (at most KWSQ_ADD_CONST_MAX values):
     * its rescaled terms, and q with the inputs swapped when the constant is
     * input 1 (the sum is symmetric); const_input -1 = none. */
    int32_t const_input;
    const int32_t *scaled_const;
    kwsq_arith_params qc;
} binary_data;

/* Largest constant ADD operand whose rescaled terms Prepare keeps (4 bytes of
 * arena each): per-channel batch-norm offsets and scalars. */
#define KWSQ_ADD_CONST_MAX 256

/* The Prepare ADD and MUL share: types, broadcast strides, runs and the
 * element count, op data in n->data, the fused activation's ranges and, for
 * int8, the three zero-point offsets. The caller then derives its
 * multipliers. */
kwsq_status kwsq_binary_prepare(struct kwsq_interpreter *ip, kwsq_node *n, bool *is_float);

/* Eval of ADD and MUL: for every run, st = fn(params, d->run, a + ia, sa,
 * b + ib, sb, out + o) when that is not KWSQ_OK, where ia and ib are the
 * run's first element offsets into inputs 1 and 2 (swapped when `swap`: a
 * then walks input 2) and o the output offset. */
#define BINARY_CALL_RUNS(d, st, swap, fn, params, a, sa, b, sb, out)                              \
    do {                                                                                          \
        int32_t idx_[KWSQ_MAX_DIMS] = {0};                                                        \
        int64_t i1_ = 0, i2_ = 0;                                                                 \
        for (int64_t o_ = 0; o_ < (d)->count; o_ += (d)->run) {                                   \
            const kwsq_status s_ = fn((params), (d)->run, (a) + ((swap) ? i2_ : i1_), (sa),       \
                                      (b) + ((swap) ? i1_ : i2_), (sb), (out) + o_);              \
            (st) = s_ != KWSQ_OK ? s_ : (st);                                                     \
            for (int32_t k_ = (d)->outer_dims - 1; k_ >= 0; --k_) {                               \
                i1_ += (d)->stride1[k_];                                                          \
                i2_ += (d)->stride2[k_];                                                          \
                if (++idx_[k_] < (d)->dims[k_]) {                                                 \
                    break;                                                                        \
                }                                                                                 \
                i1_ -= (int64_t)(d)->stride1[k_] * (d)->dims[k_];                                 \
                i2_ -= (int64_t)(d)->stride2[k_] * (d)->dims[k_];                                 \
                idx_[k_] = 0;                                                                     \
            }                                                                                     \
        }                                                                                         \
    } while (0)

#endif /* KWSQ_BINARY_COMMON_H */
