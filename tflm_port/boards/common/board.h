/* What the firmware needs to know about the board it runs on: the instruction
 * counter and the exit codes.  Each board folder provides board_config.h with
 * the timer address and its ticks-to-instructions ratio. */
#ifndef KWSQ_BOARDS_BOARD_H
#define KWSQ_BOARDS_BOARD_H

#include <stdint.h>

#include "board_config.h"

/* Exit codes shared with pipeline/device/targets.py. */
#define BOARD_EXIT_OK 0
#define BOARD_EXIT_RUNTIME_ERROR 1 /* the runtime refused the model or inputs */
#define BOARD_EXIT_ARENA_TOO_SMALL 2
#define BOARD_EXIT_FAULT 3

/* Start the free-running down-counter. */
void board_counter_start(void);
/* Raw counter ticks; they count down. */
uint32_t board_counter_read(void);
/* Ticks elapsed between two reads (wraps modulo 2^32 correctly). */
static inline uint32_t board_ticks_between(uint32_t start, uint32_t end)
{
    return start - end;
}
/* Instructions for a tick count.  Under `-icount shift=S` each instruction is
 * 2^S ns of virtual time and the counter ticks every BOARD_TICK_PS ps, so one
 * tick is BOARD_TICK_PS / 1000 / 2^S instructions; rounded to nearest. */
static inline uint32_t board_ticks_to_instructions(uint32_t ticks)
{
    const uint64_t ns_per_insn = 1ull << BOARD_ICOUNT_SHIFT;
    const uint64_t ticks_ns = (uint64_t)ticks * BOARD_TICK_PS / 1000u;
    return (uint32_t)((ticks_ns + ns_per_insn / 2u) / ns_per_insn);
}

#endif
