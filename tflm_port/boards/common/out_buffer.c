/*
 * The buffered console output every board shares (out_str, out_u32,
 * out_hex8, out_flush; semihost.h): a line buffer written with the board's
 * semihost_write, so a run prints with few traps (each trap is a round trip
 * to the host). Bare-metal boards write through semihosting
 * (common/semihost.c), the Linux user-mode ones with write(2)
 * (linux_user/board_linux.c); BOARD_OUT_BUF_BYTES in a board's
 * board_config.h sets the buffer size.
 */
#include "board_config.h"
#include "semihost.h"

#ifndef BOARD_OUT_BUF_BYTES
#define BOARD_OUT_BUF_BYTES 512u
#endif

static char out_buf[BOARD_OUT_BUF_BYTES];
static size_t out_len;

void out_flush(void)
{
    if (out_len > 0u) {
        semihost_write(out_buf, out_len);
        out_len = 0;
    }
}

static void out_char(char c)
{
    if (out_len == BOARD_OUT_BUF_BYTES) {
        out_flush();
    }
    out_buf[out_len++] = c;
}

void out_str(const char *s)
{
    while (*s != '\0') {
        out_char(*s++);
    }
}

void out_u32(uint32_t v)
{
    char digits[10];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (n > 0u) {
        out_char(digits[--n]);
    }
}

void out_hex8(uint8_t v)
{
    static const char hex[] = "0123456789abcdef";
    out_char(hex[v >> 4]);
    out_char(hex[v & 0x0Fu]);
}
