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
 * offset + its rel. The group's root is the member that lies above no other.
 * Before placement a member's offset field holds its distance to the next,
 * and a root's the group's extent. Without `groups` every buffer is alone. */
static int32_t group_of(const kwsq_interpreter *ip, int32_t i, bool groups, size_t *rel)
{
    *rel = 0;
    while (groups && i < ip->num_tensors && kwsq_above(ip->tensors[i].m) >= 0) {
        *rel += ip->tensors[i].m->offset;
        i = kwsq_above(ip->tensors[i].m);
    }
    return i;
}

static size_t extent(kwsq_interpreter *ip, int32_t root)
{
    return root < ip->num_tensors ? ip->tensors[root].m->offset : plan_item(ip, root).size;
}

/* One greedy pass: biggest group first, each at the lowest offset where none
 * of its members collides with an already placed buffer alive at the same
 * time. Fills order[0..count) with the items and sets their offsets; returns
 * the planned bytes. */
static size_t place(kwsq_interpreter *ip, int32_t *order, int32_t count, bool groups)
{
    const int32_t total = ip->num_tensors + ip->num_nodes * KWSQ_MAX_SCRATCH;
    size_t end = 0, rel;
    for (int32_t i = 0, n = 0; i < total; ++i) {
        if (is_planned(ip, i)) {
            order[n++] = i;
        }
    }
    for (int32_t k = 0; k < count; ++k) { /* roots: their own size so far */
        if (order[k] < ip->num_tensors && group_of(ip, order[k], groups, &rel) == order[k]) {
            ip->tensors[order[k]].m->offset = plan_item(ip, order[k]).size;
        }
    }
    for (int32_t k = 0; k < count; ++k) { /* then the members' tops */
        const int32_t r = group_of(ip, order[k], groups, &rel);
        const size_t top = rel + plan_item(ip, order[k]).size;
        if (r != order[k] && top > ip->tensors[r].m->offset) {
            ip->tensors[r].m->offset = top;
        }
    }
    /* By extent, descending; a group's members together; ties in item order. */
    for (int32_t g = 1; g < count; ++g) {
        const int32_t i = order[g], r = group_of(ip, i, groups, &rel);
        const size_t ext = extent(ip, r);
        int32_t k = g;
        for (; k > 0; --k) {
            const int32_t rp = group_of(ip, order[k - 1], groups, &rel);
            const size_t ep = extent(ip, rp);
            if (!(ep < ext || (ep == ext && rp > r))) {
                break;
            }
            order[k] = order[k - 1];
        }
        order[k] = i;
    }
    for (int32_t first = 0, last; first < count; first = last) {
        const int32_t r = group_of(ip, order[first], groups, &rel);
        for (last = first + 1; last < count && group_of(ip, order[last], groups, &rel) == r; ++last) {
        }
        size_t cand = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (int32_t m = first; m < last; ++m) {
                const plan_buf b = plan_item(ip, order[m]);
                (void)group_of(ip, order[m], groups, &rel);
                for (int32_t j = 0; j < first; ++j) {
                    const plan_buf p = plan_item(ip, order[j]);
                    const bool time = !(p.last < b.first || b.last < p.first);
                    const bool space = cand + rel < p.off + p.size && p.off < cand + rel + b.size;
                    if (time && space) {
                        cand = p.off + p.size - rel;
                        moved = true;
                    }
                }
            }
        }
        end = cand + extent(ip, r) > end ? cand + extent(ip, r) : end;
        /* Offsets last, the member furthest from the root first: a member's
         * rel is walked through the distances of those nearer the root. */
        for (int32_t left = last; left > first; --left) {
            int32_t far = first;
            size_t far_rel = 0;
            for (int32_t q = first; q < left; ++q) {
                (void)group_of(ip, order[q], groups, &rel);
                if (rel >= far_rel) {
                    far = q;
                    far_rel = rel;
                }
            }
            const int32_t item = order[far];
            order[far] = order[left - 1];
            order[left - 1] = item;
            set_offset(ip, item, cand + far_rel);
        }
    }
    return end;
}

/* Greedy placement with the overlapped groups, and without them when that
 * comes out smaller (a group can leave a gap under its larger members that
 * separate buffers would not): never more bytes than without overlapping. */
kwsq_status kwsq_plan(struct kwsq_interpreter *ip)
{
    const int32_t total = ip->num_tensors + ip->num_nodes * KWSQ_MAX_SCRATCH;
    int32_t count = 0, grouped = 0;
    for (int32_t i = 0; i < total; ++i) {
        count += is_planned(ip, i);
        grouped += i < ip->num_tensors && is_planned(ip, i) && kwsq_above(ip->tensors[i].m) >= 0;
    }
    /* Planner work space: the same with and without overlaps (the distances
     * are kept in the tensors' metadata), so overlapping never needs more
     * arena during init either. */
    int32_t *order = kwsq_alloc_temp(ip, 4u * (size_t)count + 4u);
    if (order == NULL) {
        return kwsq_arena_error(ip);
    }
    for (int32_t i = 0; grouped > 0 && i < ip->num_tensors; ++i) {
        ip->tensors[i].m->distance = ip->tensors[i].m->offset;
    }
    size_t end = place(ip, order, count, false);
    if (grouped > 0) {
        const size_t plain = end;
        for (int32_t i = 0; i < ip->num_tensors; ++i) {
            ip->tensors[i].m->offset = ip->tensors[i].m->distance;
        }
        end = place(ip, order, count, true);
#ifdef KWSQ_ALWAYS_OVERLAP /* tests: every granted overlap placed, at its minimal distance */
        (void)plain;
#else
        if (end > plain) {
            end = place(ip, order, count, false);
        }
#endif
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

