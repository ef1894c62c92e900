/*
 * AVERAGE_POOL_2D int8 and float (kwsq_avg_pool_s8 / _f32); Prepare is
 * kwsq_pool_prepare (pool_common.c). kwsq_kernel_average_pool_2d_s8 (kwsq_ops.h) takes int8
 * only and links no float kernel.
 */
#include "kwsq_schema.h"
#include "pool_common.h"

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const kwsq_pool_params *d = n->data;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    const kwsq_dims in_dims = kwsq_dims_of(in), out_dims = kwsq_dims_of(out);
    const kwsq_status st = in->type == KWSQ_FLOAT32
                               ? kwsq_avg_pool_f32(d, &in_dims, in->data, &out_dims, out->data)
                               : kwsq_avg_pool_s8(d, &in_dims, in->data, &out_dims, out->data);
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "window outside the input");
}

static kwsq_status eval_s8(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    const kwsq_dims in_dims = kwsq_dims_of(in), out_dims = kwsq_dims_of(out);
    const kwsq_status st = kwsq_avg_pool_s8(n->data, &in_dims, in->data, &out_dims, out->data);
    return st == KWSQ_OK ? KWSQ_OK : kwsq_fail(ip, n, st, "window outside the input");
}

const kwsq_kernel kwsq_kernel_average_pool_2d = {KWSQ_OP_AVERAGE_POOL_2D, KWSQ_OPTIONS_POOL2D_OPTIONS, kwsq_pool_prepare, eval, 0, KWSQ_OP_NAME("AVERAGE_POOL_2D")};
const kwsq_kernel kwsq_kernel_average_pool_2d_s8 = {KWSQ_OP_AVERAGE_POOL_2D, KWSQ_OPTIONS_POOL2D_OPTIONS, kwsq_pool_prepare_s8, eval_s8, 0, KWSQ_OP_NAME("AVERAGE_POOL_2D")};
