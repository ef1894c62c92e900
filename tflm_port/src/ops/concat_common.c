/*
 * Shared by CONCATENATION and PACK; see concat_common.h.
 */
#include <string.h>

#include "concat_common.h"

kwsq_status kwsq_concat_prepare_copy(struct kwsq_interpreter *ip, kwsq_node *n, int32_t axis)
{
    const kwsq_tensor_int *out = kwsq_node_output(ip, n, 0);
    int64_t outer = 1;
    for (int32_t i = 0; i < axis; ++i) {
        outer *= out->v.dims[i];
    }
    int64_t total = 0;
    size_t esize = kwsq_type_size_bits(out->v.type) / 8;
    if (esize == 0 || out->v.type == KWSQ_INT4) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "output %T: type %s not supported", out,
                         kwsq_type_name(out->v.type));
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
    concat_data *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    d->outer = outer;
    n->data = d;
    return KWSQ_OK;
}

kwsq_status kwsq_concat_eval(struct kwsq_interpreter *ip, const kwsq_node *n)
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
