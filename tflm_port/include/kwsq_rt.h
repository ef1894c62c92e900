/*
 * kwsq runtime: public API.
 *
 * A C99 interpreter for TFLite flatbuffers, bit-exact with TFLite Micro's
 * reference kernels. No heap: everything (the interpreter itself, per-op
 * precomputed data, activations, scratch) lives in one caller-given arena.
 * The model bytes are read in place and must stay valid (and unchanged) for
 * the interpreter's lifetime; they should be 4-byte aligned (16 is better).
 *
 * Typical use:
 *   static uint8_t arena[8192] __attribute__((aligned(16)));
 *   kwsq_interpreter *ip; kwsq_error err;
 *   if (kwsq_init(&ip, model, model_len, arena, sizeof arena, &err) != KWSQ_OK)
 *       puts(err.message);
 *   memcpy(kwsq_input(ip, 0)->data, features, kwsq_input(ip, 0)->bytes);
 *   kwsq_invoke(ip, &err);
 *   const int8_t *scores = kwsq_output(ip, 0)->data;
 */
#ifndef KWSQ_RT_H
#define KWSQ_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KWSQ_MAX_DIMS 6
#define KWSQ_ERROR_LEN 160

typedef enum {
    KWSQ_OK = 0,
    KWSQ_ERR_ARGUMENT = 1,    /* NULL pointer, index out of range */
    KWSQ_ERR_MODEL = 2,       /* not a valid / consistent .tflite flatbuffer */
    KWSQ_ERR_UNSUPPORTED = 3, /* valid model using an op, type or shape we do not run */
    KWSQ_ERR_ARENA = 4,       /* arena too small (message says how much is needed) */
    KWSQ_ERR_EVAL = 5         /* a kernel failed while computing */
} kwsq_status;

/* Tensor element types; the numbers are TFLite's schema TensorType values. */
typedef enum {
    KWSQ_FLOAT32 = 0,
    KWSQ_INT32 = 2,
    KWSQ_UINT8 = 3,
    KWSQ_INT64 = 4,
    KWSQ_BOOL = 6,
    KWSQ_INT16 = 7,
    KWSQ_INT8 = 9,
    KWSQ_INT4 = 17
} kwsq_type;

typedef struct {
    char message[KWSQ_ERROR_LEN]; /* NUL-terminated, names the op and the reason */
} kwsq_error;

/* A view of one tensor. `data` points into the arena (activations) or the
 * model (constants). For per-channel quantized tensors `scale`/`zero_point`
 * hold channel 0; the full arrays are internal. */
typedef struct {
    kwsq_type type;
    int32_t num_dims;
    int32_t dims[KWSQ_MAX_DIMS];
    void *data;
    size_t bytes;
    float scale;          /* 0 when not quantized */
    int32_t zero_point;
    int32_t num_channels; /* >1 for per-channel quantization */
} kwsq_tensor;

typedef struct kwsq_interpreter kwsq_interpreter;

/* Parse, validate, plan and prepare. The interpreter is placed inside `arena`.
 * `err` may be NULL. On failure *out is NULL. */
kwsq_status kwsq_init(kwsq_interpreter **out, const uint8_t *model, size_t model_len,
                      uint8_t *arena, size_t arena_len, kwsq_error *err);

/* Run all operators once on the current input tensors. Input memory is reused
 * for activations once the graph has consumed it: write the inputs before
 * every call. Output views stay valid (and unchanged) until the next call. */
kwsq_status kwsq_invoke(kwsq_interpreter *ip, kwsq_error *err);

size_t kwsq_num_inputs(const kwsq_interpreter *ip);
size_t kwsq_num_outputs(const kwsq_interpreter *ip);
/* NULL when i is out of range. The views stay valid until the arena is reused. */
const kwsq_tensor *kwsq_input(const kwsq_interpreter *ip, size_t i);
const kwsq_tensor *kwsq_output(const kwsq_interpreter *ip, size_t i);

/* Bytes of the arena actually used: interpreter, per-op data, and the larger
 * of the load-time metadata and the planned activations + scratch. An arena of
 * this size (with the same alignment modulo 16) suffices. */
size_t kwsq_arena_used_bytes(const kwsq_interpreter *ip);

/* Per-operator access, for profiling harnesses. */
size_t kwsq_num_operators(const kwsq_interpreter *ip);
/* "FULLY_CONNECTED"; NULL in a build without op names (-DKWSQ_NO_OP_NAMES). */
const char *kwsq_operator_name(const kwsq_interpreter *ip, size_t i);
kwsq_status kwsq_invoke_operator(kwsq_interpreter *ip, size_t i, kwsq_error *err);

const char *kwsq_status_name(kwsq_status s);
const char *kwsq_type_name(kwsq_type t);

#ifdef __cplusplus
}
#endif

#endif /* KWSQ_RT_H */
