/*
 * The arena planner: activations and scratch buffers placed greedily by
 * size over their lifetimes (op index of first write .. last read), above
 * the persistent part. Ops computing in place (kwsq_alias_output) share
 * their input's memory and are not planned themselves.
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

/* Greedy by size: biggest first, each at the lowest offset that does not
 * collide with an already placed buffer alive at the same time. */
kwsq_status kwsq_plan(struct kwsq_interpreter *ip)
{
    int32_t total = ip->num_tensors + ip->num_nodes * KWSQ_MAX_SCRATCH, count = 0;
    int32_t *order = kwsq_alloc_temp(ip, 4u * (size_t)total + 4u);
    size_t end = 0;
    if (order == NULL) {
        return kwsq_arena_error(ip);
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

