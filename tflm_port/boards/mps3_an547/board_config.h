/* MPS3 AN547: Cortex-M55 with MVE and FPU at 32 MHz.  The SSE-300 has no
 * CMSDK timer where the MPS2 boards have one, so SysTick (on the CPU clock)
 * counts, extended to 32 bits by its wrap interrupt. */
#ifndef KWSQ_BOARDS_BOARD_CONFIG_H
#define KWSQ_BOARDS_BOARD_CONFIG_H

#define BOARD_NAME "mps3-an547"
#define BOARD_COUNTER_SYSTICK 1
#define BOARD_TICK_PS 31250u /* 32 MHz */
#ifndef BOARD_ICOUNT_SHIFT
#define BOARD_ICOUNT_SHIFT 7 /* must match QEMU's -icount shift */
#endif

#endif
