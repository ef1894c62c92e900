/* Board self-test: a loop of known length, timed, then exit with SELFTEST_EXIT.
 *
 * It checks what every benchmark relies on without needing the runtime: the
 * semihosting console, the exit code reaching QEMU, and an instruction count
 * that matches the loop's disassembly. */
#include "board.h"
#include "semihost.h"

#ifndef SELFTEST_EXIT
#define SELFTEST_EXIT 0
#endif
#ifndef SELFTEST_ITERATIONS
#define SELFTEST_ITERATIONS 1000u
#endif

/* Exactly two instructions an iteration (subs, bne), written in assembly so
 * that no compiler choice changes the count a test asserts. */
__attribute__((noinline)) static void spin(uint32_t n)
{
#if defined(__aarch64__)
    __asm__ volatile("1:\n\tsubs %w0, %w0, #1\n\tb.ne 1b" : "+r"(n) : : "cc");
#else
    __asm__ volatile("1:\n\tsubs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
#endif
}

int main(void)
{
    board_counter_start();
    const uint32_t t0 = board_counter_read();
    const uint32_t t1 = board_counter_read();
    spin(SELFTEST_ITERATIONS);
    const uint32_t t2 = board_counter_read();
    const uint32_t overhead = board_ticks_to_instructions(board_ticks_between(t0, t1));
    const uint32_t loop = board_ticks_to_instructions(board_ticks_between(t1, t2));
    out_str("KWSQ SELFTEST " BOARD_NAME " overhead ");
    out_u32(overhead);
    out_str(" loop ");
    out_u32(loop - overhead);
    out_str("\n");
    return SELFTEST_EXIT;
}
