/*
 * Shared Prepare for the elementwise binary ops ADD and MUL: NumPy-style
 * broadcasting over up to KWSQ_MAX_DIMS dimensions, resolved to strides once.
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

static inline bool binary_strides(const kwsq_tensor *t, const binary_data *d, int32_t *stride)
{
    int32_t pad = KWSQ_MAX_DIMS - t->num_dims;
    int32_t s = 1;
    for (int32_t i = KWSQ_MAX_DIMS - 1; i >= 0; --i) {
        int32_t dim = i >= pad ? t->dims[i - pad] : 1;
        if (dim != d->dims[i] && dim != 1) {
            return false;
        }
        stride[i] = dim == 1 ? 0 : s;
        s *= dim;
    }
    return true;
}

/* Validates types and shapes and fills the broadcast part of `d`. */
static inline kwsq_status binary_prepare_shapes(struct kwsq_interpreter *ip, kwsq_node *n,
                                                binary_data **out)
{
    kwsq_tensor_int *a = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *b = kwsq_node_input(ip, n, 1);
    kwsq_tensor_int *o = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if (a == NULL || b == NULL || o == NULL) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: needs two inputs and an output");
    }
    if (a->v.type == KWSQ_FLOAT32) {
        if ((st = kwsq_check_tensor(ip, n, b, "input 2", KWSQ_FLOAT32, -1)) != KWSQ_OK ||
            (st = kwsq_check_tensor(ip, n, o, "output", KWSQ_FLOAT32, -1)) != KWSQ_OK) {
            return st;
        }
    } else if ((st = kwsq_check_q8(ip, n, a, "input 1")) != KWSQ_OK ||
               (st = kwsq_check_q8(ip, n, b, "input 2")) != KWSQ_OK ||
               (st = kwsq_check_q8(ip, n, o, "output")) != KWSQ_OK) {
        return st;
    }
    binary_data *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    int32_t pad = KWSQ_MAX_DIMS - o->v.num_dims;
    for (int32_t i = 0; i < KWSQ_MAX_DIMS; ++i) {
        d->dims[i] = i >= pad ? o->v.dims[i - pad] : 1;
    }
    if (!binary_strides(&a->v, d, d->stride1) || !binary_strides(&b->v, d, d->stride2)) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input shapes do not broadcast to the output");
    }
    d->count = (int32_t)kwsq_num_elements(&o->v);
    *out = d;
    return KWSQ_OK;
}

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
