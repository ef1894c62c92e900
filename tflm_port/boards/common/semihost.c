/* Semihosting for Arm M-profile: `bkpt 0xAB`, operation in r0, argument in r1. */
#include "semihost.h"

#define SYS_OPEN 0x01u
#define SYS_WRITE 0x05u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define SYS_OPEN_MODE_W 4u /* "w": ":tt" opened for writing is the host's stdout */

static int32_t semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

/* Handles are not pre-opened: ":tt" must be opened once, like a file. */
static int32_t stdout_handle = -1;

void semihost_write(const char *buf, size_t len)
{
    uint32_t block[3];
    if (stdout_handle < 0) {
        static const char tt[] = ":tt";
        uint32_t open_block[3];
        open_block[0] = (uint32_t)(uintptr_t)tt;
        open_block[1] = SYS_OPEN_MODE_W;
        open_block[2] = (uint32_t)(sizeof(tt) - 1u);
        stdout_handle = semihost_call(SYS_OPEN, open_block);
    }
    block[0] = (uint32_t)stdout_handle;
    block[1] = (uint32_t)(uintptr_t)buf;
    block[2] = (uint32_t)len;
    (void)semihost_call(SYS_WRITE, block);
}

void semihost_puts(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    semihost_write(s, n);
}

void semihost_exit(int32_t code)
{
    uint32_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    (void)semihost_call(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
