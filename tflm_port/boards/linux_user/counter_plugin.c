/* Instruction counting on the user-mode targets, through the kwsq_icount QEMU
 * plugin (tflm_port/tools/icount).  The plugin is given the addresses of
 * kwsq_icount_probe and kwsq_icount_cell; each time the probe is entered it
 * stores the number of instructions executed so far into the cell.  Without
 * the plugin the cell stays 0 and every count reads 0.
 *
 * board.h treats the counter as a down-counter (elapsed = start - end), so
 * the read returns the count negated. */
#include "board.h"

volatile uint64_t kwsq_icount_cell;

/* The linker provides these only when referenced: the code range the plugin
 * counts (qemu_run.sh reads their addresses with nm). */
extern const char __executable_start[];
extern const char etext[];
__attribute__((used)) const void *const kwsq_icount_range[2] = {__executable_start, etext};

/* noipa: the call must stay a call to this very address, never inlined,
 * cloned or dropped as side-effect free; the asm makes it a memory barrier. */
__attribute__((noinline, noipa)) void kwsq_icount_probe(void)
{
    __asm__ volatile("" ::: "memory");
}

void board_counter_start(void)
{
}

uint32_t board_counter_read(void)
{
    kwsq_icount_probe();
    return 0u - (uint32_t)kwsq_icount_cell;
}
