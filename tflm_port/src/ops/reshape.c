/*
 * RESHAPE: the output shape is the one stored in the model (already resolved
 * by the converter); the bytes are shared with the input when it dies here,
 * copied otherwise.
 */
#include <string.h>

#include "kwsq_kernel_util.h"
#include "kwsq_schema.h"

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    if (input == NULL || output == NULL) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: missing input or output");
    }
    if (input->v.type != output->v.type || input->v.bytes != output->v.bytes) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input and output differ in type or size");
    }
    /* Same bytes in the same order: share them when the input dies here. */
    (void)kwsq_alias_output(ip, n, 0, 0);
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    if (input->v.data != output->v.data) {
        memmove(output->v.data, input->v.data, output->v.bytes);
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_reshape = {KWSQ_OP_RESHAPE, KWSQ_OPTIONS_RESHAPE_OPTIONS, prepare, eval, KWSQ_PREPARE_ONLY(1), KWSQ_OP_NAME("RESHAPE")};
