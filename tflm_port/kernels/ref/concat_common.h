/*
 * Shared by CONCATENATION and PACK: both copy equal-typed inputs into
 * consecutive slices of the output along one axis (no requantization, so
 * int8 inputs must share the output's scale and zero point).
 */
#ifndef KWSQ_CONCAT_COMMON_H
#define KWSQ_CONCAT_COMMON_H

#include <string.h>

#include "kwsq_kernel_util.h"

typedef struct {
    int64_t outer;          /* product of output dims before the axis */
    int64_t out_row_bytes;  /* bytes of one outer row of the output */
} concat_data;

/* Checks inputs against the output; `chunk` returns bytes per outer row of input i. */
static inline kwsq_status concat_check_inputs(struct kwsq_interpreter *ip, kwsq_node *n,
                                              const kwsq_tensor_int *out, int64_t outer)
{
    int64_t total = 0;
    size_t esize = kwsq_type_size_bits(out->v.type) / 8;
    if (esize == 0 || out->v.type == KWSQ_INT4) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "type %s not supported", kwsq_type_name(out->v.type));
    }
    for (int32_t i = 0; i < n->num_inputs; ++i) {
        kwsq_tensor_int *t = kwsq_node_input(ip, n, i);
        if (t == NULL || t->v.type != out->v.type) {
            return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input %d missing or of another type", (int)i);
        }
        if (t->v.type == KWSQ_INT8 && (t->v.scale != out->v.scale || t->v.zero_point != out->v.zero_point)) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "input %d quantization differs from the output", (int)i);
        }
        total += (int64_t)t->v.bytes;
    }
    if (outer <= 0 || total != (int64_t)out->v.bytes) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: input sizes do not add up to the output");
    }
    return KWSQ_OK;
}

static inline kwsq_status concat_eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const concat_data *d = n->data;
    uint8_t *y = kwsq_node_output(ip, n, 0)->v.data;
    int64_t pos = 0;
    for (int64_t o = 0; o < d->outer; ++o) {
        for (int32_t i = 0; i < n->num_inputs; ++i) {
            const kwsq_tensor *t = &kwsq_node_input(ip, n, i)->v;
            int64_t chunk = (int64_t)t->bytes / d->outer;
            memcpy(y + pos, (const uint8_t *)t->data + o * chunk, (size_t)chunk);
            pos += chunk;
        }
    }
    return KWSQ_OK;
}

#endif /* KWSQ_CONCAT_COMMON_H */
