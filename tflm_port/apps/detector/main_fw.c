/* Firmware build of the detector: the WAV named by QEMU's -append, read
 * through semihosting one hop at a time; instructions counted per part.
 * -append "-v FILE.wav" also prints every window's posteriors. */
#include <string.h>

#include "app.h"
#include "board.h"
#include "semihost.h"
#include "semihost_file.h"

static int32_t wav_handle = -1;
static uint32_t overhead_ticks;

static size_t read_wav(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    return semihost_file_read(wav_handle, buf, n);
}

static void print(const char *s)
{
    out_str(s);
}

static uint32_t instructions_between(uint32_t start, uint32_t end)
{
    const uint32_t ticks = board_ticks_between(start, end);
    return board_ticks_to_instructions(ticks > overhead_ticks ? ticks - overhead_ticks : 0u);
}

int main(void)
{
    static char cmdline[256];
    board_counter_start();
    const uint32_t a = board_counter_read();
    const uint32_t b = board_counter_read();
    overhead_ticks = board_ticks_between(a, b);
    if (semihost_cmdline(cmdline, sizeof(cmdline)) != 0) {
        out_str("KWSQ ERROR no command line: run QEMU with -append FILE.wav\nKWSQ DONE\n");
        out_flush();
        return 1;
    }
    /* The last word is the WAV path (QEMU puts the kernel name first). */
    const char *path = cmdline;
    int verbose = 0;
    for (const char *p = cmdline; *p != '\0'; p++) {
        if (*p == ' ' && p[1] != '\0' && p[1] != ' ') {
            path = p + 1;
            verbose |= p[1] == '-' && p[2] == 'v' && (p[3] == ' ' || p[3] == '\0');
        }
    }
    wav_handle = semihost_file_open(path);
    if (wav_handle < 0) {
        out_str("KWSQ ERROR cannot open ");
        out_str(path);
        out_str("\n");
        out_flush();
        return 1;
    }
    kwsq_app_io io = {read_wav, NULL, print, board_counter_read, instructions_between, verbose};
    const int code = kwsq_app_run(&io);
    semihost_file_close(wav_handle);
    out_flush();
    return code;
}
