/* A-profile build of the detector (Linux user mode under qemu-aarch64 /
 * qemu-arm): the WAV named on the command line, read with stdio one hop at a
 * time; instructions counted by the kwsq_icount plugin through the board's
 * counter (boards/linux_user/counter_plugin.c).
 *
 *   qemu-aarch64 -cpu max -plugin libkwsq_icount.so,... detector.elf FILE.wav */
#include <stdio.h>

#include "app.h"
#include "board.h"

static uint32_t overhead;

static size_t read_file(void *ctx, void *buf, size_t n)
{
    return fread(buf, 1, n, (FILE *)ctx);
}

static void print(const char *s)
{
    fputs(s, stdout);
}

static uint32_t instructions_between(uint32_t start, uint32_t end)
{
    const uint32_t ticks = board_ticks_between(start, end);
    return board_ticks_to_instructions(ticks > overhead ? ticks - overhead : 0u);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: detector.elf FILE.wav\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        printf("KWSQ ERROR cannot open %s\n", argv[1]);
        return 1;
    }
    board_counter_start();
    const uint32_t a = board_counter_read();
    const uint32_t b = board_counter_read();
    overhead = board_ticks_between(a, b);
    kwsq_app_io io = {read_file, f, print, board_counter_read, instructions_between, 0};
    const int code = kwsq_app_run(&io);
    fclose(f);
    return code;
}
