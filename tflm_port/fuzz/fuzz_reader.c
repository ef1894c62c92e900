/* libFuzzer target: any byte string handed to kwsq_init with an arena size
 * that also comes from the input, then one invoke (fuzz_one.h).
 *
 * The reader is the runtime's only defence against a corrupt or hostile
 * .tflite (every read of model data is bounds-checked there, once), and the
 * arena allocator and planner its defence against a small arena: the arena
 * size varies with the input (the full 256 KiB, any size, or sizes around
 * what the model needs), so the small-arena paths are fuzzed too. A model
 * that passes init is invoked once: validation is only complete if whatever
 * it accepts runs without reading or writing out of bounds.
 * KWSQ_FUZZ_INVOKE=0 in the environment skips the invoke.
 *
 * The model and the arena are copied into heap blocks of exactly their size so
 * AddressSanitizer sees a read past the model's end or a write past the arena's
 * end (a static buffer would hide both). A failure with an empty error
 * message is a finding too (abort). The heap is the harness's, on the host;
 * the runtime itself still allocates nothing. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_one.h"

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

static uint8_t *get_arena(void *ctx, size_t bytes)
{
    (void)ctx;
    uint8_t *p = malloc(bytes);
    if (p == NULL) {
        abort();
    }
    return p;
}

static void put_arena(void *ctx, uint8_t *arena, size_t bytes)
{
    (void)ctx;
    (void)bytes;
    free(arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *model = malloc(size > 0u ? size : 1u);
    if (model == NULL) {
        abort();
    }
    if (size > 0u) {
        memcpy(model, data, size);
    }
    const kwsq_fuzz_result r = kwsq_fuzz_one(model, size, invoke_models, get_arena, put_arena, NULL);
    free(model);
    if (r.silent_failure) {
        abort();
    }
    return 0;
}
