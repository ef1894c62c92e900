/*
 * The arena planner: activations and scratch buffers placed greedily by
 * size over their lifetimes (op index of first write .. last read), above
 * the persistent part. Ops computing in place (kwsq_alias_output) share
 * their input's memory and are not planned themselves; an op whose output
 * may overlap its input (kwsq_overlap_output) has its input placed at a fixed
 * distance above the output's start.
 */
#include "kwsq_load.h"

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
        b.size = kwsq_align_up(t->v.bytes, KWSQ_ALIGN_PLAN);
        b.first = t->m->first_use;
        b.last = t->m->last_use;
        b.off = t->m->offset;
    } else {
        int32_t s = i - ip->num_tensors;
        b.size = kwsq_align_up(ip->init->nodes[s / KWSQ_MAX_SCRATCH].scratch_size[s % KWSQ_MAX_SCRATCH], KWSQ_ALIGN_PLAN);
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

/* Overlapped ops (kwsq_overlap_output) tie an input to its output at a fixed
 * distance: such chains are placed as one group, each member at the group's
 * offset + its rel. The group's root is the member that is above no other.
 * Before planning, a member's offset field holds its distance to the next. */
static int32_t group_of(const kwsq_interpreter *ip, int32_t i, size_t *rel)
{
    *rel = 0;
    while (i < ip->num_tensors && kwsq_above(ip->tensors[i].m) >= 0) {
        *rel += ip->tensors[i].m->offset;
        i = kwsq_above(ip->tensors[i].m);
    }
    return i;
}

/* A group's extent, kept in its root's offset field until it is placed. */
static size_t extent(kwsq_interpreter *ip, int32_t root)
{
    return root < ip->num_tensors ? ip->tensors[root].m->offset : plan_item(ip, root).size;
}

/* Greedy by size: biggest group first, each at the lowest offset where none
 * of its members collides with an already placed buffer alive at the same
 * time. Without overlapped ops every group is one buffer. */
kwsq_status kwsq_plan(struct kwsq_interpreter *ip)
{
    const int32_t total = ip->num_tensors + ip->num_nodes * KWSQ_MAX_SCRATCH;
    int32_t count = 0;
    size_t end = 0;
    for (int32_t i = 0; i < total; ++i) {
        count += is_planned(ip, i);
    }
    int32_t *order = kwsq_alloc_temp(ip, 4u * (size_t)count + 4u);
    size_t *rel = kwsq_alloc_temp(ip, sizeof(size_t) * ((size_t)count + 1u));
    if (order == NULL || rel == NULL) {
        return kwsq_arena_error(ip);
    }
    int32_t n = 0;
    for (int32_t i = 0; i < total; ++i) { /* every member's rel first: it reads the distances */
        if (is_planned(ip, i)) {
            order[n] = i;
            (void)group_of(ip, i, &rel[n++]);
        }
    }
    for (int32_t k = 0; k < count; ++k) { /* roots: extent = own size so far */
        if (order[k] < ip->num_tensors && kwsq_above(ip->tensors[order[k]].m) < 0) {
            ip->tensors[order[k]].m->offset = plan_item(ip, order[k]).size;
        }
    }
    for (int32_t k = 0; k < count; ++k) {
        size_t unused;
        const int32_t r = group_of(ip, order[k], &unused);
        const size_t top = rel[k] + plan_item(ip, order[k]).size;
        if (r != order[k] && top > ip->tensors[r].m->offset) {
            ip->tensors[r].m->offset = top;
        }
    }
    /* Sorted by the group's extent (descending), groups kept together, ties
     * in buffer order. */
    for (int32_t g = 1; g < count; ++g) {
        size_t unused;
        const int32_t i = order[g], r = group_of(ip, i, &unused);
        const size_t ri = rel[g], ext = extent(ip, r);
        int32_t k = g;
        while (k > 0) {
            const int32_t rp = group_of(ip, order[k - 1], &unused);
            const size_t ep = extent(ip, rp);
            if (!(ep < ext || (ep == ext && rp > r))) {
                break;
            }
            order[k] = order[k - 1];
            rel[k] = rel[k - 1];
            --k;
        }
        order[k] = i;
        rel[k] = ri;
    }
    for (int32_t first = 0, last; first < count; first = last) {
        size_t unused;
        const int32_t r = group_of(ip, order[first], &unused);
        for (last = first + 1; last < count && group_of(ip, order[last], &unused) == r; ++last) {
        }
        size_t cand = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (int32_t m = first; m < last; ++m) {
                const plan_buf b = plan_item(ip, order[m]);
                for (int32_t j = 0; j < first; ++j) {
                    const plan_buf p = plan_item(ip, order[j]);
                    const bool time = !(p.last < b.first || b.last < p.first);
                    const bool space = cand + rel[m] < p.off + p.size && p.off < cand + rel[m] + b.size;
                    if (time && space) {
                        cand = p.off + p.size - rel[m];
                        moved = true;
                    }
                }
            }
        }
        /* members' distances are no longer needed once every rel is known,
         * but group_of above still follows `above`: offsets are written last */
        for (int32_t m = first; m < last; ++m) {
            const size_t top = cand + rel[m] + plan_item(ip, order[m]).size;
            end = top > end ? top : end;
        }
        for (int32_t m = first; m < last; ++m) {
            set_offset(ip, order[m], cand + rel[m]);
        }
    }
    size_t base = kwsq_align_up(ip->persist_used, 16u);
    if (base > ip->arena_len || end > ip->arena_len - base) {
        kwsq_arena_short(ip, base + end);
        return kwsq_arena_error(ip);
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

