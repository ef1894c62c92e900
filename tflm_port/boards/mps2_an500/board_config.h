/* MPS2 AN500: Cortex-M7 (FPv5), 25 MHz peripheral clock, CMSDK timer 0 at
 * 0x40000000: the same counter as the AN386. */
#ifndef KWSQ_BOARDS_BOARD_CONFIG_H
#define KWSQ_BOARDS_BOARD_CONFIG_H

#define BOARD_NAME "mps2-an500"
#define BOARD_TIMER_BASE 0x40000000u
#define BOARD_TICK_PS 40000u /* 25 MHz */
#ifndef BOARD_ICOUNT_SHIFT
#define BOARD_ICOUNT_SHIFT 7 /* must match QEMU's -icount shift */
#endif

#endif
