/*
 * Shared by CONCATENATION and PACK: both copy equal-typed inputs into
 * consecutive slices of the output along one axis (no requantization, so
 * int8 inputs must share the output's scale and zero point). Built from
 * kernels/ref always (concat_common.c).
 */
#ifndef KWSQ_CONCAT_COMMON_H
#define KWSQ_CONCAT_COMMON_H

#include "kwsq_kernel_util.h"

typedef struct {
    int64_t outer;          /* product of output dims before the axis */
    int64_t out_row_bytes;  /* bytes of one outer row of the output */
} concat_data;

/* The end of both Prepares, once the shapes are checked: every input has the
 * output's type (and quantization), the sizes add up, and the op data holds
 * the number of outer rows (product of output dims before `axis`). */
kwsq_status kwsq_concat_prepare_copy(struct kwsq_interpreter *ip, kwsq_node *n, int32_t axis);

/* Eval of both: input slices copied row by row into the output. */
kwsq_status kwsq_concat_eval(struct kwsq_interpreter *ip, const kwsq_node *n);

#endif /* KWSQ_CONCAT_COMMON_H */
