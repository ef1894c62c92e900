/*
 * Row dot products of the dsp FULLY_CONNECTED kernels; see dsp_fc.h.
 *
 * The input is widened once per call (dsp_fc_widen_*), zero-padded to whole
 * groups of eight, so a row needs no tail test: its last group may read up
 * to seven bytes (int8) or nibbles (int4) of the next row, which meet
 * zeros. Only the last row of the tensor stops at its last whole group
 * (nothing may be read past the weights) and adds its tail one value at a
 * time.
 *
 * Per eight inputs and two rows (16 multiply-accumulates):
 *  - int8: one LDM of the widened input, per row one LDRD (two LDR when the
 *    rows are not word-aligned), four SXTB16 (the plain and rotated forms of
 *    each word: lanes (w0,w2),(w1,w3)) and four SMLAD: 19 instructions;
 *  - int4 (a row of one byte alignment: eight nibbles per word): one LDM,
 *    per row one LDR and four AND-with-shift that put nibble pairs (n0,n4),
 *    (n1,n5), (n2,n6), (n3,n7) in the top four bits of 16-bit lanes (4096x
 *    the weights, no sign extension needed), and four SMLAD: 19
 *    instructions, as many as int8. The sums are divided by 4096 after
 *    every run of at most 63 groups (exact: every product is a multiple of
 *    4096, and 4096 * 8 * 128 * 504 < 2^31). Rows that start mid-byte (odd
 *    rows of an odd row length) load from the byte before and meet an input
 *    led by one zero.
 * The loop runs two groups per iteration (one compare and branch per 32
 * multiply-accumulates).
 */
#include "dsp_fc.h"

#include <stdbool.h>
#include <stddef.h>

#include "dsp_simd.h"
#include "kwsq_math.h"

static inline void widen8_s8(uint32_t lo, uint32_t hi, uint32_t *xw)
{
    xw[0] = dsp_sxtb16(lo);
    xw[1] = dsp_sxtb16_ror8(lo);
    xw[2] = dsp_sxtb16(hi);
    xw[3] = dsp_sxtb16_ror8(hi);
}

static inline void widen8_s4(uint32_t lo, uint32_t hi, uint32_t *xw)
{
    const uint32_t e0 = dsp_sxtb16(lo), e1 = dsp_sxtb16(hi);
    const uint32_t o0 = dsp_sxtb16_ror8(lo), o1 = dsp_sxtb16_ror8(hi);
    xw[0] = dsp_pack_lo(e0, e1);
    xw[1] = dsp_pack_lo(o0, o1);
    xw[2] = dsp_pack_hi(e0, e1);
    xw[3] = dsp_pack_hi(o0, o1);
}

/* Values k..k+7 of v = `lead` zeros then x[0..n), zero beyond. */
static void group_of(const int8_t *x, int32_t n, int32_t lead, int32_t k, uint32_t *lo, uint32_t *hi)
{
    uint32_t v[2] = {0, 0};
    for (int32_t j = 0; j < 8; ++j) {
        const int32_t i = k + j - lead;
        if (i >= 0 && i < n) {
            v[j / 4] |= (uint32_t)(uint8_t)x[i] << (8 * (j % 4));
        }
    }
    *lo = v[0];
    *hi = v[1];
}

void dsp_fc_widen_s8(const int8_t *x, int32_t n, uint32_t *xw)
{
    int32_t k = 0;
    for (; k + 8 <= n; k += 8, xw += 4) {
        widen8_s8(dsp_ld32(x + k), dsp_ld32(x + k + 4), xw);
    }
    if (k < n) {
        uint32_t lo, hi;
        group_of(x, n, 0, k, &lo, &hi);
        widen8_s8(lo, hi, xw);
    }
}

void dsp_fc_widen_s4(const int8_t *x, int32_t n, int32_t lead, uint32_t *xw)
{
    const int32_t total = n + lead;
    for (int32_t k = 0; k < total; k += 8, xw += 4) {
        uint32_t lo, hi;
        if (k >= lead && k + 8 <= total) {
            lo = dsp_ld32(x + (k - lead));
            hi = dsp_ld32(x + (k - lead) + 4);
        } else {
            group_of(x, n, lead, k, &lo, &hi);
        }
        widen8_s4(lo, hi, xw);
    }
}

#ifdef KWSQ_DSP_NATIVE
/* LDM fills its registers in ascending order: the four input words are
 * pinned to r8..r11. */
#define DSP_FC_XREGS                                                                                    \
    register uint32_t x0 __asm__("r8");                                                                 \
    register uint32_t x1 __asm__("r9");                                                                 \
    register uint32_t x2 __asm__("r10");                                                                \
    register uint32_t x3 __asm__("r11");
#define DSP_FC_LDM "ldm %[xp]!, {%[x0], %[x1], %[x2], %[x3]}\n\t"

/* One int8 row word pair (w0, w1) against the four input words. */
#define DSP_FC_S8_MAC(a)                                                                                \
    "sxtb16 %[t], %[w0]\n\t"                                                                            \
    "smlad %[" a "], %[t], %[x0], %[" a "]\n\t"                                                         \
    "sxtb16 %[t], %[w0], ror #8\n\t"                                                                    \
    "smlad %[" a "], %[t], %[x1], %[" a "]\n\t"                                                         \
    "sxtb16 %[t], %[w1]\n\t"                                                                            \
    "smlad %[" a "], %[t], %[x2], %[" a "]\n\t"                                                         \
    "sxtb16 %[t], %[w1], ror #8\n\t"                                                                    \
    "smlad %[" a "], %[t], %[x3], %[" a "]\n\t"
#define DSP_FC_S8_LDRD(p) "ldrd %[w0], %[w1], [%[" p "]], #8\n\t"
#define DSP_FC_S8_LDR2(p) "ldr %[w0], [%[" p "]], #4\n\tldr %[w1], [%[" p "]], #4\n\t"
#define DSP_FC_S8_STEP(LD) DSP_FC_LDM LD("wa") DSP_FC_S8_MAC("a0") LD("wb") DSP_FC_S8_MAC("a1")
#define DSP_FC_S8_OPS                                                                                   \
    : [a0] "+r"(a0), [a1] "+r"(a1), [wa] "+r"(wa), [wb] "+r"(wb), [xp] "+r"(xp), [x0] "=&r"(x0),       \
      [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [w0] "=&r"(w0), [w1] "=&r"(w1), [t] "=&r"(t)

/* One int4 row word (8 nibbles n0..n7) against the four input words:
 * (w << 12), (w << 8), (w << 4) and w, each ANDed with 0xF000F000, hold
 * (n0,n4), (n1,n5), (n2,n6), (n3,n7) in the top four bits of their 16-bit
 * lanes: 4096x the weights, ready for SMLAD. */
#define DSP_FC_S4_ROW(p, a)                                                                             \
    "ldr %[w], [%[" p "]], #4\n\t"                                                                      \
    "and %[t], %[m], %[w], lsl #12\n\t"                                                                 \
    "smlad %[" a "], %[t], %[x0], %[" a "]\n\t"                                                         \
    "and %[t], %[m], %[w], lsl #8\n\t"                                                                  \
    "smlad %[" a "], %[t], %[x1], %[" a "]\n\t"                                                         \
    "and %[t], %[m], %[w], lsl #4\n\t"                                                                  \
    "smlad %[" a "], %[t], %[x2], %[" a "]\n\t"                                                         \
    "and %[t], %[w], %[m]\n\t"                                                                          \
    "smlad %[" a "], %[t], %[x3], %[" a "]\n\t"
#define DSP_FC_S4_STEP DSP_FC_LDM DSP_FC_S4_ROW("wa", "a0") DSP_FC_S4_ROW("wb", "a1")
#define DSP_FC_S4_OPS                                                                                   \
    : [a0] "+r"(a0), [a1] "+r"(a1), [wa] "+r"(pa), [wb] "+r"(pb), [xp] "+r"(xp), [x0] "=&r"(x0),       \
      [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [w] "=&r"(w), [t] "=&r"(t)
#endif

/* acc[0], acc[1] += rows wa, wb times `groups` widened groups (int8). */
static void __attribute__((noinline)) pair_s8(const int8_t *wa, const int8_t *wb, const uint32_t *xw,
                                               int32_t groups, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
#ifdef KWSQ_DSP_NATIVE
    if (groups > 0) {
        const uint32_t *xp = xw;
        const uint32_t *const end = xw + 4 * groups;
        uint32_t w0, w1, t;
        DSP_FC_XREGS
        if ((((uintptr_t)wa | (uintptr_t)wb) & 3u) == 0) {
            if (groups & 1) {
                __asm__ volatile(DSP_FC_S8_STEP(DSP_FC_S8_LDRD) DSP_FC_S8_OPS : : "memory");
            }
            if (xp != end) {
                __asm__ volatile("1:\n\t" DSP_FC_S8_STEP(DSP_FC_S8_LDRD) DSP_FC_S8_STEP(DSP_FC_S8_LDRD)
                                 "cmp %[xp], %[e]\n\t"
                                 "bne 1b\n\t" DSP_FC_S8_OPS
                                 : [e] "r"(end)
                                 : "cc", "memory");
            }
        } else {
            /* LDRD needs word-aligned addresses */
            if (groups & 1) {
                __asm__ volatile(DSP_FC_S8_STEP(DSP_FC_S8_LDR2) DSP_FC_S8_OPS : : "memory");
            }
            if (xp != end) {
                __asm__ volatile("1:\n\t" DSP_FC_S8_STEP(DSP_FC_S8_LDR2) DSP_FC_S8_STEP(DSP_FC_S8_LDR2)
                                 "cmp %[xp], %[e]\n\t"
                                 "bne 1b\n\t" DSP_FC_S8_OPS
                                 : [e] "r"(end)
                                 : "cc", "memory");
            }
        }
    }
#else
    for (int32_t g = 0; g < groups; ++g, wa += 8, wb += 8, xw += 4) {
        uint32_t v = dsp_ld32(wa), u = dsp_ld32(wa + 4);
        a0 = dsp_smlad(dsp_sxtb16(v), xw[0], a0);
        a0 = dsp_smlad(dsp_sxtb16_ror8(v), xw[1], a0);
        a0 = dsp_smlad(dsp_sxtb16(u), xw[2], a0);
        a0 = dsp_smlad(dsp_sxtb16_ror8(u), xw[3], a0);
        v = dsp_ld32(wb);
        u = dsp_ld32(wb + 4);
        a1 = dsp_smlad(dsp_sxtb16(v), xw[0], a1);
        a1 = dsp_smlad(dsp_sxtb16_ror8(v), xw[1], a1);
        a1 = dsp_smlad(dsp_sxtb16(u), xw[2], a1);
        a1 = dsp_smlad(dsp_sxtb16_ror8(u), xw[3], a1);
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
}

/* Groups per run of the int4 rows: 4096 * 8 * 128 * 8 * 63 < 2^31. */
#define DSP_FC_S4_RUN 63

/* *s0, *s1 += the int4 rows wa, wb times `run` (<= DSP_FC_S4_RUN) groups. */
static inline __attribute__((always_inline)) void run_s4(const uint8_t *wa, const uint8_t *wb, const uint32_t *xw,
                                                         int32_t run, int32_t *s0, int32_t *s1)
{
    int32_t a0 = 0, a1 = 0;
    const uint32_t m = 0xF000F000u;
    const uint8_t *pa = wa, *pb = wb;
#ifdef KWSQ_DSP_NATIVE
    const uint32_t *xp = xw;
    const uint32_t *const end = xw + 4 * run;
    uint32_t w, t;
    DSP_FC_XREGS
    if (run & 1) {
        __asm__ volatile(DSP_FC_S4_STEP DSP_FC_S4_OPS : [m] "r"(m) : "memory");
    }
    if (xp != end) {
        __asm__ volatile("1:\n\t" DSP_FC_S4_STEP DSP_FC_S4_STEP
                         "cmp %[xp], %[e]\n\t"
                         "bne 1b\n\t" DSP_FC_S4_OPS
                         : [e] "r"(end), [m] "r"(m)
                         : "cc", "memory");
    }
#else
    for (int32_t g = 0; g < run; ++g, pa += 4, pb += 4) {
        const uint32_t *x = xw + 4 * g;
        uint32_t v = dsp_ld32(pa);
        a0 = dsp_smlad((v << 12) & m, x[0], a0);
        a0 = dsp_smlad((v << 8) & m, x[1], a0);
        a0 = dsp_smlad((v << 4) & m, x[2], a0);
        a0 = dsp_smlad(v & m, x[3], a0);
        v = dsp_ld32(pb);
        a1 = dsp_smlad((v << 12) & m, x[0], a1);
        a1 = dsp_smlad((v << 8) & m, x[1], a1);
        a1 = dsp_smlad((v << 4) & m, x[2], a1);
        a1 = dsp_smlad(v & m, x[3], a1);
    }
#endif
    /* exact: every product was a multiple of 4096 */
    *s0 += a0 >> 12;
    *s1 += a1 >> 12;
}

/* acc[0], acc[1] = the int4 rows wa, wb times `groups` widened groups. */
static void __attribute__((noinline)) pair_s4(const uint8_t *wa, const uint8_t *wb, const uint32_t *xw,
                                               int32_t groups, int32_t *acc)
{
    int32_t s0 = 0, s1 = 0;
    if (groups <= DSP_FC_S4_RUN) {
        if (groups > 0) {
            run_s4(wa, wb, xw, groups, &s0, &s1);
        }
    } else {
        for (int32_t g = 0; g < groups; g += DSP_FC_S4_RUN) {
            const int32_t run = groups - g < DSP_FC_S4_RUN ? groups - g : DSP_FC_S4_RUN;
            run_s4(wa + 4 * g, wb + 4 * g, xw + 4 * g, run, &s0, &s1);
        }
    }
    acc[0] = s0;
    acc[1] = s1;
}

void dsp_fc_dot2_s8(const int8_t *w, int32_t n, int32_t rows, int32_t o, int32_t ob, const int8_t *x,
                    const uint32_t *xw, int32_t *acc)
{
    const int8_t *wa = w + (int64_t)o * n, *wb = w + (int64_t)ob * n;
    int32_t a[2] = {0, 0};
    if ((n & 7) != 0 && ob == rows - 1) {
        /* the padded group would read past the weights: whole groups, then
         * the tail */
        pair_s8(wa, wb, xw, n / 8, a);
        for (int32_t k = n & ~7; k < n; ++k) {
            a[0] += wa[k] * x[k];
            a[1] += wb[k] * x[k];
        }
    } else {
        pair_s8(wa, wb, xw, (n + 7) / 8, a);
    }
    acc[0] = a[0];
    acc[1] = a[1];
}

void dsp_fc_rows_s8(const int8_t *w, int32_t n, int32_t rows, const int8_t *x, const uint32_t *xw,
                    const dsp_fc_out *fo, int8_t *y)
{
    const dsp_out out = fo->out;
    const int32_t *rc = fo->row_const;
    const uint32_t xsum = fo->xsum;
    const bool pc = fo->per_channel;
    for (int32_t o = 0; o < rows; o += 2) {
        const int32_t ob = o + 1 < rows ? o + 1 : o;
        int32_t a[2];
        dsp_fc_dot2_s8(w, n, rows, o, ob, x, xw, a);
        y[o] = dsp_out_one_inline(&out, (int32_t)((uint32_t)a[0] + (uint32_t)rc[o] + xsum), pc ? o : 0);
        y[ob] = dsp_out_one_inline(&out, (int32_t)((uint32_t)a[1] + (uint32_t)rc[ob] + xsum), pc ? ob : 0);
    }
}

void dsp_fc_rows_s4(const uint8_t *w, int32_t n, int32_t rows, int32_t lead, int32_t step, const int8_t *x,
                    const uint32_t *xw, const dsp_fc_out *fo, int8_t *y)
{
    const dsp_out out = fo->out;
    const int32_t *rc = fo->row_const;
    const uint32_t xsum = fo->xsum;
    const bool pc = fo->per_channel;
    /* (a layer's weights are far fewer than 2^31 nibbles) */
    const int32_t bytes = (rows * n + 1) / 2;
    const int32_t groups = (n + lead + 7) / 8;
    /* rows starting past this byte would read past the weights */
    const int32_t safe = bytes - 4 * groups;
    for (int32_t o = lead; o < rows; o += 2 * step) {
        const int32_t ob = o + step < rows ? o + step : o;
        const int32_t sa = o * n, sb = ob * n;
        int32_t a[2];
        if ((sb >> 1) > safe) {
            /* whole words inside the weights only, then the tail */
            const int32_t g = (bytes - (sb >> 1)) / 4;
            pair_s4(w + (sa >> 1), w + (sb >> 1), xw, g, a);
            const int32_t done = g * 8 - lead;
            for (int32_t k = done > 0 ? done : 0; k < n; ++k) {
                a[0] += kwsq_int4_at(w, sa + k) * x[k];
                a[1] += kwsq_int4_at(w, sb + k) * x[k];
            }
        } else {
            pair_s4(w + (sa >> 1), w + (sb >> 1), xw, groups, a);
        }
        y[o] = dsp_out_one_inline(&out, (int32_t)((uint32_t)a[0] + (uint32_t)rc[o] + xsum), pc ? o : 0);
        y[ob] = dsp_out_one_inline(&out, (int32_t)((uint32_t)a[1] + (uint32_t)rc[ob] + xsum), pc ? ob : 0);
    }
}

void dsp_fc_stream_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t rows, int32_t *acc)
{
    const int32_t grouped = n & ~3;
    const int8_t *w0 = w, *w1 = rows > 1 ? w + n : w, *w2 = rows > 2 ? w + 2 * n : w;
    const int8_t *w3 = rows > 3 ? w + 3 * n : w;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t k = 0; k < grouped; k += 4) {
        const uint32_t xv = dsp_ld32(x + k);
        const uint32_t xe = dsp_sxtb16(xv), xo = dsp_sxtb16_ror8(xv);
        uint32_t wv = dsp_ld32(w0 + k);
        a0 = dsp_smlad(dsp_sxtb16(wv), xe, a0);
        a0 = dsp_smlad(dsp_sxtb16_ror8(wv), xo, a0);
        wv = dsp_ld32(w1 + k);
        a1 = dsp_smlad(dsp_sxtb16(wv), xe, a1);
        a1 = dsp_smlad(dsp_sxtb16_ror8(wv), xo, a1);
        wv = dsp_ld32(w2 + k);
        a2 = dsp_smlad(dsp_sxtb16(wv), xe, a2);
        a2 = dsp_smlad(dsp_sxtb16_ror8(wv), xo, a2);
        wv = dsp_ld32(w3 + k);
        a3 = dsp_smlad(dsp_sxtb16(wv), xe, a3);
        a3 = dsp_smlad(dsp_sxtb16_ror8(wv), xo, a3);
    }
    for (int32_t k = grouped; k < n; ++k) {
        a0 += w0[k] * x[k];
        a1 += w1[k] * x[k];
        a2 += w2[k] * x[k];
        a3 += w3[k] * x[k];
    }
    const int32_t all[4] = {a0, a1, a2, a3};
    for (int32_t r = 0; r < rows; ++r) {
        acc[r] = all[r];
    }
}

static inline int32_t nibble_dot(uint32_t wv, uint32_t mask, uint32_t p0, uint32_t p1, uint32_t p2, uint32_t p3,
                                 int32_t acc)
{
    const uint32_t l = (wv << 4) & mask, h = wv & mask;
    acc = dsp_smlad(dsp_sxtb16(l), p0, acc);
    acc = dsp_smlad(dsp_sxtb16_ror8(l), p1, acc);
    acc = dsp_smlad(dsp_sxtb16(h), p2, acc);
    return dsp_smlad(dsp_sxtb16_ror8(h), p3, acc);
}

void dsp_fc_stream_s4(const uint8_t *w, int64_t first, const int8_t *x, int32_t n, int32_t rows, int32_t *acc)
{
    if ((n & 1) != 0) {
        /* rows start mid-byte every other row: one nibble at a time */
        for (int32_t r = 0; r < rows; ++r) {
            const int64_t start = (first + r) * n;
            int32_t a = 0;
            for (int32_t k = 0; k < n; ++k) {
                a += kwsq_int4_at(w, start + k) * x[k];
            }
            acc[r] = a;
        }
        return;
    }
    const int32_t grouped = n & ~7;
    const uint8_t *w0 = w + first * (n / 2);
    const uint8_t *w1 = rows > 1 ? w0 + n / 2 : w0, *w2 = rows > 2 ? w0 + n : w0;
    const uint8_t *w3 = rows > 3 ? w0 + 3 * (n / 2) : w0;
    const uint32_t mask = 0xF0F0F0F0u;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t k = 0; k < grouped; k += 8) {
        const uint32_t lo = dsp_ld32(x + k), hi = dsp_ld32(x + k + 4);
        const uint32_t e0 = dsp_sxtb16(lo), e1 = dsp_sxtb16(hi);
        const uint32_t o0 = dsp_sxtb16_ror8(lo), o1 = dsp_sxtb16_ror8(hi);
        const uint32_t p0 = dsp_pack_lo(e0, e1), p1 = dsp_pack_hi(e0, e1);
        const uint32_t p2 = dsp_pack_lo(o0, o1), p3 = dsp_pack_hi(o0, o1);
        const int32_t kb = k / 2;
        a0 = nibble_dot(dsp_ld32(w0 + kb), mask, p0, p1, p2, p3, a0);
        a1 = nibble_dot(dsp_ld32(w1 + kb), mask, p0, p1, p2, p3, a1);
        a2 = nibble_dot(dsp_ld32(w2 + kb), mask, p0, p1, p2, p3, a2);
        a3 = nibble_dot(dsp_ld32(w3 + kb), mask, p0, p1, p2, p3, a3);
    }
    a0 >>= 4;
    a1 >>= 4;
    a2 >>= 4;
    a3 >>= 4;
    for (int32_t k = grouped; k < n; ++k) {
        a0 += kwsq_int4_at(w0, k) * x[k];
        a1 += kwsq_int4_at(w1, k) * x[k];
        a2 += kwsq_int4_at(w2, k) * x[k];
        a3 += kwsq_int4_at(w3, k) * x[k];
    }
    const int32_t all[4] = {a0, a1, a2, a3};
    for (int32_t r = 0; r < rows; ++r) {
        acc[r] = all[r];
    }
}
