/*
 * Load-time state shared by the parts of kwsq_init (interpreter.c builds,
 * model.c parses, planner.c plans, arena.c allocates, node.c serves the
 * kernels' Prepare). None of it survives init: it lives in temporary arena
 * memory that the planned activations reuse.
 */
#ifndef KWSQ_LOAD_H
#define KWSQ_LOAD_H

#include "kwsq_internal.h"

#define KWSQ_ALIGN_PERSIST 8u  /* also the granularity of the arena length */
#define KWSQ_ALIGN_PLAN 8u
#define KWSQ_MAX_TENSORS 4096   /* tensors, operators, graph inputs and outputs */

/* Per-op state only Prepare and the planner need. */
typedef struct {
    kwsq_fb_table options;
    uint32_t scratch_size[KWSQ_MAX_SCRATCH]; /* 0 = slot unused */
    int16_t corrupt_field;  /* 1 + id of the first options field found corrupt, 0 = none */
    bool has_options;
} kwsq_node_meta;

struct kwsq_init_ctx {
    kwsq_fb_vec tensors;        /* the subgraph's tensor tables */
    kwsq_fb_vec buffers;
    kwsq_fb_vec opcodes;
    int16_t *map;               /* model tensor index -> kept tensor index, -1 = not kept */
    uint8_t *is_const;          /* by model tensor index */
    kwsq_node_meta *nodes;
    kwsq_tensor_int *views;     /* inputs of the op in Prepare that are not kept, in slot order */
};

static inline size_t kwsq_align_up(size_t x, size_t a)
{
    return (x + a - 1u) & ~(a - 1u);
}

/* The kept tensor a tensor lies above (kwsq_overlap_output), or -1. */
static inline int32_t kwsq_above(const kwsq_tensor_meta *m)
{
    return m->alias <= -2 ? -2 - m->alias : -1;
}

static inline void kwsq_set_above(kwsq_tensor_meta *m, int32_t t, size_t distance)
{
    m->alias = (int16_t)(t >= 0 ? -2 - t : -1);
    m->offset = distance;
}

/* arena.c: load-time-only memory from the far end of the arena. */
void *kwsq_alloc_temp(struct kwsq_interpreter *ip, size_t bytes);
/* Records that the arena would have to be at least `need` bytes (from the
 * aligned start) for a request that failed. */
void kwsq_arena_short(struct kwsq_interpreter *ip, size_t need);

/* model.c */
kwsq_status kwsq_load_tensor(struct kwsq_interpreter *ip, uint32_t index, kwsq_tensor_int *out);
kwsq_status kwsq_read_index_vec(struct kwsq_interpreter *ip, const kwsq_fb_vec *v, int16_t *out,
                                bool allow_absent);
kwsq_status kwsq_parse_operator(struct kwsq_interpreter *ip, const kwsq_fb_table *op, kwsq_node *n,
                                kwsq_node_meta *nm);

/* planner.c: offsets of activations and scratch; sets the tensors' data. */
kwsq_status kwsq_plan(struct kwsq_interpreter *ip);

/* format.c: the two load-time error kinds. */
kwsq_status kwsq_model_error(struct kwsq_interpreter *ip, const char *what);
#ifdef KWSQ_SHORT_ERRORS
#define kwsq_model_error(ip, what) kwsq_fail_at((ip), NULL, KWSQ_ERR_MODEL, __FILE__, __LINE__)
#endif
kwsq_status kwsq_arena_error(struct kwsq_interpreter *ip);

#endif /* KWSQ_LOAD_H */
