/* SYS_OPEN / SYS_READ / SYS_CLOSE / SYS_GET_CMDLINE for Arm M-profile. */
#include "semihost_file.h"

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_READ 0x06u
#define SYS_GET_CMDLINE 0x15u
#define MODE_RB 1u

static int32_t call(uint32_t op, void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

int32_t semihost_file_open(const char *path)
{
    size_t n = 0;
    while (path[n] != '\0') {
        n++;
    }
    uint32_t block[3] = {(uint32_t)(uintptr_t)path, MODE_RB, (uint32_t)n};
    return call(SYS_OPEN, block);
}

size_t semihost_file_read(int32_t handle, void *buf, size_t n)
{
    uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, (uint32_t)n};
    const int32_t not_read = call(SYS_READ, block); /* bytes NOT read */
    if (not_read < 0 || (size_t)not_read > n) {
        return 0;
    }
    return n - (size_t)not_read;
}

void semihost_file_close(int32_t handle)
{
    uint32_t block[1] = {(uint32_t)handle};
    (void)call(SYS_CLOSE, block);
}

int semihost_cmdline(char *buf, size_t len)
{
    uint32_t block[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)len};
    return call(SYS_GET_CMDLINE, block) == 0 ? 0 : -1;
}
