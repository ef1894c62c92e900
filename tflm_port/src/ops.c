/*
 * The op table: builtin code -> op, looked up in the op list the
 * interpreter was initialized with (kwsq_ops.h). kwsq_all_ops lists every op;
 * an application that lists only its model's ops links only those.
 */
#include "kwsq_internal.h"

static const kwsq_kernel *const k_all[] = {
    &kwsq_kernel_add,
    &kwsq_kernel_average_pool_2d,
    &kwsq_kernel_concatenation,
    &kwsq_kernel_conv_2d,
    &kwsq_kernel_depthwise_conv_2d,
    &kwsq_kernel_dequantize,
    &kwsq_kernel_fully_connected,
    &kwsq_kernel_logistic,
    &kwsq_kernel_max_pool_2d,
    &kwsq_kernel_mul,
    &kwsq_kernel_pack,
    &kwsq_kernel_quantize,
    &kwsq_kernel_relu,
    &kwsq_kernel_relu6,
    &kwsq_kernel_reshape,
    &kwsq_kernel_shape,
    &kwsq_kernel_softmax,
    &kwsq_kernel_strided_slice,
    &kwsq_kernel_tanh,
};

const kwsq_op_resolver kwsq_all_ops = {k_all, sizeof k_all / sizeof k_all[0], true};

const kwsq_kernel *kwsq_find_kernel(const kwsq_op_resolver *ops, int32_t builtin)
{
    for (size_t i = 0; i < ops->count; ++i) {
        if (ops->kernels[i] != NULL && ops->kernels[i]->builtin == builtin) {
            return ops->kernels[i];
        }
    }
    return NULL;
}
