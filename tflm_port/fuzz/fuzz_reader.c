/* libFuzzer target: any byte string handed to kwsq_init, then one invoke.
 *
 * The reader is the runtime's only defence against a corrupt or hostile
 * .tflite (every read of model data is bounds-checked there, once), so it is
 * what we fuzz.  A model that passes init is also invoked once: validation is
 * only complete if whatever it accepts runs without reading or writing out of
 * bounds.  KWSQ_FUZZ_INVOKE=0 in the environment skips the invoke: init alone
 * runs about ten times as many inputs a second.
 *
 * The model and the arena are copied into heap blocks of exactly their size so
 * AddressSanitizer sees a read past the model's end or a write past the arena's
 * end (a static buffer would hide both).  The heap is the harness's, on the
 * host; the runtime itself still allocates nothing. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kwsq_rt.h"

#ifndef FUZZ_ARENA_BYTES
#define FUZZ_ARENA_BYTES (256u * 1024u)
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool invoke_models = true;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *flag = getenv("KWSQ_FUZZ_INVOKE");
    invoke_models = !(flag != NULL && strcmp(flag, "0") == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *model = malloc(size > 0u ? size : 1u);
    uint8_t *arena = malloc(FUZZ_ARENA_BYTES);
    if (model == NULL || arena == NULL) {
        abort();
    }
    if (size > 0u) {
        memcpy(model, data, size);
    }
    kwsq_interpreter *ip = NULL;
    kwsq_error err;
    if (kwsq_init(&ip, model, size, arena, FUZZ_ARENA_BYTES, &err) == KWSQ_OK) {
        (void)kwsq_arena_used_bytes(ip);
    }
    if (ip != NULL && invoke_models) {
        /* Deterministic, non-zero inputs reach more kernel paths than zeros. */
        for (size_t i = 0; i < kwsq_num_inputs(ip); i++) {
            const kwsq_tensor *t = kwsq_input(ip, i);
            uint8_t *bytes = (uint8_t *)t->data;
            for (size_t b = 0; b < t->bytes; b++) {
                bytes[b] = (uint8_t)(b * 37u + 11u);
            }
        }
        (void)kwsq_invoke(ip, &err);
    }
    free(arena);
    free(model);
    return 0;
}
