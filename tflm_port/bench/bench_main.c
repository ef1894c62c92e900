/* Benchmark firmware: one model, a batch of inputs, everything measured.
 *
 * The model and the inputs are linked in as C arrays (generated at build time
 * by boards/Makefile), so the image is self-contained and QEMU needs no host
 * files.  For every input the firmware prints the raw output bytes and the
 * instructions of that inference; once, the arena and stack high-water marks
 * and the instructions of each operator.  pipeline/device/targets.py parses the
 * lines; all of them start with "KWSQ " so stray output cannot be mistaken
 * for results.
 *
 * Exit codes are board.h's BOARD_EXIT_*: 0 ok, 1 the runtime refused the model
 * or the inputs (the reason is printed), 2 the arena is too small, 3 a fault. */
#include <string.h>

#include "board.h"
#include "kwsq_ops.h"
#include "kwsq_rt.h"
#include "semihost.h"

#ifndef KWSQ_ARENA_BYTES
#define KWSQ_ARENA_BYTES 262144
#endif

#define STACK_PAINT 0xA5C3E1F0u
/* Bytes below the current stack pointer left unpainted: painting must not
 * overwrite the frames of the functions painting it. */
#define STACK_PAINT_MARGIN 256u

extern const uint8_t kwsq_model_data[];
extern const size_t kwsq_model_data_size;
extern const uint8_t kwsq_inputs_data[];
extern const size_t kwsq_inputs_data_size;
extern uint32_t __stack_bottom;
extern uint32_t __stack_top;

static uint8_t arena[KWSQ_ARENA_BYTES] __attribute__((aligned(16)));

static void paint_stack(void)
{
    uint32_t here;
    uint32_t *limit = (uint32_t *)((uintptr_t)&here - STACK_PAINT_MARGIN);
    for (uint32_t *p = &__stack_bottom; p < limit; p++) {
        *p = STACK_PAINT;
    }
}

static uint32_t stack_used_bytes(void)
{
    const uint32_t *p = &__stack_bottom;
    while (p < &__stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)&__stack_top - (uintptr_t)p);
}

static int fail(kwsq_status status, const kwsq_error *err, const char *where)
{
    out_str("KWSQ ERROR ");
    out_str(where);
    out_str(" ");
    out_str(kwsq_status_name(status));
    out_str(": ");
    out_str(err->message);
    out_str("\n");
    return status == KWSQ_ERR_ARENA ? BOARD_EXIT_ARENA_TOO_SMALL : BOARD_EXIT_RUNTIME_ERROR;
}

static void print_tensor_spec(const char *kind, size_t index, const kwsq_tensor *t)
{
    out_str("KWSQ TENSOR ");
    out_str(kind);
    out_str(" ");
    out_u32((uint32_t)index);
    out_str(" ");
    out_u32((uint32_t)t->type);
    out_str(" ");
    out_u32((uint32_t)t->bytes);
    for (int32_t d = 0; d < t->num_dims; d++) {
        out_str(" ");
        out_u32((uint32_t)t->dims[d]);
    }
    out_str("\n");
}

/* Ticks of an empty measurement, to subtract from every measured region. */
static uint32_t measure_overhead(void)
{
    const uint32_t a = board_counter_read();
    const uint32_t b = board_counter_read();
    return board_ticks_between(a, b);
}

static uint32_t ticks_to_net_instructions(uint32_t ticks, uint32_t overhead_ticks)
{
    const uint32_t net = ticks > overhead_ticks ? ticks - overhead_ticks : 0u;
    return board_ticks_to_instructions(net);
}

int main(void)
{
    kwsq_interpreter *ip = NULL;
    kwsq_error err;
    err.message[0] = '\0';

    paint_stack();
    board_counter_start();
    const uint32_t overhead = measure_overhead();

    out_str("KWSQ BOARD " BOARD_NAME "\n");
    const uint32_t t_init0 = board_counter_read();
#ifdef KWSQ_OP_LIST
    /* Op-selective build (boards/Makefile OPS=model_ops.c): only these ops link. */
    extern const kwsq_op_resolver KWSQ_OP_LIST;
    kwsq_status status = kwsq_init_with_ops(&ip, &KWSQ_OP_LIST, kwsq_model_data, kwsq_model_data_size,
                                            arena, sizeof(arena), &err);
#else
    kwsq_status status = kwsq_init(&ip, kwsq_model_data, kwsq_model_data_size, arena,
                                   sizeof(arena), &err);
#endif
    const uint32_t t_init1 = board_counter_read();
    if (status != KWSQ_OK) {
        return fail(status, &err, "init");
    }
    out_str("KWSQ INIT ");
    out_u32(ticks_to_net_instructions(board_ticks_between(t_init0, t_init1), overhead));
    out_str("\nKWSQ ARENA ");
    out_u32((uint32_t)kwsq_arena_used_bytes(ip));
    out_str(" ");
    out_u32((uint32_t)sizeof(arena));
    out_str("\n");

    const size_t n_in = kwsq_num_inputs(ip);
    const size_t n_out = kwsq_num_outputs(ip);
    size_t bytes_per_inference = 0;
    for (size_t i = 0; i < n_in; i++) {
        const kwsq_tensor *t = kwsq_input(ip, i);
        print_tensor_spec("in", i, t);
        bytes_per_inference += t->bytes;
    }
    for (size_t o = 0; o < n_out; o++) {
        print_tensor_spec("out", o, kwsq_output(ip, o));
    }

    /* No inputs linked in: one inference on zeroed inputs (a pure benchmark). */
    size_t n_runs = 1;
    if (kwsq_inputs_data_size > 0u) {
        if (bytes_per_inference == 0u || kwsq_inputs_data_size % bytes_per_inference != 0u) {
            out_str("KWSQ ERROR inputs: ");
            out_u32((uint32_t)kwsq_inputs_data_size);
            out_str(" input bytes are not a whole number of inferences of ");
            out_u32((uint32_t)bytes_per_inference);
            out_str(" bytes\n");
            return BOARD_EXIT_RUNTIME_ERROR;
        }
        n_runs = kwsq_inputs_data_size / bytes_per_inference;
    } else {
        for (size_t i = 0; i < n_in; i++) {
            const kwsq_tensor *t = kwsq_input(ip, i);
            memset(t->data, 0, t->bytes);
        }
    }
    out_str("KWSQ RUNS ");
    out_u32((uint32_t)n_runs);
    out_str("\n");

    const uint8_t *next_input = kwsq_inputs_data;
    for (size_t r = 0; r < n_runs; r++) {
        if (kwsq_inputs_data_size > 0u) {
            for (size_t i = 0; i < n_in; i++) {
                const kwsq_tensor *t = kwsq_input(ip, i);
                memcpy(t->data, next_input, t->bytes);
                next_input += t->bytes;
            }
        }
        const uint32_t t0 = board_counter_read();
        status = kwsq_invoke(ip, &err);
        const uint32_t t1 = board_counter_read();
        if (status != KWSQ_OK) {
            return fail(status, &err, "invoke");
        }
        out_str("KWSQ INSN ");
        out_u32((uint32_t)r);
        out_str(" ");
        out_u32(ticks_to_net_instructions(board_ticks_between(t0, t1), overhead));
        out_str("\n");
        for (size_t o = 0; o < n_out; o++) {
            const kwsq_tensor *t = kwsq_output(ip, o);
            const uint8_t *bytes = (const uint8_t *)t->data;
            out_str("KWSQ OUT ");
            out_u32((uint32_t)r);
            out_str(" ");
            out_u32((uint32_t)o);
            out_str(" ");
            for (size_t b = 0; b < t->bytes; b++) {
                out_hex8(bytes[b]);
            }
            out_str("\n");
        }
    }

    /* Per-operator profile, on whatever the last inputs were. */
    const size_t n_ops = kwsq_num_operators(ip);
    for (size_t op = 0; op < n_ops; op++) {
        const uint32_t t0 = board_counter_read();
        status = kwsq_invoke_operator(ip, op, &err);
        const uint32_t t1 = board_counter_read();
        if (status != KWSQ_OK) {
            return fail(status, &err, "invoke_operator");
        }
        out_str("KWSQ OP ");
        out_u32((uint32_t)op);
        out_str(" ");
        const char *name = kwsq_operator_name(ip, op); /* NULL without op names */
        out_str(name != NULL ? name : "-");
        out_str(" ");
        out_u32(ticks_to_net_instructions(board_ticks_between(t0, t1), overhead));
        out_str("\n");
    }

    out_str("KWSQ STACK ");
    out_u32(stack_used_bytes());
    out_str("\nKWSQ DONE\n");
    return BOARD_EXIT_OK;
}
