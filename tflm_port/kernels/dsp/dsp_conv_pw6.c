/*
 * Six-pixel int8 CONV_2D rows for fields of at most twelve values; see
 * dsp_conv_pw6.h. With so few values per output, the output stage and the
 * per-channel bookkeeping cost more than the multiply-accumulates, so the
 * loop is written out in assembly: per channel one LDM of its table row
 * (2 * bias, multiplier, rounding term, shift, two, four or six widened weight
 * words), then per pixel LDRD of its widened values, two or four SMLAD
 * (the first starting from 2 * bias), SMMLAR with the rounding term, ADD of
 * the accumulator's sign, ASR, SSAT, STRB: 8 instructions for four
 * multiply-accumulates and an output (12 for eight). The six pixels are
 * first copied to the function's own stack frame, so every register but SP
 * and PC holds a live value and the pixels are addressed from SP.
 *
 * Exactness: the accumulator is 2 * (bias + sum w x) built from doubled
 * weights (|2w| <= 256 fits a lane) and doubled bias, modulo 2^32 the same
 * as the plain accumulator shifted left by one; the short stage is taken
 * only for accumulators bounded below 2^30, so it is exact and has the
 * plain one's sign. The output is then rows8_body's short stage
 * (dsp_conv1x1.c): (SMMLAR(2 acc, m, h) + (acc >> 31)) >> right, SSAT 8.
 */
#include "dsp_conv_pw6.h"

#include "dsp_simd.h"

/* The widened, doubled lane pairs of one group word into t[0], t[1]. */
static inline void table_word(uint32_t v, int32_t *t)
{
    const uint32_t e = dsp_sxtb16(v), o = dsp_sxtb16_ror8(v);
    t[0] = (int32_t)dsp_sadd16(e, e);
    t[1] = (int32_t)dsp_sadd16(o, o);
}

void dsp_pw6_table(const int8_t *w, int32_t k, int32_t oc0, int32_t oc1, const int32_t *bias,
                   const int32_t *mult, const int8_t *shift, int32_t out_offset, int32_t *tab)
{
    const int32_t whole = k >> 2, tail = k & 3;
    /* the tail group: a whole-word load reads bytes of the next row (masked
     * off); the last row of [oc0, oc1) is read bytewise, so nothing past
     * row oc1 - 1 is read (it may be the tensor's last) */
    const uint32_t keep = tail != 0 ? (1u << (8 * tail)) - 1u : 0;
    const uint32_t off2p1 = 2u * (uint32_t)out_offset + 1u;
    for (int32_t oc = oc0; oc < oc1; ++oc, tab += DSP_PW6_ROW(k)) {
        const int32_t r = -shift[oc];
        tab[0] = (int32_t)(2u * (uint32_t)(bias != NULL ? bias[oc] : 0));
        tab[1] = mult[oc];
        tab[2] = (int32_t)(off2p1 << (r - 1));
        tab[3] = r;
        const int8_t *row = w + (int64_t)oc * k;
        for (int32_t g = 0; g < whole; ++g) {
            table_word(dsp_ld32(row + 4 * g), tab + 4 + 2 * g);
        }
        if (tail != 0) {
            uint32_t v;
            if (oc + 1 < oc1) {
                v = dsp_ld32(row + 4 * whole) & keep;
            } else {
                v = 0;
                for (int32_t i = 4 * whole; i < k; ++i) {
                    v |= (uint32_t)(uint8_t)row[i] << (8 * (i - 4 * whole));
                }
            }
            table_word(v, tab + 4 + 2 * whole);
        }
    }
}

#ifdef KWSQ_DSP_NATIVE

/* Registers: r0 the table row, r1 y, r2 ys, r4 2 * bias, r5 multiplier,
 * r6 rounding term, r7 right shift, r8-r11 weights, r3/r12 a pixel's
 * widened pair, lr the accumulator. Frame: 96 bytes of pixels at sp, the
 * pushed r4-r11, lr, then the fifth argument (y_end) at sp + 132. */
#define PW6_COPY                                                                 \
    "push {r4-r11, lr}\n\t"                                                      \
    "sub sp, sp, #96\n\t"                                                        \
    "mov r12, sp\n\t"                                                            \
    "ldmia r3!, {r4-r11}\n\t"                                                    \
    "stmia r12!, {r4-r11}\n\t"                                                   \
    "ldmia r3!, {r4-r7}\n\t"                                                     \
    "stmia r12!, {r4-r7}\n\t"
#define PW6_COPY8                                                                \
    "ldmia r3!, {r4-r11}\n\t"                                                    \
    "stmia r12!, {r4-r11}\n\t"                                                   \
    "ldmia r3!, {r4-r7}\n\t"                                                     \
    "stmia r12!, {r4-r7}\n\t"
/* pixel j's first group at sp + 8j, its second at sp + 48 + 8j */
#define PW6_G0(o)                                                                \
    "ldrd r3, r12, [sp, #" #o "]\n\t"                                            \
    "smlad lr, r8, r3, r4\n\t"                                                   \
    "smlad lr, r9, r12, lr\n\t"
#define PW6_G1(o)                                                                \
    "ldrd r3, r12, [sp, #" #o "]\n\t"                                            \
    "smlad lr, r10, r3, lr\n\t"                                                  \
    "smlad lr, r11, r12, lr\n\t"
#define PW6_OUT                                                                  \
    "smmlar r3, lr, r5, r6\n\t"                                                  \
    "add r3, r3, lr, asr #31\n\t"                                                \
    "asr r3, r3, r7\n\t"                                                         \
    "ssat r3, #8, r3\n\t"
/* stores: y, y + ys, y + 2 ys; y + 3 ys, y + 4 ys from y + 2 ys; y + 5 ys
 * from y + 4 ys; then back to y + 1 */
#define PW6_PIXELS(G)                                                            \
    G(0) PW6_OUT "strb r3, [r1]\n\t"                                             \
    G(8) PW6_OUT "strb r3, [r1, r2]\n\t"                                         \
    G(16) PW6_OUT "strb r3, [r1, r2, lsl #1]\n\t"                                \
    "add r1, r1, r2, lsl #1\n\t"                                                 \
    G(24) PW6_OUT "strb r3, [r1, r2]\n\t"                                        \
    G(32) PW6_OUT "strb r3, [r1, r2, lsl #1]\n\t"                                \
    "add r1, r1, r2, lsl #1\n\t"                                                 \
    G(40) PW6_OUT "strb r3, [r1, r2]\n\t"                                        \
    "sub r1, r1, r2, lsl #2\n\t"                                                 \
    "add r1, r1, #1\n\t"
#define PW6_TAIL                                                                 \
    "ldr r3, [sp, #132]\n\t"                                                     \
    "cmp r1, r3\n\t"                                                             \
    "bne 1b\n\t"                                                                 \
    "add sp, sp, #96\n\t"                                                        \
    "pop {r4-r11, pc}\n\t"

/* the arguments arrive in r0-r3 and at sp (AAPCS); the C names are unused */
#define PW6_PARAMS                                                                                             \
    const int32_t *tab __attribute__((unused)), int8_t *y __attribute__((unused)),                             \
        int32_t ys __attribute__((unused)), const uint32_t *xbuf __attribute__((unused)),                      \
        const int8_t *y_end __attribute__((unused))

#define PW6_K8_G(o) PW6_G0(o) PW6_G1(o + 48)

/* k <= 4: one pass per output channel (its six table words by LDM), six
 * pixels stored ys apart (r1 = y, r10 = y + 3 ys), until r1 reaches r11 */
#define PW6_K4_LOOP                                                                                            \
    "1:\n\t"                                                                                                  \
    "ldmia r0!, {r4-r9}\n\t"                                                                                  \
    PW6_G0(0) PW6_OUT "strb r3, [r1]\n\t"                                                                     \
    PW6_G0(8) PW6_OUT "strb r3, [r1, r2]\n\t"                                                                 \
    PW6_G0(16) PW6_OUT "strb r3, [r1, r2, lsl #1]\n\t"                                                        \
    PW6_G0(24) PW6_OUT "strb r3, [r10]\n\t"                                                                   \
    PW6_G0(32) PW6_OUT "strb r3, [r10, r2]\n\t"                                                               \
    PW6_G0(40) PW6_OUT "strb r3, [r10, r2, lsl #1]\n\t"                                                       \
    "add r1, r1, #1\n\t"                                                                                      \
    "add r10, r10, #1\n\t"                                                                                    \
    "cmp r1, r11\n\t"                                                                                         \
    "bne 1b\n\t"

/* k <= 4 leaves r10 and r11 free: r10 = y + 3 ys, r11 = y_end */
__attribute__((naked, noinline)) void dsp_pw6_k4(PW6_PARAMS)
{
    __asm__ volatile(PW6_COPY
                     "ldr r11, [sp, #132]\n\t"
                     "add r10, r2, r2, lsl #1\n\t"
                     "add r10, r10, r1\n\t"
                     PW6_K4_LOOP
                     "add sp, sp, #96\n\t"
                     "pop {r4-r11, pc}\n\t");
}

__attribute__((naked, noinline)) void dsp_pw6_k8(PW6_PARAMS)
{
    __asm__ volatile(PW6_COPY PW6_COPY8
                     "1:\n\t"
                     "ldmia r0!, {r4-r11}\n\t" PW6_PIXELS(PW6_K8_G) PW6_TAIL);
}

/* k <= 12: the weights take r6-r11 and the constants r2-r5 (one LDM of
 * r2-r11), r0 and r12 a pixel's pair, lr the accumulator, r1 y; the table
 * pointer and the pixel offsets j * ys live in the frame: 144 bytes of
 * pixels (group g of pixel j at sp + 48g + 8j), ys..5 ys at sp + 144, the
 * table pointer at sp + 164, then the pushed registers, y_end at sp + 204. */
/* the third group: both lane pairs, or (k = 9) only the even one (the odd
 * lanes are padding: 0) */
#define PW6_G2_12(j)                                                             \
    "ldrd r0, r12, [sp, #96 + 8 * " #j "]\n\t"                                  \
    "smlad lr, r10, r0, lr\n\t"                                                 \
    "smlad lr, r11, r12, lr\n\t"
#define PW6_G2_9(j)                                                              \
    "ldr r0, [sp, #96 + 8 * " #j "]\n\t"                                        \
    "smlad lr, r10, r0, lr\n\t"
#define PW6_K12_PX(G2, j, ys_load)                                               \
    "ldrd r0, r12, [sp, #8 * " #j "]\n\t"                                       \
    "smlad lr, r6, r0, r2\n\t"                                                  \
    "smlad lr, r7, r12, lr\n\t"                                                 \
    "ldrd r0, r12, [sp, #48 + 8 * " #j "]\n\t"                                  \
    "smlad lr, r8, r0, lr\n\t"                                                  \
    "smlad lr, r9, r12, lr\n\t" G2(j)                                           \
    "smmlar r0, lr, r3, r4\n\t"                                                 \
    "add r0, r0, lr, asr #31\n\t"                                               \
    "asr r0, r0, r5\n\t"                                                        \
    "ssat r0, #8, r0\n\t" ys_load
#define PW6_K12_ST(j)                                                            \
    "ldr r12, [sp, #144 + 4 * (" #j " - 1)]\n\t"                                \
    "strb r0, [r1, r12]\n\t"

#define PW6_K12_BODY(G2)                                                         \
    __asm__ volatile("push {r4-r11, lr}\n\t"          \
                     "sub sp, sp, #168\n\t"\
                     "mov r12, sp\n\t"\
                     "ldmia r3!, {r4-r11}\n\t"\
                     "stmia r12!, {r4-r11}\n\t"\
                     "ldmia r3!, {r4-r11}\n\t"\
                     "stmia r12!, {r4-r11}\n\t"\
                     "ldmia r3!, {r4-r11}\n\t"\
                     "stmia r12!, {r4-r11}\n\t"\
                     "ldmia r3!, {r4-r11}\n\t"\
                     "stmia r12!, {r4-r11}\n\t"\
                     "ldmia r3!, {r4-r7}\n\t"\
                     "stmia r12!, {r4-r7}\n\t"\
                     "mov r4, r2\n\t"\
                     "lsl r5, r2, #1\n\t"\
                     "add r6, r5, r2\n\t"\
                     "lsl r7, r2, #2\n\t"\
                     "add r8, r7, r2\n\t"\
                     "stmia r12!, {r4-r8}\n\t"\
                     "str r0, [r12]\n\t"\
                     "1:\n\t"\
                     "ldr r0, [sp, #164]\n\t"\
                     "ldmia r0!, {r2-r11}\n\t"\
                     "str r0, [sp, #164]\n\t"\
                     PW6_K12_PX(G2, 0, "strb r0, [r1]\n\t")\
                     PW6_K12_PX(G2, 1, PW6_K12_ST(1))\
                     PW6_K12_PX(G2, 2, PW6_K12_ST(2))\
                     PW6_K12_PX(G2, 3, PW6_K12_ST(3))\
                     PW6_K12_PX(G2, 4, PW6_K12_ST(4))\
                     PW6_K12_PX(G2, 5, PW6_K12_ST(5))\
                     "add r1, r1, #1\n\t"\
                     "ldr r0, [sp, #204]\n\t"\
                     "cmp r1, r0\n\t"\
                     "bne 1b\n\t"\
                     "add sp, sp, #168\n\t"\
                     "pop {r4-r11, pc}\n\t")

__attribute__((naked, noinline)) void dsp_pw6_k12(PW6_PARAMS)
{
    PW6_K12_BODY(PW6_G2_12);
}

__attribute__((naked, noinline)) void dsp_pw6_k9(PW6_PARAMS)
{
    PW6_K12_BODY(PW6_G2_9);
}

/* The fused pointwise calls: the frame holds the pixels (48 or 96 bytes),
 * then at V: the table, the block's y, x, x_end, off2, nch, ys. */
#define PW6D_ENTRY(V, FRAME)                                                     \
    "push {r4-r11, lr}\n\t"                                                     \
    "sub sp, sp, #" #FRAME "\n\t"                                               \
    "ldmia r0, {r1-r7}\n\t"                                                     \
    "str r1, [sp, #" #V "]\n\t"                                                 \
    "str r2, [sp, #" #V " + 4]\n\t"                                             \
    "str r4, [sp, #" #V " + 8]\n\t"                                             \
    "str r5, [sp, #" #V " + 12]\n\t"                                            \
    "str r7, [sp, #" #V " + 16]\n\t"                                            \
    "str r6, [sp, #" #V " + 20]\n\t"                                            \
    "str r3, [sp, #" #V " + 24]\n\t"
/* pixel word at x + xo widened into the frame at fo */
#define PW6D_W(xo, fo)                                                           \
    "ldr r4, [r3, #" #xo "]\n\t"                                                \
    "sxtab16 r0, r12, r4\n\t"                                                   \
    "sxtab16 r1, r12, r4, ror #8\n\t"                                           \
    "strd r0, r1, [sp, #" #fo "]\n\t"
#define PW6D_BLOCK_START(V, XSTEP)                                               \
    "2:\n\t"                                                                    \
    "ldr r3, [sp, #" #V " + 8]\n\t"                                             \
    "ldr r12, [sp, #" #V " + 16]\n\t"
#define PW6D_BLOCK_SETUP(V, XSTEP)                                               \
    "add r3, r3, #" #XSTEP "\n\t"                                               \
    "str r3, [sp, #" #V " + 8]\n\t"                                             \
    "ldr r0, [sp, #" #V "]\n\t"                                                 \
    "ldr r1, [sp, #" #V " + 4]\n\t"                                             \
    "ldr r2, [sp, #" #V " + 24]\n\t"
/* after the channels: y of the next block (+ 6 ys), the next block or out */
#define PW6D_BLOCK_END(V, FRAME)                                                 \
    "ldr r1, [sp, #" #V " + 4]\n\t"                                             \
    "add r1, r1, r2, lsl #2\n\t"                                                \
    "add r1, r1, r2, lsl #1\n\t"                                                \
    "str r1, [sp, #" #V " + 4]\n\t"                                             \
    "ldr r3, [sp, #" #V " + 8]\n\t"                                             \
    "ldr r12, [sp, #" #V " + 12]\n\t"                                           \
    "cmp r3, r12\n\t"                                                           \
    "bne 2b\n\t"                                                                \
    "add sp, sp, #" #FRAME "\n\t"                                               \
    "pop {r4-r11, pc}\n\t"

__attribute__((naked, noinline)) void dsp_pw6_direct_k4(const dsp_pw6_run *r __attribute__((unused)))
{
    __asm__ volatile(PW6D_ENTRY(48, 80)
                     PW6D_BLOCK_START(48, 24)
                     PW6D_W(0, 0) PW6D_W(4, 8) PW6D_W(8, 16) PW6D_W(12, 24) PW6D_W(16, 32) PW6D_W(20, 40)
                     PW6D_BLOCK_SETUP(48, 24)
                     /* r10 = y + 3 ys, r11 = y + nch */
                     "ldr r11, [sp, #48 + 20]\n\t"
                     "add r11, r11, r1\n\t"
                     "add r10, r2, r2, lsl #1\n\t"
                     "add r10, r10, r1\n\t"
                     PW6_K4_LOOP
                     PW6D_BLOCK_END(48, 80));
}

/* k8: the channel loop of dsp_pw6_k8, its y_end at V + 28 */
__attribute__((naked, noinline)) void dsp_pw6_direct_k8(const dsp_pw6_run *r __attribute__((unused)))
{
    __asm__ volatile(PW6D_ENTRY(96, 128)
                     PW6D_BLOCK_START(96, 48)
                     PW6D_W(0, 0) PW6D_W(4, 48) PW6D_W(8, 8) PW6D_W(12, 56) PW6D_W(16, 16) PW6D_W(20, 64)
                     PW6D_W(24, 24) PW6D_W(28, 72) PW6D_W(32, 32) PW6D_W(36, 80) PW6D_W(40, 40) PW6D_W(44, 88)
                     PW6D_BLOCK_SETUP(96, 48)
                     "ldr r3, [sp, #96 + 20]\n\t"
                     "add r3, r3, r1\n\t"
                     "str r3, [sp, #96 + 28]\n\t"
                     "1:\n\t"
                     "ldmia r0!, {r4-r11}\n\t" PW6_PIXELS(PW6_K8_G)
                     "ldr r3, [sp, #96 + 28]\n\t"
                     "cmp r1, r3\n\t"
                     "bne 1b\n\t"
                     PW6D_BLOCK_END(96, 128));
}

#else

static void pw6(int32_t groups, const int32_t *tab, int8_t *y, int32_t ys, const uint32_t *x, const int8_t *y_end)
{
    for (; y != y_end; ++y, tab += 4 + 2 * groups) {
        for (int32_t j = 0; j < 6; ++j) {
            int32_t acc = tab[0];
            for (int32_t g = 0; g < groups; ++g) {
                acc = dsp_smlad((uint32_t)tab[4 + 2 * g], x[(g * 6 + j) * 2], acc);
                acc = dsp_smlad((uint32_t)tab[5 + 2 * g], x[(g * 6 + j) * 2 + 1], acc);
            }
            const int32_t v = (dsp_smmlar(acc, tab[1], tab[2]) + (acc >> 31)) >> tab[3];
            y[j * ys] = (int8_t)dsp_ssat8(v);
        }
    }
}

void dsp_pw6_k4(const int32_t *tab, int8_t *y, int32_t ys, const uint32_t *xbuf, const int8_t *y_end)
{
    pw6(1, tab, y, ys, xbuf, y_end);
}

void dsp_pw6_k8(const int32_t *tab, int8_t *y, int32_t ys, const uint32_t *xbuf, const int8_t *y_end)
{
    pw6(2, tab, y, ys, xbuf, y_end);
}

void dsp_pw6_k12(const int32_t *tab, int8_t *y, int32_t ys, const uint32_t *xbuf, const int8_t *y_end)
{
    pw6(3, tab, y, ys, xbuf, y_end);
}

void dsp_pw6_k9(const int32_t *tab, int8_t *y, int32_t ys, const uint32_t *xbuf, const int8_t *y_end)
{
    pw6(3, tab, y, ys, xbuf, y_end);
}

/* the fused calls: widen each block as the six-pixel path lays it out, then its channels */
static void pw6_direct(int32_t c, const dsp_pw6_run *r)
{
    uint32_t buf[2 * 6 * 2];
    int8_t *y = r->y;
    for (const int8_t *x = r->x; x != r->x_end; x += 6 * c, y += 6 * r->ys) {
        for (int32_t g = 0; g < c / 4; ++g) {
            for (int32_t j = 0; j < 6; ++j) {
                const uint32_t v = dsp_ld32(x + j * c + 4 * g);
                buf[(g * 6 + j) * 2] = dsp_sxtab16(r->off2, v);
                buf[(g * 6 + j) * 2 + 1] = dsp_sxtab16_ror8(r->off2, v);
            }
        }
        pw6(c / 4, r->tab, y, r->ys, buf, y + r->nch);
    }
}

void dsp_pw6_direct_k4(const dsp_pw6_run *r)
{
    pw6_direct(4, r);
}

void dsp_pw6_direct_k8(const dsp_pw6_run *r)
{
    pw6_direct(8, r);
}

#endif
