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
#include <string.h>

#include "kwsq_load.h"
#include "kwsq_schema.h"

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
        ctx->views = kwsq_alloc_temp(ip, sizeof(kwsq_tensor_int) * (size_t)count);
        kwsq_tensor_meta *meta = kwsq_alloc_temp(ip, sizeof(kwsq_tensor_meta) * (size_t)count);
        if (ctx->views == NULL || meta == NULL) {
            return kwsq_arena_error(ip);
        }
        int32_t v = 0;
        for (int32_t k = 0; k < n->num_inputs; ++k) {
            const int32_t t = n->io[k];
            if (t >= 0 && ctx->map[t] < 0) {
                ctx->views[v].m = &meta[v];
                if ((st = kwsq_load_tensor(ip, (uint32_t)t, &ctx->views[v++])) != KWSQ_OK) {
                    return st;
                }
            }
        }
    }
    st = n->kernel->prepare(ip, n);
    if (ctx->nodes[i].corrupt_field != 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: options field %d is corrupt",
                         (int)ctx->nodes[i].corrupt_field - 1);
    }
    if (st == KWSQ_ERR_ARENA) {
        return kwsq_arena_error(ip);
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
        return kwsq_model_error(ip, "not a flatbuffer (bad root table)");
    }
    if (memcmp(ip->fb.buf + 4, "TFL3", 4) != 0) {
        return kwsq_model_error(ip, "missing TFL3 file identifier");
    }
    if (!kwsq_fb_u32(&ip->fb, &model, KWSQ_FIELD_MODEL_VERSION, 0, &version) ||
        !kwsq_fb_vector(&ip->fb, &model, KWSQ_FIELD_MODEL_OPERATOR_CODES, 4, &opcodes) ||
        !kwsq_fb_vector(&ip->fb, &model, KWSQ_FIELD_MODEL_SUBGRAPHS, 4, &subgraphs) ||
        !kwsq_fb_vector(&ip->fb, &model, KWSQ_FIELD_MODEL_BUFFERS, 4, &buffers)) {
        return kwsq_model_error(ip, "corrupt model table");
    }
    if (version != 3) {
        return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "schema version %d (only 3 is supported)",
                         (int)version);
    }
    if (subgraphs.count < 1 || !kwsq_fb_vec_table(&ip->fb, &subgraphs, 0, &sg)) {
        return kwsq_model_error(ip, "no subgraph");
    }
    if (!kwsq_fb_vector(&ip->fb, &sg, KWSQ_FIELD_SUB_GRAPH_TENSORS, 4, &tensors) ||
        !kwsq_fb_vector(&ip->fb, &sg, KWSQ_FIELD_SUB_GRAPH_INPUTS, 4, &inputs) ||
        !kwsq_fb_vector(&ip->fb, &sg, KWSQ_FIELD_SUB_GRAPH_OUTPUTS, 4, &outputs) ||
        !kwsq_fb_vector(&ip->fb, &sg, KWSQ_FIELD_SUB_GRAPH_OPERATORS, 4, &operators)) {
        return kwsq_model_error(ip, "corrupt subgraph");
    }
    if (tensors.count > KWSQ_MAX_TENSORS || operators.count > KWSQ_MAX_TENSORS ||
        inputs.count > KWSQ_MAX_TENSORS || outputs.count > KWSQ_MAX_TENSORS) {
        return kwsq_model_error(ip, "too many tensors or operators");
    }

    /* Each allocation is checked before the next: a failed one leaves the
     * arena bookkeeping as it was. */
    struct kwsq_init_ctx *ctx = kwsq_alloc_temp(ip, sizeof *ctx);
    if (ctx == NULL) {
        return kwsq_arena_error(ip);
    }
    ip->init = ctx;
    ctx->tensors = tensors;
    ctx->buffers = buffers;
    ctx->opcodes = opcodes;
    if ((ip->nodes = kwsq_alloc_persistent(ip, sizeof(kwsq_node) * operators.count)) == NULL ||
        (ctx->nodes = kwsq_alloc_temp(ip, sizeof(kwsq_node_meta) * operators.count)) == NULL ||
        (ctx->map = kwsq_alloc_temp(ip, sizeof(int16_t) * tensors.count)) == NULL ||
        (ctx->is_const = kwsq_alloc_temp(ip, tensors.count)) == NULL ||
        (ip->inputs = kwsq_alloc_persistent(ip, sizeof(int16_t) * inputs.count)) == NULL ||
        (ip->outputs = kwsq_alloc_persistent(ip, sizeof(int16_t) * outputs.count)) == NULL) {
        return kwsq_arena_error(ip);
    }
    ip->num_nodes = (int32_t)operators.count;
    ip->num_inputs = (int16_t)inputs.count;
    ip->num_outputs = (int16_t)outputs.count;
    /* Every tensor is validated, kept or not. */
    for (uint32_t i = 0; i < tensors.count; ++i) {
        kwsq_tensor_int t;
        kwsq_tensor_meta m;
        memset(&t, 0, sizeof t);
        memset(&m, 0, sizeof m);
        t.m = &m;
        if ((st = kwsq_load_tensor(ip, i, &t)) != KWSQ_OK) {
            return st;
        }
        ctx->is_const[i] = m.is_const;
        ctx->map[i] = -1;
    }
    st = kwsq_read_index_vec(ip, &inputs, ip->inputs, false);
    if (st == KWSQ_OK) {
        st = kwsq_read_index_vec(ip, &outputs, ip->outputs, false);
    }
    if (st != KWSQ_OK) {
        return st;
    }
    /* Which tensors Eval reads: marked 0 in map, numbered below. */
    for (int32_t i = 0; i < ip->num_inputs; ++i) {
        if (ctx->is_const[ip->inputs[i]]) {
            return kwsq_model_error(ip, "a graph input is a constant");
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
            return kwsq_model_error(ip, "corrupt operator");
        }
        st = kwsq_parse_operator(ip, &op, n, &ctx->nodes[i]);
        if (st != KWSQ_OK) {
            return st == KWSQ_ERR_ARENA ? kwsq_arena_error(ip) : st;
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
    kwsq_tensor_meta *meta = kwsq_alloc_temp(ip, sizeof(kwsq_tensor_meta) * (size_t)kept);
    if (ip->tensors == NULL || meta == NULL) {
        return kwsq_arena_error(ip);
    }
    for (uint32_t i = 0; i < tensors.count; ++i) {
        const int32_t r = ctx->map[i];
        if (r >= 0) {
            ip->tensors[r].m = &meta[r];
            if ((st = kwsq_load_tensor(ip, i, &ip->tensors[r])) != KWSQ_OK) {
                return st;
            }
        }
    }
    for (int32_t i = 0; i < ip->num_inputs; ++i) {
        kwsq_tensor_int *t = &ip->tensors[ctx->map[ip->inputs[i]]];
        if (kwsq_type_size_bits(t->v.type) == 0) {
            return kwsq_fail(ip, NULL, KWSQ_ERR_UNSUPPORTED, "graph input %d (%I) has type %s", (int)i,
                             (int)ip->inputs[i], kwsq_type_name(t->v.type));
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
                                 "invalid model: input %d (%I) is read before any op writes it", (int)k,
                                 (int)idx);
            }
            t->m->last_use = (int16_t)i;
        }
        for (int32_t k = 0; k < n->num_outputs; ++k) {
            kwsq_tensor_int *t = &ip->tensors[ctx->map[n->io[n->num_inputs + k]]];
            if (t->m->is_const || t->m->first_use >= 0) {
                return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: output %d (%I) is a constant or written twice",
                                 (int)k, (int)n->io[n->num_inputs + k]);
            }
            if (kwsq_type_size_bits(t->v.type) == 0) {
                return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "output %d (%I): type %s not supported", (int)k,
                                 (int)n->io[n->num_inputs + k], kwsq_type_name(t->v.type));
            }
            t->m->first_use = (int16_t)i;
            t->m->last_use = (int16_t)i;
        }
    }
    for (int32_t i = 0; i < ip->num_outputs; ++i) {
        kwsq_tensor_int *t = &ip->tensors[ctx->map[ip->outputs[i]]];
        if (t->m->first_use < 0 && !t->m->is_const) {
            return kwsq_model_error(ip, "a graph output is never written");
        }
        t->m->last_use = (int16_t)(ip->num_nodes > 0 ? ip->num_nodes - 1 : 0);
    }

    for (int32_t i = 0; i < ip->num_nodes; ++i) {
        if ((st = prepare_node(ip, i)) != KWSQ_OK) {
            return st;
        }
    }
    if ((st = kwsq_plan(ip)) != KWSQ_OK) {
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
    return kwsq_init_with_ops(out, &kwsq_all_ops, model, model_len, arena, arena_len, err);
}

kwsq_status kwsq_init_with_ops(kwsq_interpreter **out, const kwsq_op_resolver *ops, const uint8_t *model,
                               size_t model_len, uint8_t *arena, size_t arena_len, kwsq_error *err)
{
    if (err != NULL) {
        err->message[0] = '\0';
    }
    if (out == NULL) {
        return KWSQ_ERR_ARGUMENT;
    }
    *out = NULL;
    if (model == NULL || arena == NULL || ops == NULL) {
        if (err != NULL) {
            kwsq_format(err->message, sizeof err->message, "NULL model, arena or op list");
        }
        return KWSQ_ERR_ARGUMENT;
    }
    size_t pad = (size_t)((16u - ((uintptr_t)arena & 15u)) & 15u);
    size_t need = pad + kwsq_align_up(sizeof(kwsq_interpreter), KWSQ_ALIGN_PERSIST);
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
    /* Rounded down to the alignment, so allocations from the back are aligned too. */
    ip->arena_len = (arena_len - pad) & ~(size_t)(KWSQ_ALIGN_PERSIST - 1u);
    ip->given = arena_len;
    ip->pad = pad;
    ip->persist_used = kwsq_align_up(sizeof(kwsq_interpreter), KWSQ_ALIGN_PERSIST);
    ip->err = err;
    ip->ops = ops;
    kwsq_status st = build(ip);
    if (st == KWSQ_ERR_ARENA && err != NULL && err->message[0] == '\0') {
        kwsq_arena_error(ip);
    }
    ip->init = NULL;
    ip->ops = NULL;
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
    return ip->nodes[i].kernel->name;
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
