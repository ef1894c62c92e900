/*
 * The op table: builtin code -> kernel. Kernels come from one folder
 * (kernels/ref, or an optimized sibling with the same file names), chosen by
 * the build; nothing here knows which variant is linked.
 */
#include "kwsq_internal.h"

#define KWSQ_KERNELS(X)          \
    X(add)                       \
    X(average_pool_2d)           \
    X(concatenation)             \
    X(conv_2d)                   \
    X(depthwise_conv_2d)         \
    X(dequantize)                \
    X(fully_connected)           \
    X(logistic)                  \
    X(max_pool_2d)               \
    X(mul)                       \
    X(pack)                      \
    X(quantize)                  \
    X(relu)                      \
    X(relu6)                     \
    X(reshape)                   \
    X(shape)                     \
    X(softmax)                   \
    X(strided_slice)             \
    X(tanh)

#define DECLARE(name) extern const kwsq_kernel kwsq_kernel_##name;
KWSQ_KERNELS(DECLARE)
#undef DECLARE

#define ENTRY(name) &kwsq_kernel_##name,
static const kwsq_kernel *const k_kernels[] = {KWSQ_KERNELS(ENTRY)};
#undef ENTRY

const kwsq_kernel *kwsq_find_kernel(int32_t builtin)
{
    for (size_t i = 0; i < sizeof k_kernels / sizeof k_kernels[0]; ++i) {
        if (k_kernels[i]->builtin == builtin) {
            return k_kernels[i];
        }
    }
    return NULL;
}
