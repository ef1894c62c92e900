/*
 * Shared Prepare of AVERAGE_POOL_2D and MAX_POOL_2D (same options table,
 * same padding rule as TFLite Micro): n->data becomes the kwsq_pool_params
 * their kernels take.
 */
#ifndef KWSQ_POOL_COMMON_H
#define KWSQ_POOL_COMMON_H

#include "kwsq_kernel_util.h"
#include "kwsq_kernels.h"

kwsq_status kwsq_pool_prepare(struct kwsq_interpreter *ip, kwsq_node *n);
/* The same for the int8-only op records (float input refused). */
kwsq_status kwsq_pool_prepare_s8(struct kwsq_interpreter *ip, kwsq_node *n);

#endif /* KWSQ_POOL_COMMON_H */
