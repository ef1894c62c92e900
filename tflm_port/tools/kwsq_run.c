/*
 * kwsq-run: host command line for the kwsq runtime.
 *
 *   kwsq-run MODEL.tflite INPUT.bin OUTPUT.bin   run; INPUT holds the raw bytes of
 *        all inputs (one sample) or N samples back to back; OUTPUT gets the raw
 *        output tensors of every sample, in order
 *   kwsq-run --arena MODEL.tflite                print the minimum arena size in bytes
 *   kwsq-run --info MODEL.tflite                 print inputs, outputs, operators
 * Options: --arena-size BYTES (default 4 MiB). Exit 0 ok, 1 runtime error, 2 usage.
 * (A host tool: it may use malloc; the runtime itself never does.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kwsq_rt.h"

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1u);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

static void print_tensor(const char *role, size_t i, const kwsq_tensor *t)
{
    printf("%s %zu: %s [", role, i, kwsq_type_name(t->type));
    for (int32_t d = 0; d < t->num_dims; ++d) {
        printf(d ? ", %d" : "%d", (int)t->dims[d]);
    }
    printf("] bytes=%zu scale=%.9g zero_point=%d\n", t->bytes, (double)t->scale, (int)t->zero_point);
}

int main(int argc, char **argv)
{
    size_t arena_size = 4u << 20;
    const char *mode = "run";
    const char *paths[3];
    int npaths = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--arena") == 0 || strcmp(argv[i], "--info") == 0) {
            mode = argv[i] + 2;
        } else if (strcmp(argv[i], "--arena-size") == 0 && i + 1 < argc) {
            arena_size = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (npaths < 3 && argv[i][0] != '-') {
            paths[npaths++] = argv[i];
        } else {
            npaths = -1;
            break;
        }
    }
    if (npaths != (strcmp(mode, "run") == 0 ? 3 : 1)) {
        fprintf(stderr, "usage: kwsq-run [--arena-size N] MODEL.tflite INPUT.bin OUTPUT.bin\n"
                        "       kwsq-run --arena|--info MODEL.tflite\n");
        return 2;
    }
    size_t model_len = 0;
    unsigned char *model = read_file(paths[0], &model_len);
    unsigned char *arena = malloc(arena_size ? arena_size : 1u);
    if (model == NULL || arena == NULL) {
        fprintf(stderr, "kwsq-run: cannot read %s\n", paths[0]);
        return 1;
    }
    kwsq_interpreter *ip;
    kwsq_error err;
    kwsq_status st = kwsq_init(&ip, model, model_len, arena, arena_size, &err);
    if (st != KWSQ_OK) {
        fprintf(stderr, "kwsq-run: %s: %s\n", kwsq_status_name(st), err.message);
        return 1;
    }
    if (strcmp(mode, "arena") == 0) {
        printf("%zu\n", kwsq_arena_used_bytes(ip));
        return 0;
    }
    if (strcmp(mode, "info") == 0) {
        for (size_t i = 0; i < kwsq_num_inputs(ip); ++i) {
            print_tensor("input", i, kwsq_input(ip, i));
        }
        for (size_t i = 0; i < kwsq_num_outputs(ip); ++i) {
            print_tensor("output", i, kwsq_output(ip, i));
        }
        for (size_t i = 0; i < kwsq_num_operators(ip); ++i) {
            printf("op %zu: %s\n", i, kwsq_operator_name(ip, i));
        }
        printf("arena_used_bytes %zu\n", kwsq_arena_used_bytes(ip));
        return 0;
    }
    size_t in_bytes = 0, in_len = 0;
    for (size_t i = 0; i < kwsq_num_inputs(ip); ++i) {
        in_bytes += kwsq_input(ip, i)->bytes;
    }
    unsigned char *input = read_file(paths[1], &in_len);
    if (input == NULL || in_bytes == 0 || in_len == 0 || in_len % in_bytes != 0) {
        fprintf(stderr, "kwsq-run: %s must hold a multiple of %zu bytes\n", paths[1], in_bytes);
        return 1;
    }
    FILE *out = fopen(paths[2], "wb");
    if (out == NULL) {
        fprintf(stderr, "kwsq-run: cannot write %s\n", paths[2]);
        return 1;
    }
    for (size_t s = 0; s < in_len / in_bytes; ++s) {
        const unsigned char *p = input + s * in_bytes;
        for (size_t i = 0; i < kwsq_num_inputs(ip); ++i) {
            const kwsq_tensor *t = kwsq_input(ip, i);
            memcpy(t->data, p, t->bytes);
            p += t->bytes;
        }
        st = kwsq_invoke(ip, &err);
        if (st != KWSQ_OK) {
            fprintf(stderr, "kwsq-run: %s: %s\n", kwsq_status_name(st), err.message);
            fclose(out);
            return 1;
        }
        for (size_t i = 0; i < kwsq_num_outputs(ip); ++i) {
            const kwsq_tensor *t = kwsq_output(ip, i);
            if (fwrite(t->data, 1, t->bytes, out) != t->bytes) {
                fclose(out);
                return 1;
            }
        }
    }
    return fclose(out) == 0 ? 0 : 1;
}
