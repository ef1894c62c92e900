/*
 * arena_sweep: kwsq_init and kwsq_invoke over every arena size, for the
 * sanitizer builds of the runtime tests.
 *
 *   arena_sweep [--start N] [--step N] [--extra N] MODEL.tflite...
 *
 * For each model: the arena the runtime needs (kwsq_arena_used_bytes with a
 * large arena), the outputs of a seeded input with that large arena, then
 * every size start, start + step, ... up to need + extra (defaults 1, 8,
 * 64), each arena an exact-size heap block (so AddressSanitizer sees a write
 * one byte outside it). A size below
 * the need must be refused with KWSQ_ERR_ARENA and a message; a size at or
 * above it must load and give the same outputs. Odd sizes check that the
 * runtime rounds the arena length down to its alignment.
 * Prints one line per model; exit 0 when every size behaved, 1 otherwise,
 * 2 on bad usage. (A host tool: it may use malloc; the runtime never does.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kwsq_rt.h"

#define BIG_ARENA (8u << 20)

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        /* 16-byte aligned, as the runtime asks of a model. */
        void *p = NULL;
        buf = posix_memalign(&p, 16, (size_t)n) == 0 ? p : NULL;
        if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

/* Deterministic input bytes; floats stay finite and modest. */
static void fill_inputs(kwsq_interpreter *ip)
{
    uint32_t s = 12345u;
    for (size_t i = 0; i < kwsq_num_inputs(ip); ++i) {
        const kwsq_tensor *t = kwsq_input(ip, i);
        uint8_t *p = t->data;
        for (size_t k = 0; k < t->bytes; ++k) {
            s = s * 1664525u + 1013904223u;
            p[k] = (uint8_t)(s >> 24);
        }
        if (t->type == KWSQ_FLOAT32) {
            float *f = t->data;
            for (size_t k = 0; k < t->bytes / 4; ++k) {
                s = s * 1664525u + 1013904223u;
                f[k] = (float)((int32_t)(s >> 16) % 2000) / 500.0f;
            }
        }
    }
}

static size_t outputs_size(const kwsq_interpreter *ip)
{
    size_t total = 0;
    for (size_t i = 0; i < kwsq_num_outputs(ip); ++i) {
        total += kwsq_output(ip, i)->bytes;
    }
    return total;
}

static void copy_outputs(const kwsq_interpreter *ip, uint8_t *dst)
{
    for (size_t i = 0; i < kwsq_num_outputs(ip); ++i) {
        const kwsq_tensor *t = kwsq_output(ip, i);
        memcpy(dst, t->data, t->bytes);
        dst += t->bytes;
    }
}

static int sweep(const char *path, size_t start, size_t step, size_t extra)
{
    size_t len = 0;
    uint8_t *model = read_file(path, &len);
    if (model == NULL) {
        printf("%s: cannot read\n", path);
        return 1;
    }
    uint8_t *big = malloc(BIG_ARENA);
    kwsq_interpreter *ip;
    kwsq_error err;
    if (big == NULL || kwsq_init(&ip, model, len, big, BIG_ARENA, &err) != KWSQ_OK) {
        printf("%s: does not load: %s\n", path, big ? err.message : "out of memory");
        free(model);
        free(big);
        return 1;
    }
    const size_t need = kwsq_arena_used_bytes(ip);
    const size_t out_bytes = outputs_size(ip);
    uint8_t *ref = malloc(out_bytes + 1u), *got = malloc(out_bytes + 1u);
    fill_inputs(ip);
    if (kwsq_invoke(ip, &err) != KWSQ_OK) {
        printf("%s: invoke failed: %s\n", path, err.message);
        return 1;
    }
    copy_outputs(ip, ref);
    free(big);

    size_t sizes = 0, failures = 0;
    for (size_t size = start; size <= need + extra; size += step) {
        uint8_t *arena = malloc(size);
        kwsq_status st = kwsq_init(&ip, model, len, arena, size, &err);
        const char *bad = NULL;
        ++sizes;
        if (size < need) {
            if (st != KWSQ_ERR_ARENA || ip != NULL) {
                bad = "not refused as too small";
            } else if (strncmp(err.message, "arena too small", 15) != 0) {
                bad = "refused without the arena message";
            }
        } else if (st != KWSQ_OK) {
            bad = "refused";
        } else {
            fill_inputs(ip);
            if (kwsq_invoke(ip, &err) != KWSQ_OK) {
                bad = "invoke failed";
            } else {
                copy_outputs(ip, got);
                if (memcmp(ref, got, out_bytes) != 0) {
                    bad = "outputs differ from the large arena's";
                }
            }
        }
        if (bad != NULL && failures++ < 5) {
            printf("%s: arena %zu (need %zu): %s (status %s: %s)\n", path, size, need, bad,
                   kwsq_status_name(st), err.message);
        }
        free(arena);
    }
    printf("%s: need %zu bytes, %zu sizes, %zu failures\n", path, need, sizes, failures);
    free(ref);
    free(got);
    free(model);
    return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    size_t start = 1, step = 8, extra = 64;
    int status = 0, models = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--start") == 0 && i + 1 < argc) {
            start = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--step") == 0 && i + 1 < argc) {
            step = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--extra") == 0 && i + 1 < argc) {
            extra = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (argv[i][0] == '-' || step == 0) {
            fprintf(stderr, "usage: arena_sweep [--start N] [--step N] [--extra N] MODEL.tflite...\n");
            return 2;
        } else {
            status |= sweep(argv[i], start, step, extra);
            ++models;
        }
    }
    if (models == 0) {
        fprintf(stderr, "usage: arena_sweep [--start N] [--step N] [--extra N] MODEL.tflite...\n");
        return 2;
    }
    return status;
}
