/*
 * What a kernel's Prepare and Eval see of the graph: a node's tensors, its
 * options table, and in-place output requests.
 */
#include "kwsq_load.h"

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

/* The pair (input in_i, output out_i) of node n may share memory: the input
 * dies at this op and is neither a constant nor a graph input or output, the
 * op reads it only once, and neither shares memory yet (but with each other:
 * an in-place alias may replace an overlap of the same pair). Gives the
 * kept index of the input's memory (its alias root) and of the output. */
static bool may_share(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t out_i, int32_t in_i,
                      int32_t *root_r, int32_t *out_r)
{
    if (ip->init == NULL || in_i < 0 || in_i >= n->num_inputs || out_i < 0 || out_i >= n->num_outputs ||
        n->io[in_i] < 0) {
        return false;
    }
    const int32_t node = (int32_t)(n - ip->nodes);
    const int32_t in_idx = n->io[in_i], out_idx = n->io[n->num_inputs + out_i];
    const int32_t in_r = ip->init->map[in_idx];
    *out_r = ip->init->map[out_idx];
    if (in_r < 0 || *out_r < 0) {
        return false;
    }
    const kwsq_tensor_int *in = &ip->tensors[in_r];
    const kwsq_tensor_int *out = &ip->tensors[*out_r];
    *root_r = in->m->alias >= 0 ? in->m->alias : in_r;
    if (in->m->is_const || in->m->last_use != node || is_graph_io(ip, in_idx) || is_graph_io(ip, out_idx) ||
        out->m->alias != -1 || (kwsq_above(ip->tensors[*root_r].m) >= 0 && kwsq_above(ip->tensors[*root_r].m) != *out_r)) {
        return false;
    }
    for (int32_t k = 0; k < n->num_inputs; ++k) { /* the op must read that input only once */
        if (k != in_i && n->io[k] == in_idx) {
            return false;
        }
    }
    return true;
}

bool kwsq_alias_output(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t out_i, int32_t in_i)
{
    int32_t root_r, out_r;
    if (!may_share(ip, n, out_i, in_i, &root_r, &out_r)) {
        return false;
    }
    kwsq_tensor_int *root = &ip->tensors[root_r];
    kwsq_tensor_int *out = &ip->tensors[out_r];
    if (out->v.bytes > root->v.bytes) {
        return false;
    }
    out->m->alias = (int16_t)root_r;
    kwsq_set_above(root->m, -1, 0); /* an overlap granted for this pair before gives way */
    if (out->m->last_use > root->m->last_use) {
        root->m->last_use = out->m->last_use;
    }
    return true;
}

bool kwsq_overlap_output(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t out_i, int32_t in_i,
                         int64_t delta)
{
    int32_t root_r, out_r;
    if (delta < 0 || !may_share(ip, n, out_i, in_i, &root_r, &out_r) ||
        kwsq_align_up((size_t)delta, KWSQ_ALIGN_PLAN) >= ip->tensors[out_r].v.bytes) {
        return false;
    }
    kwsq_set_above(ip->tensors[root_r].m, out_r, kwsq_align_up((size_t)delta, KWSQ_ALIGN_PLAN));
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
    const kwsq_node_meta *m = &ip->init->nodes[n - ip->nodes];
    return m->has_options ? &m->options : NULL;
}

/* A field present but out of its table's bounds: the op's Prepare goes on
 * with the default, and prepare_node then refuses the model naming the field
 * (a corrupt activation must not silently become NONE). */
static void note_corrupt(const struct kwsq_interpreter *ip, const kwsq_node *n, int id)
{
    kwsq_node_meta *m = &ip->init->nodes[n - ip->nodes];
    if (m->corrupt_field == 0) {
        m->corrupt_field = (int16_t)(id + 1);
    }
}

int32_t kwsq_opt_i32(const struct kwsq_interpreter *ip, const kwsq_node *n, int id, int32_t def)
{
    const kwsq_fb_table *o = node_options(ip, n);
    int32_t v = def;
    if (o != NULL && !kwsq_fb_i32(&ip->fb, o, id, def, &v)) {
        note_corrupt(ip, n, id);
        return def;
    }
    return v;
}

int32_t kwsq_opt_i8(const struct kwsq_interpreter *ip, const kwsq_node *n, int id, int32_t def)
{
    const kwsq_fb_table *o = node_options(ip, n);
    int32_t v = def;
    if (o != NULL && !kwsq_fb_i8(&ip->fb, o, id, def, &v)) {
        note_corrupt(ip, n, id);
        return def;
    }
    return v;
}

float kwsq_opt_f32(const struct kwsq_interpreter *ip, const kwsq_node *n, int id, float def)
{
    const kwsq_fb_table *o = node_options(ip, n);
    float v = def;
    if (o != NULL && !kwsq_fb_f32(&ip->fb, o, id, def, &v)) {
        note_corrupt(ip, n, id);
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
    if (o != NULL && !kwsq_fb_vector(&ip->fb, o, id, 4, out)) {
        note_corrupt(ip, n, id);
        return false;
    }
    return true;
}
