/*
 * Arena allocation during kwsq_init: persistent memory (interpreter, nodes,
 * kept tensors, per-op data) grows from the start, load-time metadata from
 * the end; scratch buffers are only sized here and placed by the planner.
 */
#include <string.h>

#include "kwsq_load.h"

/* During init ip->used tracks the peak of persistent + temporary bytes: the
 * arena must hold it even where temporary memory is given back later. */
static void note_peak(struct kwsq_interpreter *ip)
{
    size_t now = kwsq_align_up(ip->persist_used, KWSQ_ALIGN_PERSIST) + ip->temp_used;
    if (now > ip->used) {
        ip->used = now;
    }
}

/* A request that did not fit: remember how large the arena would have had
 * to be (a lower bound of the need, for the error message). A failed request
 * changes nothing else, so the bookkeeping never exceeds the arena. */
void kwsq_arena_short(struct kwsq_interpreter *ip, size_t need)
{
    if (need > ip->short_need) {
        ip->short_need = need;
    }
}

static size_t room(const struct kwsq_interpreter *ip, size_t *start)
{
    *start = kwsq_align_up(ip->persist_used, KWSQ_ALIGN_PERSIST);
    /* persist_used + temp_used <= arena_len always holds; alignment may eat the rest. */
    return *start + ip->temp_used <= ip->arena_len ? ip->arena_len - ip->temp_used - *start : 0;
}

/* Load-time-only memory from the far end of the arena (given back by
 * resetting temp_used, or overwritten by the planned activations after
 * init). */
void *kwsq_alloc_temp(struct kwsq_interpreter *ip, size_t bytes)
{
    size_t start;
    const size_t free_bytes = room(ip, &start);
    if (bytes > free_bytes || kwsq_align_up(bytes, KWSQ_ALIGN_PERSIST) > free_bytes) {
        kwsq_arena_short(ip, start + ip->temp_used + (bytes > SIZE_MAX / 2 ? SIZE_MAX / 2 : bytes));
        return NULL;
    }
    const size_t need = kwsq_align_up(bytes, KWSQ_ALIGN_PERSIST);
    ip->temp_used += need;
    note_peak(ip);
    uint8_t *p = ip->arena + ip->arena_len - ip->temp_used;
    memset(p, 0, need);
    return p;
}

void *kwsq_alloc_persistent(struct kwsq_interpreter *ip, size_t bytes)
{
    size_t start;
    if (bytes > room(ip, &start)) {
        kwsq_arena_short(ip, start + ip->temp_used + (bytes > SIZE_MAX / 2 ? SIZE_MAX / 2 : bytes));
        return NULL;
    }
    ip->persist_used = start + bytes;
    note_peak(ip);
    memset(ip->arena + start, 0, bytes);
    return ip->arena + start;
}

void *kwsq_alloc_persistent_array(struct kwsq_interpreter *ip, size_t count, size_t elem_size)
{
    if (elem_size != 0 && count > SIZE_MAX / 2 / elem_size) {
        kwsq_arena_short(ip, SIZE_MAX / 2);
        return NULL;
    }
    return kwsq_alloc_persistent(ip, count * elem_size);
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

