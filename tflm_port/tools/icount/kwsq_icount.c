/* QEMU TCG plugin: exact count of the guest instructions executed inside a PC
 * range, readable by the guest itself.
 *
 * The A-profile targets run as Linux user-mode programs under qemu-aarch64 /
 * qemu-arm, where `-icount` does not exist and no timer counts instructions.
 * This plugin adds one to a counter before every instruction whose address is
 * in [lo, hi) (the program's code; the decision is taken once, at translation).
 * The firmware reads the counter by calling a probe function: before the
 * probe's first instruction runs, the plugin stores the count into a 64-bit
 * cell of the guest.  In user mode the guest's memory is the host's at a fixed
 * offset (guest_base), which the probe's own instruction gives: its host
 * address minus its guest address.  So the firmware prints its own figures, as
 * it does on Cortex-M with a timer, and the counts are deterministic.
 *
 * Arguments (-plugin libkwsq_icount.so,lo=0x...,hi=0x...,probe=0x...,cell=0x...):
 *   lo, hi   the PC range counted (default: everything)
 *   probe    guest address of the probe function (optional)
 *   cell     guest address of the 64-bit cell the count is stored into
 *   profile  a file to write, at exit, one line per translated block:
 *            "<guest address> <instructions in range> <executions>" (hex,
 *            decimal, decimal), for finding where a kernel spends its time
 * At exit it prints "kwsq_icount total <n>" on stderr. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

KWSQ_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t count;
static uint64_t range_lo;
static uint64_t range_hi = UINT64_MAX;
static uint64_t probe_vaddr;
static uint64_t cell_vaddr;
static int have_probe;
static const char *profile_path;

/* Profile: one record per translated block, chained (blocks are few). */
struct tb_record {
    uint64_t vaddr;
    uint64_t insns;
    uint64_t executions;
    struct tb_record *next;
};
static struct tb_record *records;

/* The cell's host address, known once the probe's code has been translated. */
static volatile uint64_t *cell_host;

static void on_probe(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    (void)userdata;
    if (cell_host != NULL) {
        *cell_host = count;
    }
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    const size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t counted = 0;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint64_t pc = qemu_plugin_insn_vaddr(insn);
        if (have_probe && pc == probe_vaddr) {
            const uintptr_t host = (uintptr_t)qemu_plugin_insn_haddr(insn);
            if (host != 0u) {
                const uintptr_t guest_base = host - (uintptr_t)pc;
                cell_host = (volatile uint64_t *)(guest_base + (uintptr_t)cell_vaddr);
            }
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_probe, QEMU_PLUGIN_CB_NO_REGS,
                                                   NULL);
        }
        if (pc >= range_lo && pc < range_hi) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &count,
                                                       1u);
            counted++;
        }
    }
    if (profile_path != NULL && counted > 0 && n > 0) {
        struct tb_record *r = calloc(1, sizeof *r);
        if (r != NULL) {
            struct qemu_plugin_insn *first = qemu_plugin_tb_get_insn(tb, 0);
            r->vaddr = qemu_plugin_insn_vaddr(first);
            r->insns = counted;
            r->next = records;
            records = r;
            qemu_plugin_register_vcpu_insn_exec_inline(first, QEMU_PLUGIN_INLINE_ADD_U64,
                                                       &r->executions, 1u);
        }
    }
}

static void on_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    fprintf(stderr, "kwsq_icount total %" PRIu64 "\n", count);
    if (profile_path != NULL) {
        FILE *f = fopen(profile_path, "w");
        if (f == NULL) {
            fprintf(stderr, "kwsq_icount: cannot write %s\n", profile_path);
            return;
        }
        for (const struct tb_record *r = records; r != NULL; r = r->next) {
            if (r->executions > 0) {
                fprintf(f, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", r->vaddr, r->insns,
                        r->executions);
            }
        }
        fclose(f);
    }
}

static int parse_address(const char *arg, const char *name, uint64_t *out)
{
    const size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0 || arg[len] != '=') {
        return 0;
    }
    char *end = NULL;
    *out = strtoull(arg + len + 1, &end, 0);
    if (end == arg + len + 1 || *end != '\0') {
        fprintf(stderr, "kwsq_icount: bad value in '%s'\n", arg);
        return -1;
    }
    return 1;
}

KWSQ_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                    char **argv)
{
    if (info->system_emulation) {
        fprintf(stderr, "kwsq_icount: user-mode emulation only (qemu-aarch64, qemu-arm)\n");
        return -1;
    }
    int have_cell = 0;
    for (int i = 0; i < argc; i++) {
        int r;
        if ((r = parse_address(argv[i], "lo", &range_lo)) != 0 ||
            (r = parse_address(argv[i], "hi", &range_hi)) != 0) {
            if (r < 0) {
                return -1;
            }
        } else if ((r = parse_address(argv[i], "probe", &probe_vaddr)) != 0) {
            if (r < 0) {
                return -1;
            }
            have_probe = 1;
        } else if ((r = parse_address(argv[i], "cell", &cell_vaddr)) != 0) {
            if (r < 0) {
                return -1;
            }
            have_cell = 1;
        } else if (strncmp(argv[i], "profile=", 8) == 0 && argv[i][8] != '\0') {
            profile_path = argv[i] + 8;
        } else {
            fprintf(stderr, "kwsq_icount: unknown argument '%s' (lo, hi, probe, cell, profile)\n",
                    argv[i]);
            return -1;
        }
    }
    if (have_probe != have_cell) {
        fprintf(stderr, "kwsq_icount: probe and cell go together\n");
        return -1;
    }
    if (range_lo >= range_hi) {
        fprintf(stderr, "kwsq_icount: empty PC range\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
