/*
 * kwsq runtime internals shared by the reader, the interpreter and the kernels.
 * Kernels see the model only through these types: every offset into the
 * flatbuffer has already been validated by the reader (fb.c).
 */
#ifndef KWSQ_INTERNAL_H
#define KWSQ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kwsq_ops.h"
#include "kwsq_rt.h"

/* ---- flatbuffer reader (fb.c) ----------------------------------------- */

typedef struct {
    const uint8_t *buf;
    size_t len;
} kwsq_fb;

/* A validated table: its position, its vtable and their sizes. */
typedef struct {
    size_t pos;
    size_t vt;
    uint16_t vt_size;
    uint16_t tab_size;
} kwsq_fb_table;

/* A validated vector: first element position and element count. */
typedef struct {
    size_t pos;
    uint32_t count;
} kwsq_fb_vec;

uint32_t kwsq_rd_u32(const uint8_t *p);
uint16_t kwsq_rd_u16(const uint8_t *p);
float kwsq_rd_f32(const uint8_t *p);
int64_t kwsq_rd_i64(const uint8_t *p);

bool kwsq_fb_root(const kwsq_fb *fb, kwsq_fb_table *root);
bool kwsq_fb_table_at(const kwsq_fb *fb, size_t pos, kwsq_fb_table *t);
/* Scalar fields: false when the field is present but out of bounds. */
bool kwsq_fb_i32(const kwsq_fb *fb, const kwsq_fb_table *t, int id, int32_t def, int32_t *out);
bool kwsq_fb_u32(const kwsq_fb *fb, const kwsq_fb_table *t, int id, uint32_t def, uint32_t *out);
bool kwsq_fb_i8(const kwsq_fb *fb, const kwsq_fb_table *t, int id, int32_t def, int32_t *out);
bool kwsq_fb_u8(const kwsq_fb *fb, const kwsq_fb_table *t, int id, int32_t def, int32_t *out);
bool kwsq_fb_f32(const kwsq_fb *fb, const kwsq_fb_table *t, int id, float def, float *out);
bool kwsq_fb_u64(const kwsq_fb *fb, const kwsq_fb_table *t, int id, uint64_t def, uint64_t *out);
/* Reference fields. *present says whether the field exists; false = corrupt. */
bool kwsq_fb_subtable(const kwsq_fb *fb, const kwsq_fb_table *t, int id, bool *present,
                      kwsq_fb_table *out);
bool kwsq_fb_vector(const kwsq_fb *fb, const kwsq_fb_table *t, int id, size_t elem_size,
                    kwsq_fb_vec *out);
bool kwsq_fb_vec_table(const kwsq_fb *fb, const kwsq_fb_vec *v, uint32_t i, kwsq_fb_table *out);

/* ---- interpreter data ------------------------------------------------- */

/* What only loading needs (Prepare and the planner). It lives in temporary
 * arena space at the far end, which the activations reuse once init is done,
 * so it costs no RAM at run time. */
typedef struct {
    const uint8_t *scales;  /* float32 vector in the model (num_channels) or NULL */
    const uint8_t *zeros;   /* int64 vector in the model or NULL */
    size_t offset;          /* arena offset of planned tensors; before planning, the
                             * distance to the tensor it lies above, if any */
    size_t distance;        /* the planner's copy of that distance (it places twice) */
    int16_t first_use;      /* op index (at most 4096 ops); -1 = unused */
    int16_t last_use;
    int16_t alias;          /* >= 0: shares the memory of this (kept) tensor (in-place op);
                             * <= -2: lies above kept tensor -2 - alias (overlapped op,
                             * kwsq_above); -1: neither */
    int8_t quant_dim;       /* validated (< KWSQ_MAX_DIMS) when num_channels > 1 */
    uint8_t is_const;
} kwsq_tensor_meta;

/* Only the tensors Eval reads have an entry at run time ("kept"): the graph's
 * inputs and outputs, every activation, and the constants some op reads in
 * Eval. A constant only Prepare reads (weights and biases, which the kernel
 * keeps pointers to in its op data) gets a view in temporary memory while
 * its op is prepared, and nothing after. */
typedef struct {
    kwsq_tensor v;          /* public view; v.data set after planning */
    kwsq_tensor_meta *m;    /* valid during kwsq_init only (Prepare), NULL after */
} kwsq_tensor_int;

struct kwsq_interpreter;
struct kwsq_node;

typedef kwsq_status (*kwsq_prepare_fn)(struct kwsq_interpreter *ip, struct kwsq_node *n);
typedef kwsq_status (*kwsq_eval_fn)(struct kwsq_interpreter *ip, const struct kwsq_node *n);

struct kwsq_kernel {
    int32_t builtin;        /* TFLite BuiltinOperator value */
    int32_t options_type;   /* expected BuiltinOptions union type, 0 = none */
    kwsq_prepare_fn prepare;
    kwsq_eval_fn eval;
    /* Bit i set: Eval never reads input i (Prepare keeps what it needs of it
     * in the op data), so a constant there needs no tensor entry at run time. */
    uint32_t prepare_only_inputs;
    /* "FULLY_CONNECTED" for messages and the profile (kwsq_operator_name);
     * NULL in a build without op names (KWSQ_OP_NAME) */
    const char *name;
};

/* A record's name: a build for one op list names its ops from the records
 * alone (KWSQ_LISTED_OP_NAMES leaves the table of every builtin's name out,
 * op_names.c); -DKWSQ_NO_OP_NAMES names none. */
#ifdef KWSQ_NO_OP_NAMES
#define KWSQ_OP_NAME(s) NULL
#else
#define KWSQ_OP_NAME(s) (s)
#endif

/* Bit of kwsq_kernel.prepare_only_inputs for input i. */
#define KWSQ_PREPARE_ONLY(i) (1u << (i))

#define KWSQ_MAX_SCRATCH 2
#define KWSQ_MAX_NODE_TENSORS 255  /* inputs, and outputs, of one op */

typedef struct kwsq_node {
    const kwsq_kernel *kernel;
    /* Inputs then outputs. During init: model tensor indices; after: indices
     * of kept tensors. -1 = optional input absent, or (after init) a constant
     * only Prepare read. */
    int16_t *io;
    void *data;             /* per-op data from Prepare (persistent) */
    uint32_t scratch_offset[KWSQ_MAX_SCRATCH]; /* arena offset after planning */
    uint8_t num_inputs;
    uint8_t num_outputs;
} kwsq_node;

struct kwsq_init_ctx;       /* load-time state (kwsq_load.h), in temporary memory */

struct kwsq_interpreter {
    kwsq_fb fb;
    kwsq_tensor_int *tensors; /* the kept tensors */
    int32_t num_tensors;
    kwsq_node *nodes;
    int32_t num_nodes;
    int16_t *inputs;        /* graph inputs and outputs: indices as in kwsq_node.io */
    int16_t *outputs;
    int16_t num_inputs;
    int16_t num_outputs;
    uint8_t *arena;         /* aligned start */
    size_t arena_len;
    size_t persist_used;    /* bytes from arena start: interpreter + per-op data */
    size_t temp_used;       /* bytes from arena end: load-time metadata */
    size_t used;            /* during init: peak so far; then the larger of that and persistent + planned */
    size_t short_need;      /* during init: the largest arena a failed allocation asked for */
    size_t given;           /* the caller's arena length */
    size_t pad;             /* bytes skipped to align the arena start */
    kwsq_error *err;
    const kwsq_op_resolver *ops; /* during init: where ops are looked up */
    struct kwsq_init_ctx *init; /* NULL once kwsq_init has returned */
};

/* ---- services for kernels (node.c, arena.c, format.c) ------------------ */

/* Input/output i of a node; NULL if the optional input is absent. */
kwsq_tensor_int *kwsq_node_input(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t i);
kwsq_tensor_int *kwsq_node_output(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t i);
void *kwsq_alloc_persistent(struct kwsq_interpreter *ip, size_t bytes);
/* count * elem_size bytes, refused (NULL) when the product does not fit. */
void *kwsq_alloc_persistent_array(struct kwsq_interpreter *ip, size_t count, size_t elem_size);
/* Ask for a scratch buffer alive only during this op; returns its slot or -1. */
int32_t kwsq_request_scratch(struct kwsq_interpreter *ip, kwsq_node *n, size_t bytes);
void *kwsq_scratch(const struct kwsq_interpreter *ip, const kwsq_node *n, int32_t slot);
/* Lets output `out_i` reuse the memory of input `in_i` when that input dies at
 * this op and is neither a constant nor a graph input; true when granted. The
 * kernel must then compute so that no input byte is overwritten before it is
 * read. */
bool kwsq_alias_output(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t out_i, int32_t in_i);
/* Lets input `in_i` lie `delta` bytes above the start of output `out_i`, the
 * two overlapping, under the same conditions as kwsq_alias_output. The op
 * computes `delta` from its geometry and its kernels' row-order contract
 * (include/kwsq_kernels.h) so that no input byte is overwritten before it is
 * read. Not granted (false) when it would save nothing; an in-place alias
 * granted later for the same pair replaces it. */
bool kwsq_overlap_output(struct kwsq_interpreter *ip, const kwsq_node *n, int32_t out_i, int32_t in_i,
                         int64_t delta);

/* Sets ip->err to "<OP> (op <index>): <fmt>" (just <fmt> when n is NULL) and
 * returns `status`. fmt knows %s, %d (int), %u (unsigned long) and, during
 * init, %T (const kwsq_tensor_int *) and %I (int model tensor index), both
 * written as "tensor <index> '<name>'". */
kwsq_status kwsq_fail(struct kwsq_interpreter *ip, const kwsq_node *n, kwsq_status status,
                      const char *fmt, ...);
/* -DKWSQ_SHORT_ERRORS (small firmware): the messages' text is left out of the
 * build and an error reads "<OP> (op <index>): error at <file>:<line>"; the
 * arena-size message is kept whole. */
kwsq_status kwsq_fail_at(struct kwsq_interpreter *ip, const kwsq_node *n, kwsq_status status,
                         const char *file, int line, ...);
#ifdef KWSQ_SHORT_ERRORS
/* The format and its arguments are dropped: they sit in the arm of a
 * constant conditional that is never evaluated (so the callers' variables
 * stay used and the format is still type-checked, yet no argument is
 * computed or passed, and no text is kept). Inside its own expansion
 * kwsq_fail names the function. */
#define kwsq_fail(ip, n, status, ...)                                   \
    (0 ? kwsq_fail((ip), (n), (status), __VA_ARGS__)                    \
       : kwsq_fail_at((ip), (n), (status), __FILE__, __LINE__))
#endif
void kwsq_format(char *dst, size_t cap, const char *fmt, ...);

/* Option field readers: `def` when the op has no options table or the table
 * lacks the field; a field present but corrupt gives `def` too and makes
 * kwsq_init refuse the model once the op's Prepare returns. */
int32_t kwsq_opt_i32(const struct kwsq_interpreter *ip, const kwsq_node *n, int id, int32_t def);
int32_t kwsq_opt_i8(const struct kwsq_interpreter *ip, const kwsq_node *n, int id, int32_t def);
float kwsq_opt_f32(const struct kwsq_interpreter *ip, const kwsq_node *n, int id, float def);
bool kwsq_opt_i32_vec(const struct kwsq_interpreter *ip, const kwsq_node *n, int id,
                      kwsq_fb_vec *out);

const char *kwsq_builtin_name(int32_t code);
const kwsq_kernel *kwsq_find_kernel(const kwsq_op_resolver *ops, int32_t builtin);

/* ---- tensor helpers (tensor_util.c) ------------------------------------ */

size_t kwsq_type_size_bits(kwsq_type t);  /* 0 = unsupported */
int64_t kwsq_num_elements(const kwsq_tensor *t);
float kwsq_channel_scale(const kwsq_tensor_int *t, int32_t c);
int32_t kwsq_channel_zero(const kwsq_tensor_int *t, int32_t c);
bool kwsq_same_shape(const kwsq_tensor *a, const kwsq_tensor *b);

#endif /* KWSQ_INTERNAL_H */
