/* A-profile Linux user mode (qemu-aarch64 -cpu max, qemu-arm -cpu cortex-a15).
 *
 * The "counter" is the instruction count the kwsq_icount plugin stores into
 * the guest when the probe runs (counter_plugin.c): one tick per instruction,
 * so shift 0 and 1000 ps per tick make board_ticks_to_instructions() the
 * identity. */
#ifndef KWSQ_BOARDS_BOARD_CONFIG_H
#define KWSQ_BOARDS_BOARD_CONFIG_H

#if defined(__aarch64__)
#define BOARD_NAME "qemu-aarch64"
#else
#define BOARD_NAME "qemu-arm"
#endif
#define BOARD_TICK_PS 1000u
#undef BOARD_ICOUNT_SHIFT
#define BOARD_ICOUNT_SHIFT 0
/* write(2) is cheap here: a larger console buffer (common/out_buffer.c) */
#define BOARD_OUT_BUF_BYTES 4096u

#endif
