/* Semihosting calls: the only I/O a bare Cortex-M program has under QEMU.
 *
 * QEMU must run with `-semihosting-config enable=on,target=native`.  We issue
 * the calls ourselves (no newlib rdimon) so the firmware links against nothing
 * but libc's memcpy/memset and libm, and so the exit code reaches QEMU through
 * SYS_EXIT_EXTENDED. */
#ifndef KWSQ_BOARDS_SEMIHOST_H
#define KWSQ_BOARDS_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Write `len` bytes to the host's stdout. */
void semihost_write(const char *buf, size_t len);
/* Write a NUL-terminated string to the host's stdout. */
void semihost_puts(const char *s);
/* End the emulation; QEMU exits with `code`. */
void semihost_exit(int32_t code) __attribute__((noreturn));

/* common/out_buffer.c: a small line buffer so that a run prints with few traps (each trap is a
 * round trip to the host, and an unbuffered byte-per-call print is slow). */
void out_str(const char *s);
void out_u32(uint32_t v);
void out_hex8(uint8_t v);
void out_flush(void);

#endif
