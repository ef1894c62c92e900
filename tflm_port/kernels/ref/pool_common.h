/*
 * Shared by AVERAGE_POOL_2D and MAX_POOL_2D: Prepare (same options table,
 * same padding rule as TFLite Micro; pool_common.c, always built from
 * kernels/ref) and the window clipping of Eval.
 */
#ifndef KWSQ_POOL_COMMON_H
#define KWSQ_POOL_COMMON_H

#include "kwsq_kernel_util.h"

typedef struct {
    int32_t stride_w, stride_h, filter_w, filter_h, pad_w, pad_h;
    int32_t act_min, act_max;
    float fact_min, fact_max;
} pool_data;

kwsq_status kwsq_pool_prepare(struct kwsq_interpreter *ip, kwsq_node *n);

/* The part of the filter window at output (oy, ox) that lies inside the
 * input: taps fy0 <= fy < fy1, fx0 <= fx < fx1 from input (iy0, ix0). */
typedef struct {
    int32_t iy0, ix0, fy0, fy1, fx0, fx1;
} pool_window;

static inline pool_window pool_window_at(const pool_data *d, int32_t in_h, int32_t in_w, int32_t oy, int32_t ox)
{
    pool_window w;
    w.iy0 = oy * d->stride_h - d->pad_h;
    w.ix0 = ox * d->stride_w - d->pad_w;
    w.fy0 = w.iy0 < 0 ? -w.iy0 : 0;
    w.fy1 = d->filter_h < in_h - w.iy0 ? d->filter_h : in_h - w.iy0;
    w.fx0 = w.ix0 < 0 ? -w.ix0 : 0;
    w.fx1 = d->filter_w < in_w - w.ix0 ? d->filter_w : in_w - w.ix0;
    return w;
}

#endif /* KWSQ_POOL_COMMON_H */
