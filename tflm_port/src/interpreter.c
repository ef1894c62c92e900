/*
 * The interpreter: parse and validate the model, prepare every operator
 * (all checks and precomputation happen here, never in Eval), plan the arena
 * and run the operators in order.
 *
 * Arena layout: [interpreter | nodes | tensor indices | kept tensors |
 * per-op data ...][planned activations and scratch] ... [load-time metadata].
 * The first part grows by bump allocation during init; the metadata (option
 * tables, quantization vectors, lifetimes, planner work space, views of the
 * constants only Prepare reads) grows down from the end and is dead once
 * init returns, so the planned part may overlap it. The planner is greedy by
 * size over tensor lifetimes; ops that can compute in place
 * (kwsq_alias_output) share their input's memory.
 */
#include <stdarg.h>
#include <string.h>

#include "kwsq_internal.h"

#define ALIGN_PERSIST 8u
#define ALIGN_PLAN 8u
#define MAX_ELEMENTS (1LL << 30)

/* Per-op state only Prepare and the planner need. */
typedef struct {
    kwsq_fb_table options;
    uint32_t scratch_size[KWSQ_MAX_SCRATCH]; /* 0 = slot unused */
    bool has_options;
} node_meta;

struct kwsq_init_ctx {
    kwsq_fb_vec tensors;        /* the subgraph's tensor tables */
    kwsq_fb_vec buffers;
    int16_t *map;               /* model tensor index -> kept tensor index, -1 = not kept */
    uint8_t *is_const;          /* by model tensor index */
    node_meta *nodes;
    kwsq_tensor_int *views;     /* inputs of the op in Prepare that are not kept, in slot order */
};

static size_t align_up(size_t x, size_t a)
{
    return (x + a - 1u) & ~(a - 1u);
}

/* ---- error messages ----------------------------------------------------- */

static void append(char *dst, size_t cap, size_t *len, const char *s)
{
    while (*s != '\0' && *len + 1 < cap) {
        dst[(*len)++] = *s++;
    }
    dst[*len] = '\0';
}

static void append_int(char *dst, size_t cap, size_t *len, long long v)
{
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? (unsigned long long)(-(v + 1)) + 1u : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
    } while (u != 0 && n < 22);
    if (v < 0) {
        tmp[n++] = '-';
    }
    char out[24];
    for (int i = 0; i < n; ++i) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = '\0';
    append(dst, cap, len, out);
}

static void vformat(char *dst, size_t cap, size_t *len, const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p != '\0'; ++p) {
        if (*p == '%' && p[1] == 's') {
            const char *s = va_arg(ap, const char *);
            append(dst, cap, len, s != NULL ? s : "(null)");
            ++p;
        } else if (*p == '%' && p[1] == 'd') {
            append_int(dst, cap, len, va_arg(ap, int));
            ++p;
        } else if (*p == '%' && p[1] == 'u') {
            append_int(dst, cap, len, (long long)va_arg(ap, unsigned long));
            ++p;
        } else {
            char c[2] = {*p, '\0'};
            append(dst, cap, len, c);
        }
    }
}

void kwsq_format(char *dst, size_t cap, const char *fmt, ...)
{
    size_t len = 0;
    va_list ap;
    if (cap == 0) {
        return;
    }
    dst[0] = '\0';
    va_start(ap, fmt);
    vformat(dst, cap, &len, fmt, ap);
    va_end(ap);
}

kwsq_status kwsq_fail(struct kwsq_interpreter *ip, const kwsq_node *n, kwsq_status status,
                      const char *fmt, ...)
{
    kwsq_error *err = ip != NULL ? ip->err : NULL;
    if (err != NULL) {
        size_t len = 0;
        va_list ap;
        err->message[0] = '\0';
        if (n != NULL) {
            append(err->message, sizeof err->message, &len, n->kernel != NULL ? kwsq_builtin_name(n->kernel->builtin) : "?");
            append(err->message, sizeof err->message, &len, ": ");
        }
        va_start(ap, fmt);
        vformat(err->message, sizeof err->message, &len, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* ---- services for kernels ----------------------------------------------- */

/* During init ip->used tracks the peak of persistent + temporary bytes: the
 * arena must hold it even where temporary memory is given back later. */
static void note_peak(struct kwsq_interpreter *ip)
{
    size_t now = align_up(ip->persist_used, ALIGN_PERSIST) + ip->temp_used;
    if (now > ip->used) {
        ip->used = now;
    }
}

/* Load-time-only memory from the far end of the arena (given back by
 * resetting temp_used, or overwritten by the planned activations after
 * init). */
static void *alloc_temp(struct kwsq_interpreter *ip, size_t bytes)
{
    size_t need = align_up(bytes, ALIGN_PERSIST);
    size_t start = align_up(ip->persist_used, ALIGN_PERSIST);
    if (start > ip->arena_len || need > ip->arena_len - start - ip->temp_used) {
        ip->temp_used += need;
        note_peak(ip);
        return NULL;
    }
    ip->temp_used += need;
    note_peak(ip);
    uint8_t *p = ip->arena + ip->arena_len - ip->temp_used;
    memset(p, 0, need);
    return p;
}

void *kwsq_alloc_persistent(struct kwsq_interpreter *ip, size_t bytes)
{
    size_t start = align_up(ip->persist_used, ALIGN_PERSIST);
    size_t limit = ip->arena_len - ip->temp_used;
    if (start > limit || bytes > limit - start) {
        /* Keep counting so the error can say how much would be needed. */
        ip->persist_used = start + bytes;
        note_peak(ip);
        return NULL;
    }
    ip->persist_used = start + bytes;
    note_peak(ip);
    memset(ip->arena + start, 0, bytes);
    return ip->arena + start;
}

int32_t kwsq_request_scratch(struct kwsq_interpreter *ip, kwsq_node *n, size_t bytes)
{
    int32_t slot;
    if (ip->init == NULL) {
        return -1;
    }
    uint32_t *size = ip->init->nodes[n - ip->nodes].scratch_size;
    for (slot = 0; slot < KWSQ_MAX_SCRATCH && size[slot] != 0; ++slot) {
    }
    if (slot == KWSQ_MAX_SCRATCH || bytes == 0 || bytes > 0x7FFFFFFFu) {
        return -1;
    }
    size[slot] = (uint32_t)bytes;
    return slot;
}

void *kwsq_scratch(const struct kwsq_interpreter *ip, const kwsq_node *n, int32_t slot)
{
    return ip->arena + n->scratch_offset[slot];
}

static bool is_graph_io(const kwsq_interpreter *ip, int32_t t)
{
    for (int32_t i = 0; i < ip->num_inputs; ++i) {
        if (ip->inputs[i] == t) {
            return true;
        }
    }
    for (int32_t i = 0; i < ip->num_outputs; ++i) {
        if (ip->outputs[i] == t) {
            return true;
        }
    }
    return false;
}

bool kwsq_alias_output(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t out_i, int32_t in_i)
{
    if (ip->init == NULL || in_i < 0 || in_i >= n->num_inputs || out_i < 0 || out_i >= n->num_outputs ||
        n->io[in_i] < 0) {
        return false;
    }
    const int32_t node = (int32_t)(n - ip->nodes);
    const int32_t in_idx = n->io[in_i], out_idx = n->io[n->num_inputs + out_i];
    const int32_t in_r = ip->init->map[in_idx], out_r = ip->init->map[out_idx];
    if (in_r < 0 || out_r < 0) {
        return false;
    }
    kwsq_tensor_int *in = &ip->tensors[in_r];
    kwsq_tensor_int *out = &ip->tensors[out_r];
    const int32_t root_r = in->m->alias >= 0 ? in->m->alias : in_r;
    kwsq_tensor_int *root = &ip->tensors[root_r];
    if (in->m->is_const || in->m->last_use != node || is_graph_io(ip, in_idx) || is_graph_io(ip, out_idx) ||
        out->v.bytes > root->v.bytes || out->m->alias >= 0) {
        return false;
    }
    for (int32_t k = 0; k < n->num_inputs; ++k) { /* the op must read that input only once */
        if (k != in_i && n->io[k] == in_idx) {
            return false;
        }
    }
    out->m->alias = (int16_t)root_r;
    if (out->m->last_use > root->m->last_use) {
        root->m->last_use = out->m->last_use;
    }
    return true;
}

/* Tensor in io slot `slot` of node n: during init through the model index
 * (a kept tensor, or the op's temporary view of a constant), after init the
 * kept tensor directly. */
static kwsq_tensor_int *node_tensor(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t slot)
{
    const int32_t t = n->io[slot];
    if (t < 0) {
        return NULL;
    }
    if (ip->init == NULL) {
        return &ip->tensors[t];
    }
    const int16_t *map = ip->init->map;
    if (map[t] >= 0) {
        return &ip->tensors[map[t]];
    }
    int32_t v = 0;
    for (int32_t k = 0; k < slot; ++k) {
        v += n->io[k] >= 0 && map[n->io[k]] < 0;
    }
    return ip->init->views != NULL ? &ip->init->views[v] : NULL;
}

kwsq_tensor_int *kwsq_node_input(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t i)
{
    if (i < 0 || i >= n->num_inputs) {
        return NULL;
    }
    return node_tensor(ip, n, i);
}

kwsq_tensor_int *kwsq_node_output(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t i)
{
    if (i < 0 || i >= n->num_outputs) {
        return NULL;
    }
    return node_tensor(ip, n, n->num_inputs + i);
}

/* The op's options table, or NULL (no options, or called after init). */
static const kwsq_fb_table *node_options(const struct kwsq_interpreter *ip, const kwsq_node *n)
{
    if (ip->init == NULL) {
        return NULL;
    }
    const node_meta *m = &ip->init->nodes[n - ip->nodes];
    return m->has_options ? &m->options : NULL;
}

int32_t kwsq_opt_i32(const struct kwsq_interpreter *ip, const kwsq_node *n, int id, int32_t def)
{
    const kwsq_fb_table *o = node_options(ip, n);
    int32_t v = def;
    if (o != NULL && !kwsq_fb_i32(&ip->fb, o, id, def, &v)) {
        return def;
    }
    return v;
}

int32_t kwsq_opt_i8(const struct kwsq_interpreter *ip, const kwsq_node *n, int id, int32_t def)
{
    const kwsq_fb_table *o = node_options(ip, n);
    int32_t v = def;
    if (o != NULL && !kwsq_fb_i8(&ip->fb, o, id, def, &v)) {
        return def;
    }
    return v;
}

float kwsq_opt_f32(const struct kwsq_interpreter *ip, const kwsq_node *n, int id, float def)
{
    const kwsq_fb_table *o = node_options(ip, n);
    float v = def;
    if (o != NULL && !kwsq_fb_f32(&ip->fb, o, id, def, &v)) {
        return def;
    }
    return v;
}

bool kwsq_opt_i32_vec(const struct kwsq_interpreter *ip, const kwsq_node *n, int id,
                      kwsq_fb_vec *out)
{
    const kwsq_fb_table *o = node_options(ip, n);
    out->pos = 0;
    out->count = 0;
    return o == NULL || kwsq_fb_vector(&ip->fb, o, id, 4, out);
}

/* ---- model parsing -------------------------------------------------------- */

static kwsq_status model_error(kwsq_interpreter *ip, const char *what)
{
    return kwsq_fail(ip, NULL, KWSQ_ERR_MODEL, "invalid model: %s", what);
}

static kwsq_status arena_error(kwsq_interpreter *ip, size_t need)
{
    return kwsq_fail(ip, NULL, KWSQ_ERR_ARENA, "arena too small: %u bytes given, at least %u needed",
                     (unsigned long)ip->arena_len, (unsigned long)need);
}

/* Data of buffer `index`: *data NULL when the buffer is empty. */
static bool buffer_data(kwsq_interpreter *ip, const kwsq_fb_vec *buffers, uint32_t index,
                        const uint8_t **data, size_t *len)
{
    kwsq_fb_table b;
    kwsq_fb_vec d;
    uint64_t off = 0, size = 0;
    *data = NULL;
    *len = 0;
    if (index >= buffers->count || !kwsq_fb_vec_table(&ip->fb, buffers, index, &b) ||
        !kwsq_fb_vector(&ip->fb, &b, 0, 1, &d) || !kwsq_fb_u64(&ip->fb, &b, 1, 0, &off) ||
        !kwsq_fb_u64(&ip->fb, &b, 2, 0, &size)) {
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

    if (!kwsq_fb_vector(&ip->fb, t, 0, 4, &shape) || !kwsq_fb_i8(&ip->fb, t, 1, 0, &type) ||
        !kwsq_fb_u32(&ip->fb, t, 2, 0, &buffer) || !kwsq_fb_subtable(&ip->fb, t, 4, &has_q, &q) ||
        !kwsq_fb_u8(&ip->fb, t, 5, 0, &is_var) ||
        !kwsq_fb_subtable(&ip->fb, t, 6, &has_sparsity, &sparsity)) {
        return model_error(ip, "corrupt tensor table");
    }
    if (shape.count > KWSQ_MAX_DIMS) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "tensor %d has %d dimensions (max %d)",
                         (int)index, (int)shape.count, KWSQ_MAX_DIMS);
    }
    if (has_sparsity) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "tensor %d is sparse (not supported)", (int)index);
    }
    if (is_var) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "tensor %d is a variable tensor (not supported)",
                         (int)index);
    }
    out->v.type = (kwsq_type)type;
    out->v.num_dims = (int32_t)shape.count;
    for (uint32_t i = 0; i < shape.count; ++i) {
        int32_t d = (int32_t)kwsq_rd_u32(ip->fb.buf + shape.pos + 4u * i);
        if (d < 0) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "tensor %d has a dynamic dimension",
                             (int)index);
        }
        out->v.dims[i] = d;
    }
    int64_t n = 1;
    for (int32_t i = 0; i < out->v.num_dims; ++i) {
        n *= out->v.dims[i];
        if (n > MAX_ELEMENTS) {
            return model_error(ip, "tensor too large");
        }
    }
    size_t bits = kwsq_type_size_bits(out->v.type);
    out->v.bytes = bits == 0 ? 0 : (size_t)((n * (int64_t)bits + 7) / 8);
    out->m->first_use = -1;
    out->m->last_use = -1;
    out->m->alias = -1;

    if (has_q) {
        if (!kwsq_fb_vector(&ip->fb, &q, 2, 4, &scales) || !kwsq_fb_vector(&ip->fb, &q, 3, 8, &zeros) ||
            !kwsq_fb_i32(&ip->fb, &q, 6, 0, &qdim)) {
            return model_error(ip, "corrupt quantization parameters");
        }
        if (scales.count > 0) {
            if (zeros.count != 0 && zeros.count != scales.count) {
                return model_error(ip, "scale and zero point counts differ");
            }
            if (scales.count > 1 && (qdim < 0 || qdim >= out->v.num_dims ||
                                     (uint32_t)out->v.dims[qdim] != scales.count)) {
                return model_error(ip, "per-channel scale count does not match the quantized dimension");
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
        return model_error(ip, "corrupt or missing buffer");
    }
    if (data != NULL) {
        if (bits == 0) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "constant tensor %d has type %s",
                             (int)index, kwsq_type_name(out->v.type));
        }
        if (data_len < out->v.bytes) {
            return model_error(ip, "constant buffer shorter than its tensor");
        }
        if (bits >= 16 && ((uintptr_t)data & 3u) != 0) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED,
                             "constant tensor %d is not 4-byte aligned (load the model 16-byte aligned)",
                             (int)index);
        }
        out->v.data = (void *)(uintptr_t)data;
        out->m->is_const = 1;
    }
    return KWSQ_OK;
}

/* Reads v's tensor indices into out (room for v->count). */
static kwsq_status read_index_vec(kwsq_interpreter *ip, const kwsq_fb_vec *v, int16_t *out, bool allow_absent)
{
    for (uint32_t i = 0; i < v->count; ++i) {
        int32_t idx = (int32_t)kwsq_rd_u32(ip->fb.buf + v->pos + 4u * i);
        if (idx < -1 || idx >= (int32_t)ip->init->tensors.count || (idx == -1 && !allow_absent)) {
            return model_error(ip, "tensor index out of range");
        }
        out[i] = (int16_t)idx;
    }
    return KWSQ_OK;
}

static kwsq_status parse_operator(kwsq_interpreter *ip, const kwsq_fb_vec *opcodes,
                                  const kwsq_fb_table *op, kwsq_node *n, node_meta *nm)
{
    uint32_t opcode_index = 0;
    kwsq_fb_table oc;
    kwsq_fb_vec ins, outs;
    int32_t deprecated = 0, builtin = 0, options_type = 0;
    kwsq_status st;
    bool has_custom = false;
    kwsq_fb_vec custom_name;

    if (!kwsq_fb_u32(&ip->fb, op, 0, 0, &opcode_index) || opcode_index >= opcodes->count ||
        !kwsq_fb_vec_table(&ip->fb, opcodes, opcode_index, &oc) ||
        !kwsq_fb_i8(&ip->fb, &oc, 0, 0, &deprecated) || !kwsq_fb_i32(&ip->fb, &oc, 3, 0, &builtin) ||
        !kwsq_fb_vector(&ip->fb, &oc, 1, 1, &custom_name)) {
        return model_error(ip, "corrupt operator code");
    }
    has_custom = custom_name.count > 0;
    /* Extended builtin codes (>127) live in builtin_code; old files only fill the
     * deprecated byte. The larger of the two is the real one. */
    if (deprecated > builtin) {
        builtin = deprecated;
    }
    if (builtin == 32 /* CUSTOM */) {
        char name[48];
        size_t len = custom_name.count < sizeof name - 1 ? custom_name.count : sizeof name - 1;
        if (has_custom) {
            memcpy(name, ip->fb.buf + custom_name.pos, len);
        }
        name[has_custom ? len : 0] = '\0';
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "custom op '%s' is not supported", name);
    }
    n->kernel = kwsq_find_kernel(builtin);
    if (n->kernel == NULL) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "%s: op not supported by kwsq (builtin code %d)",
                         kwsq_builtin_name(builtin), (int)builtin);
    }
    if (!kwsq_fb_vector(&ip->fb, op, 1, 4, &ins) || !kwsq_fb_vector(&ip->fb, op, 2, 4, &outs) ||
        !kwsq_fb_u8(&ip->fb, op, 3, 0, &options_type) ||
        !kwsq_fb_subtable(&ip->fb, op, 4, &nm->has_options, &nm->options)) {
        return model_error(ip, "corrupt operator");
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
    st = read_index_vec(ip, &ins, n->io, true);
    if (st == KWSQ_OK) {
        st = read_index_vec(ip, &outs, n->io + n->num_inputs, false);
    }
    return st;
}

/* ---- planning ------------------------------------------------------------- */

typedef struct {
    size_t size;
    int32_t first;
    int32_t last;
    size_t off;
} plan_buf;

/* Planner items: tensors first, then KWSQ_MAX_SCRATCH slots per node. */
static void set_offset(kwsq_interpreter *ip, int32_t i, size_t offset)
{
    if (i < ip->num_tensors) {
        ip->tensors[i].m->offset = offset;
    } else {
        int32_t s = i - ip->num_tensors;
        ip->nodes[s / KWSQ_MAX_SCRATCH].scratch_offset[s % KWSQ_MAX_SCRATCH] = (uint32_t)offset;
    }
}

static plan_buf plan_item(kwsq_interpreter *ip, int32_t i)
{
    plan_buf b;
    if (i < ip->num_tensors) {
        kwsq_tensor_int *t = &ip->tensors[i];
        b.size = align_up(t->v.bytes, ALIGN_PLAN);
        b.first = t->m->first_use;
        b.last = t->m->last_use;
        b.off = t->m->offset;
    } else {
        int32_t s = i - ip->num_tensors;
        b.size = align_up(ip->init->nodes[s / KWSQ_MAX_SCRATCH].scratch_size[s % KWSQ_MAX_SCRATCH], ALIGN_PLAN);
        b.first = s / KWSQ_MAX_SCRATCH;
        b.last = s / KWSQ_MAX_SCRATCH;
        b.off = ip->nodes[s / KWSQ_MAX_SCRATCH].scratch_offset[s % KWSQ_MAX_SCRATCH];
    }
    return b;
}

static bool is_planned(const kwsq_interpreter *ip, int32_t i)
{
    if (i >= ip->num_tensors) {
        int32_t s = i - ip->num_tensors;
        return ip->init->nodes[s / KWSQ_MAX_SCRATCH].scratch_size[s % KWSQ_MAX_SCRATCH] != 0;
    }
    return (!ip->tensors[i].m->is_const && ip->tensors[i].m->first_use >= 0 &&
                                    ip->tensors[i].v.bytes > 0 && ip->tensors[i].m->alias < 0);
}

/* Greedy by size: biggest first, each at the lowest offset that does not
 * collide with an already placed buffer alive at the same time. */
static kwsq_status plan(kwsq_interpreter *ip)
{
    int32_t total = ip->num_tensors + ip->num_nodes * KWSQ_MAX_SCRATCH, count = 0;
    int32_t *order = alloc_temp(ip, 4u * (size_t)total + 4u);
    size_t end = 0;
    if (order == NULL) {
        return arena_error(ip, ip->persist_used + ip->temp_used);
    }
    for (int32_t i = 0; i < total; ++i) {
        if (is_planned(ip, i)) {
            size_t si = plan_item(ip, i).size;
            int32_t k = count++;
            while (k > 0 && plan_item(ip, order[k - 1]).size < si) {
                order[k] = order[k - 1];
                --k;
            }
            order[k] = i;
        }
    }
    for (int32_t k = 0; k < count; ++k) {
        plan_buf b = plan_item(ip, order[k]);
        size_t cand = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (int32_t j = 0; j < k; ++j) {
                plan_buf p = plan_item(ip, order[j]);
                bool time = !(p.last < b.first || b.last < p.first);
                bool space = cand < p.off + p.size && p.off < cand + b.size;
                if (time && space) {
                    cand = p.off + p.size;
                    moved = true;
                }
            }
        }
        set_offset(ip, order[k], cand);
        if (cand + b.size > end) {
            end = cand + b.size;
        }
    }
    size_t base = align_up(ip->persist_used, 16u);
    if (base > ip->arena_len || end > ip->arena_len - base) {
        return arena_error(ip, base + end);
    }
    for (int32_t k = 0; k < count; ++k) {
        set_offset(ip, order[k], plan_item(ip, order[k]).off + base);
    }
    /* Init needed persistent + temporary bytes at its peak (ip->used so far);
     * running needs persistent + planned. The arena must hold the larger. */
    if (base + end > ip->used) {
        ip->used = base + end;
    }
    for (int32_t i = 0; i < ip->num_tensors; ++i) {
        kwsq_tensor_int *t = &ip->tensors[i];
        if (t->m->alias >= 0) {
            t->m->offset = ip->tensors[t->m->alias].m->offset;
        }
        if (is_planned(ip, i) || t->m->alias >= 0) {
            t->v.data = ip->arena + t->m->offset;
        }
    }
    for (int32_t i = 0; i < ip->num_tensors; ++i) {
        ip->tensors[i].m = NULL; /* the metadata is about to be overwritten */
    }
    return KWSQ_OK;
}

/* ---- init ------------------------------------------------------------------ */

static kwsq_status load_tensor(kwsq_interpreter *ip, uint32_t index, kwsq_tensor_int *out)
{
    kwsq_fb_table t;
    if (!kwsq_fb_vec_table(&ip->fb, &ip->init->tensors, index, &t)) {
        return model_error(ip, "corrupt tensor");
    }
    return parse_tensor(ip, &t, &ip->init->buffers, out, (int32_t)index);
}

/* Prepare of node i, with temporary views of its inputs that are not kept
 * (given back afterwards). */
static kwsq_status prepare_node(kwsq_interpreter *ip, int32_t i)
{
    struct kwsq_init_ctx *ctx = ip->init;
    kwsq_node *n = &ip->nodes[i];
    const size_t mark = ip->temp_used;
    kwsq_status st;
    int32_t count = 0;
    for (int32_t k = 0; k < n->num_inputs; ++k) {
        count += n->io[k] >= 0 && ctx->map[n->io[k]] < 0;
    }
    if (count > 0) {
        ctx->views = alloc_temp(ip, sizeof(kwsq_tensor_int) * (size_t)count);
        kwsq_tensor_meta *meta = alloc_temp(ip, sizeof(kwsq_tensor_meta) * (size_t)count);
        if (ctx->views == NULL || meta == NULL) {
            return arena_error(ip, ip->persist_used + ip->temp_used);
        }
        int32_t v = 0;
        for (int32_t k = 0; k < n->num_inputs; ++k) {
            const int32_t t = n->io[k];
            if (t >= 0 && ctx->map[t] < 0) {
                ctx->views[v].m = &meta[v];
                if ((st = load_tensor(ip, (uint32_t)t, &ctx->views[v++])) != KWSQ_OK) {
                    return st;
                }
            }
        }
    }
    st = n->kernel->prepare(ip, n);
    if (ip->persist_used > ip->arena_len - ip->temp_used) {
        return arena_error(ip, ip->persist_used + ip->temp_used);
    }
    ctx->views = NULL;
    ip->temp_used = mark;
    return st;
}

static kwsq_status build(kwsq_interpreter *ip)
{
    kwsq_fb_table model, sg;
    kwsq_fb_vec opcodes, subgraphs, buffers, tensors, inputs, outputs, operators;
    uint32_t version = 0;
    kwsq_status st;

    if (ip->fb.len < 8 || !kwsq_fb_root(&ip->fb, &model)) {
        return model_error(ip, "not a flatbuffer (bad root table)");
    }
    if (memcmp(ip->fb.buf + 4, "TFL3", 4) != 0) {
        return model_error(ip, "missing TFL3 file identifier");
    }
    if (!kwsq_fb_u32(&ip->fb, &model, 0, 0, &version) || !kwsq_fb_vector(&ip->fb, &model, 1, 4, &opcodes) ||
        !kwsq_fb_vector(&ip->fb, &model, 2, 4, &subgraphs) || !kwsq_fb_vector(&ip->fb, &model, 4, 4, &buffers)) {
        return model_error(ip, "corrupt model table");
    }
    if (version != 3) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "schema version %d (only 3 is supported)",
                         (int)version);
    }
    if (subgraphs.count < 1 || !kwsq_fb_vec_table(&ip->fb, &subgraphs, 0, &sg)) {
        return model_error(ip, "no subgraph");
    }
    if (!kwsq_fb_vector(&ip->fb, &sg, 0, 4, &tensors) || !kwsq_fb_vector(&ip->fb, &sg, 1, 4, &inputs) ||
        !kwsq_fb_vector(&ip->fb, &sg, 2, 4, &outputs) || !kwsq_fb_vector(&ip->fb, &sg, 3, 4, &operators)) {
        return model_error(ip, "corrupt subgraph");
    }
    if (tensors.count > 4096 || operators.count > 4096 || inputs.count > 4096 || outputs.count > 4096) {
        return model_error(ip, "too many tensors or operators");
    }

    struct kwsq_init_ctx *ctx = alloc_temp(ip, sizeof *ctx);
    ip->num_nodes = (int32_t)operators.count;
    ip->nodes = kwsq_alloc_persistent(ip, sizeof(kwsq_node) * operators.count);
    if (ctx == NULL || ip->nodes == NULL) {
        return arena_error(ip, ip->persist_used + ip->temp_used);
    }
    ip->init = ctx;
    ctx->tensors = tensors;
    ctx->buffers = buffers;
    ctx->nodes = alloc_temp(ip, sizeof(node_meta) * operators.count);
    ctx->map = alloc_temp(ip, sizeof(int16_t) * tensors.count);
    ctx->is_const = alloc_temp(ip, tensors.count);
    ip->num_inputs = (int16_t)inputs.count;
    ip->num_outputs = (int16_t)outputs.count;
    ip->inputs = kwsq_alloc_persistent(ip, sizeof(int16_t) * inputs.count);
    ip->outputs = kwsq_alloc_persistent(ip, sizeof(int16_t) * outputs.count);
    if (ctx->nodes == NULL || ctx->map == NULL || ctx->is_const == NULL || ip->inputs == NULL ||
        ip->outputs == NULL) {
        return arena_error(ip, ip->persist_used + ip->temp_used);
    }
    /* Every tensor is validated, kept or not. */
    for (uint32_t i = 0; i < tensors.count; ++i) {
        kwsq_tensor_int t;
        kwsq_tensor_meta m;
        memset(&t, 0, sizeof t);
        memset(&m, 0, sizeof m);
        t.m = &m;
        if ((st = load_tensor(ip, i, &t)) != KWSQ_OK) {
            return st;
        }
        ctx->is_const[i] = m.is_const;
        ctx->map[i] = -1;
    }
    st = read_index_vec(ip, &inputs, ip->inputs, false);
    if (st == KWSQ_OK) {
        st = read_index_vec(ip, &outputs, ip->outputs, false);
    }
    if (st != KWSQ_OK) {
        return st;
    }
    /* Which tensors Eval reads: marked 0 in map, numbered below. */
    for (int32_t i = 0; i < ip->num_inputs; ++i) {
        if (ctx->is_const[ip->inputs[i]]) {
            return model_error(ip, "a graph input is a constant");
        }
        ctx->map[ip->inputs[i]] = 0;
    }
    for (int32_t i = 0; i < ip->num_outputs; ++i) {
        ctx->map[ip->outputs[i]] = 0;
    }
    for (uint32_t i = 0; i < operators.count; ++i) {
        kwsq_fb_table op;
        kwsq_node *n = &ip->nodes[i];
        if (!kwsq_fb_vec_table(&ip->fb, &operators, i, &op)) {
            return model_error(ip, "corrupt operator");
        }
        st = parse_operator(ip, &opcodes, &op, n, &ctx->nodes[i]);
        if (st != KWSQ_OK) {
            return st == KWSQ_ERR_ARENA ? arena_error(ip, ip->persist_used + ip->temp_used) : st;
        }
        for (int32_t k = 0; k < n->num_inputs + n->num_outputs; ++k) {
            const int32_t t = n->io[k];
            const bool prepare_only = k < 32 && ((n->kernel->prepare_only_inputs >> k) & 1u) != 0;
            if (t >= 0 && (k >= n->num_inputs || !ctx->is_const[t] || !prepare_only)) {
                ctx->map[t] = 0;
            }
        }
    }
    int32_t kept = 0;
    for (uint32_t i = 0; i < tensors.count; ++i) {
        if (ctx->map[i] == 0) {
            ctx->map[i] = (int16_t)kept++;
        }
    }
    ip->num_tensors = kept;
    ip->tensors = kwsq_alloc_persistent(ip, sizeof(kwsq_tensor_int) * (size_t)kept);
    kwsq_tensor_meta *meta = alloc_temp(ip, sizeof(kwsq_tensor_meta) * (size_t)kept);
    if (ip->tensors == NULL || meta == NULL) {
        return arena_error(ip, ip->persist_used + ip->temp_used);
    }
    for (uint32_t i = 0; i < tensors.count; ++i) {
        const int32_t r = ctx->map[i];
        if (r >= 0) {
            ip->tensors[r].m = &meta[r];
            if ((st = load_tensor(ip, i, &ip->tensors[r])) != KWSQ_OK) {
                return st;
            }
        }
    }
    for (int32_t i = 0; i < ip->num_inputs; ++i) {
        kwsq_tensor_int *t = &ip->tensors[ctx->map[ip->inputs[i]]];
        if (kwsq_type_size_bits(t->v.type) == 0) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "input %d has type %s", (int)i,
                             kwsq_type_name(t->v.type));
        }
        t->m->first_use = 0;
        t->m->last_use = 0;
    }

    for (int32_t i = 0; i < ip->num_nodes; ++i) {
        kwsq_node *n = &ip->nodes[i];
        for (int32_t k = 0; k < n->num_inputs; ++k) {
            const int32_t idx = n->io[k];
            if (idx < 0 || ctx->is_const[idx]) {
                continue;
            }
            kwsq_tensor_int *t = &ip->tensors[ctx->map[idx]];
            if (t->m->first_use < 0) {
                return kwsq_fail(ip, n, KWSQ_ERR_MODEL,
                                 "invalid model: input %d is read before any op writes it", (int)k);
            }
            t->m->last_use = (int16_t)i;
        }
        for (int32_t k = 0; k < n->num_outputs; ++k) {
            kwsq_tensor_int *t = &ip->tensors[ctx->map[n->io[n->num_inputs + k]]];
            if (t->m->is_const || t->m->first_use >= 0) {
                return kwsq_fail(ip, n, KWSQ_ERR_MODEL,
                                 "invalid model: output %d is a constant or written twice", (int)k);
            }
            if (kwsq_type_size_bits(t->v.type) == 0) {
                return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "output type %s not supported",
                                 kwsq_type_name(t->v.type));
            }
            t->m->first_use = (int16_t)i;
            t->m->last_use = (int16_t)i;
        }
    }
    for (int32_t i = 0; i < ip->num_outputs; ++i) {
        kwsq_tensor_int *t = &ip->tensors[ctx->map[ip->outputs[i]]];
        if (t->m->first_use < 0 && !t->m->is_const) {
            return model_error(ip, "a graph output is never written");
        }
        t->m->last_use = (int16_t)(ip->num_nodes > 0 ? ip->num_nodes - 1 : 0);
    }

    for (int32_t i = 0; i < ip->num_nodes; ++i) {
        if ((st = prepare_node(ip, i)) != KWSQ_OK) {
            return st;
        }
    }
    if ((st = plan(ip)) != KWSQ_OK) {
        return st;
    }
    /* From here on tensors are named by their kept index. */
    for (int32_t i = 0; i < ip->num_nodes; ++i) {
        kwsq_node *n = &ip->nodes[i];
        for (int32_t k = 0; k < n->num_inputs + n->num_outputs; ++k) {
            n->io[k] = n->io[k] >= 0 ? ctx->map[n->io[k]] : -1;
        }
    }
    for (int32_t i = 0; i < ip->num_inputs; ++i) {
        ip->inputs[i] = ctx->map[ip->inputs[i]];
    }
    for (int32_t i = 0; i < ip->num_outputs; ++i) {
        ip->outputs[i] = ctx->map[ip->outputs[i]];
    }
    return KWSQ_OK;
}

kwsq_status kwsq_init(kwsq_interpreter **out, const uint8_t *model, size_t model_len,
                      uint8_t *arena, size_t arena_len, kwsq_error *err)
{
    if (err != NULL) {
        err->message[0] = '\0';
    }
    if (out == NULL) {
        return KWSQ_ERR_ARGUMENT;
    }
    *out = NULL;
    if (model == NULL || arena == NULL) {
        if (err != NULL) {
            kwsq_format(err->message, sizeof err->message, "NULL model or arena");
        }
        return KWSQ_ERR_ARGUMENT;
    }
    size_t pad = (size_t)((16u - ((uintptr_t)arena & 15u)) & 15u);
    size_t need = pad + align_up(sizeof(kwsq_interpreter), ALIGN_PERSIST);
    if (arena_len < need) {
        if (err != NULL) {
            kwsq_format(err->message, sizeof err->message,
                        "arena too small: %u bytes given, at least %u needed", (unsigned long)arena_len,
                        (unsigned long)need);
        }
        return KWSQ_ERR_ARENA;
    }
    kwsq_interpreter *ip = (kwsq_interpreter *)(void *)(arena + pad);
    memset(ip, 0, sizeof *ip);
    ip->fb.buf = model;
    ip->fb.len = model_len;
    ip->arena = arena + pad;
    ip->arena_len = arena_len - pad;
    ip->persist_used = align_up(sizeof(kwsq_interpreter), ALIGN_PERSIST);
    ip->err = err;
    kwsq_status st = build(ip);
    if (st == KWSQ_ERR_ARENA && err != NULL && err->message[0] == '\0') {
        arena_error(ip, ip->persist_used + ip->temp_used);
    }
    ip->init = NULL;
    if (st != KWSQ_OK) {
        return st;
    }
    ip->used += pad;
    ip->err = NULL;
    *out = ip;
    return KWSQ_OK;
}

kwsq_status kwsq_invoke_operator(kwsq_interpreter *ip, size_t i, kwsq_error *err)
{
    if (ip == NULL || i >= (size_t)ip->num_nodes) {
        return KWSQ_ERR_ARGUMENT;
    }
    ip->err = err;
    kwsq_node *n = &ip->nodes[i];
    kwsq_status st = n->kernel->eval(ip, n);
    ip->err = NULL;
    return st;
}

kwsq_status kwsq_invoke(kwsq_interpreter *ip, kwsq_error *err)
{
    if (ip == NULL) {
        return KWSQ_ERR_ARGUMENT;
    }
    for (int32_t i = 0; i < ip->num_nodes; ++i) {
        kwsq_status st = kwsq_invoke_operator(ip, (size_t)i, err);
        if (st != KWSQ_OK) {
            return st;
        }
    }
    return KWSQ_OK;
}

size_t kwsq_num_inputs(const kwsq_interpreter *ip)
{
    return ip ? (size_t)ip->num_inputs : 0;
}

size_t kwsq_num_outputs(const kwsq_interpreter *ip)
{
    return ip ? (size_t)ip->num_outputs : 0;
}

const kwsq_tensor *kwsq_input(const kwsq_interpreter *ip, size_t i)
{
    if (ip == NULL || i >= (size_t)ip->num_inputs) {
        return NULL;
    }
    return &ip->tensors[ip->inputs[i]].v;
}

const kwsq_tensor *kwsq_output(const kwsq_interpreter *ip, size_t i)
{
    if (ip == NULL || i >= (size_t)ip->num_outputs) {
        return NULL;
    }
    return &ip->tensors[ip->outputs[i]].v;
}

size_t kwsq_arena_used_bytes(const kwsq_interpreter *ip)
{
    return ip ? ip->used : 0;
}

size_t kwsq_num_operators(const kwsq_interpreter *ip)
{
    return ip ? (size_t)ip->num_nodes : 0;
}

const char *kwsq_operator_name(const kwsq_interpreter *ip, size_t i)
{
    if (ip == NULL || i >= (size_t)ip->num_nodes) {
        return NULL;
    }
    return kwsq_builtin_name(ip->nodes[i].kernel->builtin);
}

const char *kwsq_status_name(kwsq_status s)
{
    switch (s) {
    case KWSQ_OK: return "ok";
    case KWSQ_ERR_ARGUMENT: return "bad argument";
    case KWSQ_ERR_MODEL: return "invalid model";
    case KWSQ_ERR_UNSUPPORTED: return "unsupported";
    case KWSQ_ERR_ARENA: return "arena too small";
    case KWSQ_ERR_EVAL: return "evaluation failed";
    }
    return "unknown status";
}
