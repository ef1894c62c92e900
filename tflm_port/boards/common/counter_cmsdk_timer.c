/* Instruction counting with a CMSDK APB timer.
 *
 * DWT CYCCNT reads 0 in QEMU 7.2, and SysTick is only 24 bits wide (it wraps
 * every ~5M instructions), so we use the 32-bit CMSDK timer 0 of the MPS2/MPS3
 * boards, counting down from 0xFFFFFFFF at the board's peripheral clock.  With
 * `-icount shift=ICOUNT_SHIFT` the virtual clock advances exactly 2^shift ns per
 * instruction, which makes the count deterministic. */
#include "board.h"

#define TIMER_CTRL (*(volatile uint32_t *)(BOARD_TIMER_BASE + 0x0u))
#define TIMER_VALUE (*(volatile uint32_t *)(BOARD_TIMER_BASE + 0x4u))
#define TIMER_RELOAD (*(volatile uint32_t *)(BOARD_TIMER_BASE + 0x8u))
#define TIMER_CTRL_ENABLE 0x1u

void board_counter_start(void)
{
    TIMER_CTRL = 0u;
    TIMER_RELOAD = 0xFFFFFFFFu;
    TIMER_VALUE = 0xFFFFFFFFu;
    TIMER_CTRL = TIMER_CTRL_ENABLE;
}

uint32_t board_counter_read(void)
{
    return TIMER_VALUE;
}
