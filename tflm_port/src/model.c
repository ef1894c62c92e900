/*
 * The model parser: tensors (shape, type, quantization, constant data) and
 * operators (op code, inputs, outputs, options) from the validated
 * flatbuffer (fb.c), with every count and index checked before use.
 */
#include <string.h>

#include "kwsq_load.h"
#include "kwsq_schema.h"

#define KWSQ_MAX_ELEMENTS (1LL << 30)
#define KWSQ_MAX_TENSOR_BYTES 0x7FFFFFFFLL

/* Data of buffer `index`: *data NULL when the buffer is empty. */
static bool buffer_data(struct kwsq_interpreter *ip, const kwsq_fb_vec *buffers, uint32_t index,
                        const uint8_t **data, size_t *len)
{
    kwsq_fb_table b;
    kwsq_fb_vec d;
    uint64_t off = 0, size = 0;
    *data = NULL;
    *len = 0;
    if (index >= buffers->count || !kwsq_fb_vec_table(&ip->fb, buffers, index, &b) ||
        !kwsq_fb_vector(&ip->fb, &b, KWSQ_FIELD_BUFFER_DATA, 1, &d) ||
        !kwsq_fb_u64(&ip->fb, &b, KWSQ_FIELD_BUFFER_OFFSET, 0, &off) ||
        !kwsq_fb_u64(&ip->fb, &b, KWSQ_FIELD_BUFFER_SIZE, 0, &size)) {
        return false;
    }
    if (d.count > 0) {
        *data = ip->fb.buf + d.pos;
        *len = d.count;
    } else if (off > 1) {
        /* Large models keep buffers after the flatbuffer, addressed from file start. */
        if (off > ip->fb.len || size > ip->fb.len - off) {
            return false;
        }
        *data = ip->fb.buf + off;
        *len = (size_t)size;
    }
    return true;
}

static kwsq_status parse_tensor(kwsq_interpreter *ip, const kwsq_fb_table *t,
                                const kwsq_fb_vec *buffers, kwsq_tensor_int *out, int32_t index)
{
    kwsq_fb_vec shape, scales, zeros;
    kwsq_fb_table q, sparsity;
    bool has_q = false, has_sparsity = false;
    int32_t type = 0, is_var = 0, qdim = 0;
    uint32_t buffer = 0;
    const uint8_t *data;
    size_t data_len;

    if (!kwsq_fb_vector(&ip->fb, t, KWSQ_FIELD_TENSOR_SHAPE, 4, &shape) ||
        !kwsq_fb_i8(&ip->fb, t, KWSQ_FIELD_TENSOR_TYPE, 0, &type) ||
        !kwsq_fb_u32(&ip->fb, t, KWSQ_FIELD_TENSOR_BUFFER, 0, &buffer) ||
        !kwsq_fb_subtable(&ip->fb, t, KWSQ_FIELD_TENSOR_QUANTIZATION, &has_q, &q) ||
        !kwsq_fb_u8(&ip->fb, t, KWSQ_FIELD_TENSOR_IS_VARIABLE, 0, &is_var) ||
        !kwsq_fb_subtable(&ip->fb, t, KWSQ_FIELD_TENSOR_SPARSITY, &has_sparsity, &sparsity)) {
        return kwsq_model_error(ip, "corrupt tensor table");
    }
    if (shape.count > KWSQ_MAX_DIMS) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "%I has %d dimensions (max %d)",
                         (int)index, (int)shape.count, KWSQ_MAX_DIMS);
    }
    if (has_sparsity) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "%I is sparse (not supported)", (int)index);
    }
    if (is_var) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "%I is a variable tensor (not supported)",
                         (int)index);
    }
    out->v.type = (kwsq_type)type;
    out->v.num_dims = (int32_t)shape.count;
    for (uint32_t i = 0; i < shape.count; ++i) {
        int32_t d = (int32_t)kwsq_rd_u32(ip->fb.buf + shape.pos + 4u * i);
        if (d < 0) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "%I has a dynamic dimension",
                             (int)index);
        }
        out->v.dims[i] = d;
    }
    int64_t n = 1;
    for (int32_t i = 0; i < out->v.num_dims; ++i) {
        n *= out->v.dims[i];
        if (n > KWSQ_MAX_ELEMENTS) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_MODEL, "invalid model: %I is too large", (int)index);
        }
    }
    /* In 64 bits, and refused above 2 GiB, so the size is the same number on
     * a 32-bit target (a 2^30-element float tensor is 4 GiB, 0 in 32 bits). */
    const size_t bits = kwsq_type_size_bits(out->v.type);
    const int64_t bytes = (n * (int64_t)bits + 7) / 8;
    if (bytes > KWSQ_MAX_TENSOR_BYTES) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_MODEL, "invalid model: %I is too large", (int)index);
    }
    out->v.bytes = (size_t)bytes;
    out->m->first_use = -1;
    out->m->last_use = -1;
    out->m->alias = -1;

    if (has_q) {
        if (!kwsq_fb_vector(&ip->fb, &q, KWSQ_FIELD_QUANTIZATION_PARAMETERS_SCALE, 4, &scales) ||
            !kwsq_fb_vector(&ip->fb, &q, KWSQ_FIELD_QUANTIZATION_PARAMETERS_ZERO_POINT, 8, &zeros) ||
            !kwsq_fb_i32(&ip->fb, &q, KWSQ_FIELD_QUANTIZATION_PARAMETERS_QUANTIZED_DIMENSION, 0, &qdim)) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_MODEL, "invalid model: %I: corrupt quantization parameters",
                             (int)index);
        }
        if (scales.count > 0) {
            if (zeros.count != 0 && zeros.count != scales.count) {
                return kwsq_fail(ip, NULL, KWSQ_ERR_MODEL, "invalid model: %I: scale and zero point counts differ",
                                 (int)index);
            }
            if (scales.count > 1 && (qdim < 0 || qdim >= out->v.num_dims ||
                                     (uint32_t)out->v.dims[qdim] != scales.count)) {
                return kwsq_fail(ip, NULL, KWSQ_ERR_MODEL,
                                 "invalid model: %I: per-channel scales do not match the quantized dimension",
                                 (int)index);
            }
            out->m->scales = ip->fb.buf + scales.pos;
            out->m->zeros = zeros.count ? ip->fb.buf + zeros.pos : NULL;
            out->m->quant_dim = (int8_t)(scales.count > 1 ? qdim : 0);
            out->v.num_channels = (int32_t)scales.count;
            out->v.scale = kwsq_rd_f32(out->m->scales);
            out->v.zero_point = out->m->zeros ? (int32_t)kwsq_rd_i64(out->m->zeros) : 0;
        }
    }

    if (!buffer_data(ip, buffers, buffer, &data, &data_len)) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_MODEL, "invalid model: %I: corrupt or missing buffer", (int)index);
    }
    if (data != NULL) {
        if (bits == 0) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "constant %I has type %s",
                             (int)index, kwsq_type_name(out->v.type));
        }
        if (data_len < out->v.bytes) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_MODEL, "invalid model: constant %I: buffer shorter than the tensor",
                             (int)index);
        }
        if (bits >= 16 && ((uintptr_t)data & 3u) != 0) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED,
                             "constant %I is not 4-byte aligned (load the model 16-byte aligned)",
                             (int)index);
        }
        out->v.data = (void *)(uintptr_t)data;
        out->m->is_const = 1;
    }
    return KWSQ_OK;
}

/* Reads v's tensor indices into out (room for v->count). */
kwsq_status kwsq_read_index_vec(struct kwsq_interpreter *ip, const kwsq_fb_vec *v, int16_t *out, bool allow_absent)
{
    for (uint32_t i = 0; i < v->count; ++i) {
        int32_t idx = (int32_t)kwsq_rd_u32(ip->fb.buf + v->pos + 4u * i);
        if (idx < -1 || idx >= (int32_t)ip->init->tensors.count || (idx == -1 && !allow_absent)) {
            return kwsq_model_error(ip, "tensor index out of range");
        }
        out[i] = (int16_t)idx;
    }
    return KWSQ_OK;
}

/* The op's name for a refusal; "builtin" in a build without op names (the
 * message gives the code anyway). */
static const char *op_name(int32_t builtin)
{
    const char *name = kwsq_builtin_name(builtin);
    return name != NULL ? name : "builtin";
}

kwsq_status kwsq_parse_operator(struct kwsq_interpreter *ip, const kwsq_fb_table *op, kwsq_node *n,
                                kwsq_node_meta *nm)
{
    uint32_t opcode_index = 0;
    kwsq_fb_table oc;
    kwsq_fb_vec ins, outs;
    int32_t deprecated = 0, builtin = 0, options_type = 0;
    kwsq_status st;
    bool has_custom = false;
    kwsq_fb_vec custom_name;

    const kwsq_fb_vec *opcodes = &ip->init->opcodes;
    if (!kwsq_fb_u32(&ip->fb, op, KWSQ_FIELD_OPERATOR_OPCODE_INDEX, 0, &opcode_index) ||
        opcode_index >= opcodes->count || !kwsq_fb_vec_table(&ip->fb, opcodes, opcode_index, &oc) ||
        !kwsq_fb_i8(&ip->fb, &oc, KWSQ_FIELD_OPERATOR_CODE_DEPRECATED_BUILTIN_CODE, 0, &deprecated) ||
        !kwsq_fb_i32(&ip->fb, &oc, KWSQ_FIELD_OPERATOR_CODE_BUILTIN_CODE, 0, &builtin) ||
        !kwsq_fb_vector(&ip->fb, &oc, KWSQ_FIELD_OPERATOR_CODE_CUSTOM_CODE, 1, &custom_name)) {
        return kwsq_model_error(ip, "corrupt operator code");
    }
    has_custom = custom_name.count > 0;
    /* Extended builtin codes (>127) live in builtin_code; old files only fill the
     * deprecated byte. The larger of the two is the real one. */
    if (deprecated > builtin) {
        builtin = deprecated;
    }
    if (builtin == KWSQ_OP_CUSTOM) {
        char name[48];
        size_t len = custom_name.count < sizeof name - 1 ? custom_name.count : sizeof name - 1;
        if (has_custom) {
            memcpy(name, ip->fb.buf + custom_name.pos, len);
        }
        name[has_custom ? len : 0] = '\0';
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "custom op '%s' (op %d) is not supported", name,
                         (int)(n - ip->nodes));
    }
    n->kernel = kwsq_find_kernel(ip->ops, builtin);
    if (n->kernel == NULL && !ip->ops->complete) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED,
                         "%s (op %d): op not in the op list this program was built with (builtin code %d)",
                         op_name(builtin), (int)(n - ip->nodes), (int)builtin);
    }
    if (n->kernel == NULL) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "%s (op %d): op not supported by kwsq (builtin code %d)",
                         op_name(builtin), (int)(n - ip->nodes), (int)builtin);
    }
    if (!kwsq_fb_vector(&ip->fb, op, KWSQ_FIELD_OPERATOR_INPUTS, 4, &ins) ||
        !kwsq_fb_vector(&ip->fb, op, KWSQ_FIELD_OPERATOR_OUTPUTS, 4, &outs) ||
        !kwsq_fb_u8(&ip->fb, op, KWSQ_FIELD_OPERATOR_BUILTIN_OPTIONS_TYPE, 0, &options_type) ||
        !kwsq_fb_subtable(&ip->fb, op, KWSQ_FIELD_OPERATOR_BUILTIN_OPTIONS, &nm->has_options, &nm->options)) {
        return kwsq_model_error(ip, "corrupt operator");
    }
    if (nm->has_options && options_type != n->kernel->options_type) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: builtin options of type %d",
                         (int)options_type);
    }
    if (ins.count > KWSQ_MAX_NODE_TENSORS || outs.count > KWSQ_MAX_NODE_TENSORS) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "more than %d inputs or outputs",
                         KWSQ_MAX_NODE_TENSORS);
    }
    n->num_inputs = (uint8_t)ins.count;
    n->num_outputs = (uint8_t)outs.count;
    n->io = kwsq_alloc_persistent(ip, 2u * (ins.count + outs.count));
    if (n->io == NULL) {
        return KWSQ_ERR_ARENA;
    }
    st = kwsq_read_index_vec(ip, &ins, n->io, true);
    if (st == KWSQ_OK) {
        st = kwsq_read_index_vec(ip, &outs, n->io + n->num_inputs, false);
    }
    return st;
}

kwsq_status kwsq_load_tensor(struct kwsq_interpreter *ip, uint32_t index, kwsq_tensor_int *out)
{
    kwsq_fb_table t;
    if (!kwsq_fb_vec_table(&ip->fb, &ip->init->tensors, index, &t)) {
        return kwsq_model_error(ip, "corrupt tensor");
    }
    return parse_tensor(ip, &t, &ip->init->buffers, out, (int32_t)index);
}

