/*
 * One fuzz input, as the libFuzzer harness (fuzz_reader.c, host) and the
 * corpus replay (replay.c, host and Cortex-M4 under QEMU) both run it: the
 * same arena size, the same inputs, the same result line, so a corpus gives
 * the same answers on a 64-bit host and a 32-bit target.
 *
 * The arena size comes from a hash of the whole input, so every mutation of
 * a model also tries another arena: in 3 of 8 inputs the full arena, in 3 of
 * 8 any size from 1 to the full arena, in 2 of 8 a size close to what the
 * model needs (from a first init with the full arena), up to 48 bytes less or
 * 45 more in steps of 3, so odd sizes and the exact boundary both occur.
 *
 * The caller provides the arena memory through `get_arena` (an exact-size
 * heap block on the host, a guarded region on the target).
 */
#ifndef KWSQ_FUZZ_ONE_H
#define KWSQ_FUZZ_ONE_H

#include <stddef.h>
#include <stdint.h>

#include "kwsq_rt.h"

#define KWSQ_FUZZ_ARENA_BYTES (256u * 1024u)

typedef struct {
    kwsq_status status;     /* of kwsq_init, or of kwsq_invoke when init succeeded */
    size_t arena_bytes;     /* the arena size tried */
    uint32_t output_hash;   /* FNV-1a of the outputs (0 when not run) */
    int invoked;
    int silent_failure;     /* a failure that left the error message empty */
} kwsq_fuzz_result;

typedef uint8_t *(*kwsq_fuzz_get_arena)(void *ctx, size_t bytes);
typedef void (*kwsq_fuzz_put_arena)(void *ctx, uint8_t *arena, size_t bytes);

/* FNV-1a of the input: the arena choice. */
static inline uint32_t kwsq_fuzz_input_hash(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++) {
        h = (h ^ data[i]) * 16777619u;
    }
    return h;
}

static inline int kwsq_fuzz_near_need(uint32_t hash)
{
    return (hash & 7u) >= 6u;
}

static inline size_t kwsq_fuzz_arena_size(uint32_t hash, size_t need)
{
    const uint32_t kind = hash & 7u, value = hash >> 3;
    if (kind < 3u || (kind >= 6u && need == 0)) {
        return KWSQ_FUZZ_ARENA_BYTES;
    }
    if (kind < 6u) {
        return 1u + value % KWSQ_FUZZ_ARENA_BYTES;
    }
    const long delta = ((long)(value & 31u) - 16) * 3;
    return delta < 0 && (size_t)-delta >= need ? 1u : (size_t)((long)need + delta);
}

/* Deterministic, non-zero inputs reach more kernel paths than zeros. */
static inline void kwsq_fuzz_fill_inputs(kwsq_interpreter *ip)
{
    for (size_t i = 0; i < kwsq_num_inputs(ip); i++) {
        const kwsq_tensor *t = kwsq_input(ip, i);
        uint8_t *bytes = (uint8_t *)t->data;
        for (size_t b = 0; b < t->bytes; b++) {
            bytes[b] = (uint8_t)(b * 37u + 11u);
        }
    }
}

static inline uint32_t kwsq_fuzz_hash_outputs(const kwsq_interpreter *ip)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < kwsq_num_outputs(ip); i++) {
        const kwsq_tensor *t = kwsq_output(ip, i);
        for (size_t b = 0; b < t->bytes; b++) {
            h = (h ^ ((const uint8_t *)t->data)[b]) * 16777619u;
        }
    }
    return h;
}

static inline kwsq_fuzz_result kwsq_fuzz_one(const uint8_t *model, size_t size, int invoke,
                                             kwsq_fuzz_get_arena get, kwsq_fuzz_put_arena put,
                                             void *ctx)
{
    kwsq_fuzz_result r = {KWSQ_OK, 0, 0u, 0, 0};
    kwsq_interpreter *ip = NULL;
    kwsq_error err;
    size_t need = 0;
    const uint32_t hash = kwsq_fuzz_input_hash(model, size);
    if (kwsq_fuzz_near_need(hash)) {
        uint8_t *full = get(ctx, KWSQ_FUZZ_ARENA_BYTES);
        if (kwsq_init(&ip, model, size, full, KWSQ_FUZZ_ARENA_BYTES, &err) == KWSQ_OK) {
            need = kwsq_arena_used_bytes(ip);
        }
        put(ctx, full, KWSQ_FUZZ_ARENA_BYTES);
    }
    r.arena_bytes = kwsq_fuzz_arena_size(hash, need);
    uint8_t *arena = get(ctx, r.arena_bytes);
    r.status = kwsq_init(&ip, model, size, arena, r.arena_bytes, &err);
    if (r.status == KWSQ_OK && invoke) {
        kwsq_fuzz_fill_inputs(ip);
        r.invoked = 1;
        r.status = kwsq_invoke(ip, &err);
        if (r.status == KWSQ_OK) {
            r.output_hash = kwsq_fuzz_hash_outputs(ip);
        }
    }
    r.silent_failure = r.status != KWSQ_OK && err.message[0] == '\0';
    put(ctx, arena, r.arena_bytes);
    return r;
}

#endif /* KWSQ_FUZZ_ONE_H */
