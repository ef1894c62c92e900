/* Corpus replay: every input of a fuzz corpus through kwsq_fuzz_one (the
 * libFuzzer harness's own steps: same arena size, same inputs), on the host
 * and on the Cortex-M4 firmware under QEMU. 32-bit overflows (a size that
 * wraps in a 32-bit size_t) do not show on a 64-bit host; the replay runs the
 * same inputs where they do.
 *
 * The corpus comes packed: for each input a little-endian u32 length, then
 * the bytes (fuzz/pack_corpus.py). One line per input:
 *   KWSQ R <index> <status> <arena bytes> <invoked> <output hash>
 * then "KWSQ DONE <count>". An input that writes outside its arena (guard
 * bytes on both sides are checked after each input), touches the vector
 * table, or fails with an empty error message ends the replay with
 * "KWSQ BAD <index> <what>" and exit code 3, as a fault does.
 *
 *   host:   replay CORPUS.bin
 *   target: reads kwsq_replay.bin from QEMU's working directory (semihosting)
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_one.h"

#define GUARD_BYTES 1024u
#define GUARD_BYTE 0x5Au
#define MAX_INPUT_BYTES (1u << 20)

static uint8_t model_buf[MAX_INPUT_BYTES] __attribute__((aligned(16)));

#ifdef KWSQ_REPLAY_TARGET
/* ---- Cortex-M under QEMU: semihosting for the corpus and the console ---- */
#include "board.h"
#include "semihost.h"

#define SYS_OPEN 0x01u
#define SYS_READ 0x06u
#define SYS_FLEN 0x0Cu
#define SYS_OPEN_MODE_RB 1u

static uint8_t arena_region[GUARD_BYTES + KWSQ_FUZZ_ARENA_BYTES + GUARD_BYTES] __attribute__((aligned(16)));
static int32_t corpus_handle = -1;

static int32_t sh_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

static int corpus_open(void)
{
    static const char name[] = "kwsq_replay.bin";
    uint32_t block[3] = {(uint32_t)(uintptr_t)name, SYS_OPEN_MODE_RB, sizeof name - 1u};
    corpus_handle = sh_call(SYS_OPEN, block);
    return corpus_handle >= 0;
}

/* Reads exactly n bytes; 0 at the end of the file. */
static int corpus_read(void *dst, size_t n)
{
    uint32_t block[3] = {(uint32_t)corpus_handle, (uint32_t)(uintptr_t)dst, (uint32_t)n};
    return n == 0 || sh_call(SYS_READ, block) == 0;
}

static void say(const char *s)
{
    out_str(s);
}

static void say_u32(uint32_t v)
{
    out_str(" ");
    out_u32(v);
}

static void finish(int code)
{
    out_flush();
    semihost_exit(code);
}

/* The first 1 KiB of flash: the vector table the issue once saw overwritten. */
static volatile uintptr_t vectors_address = 0; /* volatile: address 0 is not "NULL" here */

static uint32_t vectors_sum(void)
{
    const volatile uint8_t *p = (const volatile uint8_t *)vectors_address;
    uint32_t h = 0;
    for (uint32_t i = 0; i < 1024u; i++) {
        h = h * 31u + p[i];
    }
    return h;
}
#else
/* ---- host ---------------------------------------------------------------- */
#include <stdio.h>
#include <stdlib.h>

static uint8_t arena_region[GUARD_BYTES + KWSQ_FUZZ_ARENA_BYTES + GUARD_BYTES] __attribute__((aligned(16)));
static FILE *corpus_file;
static const char *corpus_path;

static int corpus_open(void)
{
    corpus_file = fopen(corpus_path, "rb");
    return corpus_file != NULL;
}

static int corpus_read(void *dst, size_t n)
{
    return fread(dst, 1, n, corpus_file) == n;
}

static void say(const char *s)
{
    fputs(s, stdout);
}

static void say_u32(uint32_t v)
{
    printf(" %lu", (unsigned long)v);
}

static void finish(int code)
{
    fflush(stdout);
    exit(code);
}

static uint32_t vectors_sum(void)
{
    return 0;
}
#endif

/* The arena starts 16-byte aligned right after a guard, as the host's heap
 * block would, and a guard follows its last byte. */
static uint8_t *get_arena(void *ctx, size_t bytes)
{
    (void)ctx;
    uint8_t *arena = arena_region + GUARD_BYTES;
    memset(arena_region, GUARD_BYTE, GUARD_BYTES);
    memset(arena + bytes, GUARD_BYTE, GUARD_BYTES);
    return arena;
}

static int guards_intact(size_t bytes)
{
    const uint8_t *after = arena_region + GUARD_BYTES + bytes;
    for (size_t i = 0; i < GUARD_BYTES; i++) {
        if (arena_region[i] != GUARD_BYTE || after[i] != GUARD_BYTE) {
            return 0;
        }
    }
    return 1;
}

static int guards_ok = 1;

static void put_arena(void *ctx, uint8_t *arena, size_t bytes)
{
    (void)ctx;
    (void)arena;
    guards_ok = guards_ok && guards_intact(bytes);
}

static void bad(uint32_t index, const char *what)
{
    say("KWSQ BAD");
    say_u32(index);
    say(" ");
    say(what);
    say("\n");
    finish(3);
}

static int replay(void)
{
    uint32_t index = 0;
    const uint32_t vectors = vectors_sum();
    if (!corpus_open()) {
        say("KWSQ ERROR cannot open the corpus\n");
        return 1;
    }
    for (;; index++) {
        uint8_t len_le[4];
        if (!corpus_read(len_le, 4)) {
            break;
        }
        const uint32_t len = (uint32_t)len_le[0] | (uint32_t)len_le[1] << 8 | (uint32_t)len_le[2] << 16 |
                             (uint32_t)len_le[3] << 24;
        if (len > MAX_INPUT_BYTES || !corpus_read(model_buf, len)) {
            say("KWSQ ERROR truncated corpus\n");
            return 1;
        }
        guards_ok = 1;
        const kwsq_fuzz_result r = kwsq_fuzz_one(model_buf, len, 1, get_arena, put_arena, NULL);
        if (!guards_ok) {
            bad(index, "write outside the arena");
        }
        if (vectors_sum() != vectors) {
            bad(index, "vector table written");
        }
        if (r.silent_failure) {
            bad(index, "failure with an empty error message");
        }
        say("KWSQ R");
        say_u32(index);
        say_u32((uint32_t)r.status);
        say_u32((uint32_t)r.arena_bytes);
        say_u32((uint32_t)r.invoked);
        say_u32(r.output_hash);
        say("\n");
    }
    say("KWSQ DONE");
    say_u32(index);
    say("\n");
    return 0;
}

#ifdef KWSQ_REPLAY_TARGET
int main(void)
{
    finish(replay());
    return 0;
}
#else
int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: replay CORPUS.bin (from fuzz/pack_corpus.py)\n", stderr);
        return 2;
    }
    corpus_path = argv[1];
    return replay();
}
#endif
