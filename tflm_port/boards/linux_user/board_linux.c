/* The firmware's board layer as a Linux user-mode program: console on stdout,
 * exit code through exit(), and the firmware's main() on a stack of our own
 * (board_stack, STACK_BYTES) so that the stack high-water mark bench_main.c
 * paints and reads (__stack_bottom .. __stack_top, set by the linker) means
 * the same thing as on the Cortex-M boards.
 *
 * The firmware's main is compiled as board_firmware_main (-Dmain=... in
 * boards/Makefile) and started here with makecontext/swapcontext. */
#define _XOPEN_SOURCE 700
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "board.h"
#include "semihost.h"

#ifndef STACK_BYTES
#define STACK_BYTES 65536u
#endif

int board_firmware_main(void);

uint32_t board_stack[STACK_BYTES / 4u] __attribute__((aligned(16)));

static ucontext_t board_ctx;
static ucontext_t firmware_ctx;
static int firmware_code;

void semihost_write(const char *buf, size_t len)
{
    while (len > 0u) {
        const ssize_t n = write(STDOUT_FILENO, buf, len);
        if (n <= 0) {
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void semihost_puts(const char *s)
{
    semihost_write(s, strlen(s));
}

void semihost_exit(int32_t code)
{
    out_flush();
    _exit((int)code);
}

/* A crash reports itself the way startup_cm.c's fault handler does. */
static void on_fault(int sig)
{
    out_str("KWSQ FAULT ");
    out_str(sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGILL ? "SIGILL"
                                                                                   : "SIGFPE");
    out_str("\n");
    semihost_exit(BOARD_EXIT_FAULT);
}

static void run_firmware(void)
{
    firmware_code = board_firmware_main();
}

int main(void)
{
    static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
    for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++) {
        signal(fault_signals[i], on_fault);
    }
    if (getcontext(&firmware_ctx) != 0) {
        out_str("KWSQ FAULT getcontext\n");
        semihost_exit(BOARD_EXIT_FAULT);
    }
    firmware_ctx.uc_stack.ss_sp = board_stack;
    firmware_ctx.uc_stack.ss_size = sizeof(board_stack);
    firmware_ctx.uc_link = &board_ctx;
    makecontext(&firmware_ctx, run_firmware, 0);
    if (swapcontext(&board_ctx, &firmware_ctx) != 0) {
        out_str("KWSQ FAULT swapcontext\n");
        semihost_exit(BOARD_EXIT_FAULT);
    }
    out_flush();
    return firmware_code;
}
