/*
 * Six-pixel int8 CONV_2D for the dsp kernels (one group, receptive field of
 * at most DSP_1X1_MAX_CH values): a matrix product of the weight rows with
 * the pixels' receptive fields. A pointwise (1x1, unpadded) layer's pixels
 * are contiguous channels-last vectors and are read in place; any other
 * window (padding, dilation, strides) is read in the weights' order (filter
 * row, column, channel; padding = the input zero point): whole filter rows
 * of groups of four straight from the input, small fields through a table
 * of value offsets, the rest gathered into a small patch. A small padded
 * input is first copied into a zero-point border, so that every window lies
 * inside it. Six pixels are widened once into int16 (input offset added,
 * lanes in the order SXTB16 gives the weights) and every weight row is
 * loaded and widened once for all six: per four values one LDR, two SXTB16,
 * six LDRD and twelve SMLAD, 21 instructions for 24 multiply-accumulates,
 * plus one compare-and-branch per eight values (the general path's four
 * pixels take 17 for 16). int8 fields are padded to whole groups (zero
 * lanes), and the accumulators stay in registers from the bias (folded into
 * the first group's SMLADs) to the stores (rows8_body).
 *
 * Blocking choice: a 2x2 block (two rows, two pixels) widens each weight
 * word for two pixels only: 2 LDR + 4 SXTB16 + 2 LDRD + 8 SMLAD = 16 for 16
 * MACs; more rows per pass need the weights widened ahead, which for a whole
 * layer does not fit a small stack. One row by six pixels amortizes the
 * weight widening best within the 14 registers the loop may use.
 */
#include "dsp_conv1x1.h"

#include "dsp_conv_pw6.h"
#include "dsp_requant.h"
#include "dsp_simd.h"
#include "kwsq_math.h"

#include <string.h>

#define P1X1 6
/* Output channels per slice of the last, partial pixel block. */
#define TAIL_OC 32

/* Widened int8 layout of P1X1 pixels of c values, padded to c4 = c rounded
 * up to 4: group g (values 4g..4g+3) of pixel j is two words at word
 * (g * P1X1 + j) * 2, lanes (v0,v2),(v1,v3); the lanes past c are 0. */
static inline void widen_word(uint32_t v, uint32_t off2, uint32_t *dst)
{
    dst[0] = dsp_sxtab16(off2, v);
    dst[1] = dsp_sxtab16_ror8(off2, v);
}

/* The last n = c & 3 (1..3) values of a pixel from src[0..n), the other
 * bytes the zero point (0 once the offset is added): zp4 = zp * 0x01010101. */
static inline uint32_t tail_word(const int8_t *src, int32_t n, uint32_t zp4)
{
    uint32_t v = (uint8_t)src[0];
    if (n > 1) {
        v |= (uint32_t)(uint8_t)src[1] << 8;
    }
    if (n > 2) {
        v |= (uint32_t)(uint8_t)src[2] << 16;
    }
    return v | (zp4 << (8 * n));
}

static inline void widen_pixel(const int8_t *src, int32_t c, int32_t off, int32_t j, int16_t *buf)
{
    const int32_t grouped = c & ~3;
    const uint32_t off2 = dsp_dup16(off);
    uint32_t *dst = (uint32_t *)(void *)buf + j * 2;
    for (int32_t k = 0; k < grouped; k += 4, dst += 2 * P1X1) {
        widen_word(dsp_ld32(src + k), off2, dst);
    }
    if (grouped < c) {
        widen_word(tail_word(src + grouped, c - grouped, (uint32_t)(uint8_t)(int8_t)-off * 0x01010101u), off2, dst);
    }
}

/* Offsets of a receptive field's values (filter row, column, channel) from
 * its window's first input value, for windows inside the input: per value
 * one table load and one byte load. Fields of at most TAPS_MAX values; the
 * table is padded to whole groups with offset 0, whose bytes the last
 * group's mask replaces by the zero point. */
#define TAPS_MAX 64
/* Largest zero-point-bordered copy of a padded input (bytes, on the stack). */
#define PAD_MAX 1024
/* Most channels whose output constants rows8_full_tab reads from a table (16 bytes each, on the stack). */
#define RQ_TAB_MAX 128
/* Most channels of a layer the tiny-field rows take (dsp_conv_pw6.h; up to 40 bytes each, on the stack). */
#define PW6_MAX_OC 64

static inline uint32_t tap_word(const int8_t *src, const int32_t *tap)
{
    return (uint32_t)(uint8_t)src[tap[0]] | (uint32_t)(uint8_t)src[tap[1]] << 8 |
           (uint32_t)(uint8_t)src[tap[2]] << 16 | (uint32_t)(uint8_t)src[tap[3]] << 24;
}

/* The int4 layout of the same: group g (values 8g..8g+7) is 4 * P1X1 words at word
 * g * 4 * P1X1: first the pairs of nibbles 0-1 of the six pixels, pixel j
 * at word 2j: (v0,v4),(v1,v5); then those of nibbles 2-3, pixel j at word
 * 2 * P1X1 + 2j: (v2,v6),(v3,v7) (the lanes row_x6_s4 makes of a weight
 * word); the tail as in the int8 layout. */
static inline void widen8_s4(uint32_t lo, uint32_t hi, uint32_t off2, uint32_t *dst)
{
    const uint32_t e0 = dsp_sadd16(dsp_sxtb16(lo), off2), e1 = dsp_sadd16(dsp_sxtb16(hi), off2);
    const uint32_t o0 = dsp_sadd16(dsp_sxtb16_ror8(lo), off2), o1 = dsp_sadd16(dsp_sxtb16_ror8(hi), off2);
    dst[0] = dsp_pack_lo(e0, e1);
    dst[1] = dsp_pack_lo(o0, o1);
    dst[2 * P1X1] = dsp_pack_hi(e0, e1);
    dst[2 * P1X1 + 1] = dsp_pack_hi(o0, o1);
}

static void __attribute__((noinline)) widen_pixel_s4(const int8_t *src, int32_t c, int32_t off, int32_t j, int16_t *buf)
{
    const int32_t grouped = c & ~7;
    const uint32_t off2 = dsp_dup16(off);
    uint32_t *dst = (uint32_t *)(void *)buf + j * 2;
    for (int32_t k = 0; k < grouped; k += 8, dst += 4 * P1X1) {
        widen8_s4(dsp_ld32(src + k), dsp_ld32(src + k + 4), off2, dst);
    }
    int16_t *t = buf + grouped * P1X1 + j;
    for (int32_t k = grouped; k < c; ++k, t += P1X1) {
        *t = (int16_t)(src[k] + off);
    }
}

#ifndef KWSQ_DSP_NATIVE
/* The portable form (host builds) of one packed int4 weight word against the
 * six widened pixels at x (the lane layout of row_x6_s4, below): adds the
 * 4096x products into *a0..*a5 and returns x past the word's two lane groups. */
static inline __attribute__((always_inline)) const uint32_t *s4_word_x6(uint32_t v, const uint32_t *x, int32_t *a0,
                                                                        int32_t *a1, int32_t *a2, int32_t *a3,
                                                                        int32_t *a4, int32_t *a5)
{
    const uint32_t m = 0xF000F000u;
    for (int32_t half = 0; half < 2; ++half, x += 2 * P1X1) {
        /* nibbles 0-1 of each byte pair, then 2-3 */
        const uint32_t t = half == 0 ? (v << 12) & m : (v << 4) & m;
        const uint32_t u = half == 0 ? (v << 8) & m : v & m;
        *a0 = dsp_smlad(u, x[1], dsp_smlad(t, x[0], *a0));
        *a1 = dsp_smlad(u, x[3], dsp_smlad(t, x[2], *a1));
        *a2 = dsp_smlad(u, x[5], dsp_smlad(t, x[4], *a2));
        *a3 = dsp_smlad(u, x[7], dsp_smlad(t, x[6], *a3));
        *a4 = dsp_smlad(u, x[9], dsp_smlad(t, x[8], *a4));
        *a5 = dsp_smlad(u, x[11], dsp_smlad(t, x[10], *a5));
    }
    return x;
}
#endif

/* Groups per run of row_x6_s4: 4096 * 8 * 255 * 8 * 31 < 2^31 (inputs with
 * the offset added span -255..255). */
#define S4_RUN 31

/* acc[j] += packed int4 row . pixel j over `groups` whole groups of eight
 * values. (w << 12), (w << 8), (w << 4) and w, ANDed with 0xF000F000, hold
 * the nibble pairs (n0,n4), (n1,n5), (n2,n6), (n3,n7) of a weight word in
 * the top four bits of 16-bit lanes: 4096x the weights, ready for SMLAD.
 * Per weight word (8 values, 48 multiply-accumulates): two LDR, four AND,
 * twelve LDRD and 24 SMLAD, as many as int8 takes for the same work. */
static inline __attribute__((always_inline)) void row_x6_s4(const uint8_t *w, int32_t groups, const int16_t *buf,
                                                            int32_t *acc)
{
#ifdef KWSQ_DSP_NATIVE
    const uint32_t m = 0xF000F000u;
#endif
    const uint32_t *x = (const uint32_t *)(const void *)buf;
    for (;;) {
        const int32_t run = groups < S4_RUN ? groups : S4_RUN;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0;
#ifdef KWSQ_DSP_NATIVE
#define DSP_1X1_S4_PX                                 \
    "ldrd %[x0], %[x1], [%[x]], #8\n\t"              \
    "smlad %[a0], %[t], %[x0], %[a0]\n\t"            \
    "smlad %[a0], %[u], %[x1], %[a0]\n\t"            \
    "ldrd %[x0], %[x1], [%[x]], #8\n\t"              \
    "smlad %[a1], %[t], %[x0], %[a1]\n\t"            \
    "smlad %[a1], %[u], %[x1], %[a1]\n\t"            \
    "ldrd %[x0], %[x1], [%[x]], #8\n\t"              \
    "smlad %[a2], %[t], %[x0], %[a2]\n\t"            \
    "smlad %[a2], %[u], %[x1], %[a2]\n\t"            \
    "ldrd %[x0], %[x1], [%[x]], #8\n\t"              \
    "smlad %[a3], %[t], %[x0], %[a3]\n\t"            \
    "smlad %[a3], %[u], %[x1], %[a3]\n\t"            \
    "ldrd %[x0], %[x1], [%[x]], #8\n\t"              \
    "smlad %[a4], %[t], %[x0], %[a4]\n\t"            \
    "smlad %[a4], %[u], %[x1], %[a4]\n\t"            \
    "ldrd %[x0], %[x1], [%[x]], #8\n\t"              \
    "smlad %[a5], %[t], %[x0], %[a5]\n\t"            \
    "smlad %[a5], %[u], %[x1], %[a5]\n\t"
/* nibbles 0-1 of each byte pair, then 2-3 (the word is loaded twice rather
 * than held: one register fewer) */
#define DSP_1X1_S4_STEP                               \
    "ldr %[u], [%[w]]\n\t"                           \
    "and %[t], %[m], %[u], lsl #12\n\t"              \
    "and %[u], %[m], %[u], lsl #8\n\t" DSP_1X1_S4_PX \
    "ldr %[u], [%[w]], #4\n\t"                       \
    "and %[t], %[m], %[u], lsl #4\n\t"               \
    "and %[u], %[u], %[m]\n\t" DSP_1X1_S4_PX
#define DSP_1X1_S4_OPERANDS                                                                                \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), [a5] "+r"(a5), [w] "+r"(w), \
      [x] "+r"(x), [t] "=&r"(t), [u] "=&r"(u), [x0] "=&r"(x0), [x1] "=&r"(x1)
        uint32_t t, u, x0, x1;
        if (run & 1) {
            __asm__ volatile(DSP_1X1_S4_STEP DSP_1X1_S4_OPERANDS : [m] "r"(m) : "memory");
        }
        if (run > 1) {
            const uint8_t *w_end = w + 4 * (run & ~1);
            __asm__ volatile("1:\n\t" DSP_1X1_S4_STEP DSP_1X1_S4_STEP "cmp %[w], %[e]\n\t"
                                                                        "bne 1b\n\t" DSP_1X1_S4_OPERANDS
                             : [e] "r"(w_end), [m] "r"(m)
                             : "cc", "memory");
        }
#undef DSP_1X1_S4_PX
#undef DSP_1X1_S4_STEP
#undef DSP_1X1_S4_OPERANDS
#else
        for (int32_t g = 0; g < run; ++g, w += 4) {
            x = s4_word_x6(dsp_ld32(w), x, &a0, &a1, &a2, &a3, &a4, &a5);
        }
#endif
        /* exact: every product was a multiple of 4096 */
        acc[0] += a0 >> 12;
        acc[1] += a1 >> 12;
        acc[2] += a2 >> 12;
        acc[3] += a3 >> 12;
        acc[4] += a4 >> 12;
        acc[5] += a5 >> 12;
        groups -= run;
        if (groups <= 0) {
            break;
        }
    }
}

/* Six outputs of one channel, pixels ystride apart, stored as int8. */
static inline __attribute__((always_inline)) void store_x6(int8_t *yo, int32_t ystride, int32_t v0, int32_t v1,
                                                           int32_t v2, int32_t v3, int32_t v4, int32_t v5)
{
    int8_t *y3 = yo + 3 * ystride;
    yo[0] = (int8_t)v0;
    yo[ystride] = (int8_t)v1;
    yo[2 * ystride] = (int8_t)v2;
    y3[0] = (int8_t)v3;
    y3[ystride] = (int8_t)v4;
    y3[2 * ystride] = (int8_t)v5;
}

/* Six requantized outputs fitted to int8: mode 0 (the whole range, the
 * offset already inside) saturates; otherwise + off, clamped to lo..hi. */
static inline __attribute__((always_inline)) void fit_x6(int mode, int32_t off, int32_t lo, int32_t hi, int32_t *v0,
                                                         int32_t *v1, int32_t *v2, int32_t *v3, int32_t *v4,
                                                         int32_t *v5)
{
    if (mode == 0) {
        *v0 = dsp_ssat8(*v0);
        *v1 = dsp_ssat8(*v1);
        *v2 = dsp_ssat8(*v2);
        *v3 = dsp_ssat8(*v3);
        *v4 = dsp_ssat8(*v4);
        *v5 = dsp_ssat8(*v5);
    } else {
        *v0 = kwsq_clamp(*v0 + off, lo, hi);
        *v1 = kwsq_clamp(*v1 + off, lo, hi);
        *v2 = kwsq_clamp(*v2 + off, lo, hi);
        *v3 = kwsq_clamp(*v3 + off, lo, hi);
        *v4 = kwsq_clamp(*v4 + off, lo, hi);
        *v5 = kwsq_clamp(*v5 + off, lo, hi);
    }
}

/* Output stage of one accumulator. mode: 0 short requantization, full
 * int8 range (one SSAT), the output offset folded into the rounding term
 * (`half` = 2^(right-1) + offset * 2^right = (2 * offset + 1) << (right - 1),
 * exact: adding a multiple of 2^right commutes with the shift; needs
 * right <= 22 so the sum stays far from overflow); 1 short, any activation
 * range; 2 general (power-of-two or full MultiplyByQuantizedMultiplier). */
static inline __attribute__((always_inline)) int8_t out1(int32_t acc, int mode, int32_t half, int32_t right,
                                                         int32_t m, int32_t s, bool pot, int32_t off, int32_t lo,
                                                         int32_t hi)
{
    int32_t v;
    if (mode == 0) {
        const int32_t x = dsp_smmulr((int32_t)((uint32_t)acc << 1), m);
        return (int8_t)dsp_ssat8((x + half + (x >> 31)) >> right);
    }
    if (mode == 1) {
        /* dsp_rq_apply with no left shift (the short form requires shift < 0) */
        const int32_t x = dsp_smmulr((int32_t)((uint32_t)acc << 1), m);
        v = ((x + half + (x >> 31)) >> right) + off;
    } else {
        v = (pot ? dsp_requant_pot(acc, s) : dsp_requant(acc, m, s)) + off;
    }
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* Output channels [oc0, oc1) of the six widened pixels, packed int4 rows:
 * channel oc of pixel j goes to y[j * ystride + oc - oc0]. */
static inline __attribute__((always_inline)) void rows_body(const dsp_gemm_args *a, int32_t cin, int32_t oc0,
                                                            int32_t oc1, const int16_t *buf, int8_t *y,
                                                            int32_t ystride, int mode)
{
    static const int32_t zero = 0;

    /* no bias: the same zero for every channel (a step of 0, no test per row) */
    const int32_t *bp = a->bias != NULL ? a->bias + oc0 : &zero;
    const int32_t bstep = a->bias != NULL ? 1 : 0;
    const int32_t *mult = a->mult;
    const int8_t *shift = a->shift;
    const int32_t off = a->out_offset, lo = a->act_min, hi = a->act_max;
    const uint32_t off2p1 = 2u * (uint32_t)off + 1u;
    const bool pot = a->pot;
    int8_t *yo = y;
    /* int4: the nibble where row oc starts (weights of a layer that fits
     * this path are far fewer than 2^31 nibbles) */
    int32_t nib = oc0 * cin;
    for (int32_t oc = oc0; oc < oc1; ++oc, nib += cin, ++yo, bp += bstep) {
        const int32_t b = *bp;
        int32_t acc[P1X1] = {b, b, b, b, b, b};
        {
            const uint8_t *w4 = (const uint8_t *)a->weights + (nib >> 1);
            if ((nib & 1) != 0) {
                /* a row starting mid-byte: a byte-aligned copy of it */
                dsp_s4_realign(w4, cin, a->s4_row);
                w4 = a->s4_row;
            }
            const int32_t grouped = cin & ~7;
            if (grouped > 0) {
                row_x6_s4(w4, grouped / 8, buf, acc);
            }
            const int16_t *t = buf + grouped * P1X1;
            for (int32_t k = grouped; k < cin; ++k, t += P1X1) {
                const int32_t wv = kwsq_int4_at(w4, k);
                acc[0] += wv * t[0];
                acc[1] += wv * t[1];
                acc[2] += wv * t[2];
                acc[3] += wv * t[3];
                acc[4] += wv * t[4];
                acc[5] += wv * t[5];
            }
        }
        const int32_t m = mult[oc], s = shift[oc];
        /* short form: right = -s in 1..31 (mode 0: 1..22) */
        const int32_t right = mode <= 1 ? -s : 0;
        const int32_t half = mode == 0   ? (int32_t)(off2p1 << ((right - 1) & 31))
                             : mode == 1 ? (int32_t)(1u << ((right - 1) & 31))
                                         : 0;
        const int8_t v0 = out1(acc[0], mode, half, right, m, s, pot, off, lo, hi);
        const int8_t v1 = out1(acc[1], mode, half, right, m, s, pot, off, lo, hi);
        const int8_t v2 = out1(acc[2], mode, half, right, m, s, pot, off, lo, hi);
        const int8_t v3 = out1(acc[3], mode, half, right, m, s, pot, off, lo, hi);
        const int8_t v4 = out1(acc[4], mode, half, right, m, s, pot, off, lo, hi);
        const int8_t v5 = out1(acc[5], mode, half, right, m, s, pot, off, lo, hi);
        store_x6(yo, ystride, v0, v1, v2, v3, v4, v5);
    }
}

/*
 * The int8 rows on the padded layout: a receptive field of k values is
 * widened to k4 = k rounded up to 4, the lanes past k zero, so every row is
 * whole groups of four (no scalar tail). A row's last group reads up to
 * three bytes of the next row's weights, which meet those zero lanes; the
 * last output channel of the layer reads a padded copy of its row instead
 * (w_row0), so nothing past the weights is read. The accumulators start at
 * the bias in the first group's SMLADs (no moves), and the short output
 * stage is, per output, LSL, SMMLAR (the rounding term with the output
 * offset folded in), ADD of the sign, ASR, SSAT (or the activation clamp)
 * and STRB. dsp_rq_apply adds the sign of the SMMULR result, this the sign
 * of the accumulator: they differ only when the product rounds to 0, where
 * both give the offset (2^(right-1) - 1 and 2^(right-1) shift to the same 0).
 * mode: 0 short, full int8 range; 1 short, any activation range; 2 general.
 */
#ifdef KWSQ_DSP_NATIVE
#define DSP_R8_PX(a, x0, x1, acc_in)                  \
    "ldrd %[x0], %[x1], [%[x]], #8\n\t"              \
    "smlad %[" a "], %[t], %[x0], " acc_in "\n\t"    \
    "smlad %[" a "], %[u], %[x1], %[" a "]\n\t"
#define DSP_R8_W                                      \
    "ldr %[t], [%[w]], #4\n\t"                       \
    "sxtb16 %[u], %[t], ror #8\n\t"                  \
    "sxtb16 %[t], %[t]\n\t"
#define DSP_R8_FIRST                                                                                     \
    DSP_R8_W DSP_R8_PX("a0", x0, x1, "%[b]") DSP_R8_PX("a1", x0, x1, "%[b]") DSP_R8_PX("a2", x0, x1, "%[b]") \
        DSP_R8_PX("a3", x0, x1, "%[b]") DSP_R8_PX("a4", x0, x1, "%[b]") DSP_R8_PX("a5", x0, x1, "%[b]")
#define DSP_R8_STEP                                                                                         \
    DSP_R8_W DSP_R8_PX("a0", x0, x1, "%[a0]") DSP_R8_PX("a1", x0, x1, "%[a1]") DSP_R8_PX("a2", x0, x1, "%[a2]") \
        DSP_R8_PX("a3", x0, x1, "%[a3]") DSP_R8_PX("a4", x0, x1, "%[a4]") DSP_R8_PX("a5", x0, x1, "%[a5]")
#endif

static inline __attribute__((always_inline)) void rows8_body(const dsp_gemm_args *a, int32_t k, int32_t oc0,
                                                             int32_t oc1, const int16_t *buf, int8_t *y,
                                                             int32_t ystride, int mode, bool tab)
{
    static const int32_t zero = 0;
    const int32_t rest = ((k + 3) >> 2) - 1; /* groups after the first */
    /* tab: the channels' {bias, multiplier, rounding term, right shift} (mode 0) */
    const int32_t *q = tab ? a->rq + 4 * oc0 : NULL;
    const int8_t *w = (const int8_t *)a->weights + (oc0 - a->w_row0) * k;
    const int32_t *bp = a->bias != NULL ? a->bias + oc0 : &zero;
    const int32_t bstep = a->bias != NULL ? 1 : 0;
    const int32_t *mp = a->mult + oc0;
    const int8_t *sp = a->shift + oc0;
    const int32_t off = a->out_offset, lo = a->act_min, hi = a->act_max;
    const uint32_t off2p1 = 2u * (uint32_t)off + 1u;
    const bool pot = a->pot;
    int8_t *yo = y;
    for (int32_t oc = oc0; oc < oc1; ++oc, w += k, ++yo, bp += bstep, q += tab ? 4 : 0) {
        const int32_t b = tab ? q[0] : *bp;
        int32_t a0, a1, a2, a3, a4, a5;
#ifdef KWSQ_DSP_NATIVE
        {
            const uint32_t *x = (const uint32_t *)(const void *)buf;
            const int8_t *wp = w;
            uint32_t t, u, x0, x1;
            __asm__ volatile(DSP_R8_FIRST
                             : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [a4] "=&r"(a4),
                               [a5] "=&r"(a5), [w] "+r"(wp), [x] "+r"(x), [t] "=&r"(t), [u] "=&r"(u),
                               [x0] "=&r"(x0), [x1] "=&r"(x1)
                             : [b] "r"(b)
                             : "memory");
#define DSP_R8_OPS                                                                                         \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), [a5] "+r"(a5), [w] "+r"(wp), \
      [x] "+r"(x), [t] "=&r"(t), [u] "=&r"(u), [x0] "=&r"(x0), [x1] "=&r"(x1)
            if (rest & 1) {
                __asm__ volatile(DSP_R8_STEP DSP_R8_OPS : : "memory");
            }
            if (rest > 1) {
                const int8_t *w_end = wp + 4 * (rest & ~1);
                __asm__ volatile("1:\n\t" DSP_R8_STEP DSP_R8_STEP "cmp %[w], %[e]\n\t"
                                                                  "bne 1b\n\t" DSP_R8_OPS
                                 : [e] "r"(w_end)
                                 : "cc", "memory");
            }
#undef DSP_R8_OPS
        }
#else
        a0 = a1 = a2 = a3 = a4 = a5 = b;
        {
            const uint32_t *x = (const uint32_t *)(const void *)buf;
            for (int32_t g = 0; g <= rest; ++g, x += 2 * P1X1) {
                const uint32_t wv = dsp_ld32(w + 4 * g);
                const uint32_t e = dsp_sxtb16(wv), o = dsp_sxtb16_ror8(wv);
                a0 = dsp_smlad(o, x[1], dsp_smlad(e, x[0], a0));
                a1 = dsp_smlad(o, x[3], dsp_smlad(e, x[2], a1));
                a2 = dsp_smlad(o, x[5], dsp_smlad(e, x[4], a2));
                a3 = dsp_smlad(o, x[7], dsp_smlad(e, x[6], a3));
                a4 = dsp_smlad(o, x[9], dsp_smlad(e, x[8], a4));
                a5 = dsp_smlad(o, x[11], dsp_smlad(e, x[10], a5));
            }
        }
#endif
        const int32_t m = tab ? q[1] : mp[oc - oc0], s = tab ? 0 : sp[oc - oc0];
        int32_t v0, v1, v2, v3, v4, v5;
        if (mode <= 1) {
            /* right = -s in 1..22; the rounding term carries the output offset */
            const int32_t r = tab ? q[3] : -s;
            const int32_t h = tab ? q[2] : (int32_t)(off2p1 << (r - 1));
#define DSP_R8_OUT(acc) ((dsp_smmlar((int32_t)((uint32_t)(acc) << 1), m, h) + ((acc) >> 31)) >> r)
            v0 = DSP_R8_OUT(a0);
            v1 = DSP_R8_OUT(a1);
            v2 = DSP_R8_OUT(a2);
            v3 = DSP_R8_OUT(a3);
            v4 = DSP_R8_OUT(a4);
            v5 = DSP_R8_OUT(a5);
#undef DSP_R8_OUT
        } else {
#define DSP_R8_OUT(acc) ((pot ? dsp_requant_pot(acc, s) : dsp_requant(acc, m, s)) + off)
            v0 = DSP_R8_OUT(a0);
            v1 = DSP_R8_OUT(a1);
            v2 = DSP_R8_OUT(a2);
            v3 = DSP_R8_OUT(a3);
            v4 = DSP_R8_OUT(a4);
            v5 = DSP_R8_OUT(a5);
#undef DSP_R8_OUT
        }
        fit_x6(mode, 0, lo, hi, &v0, &v1, &v2, &v3, &v4, &v5);
        store_x6(yo, ystride, v0, v1, v2, v3, v4, v5);
    }
}

typedef void (*rows_fn)(const dsp_gemm_args *a, int32_t cin, int32_t oc0, int32_t oc1, const int16_t *buf, int8_t *y,
                        int32_t ystride);

static void __attribute__((noinline)) rows8_full(const dsp_gemm_args *a, int32_t k, int32_t oc0, int32_t oc1,
                                                  const int16_t *buf, int8_t *y, int32_t ystride)
{
    rows8_body(a, k, oc0, oc1, buf, y, ystride, 0, false);
}

/* the same with the channels' constants from the table rq (layers of at most RQ_TAB_MAX channels) */
static void __attribute__((noinline)) rows8_full_tab(const dsp_gemm_args *a, int32_t k, int32_t oc0, int32_t oc1,
                                                      const int16_t *buf, int8_t *y, int32_t ystride)
{
    rows8_body(a, k, oc0, oc1, buf, y, ystride, 0, true);
}

static void __attribute__((noinline)) rows8_clamp(const dsp_gemm_args *a, int32_t k, int32_t oc0, int32_t oc1,
                                                   const int16_t *buf, int8_t *y, int32_t ystride)
{
    rows8_body(a, k, oc0, oc1, buf, y, ystride, 1, false);
}

static void __attribute__((noinline)) rows8_general(const dsp_gemm_args *a, int32_t k, int32_t oc0, int32_t oc1,
                                                     const int16_t *buf, int8_t *y, int32_t ystride)
{
    rows8_body(a, k, oc0, oc1, buf, y, ystride, 2, false);
}

/* fields of at most DSP_PW6_MAX_K values, full int8 range, short stage: the rows of dsp_conv_pw6.c from their table */
static void rows_pw6(const dsp_gemm_args *a, int32_t k, int32_t oc0, int32_t oc1, const int16_t *buf, int8_t *y,
                     int32_t ystride)
{
    const int32_t *tab = a->rq + DSP_PW6_ROW(k) * (oc0 - a->w_row0);
    const uint32_t *x = (const uint32_t *)(const void *)buf;
    if (k <= 4) {
        dsp_pw6_k4(tab, y, ystride, x, y + (oc1 - oc0));
    } else if (k <= 8) {
        dsp_pw6_k8(tab, y, ystride, x, y + (oc1 - oc0));
    } else if (k == 9) {
        dsp_pw6_k9(tab, y, ystride, x, y + (oc1 - oc0));
    } else {
        dsp_pw6_k12(tab, y, ystride, x, y + (oc1 - oc0));
    }
}

/*
 * The packed int4 rows of whole, aligned runs: fields of 8..8 * S4_RUN values
 * in whole groups of eight (every row starts on a byte, no scalar tail, one
 * run of row_x6_s4). The accumulators live in registers: the first weight
 * word's products start them (SMUAD), the bias is added with the exact
 * >> 12 in one ADD each, and the short output stage is rows8_body's (LSL,
 * SMMLAR with the rounding term, ADD of the sign, ASR, then SSAT or the
 * clamp). mode 0: full int8 range, the output offset folded into the
 * rounding term (right <= 22); mode 1: any activation range, right in
 * 1..31, the offset added after the shift.
 */
#ifdef KWSQ_DSP_NATIVE
#define DSP_R4_PX(a, op, acc_in)                      \
    "ldrd %[x0], %[x1], [%[x]], #8\n\t"              \
    op " %[" a "], %[t], %[x0]" acc_in "\n\t"        \
    "smlad %[" a "], %[u], %[x1], %[" a "]\n\t"
#define DSP_R4_HALF_FIRST                                                                                    \
    DSP_R4_PX("a0", "smuad", "") DSP_R4_PX("a1", "smuad", "") DSP_R4_PX("a2", "smuad", "")                    \
        DSP_R4_PX("a3", "smuad", "") DSP_R4_PX("a4", "smuad", "") DSP_R4_PX("a5", "smuad", "")
#define DSP_R4_HALF                                                                                          \
    DSP_R4_PX("a0", "smlad", ", %[a0]") DSP_R4_PX("a1", "smlad", ", %[a1]") DSP_R4_PX("a2", "smlad", ", %[a2]") \
        DSP_R4_PX("a3", "smlad", ", %[a3]") DSP_R4_PX("a4", "smlad", ", %[a4]") DSP_R4_PX("a5", "smlad", ", %[a5]")
#define DSP_R4_LO                                     \
    "ldr %[u], [%[w]]\n\t"                           \
    "and %[t], %[m], %[u], lsl #12\n\t"              \
    "and %[u], %[m], %[u], lsl #8\n\t"
#define DSP_R4_HI                                     \
    "ldr %[u], [%[w]], #4\n\t"                       \
    "and %[t], %[m], %[u], lsl #4\n\t"               \
    "and %[u], %[u], %[m]\n\t"
#define DSP_R4_FIRST DSP_R4_LO DSP_R4_HALF_FIRST DSP_R4_HI DSP_R4_HALF
#define DSP_R4_STEP DSP_R4_LO DSP_R4_HALF DSP_R4_HI DSP_R4_HALF
#endif

static inline __attribute__((always_inline)) void rows4_body(const dsp_gemm_args *a, int32_t k, int32_t oc0,
                                                             int32_t oc1, const int16_t *buf, int8_t *y,
                                                             int32_t ystride, int mode)
{
    static const int32_t zero = 0;
    const int32_t rest = k / 8 - 1; /* weight words after the first */
    const uint8_t *w = (const uint8_t *)a->weights + (oc0 * k) / 2;
    const int32_t *bp = a->bias != NULL ? a->bias + oc0 : &zero;
    const int32_t bstep = a->bias != NULL ? 1 : 0;
    const int32_t *mp = a->mult + oc0;
    const int8_t *sp = a->shift + oc0;
    const int32_t off = a->out_offset, lo = a->act_min, hi = a->act_max;
    const uint32_t off2p1 = 2u * (uint32_t)off + 1u;
    int8_t *yo = y;
    for (int32_t oc = oc0; oc < oc1; ++oc, ++yo, bp += bstep) {
        int32_t a0, a1, a2, a3, a4, a5;
#ifdef KWSQ_DSP_NATIVE
        {
            const uint32_t m4 = 0xF000F000u;
            const uint32_t *x = (const uint32_t *)(const void *)buf;
            uint32_t t, u, x0, x1;
#define DSP_R4_OPS                                                                                         \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), [a5] "+r"(a5), [w] "+r"(w), \
      [x] "+r"(x), [t] "=&r"(t), [u] "=&r"(u), [x0] "=&r"(x0), [x1] "=&r"(x1)
            __asm__ volatile(DSP_R4_FIRST
                             : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [a4] "=&r"(a4),
                               [a5] "=&r"(a5), [w] "+r"(w), [x] "+r"(x), [t] "=&r"(t), [u] "=&r"(u),
                               [x0] "=&r"(x0), [x1] "=&r"(x1)
                             : [m] "r"(m4)
                             : "memory");
            if (rest & 1) {
                __asm__ volatile(DSP_R4_STEP DSP_R4_OPS : [m] "r"(m4) : "memory");
            }
            if (rest > 1) {
                /* the end from memory (t is free there): every register is taken */
                const uint8_t *w_end = w + 4 * (rest & ~1);
                __asm__ volatile("1:\n\t" DSP_R4_STEP DSP_R4_STEP "ldr %[t], %[e]\n\t"
                                                                  "cmp %[w], %[t]\n\t"
                                                                  "bne 1b\n\t" DSP_R4_OPS
                                 : [e] "m"(w_end), [m] "r"(m4)
                                 : "cc", "memory");
            }
#undef DSP_R4_OPS
        }
#else
        a0 = a1 = a2 = a3 = a4 = a5 = 0;
        {
            const uint32_t *x = (const uint32_t *)(const void *)buf;
            for (int32_t g = 0; g <= rest; ++g, w += 4) {
                x = s4_word_x6(dsp_ld32(w), x, &a0, &a1, &a2, &a3, &a4, &a5);
            }
        }
#endif
        /* exact: every product was a multiple of 4096 */
        const int32_t b = *bp;
        a0 = b + (a0 >> 12);
        a1 = b + (a1 >> 12);
        a2 = b + (a2 >> 12);
        a3 = b + (a3 >> 12);
        a4 = b + (a4 >> 12);
        a5 = b + (a5 >> 12);
        const int32_t mul = mp[oc - oc0], r = -sp[oc - oc0];
        const int32_t h = mode == 0 ? (int32_t)(off2p1 << (r - 1)) : (int32_t)(1u << (r - 1));
        int32_t v0, v1, v2, v3, v4, v5;
#define DSP_R4_OUT(acc) ((dsp_smmlar((int32_t)((uint32_t)(acc) << 1), mul, h) + ((acc) >> 31)) >> r)
        v0 = DSP_R4_OUT(a0);
        v1 = DSP_R4_OUT(a1);
        v2 = DSP_R4_OUT(a2);
        v3 = DSP_R4_OUT(a3);
        v4 = DSP_R4_OUT(a4);
        v5 = DSP_R4_OUT(a5);
#undef DSP_R4_OUT
        fit_x6(mode, off, lo, hi, &v0, &v1, &v2, &v3, &v4, &v5);
        store_x6(yo, ystride, v0, v1, v2, v3, v4, v5);
    }
}
#ifdef KWSQ_DSP_NATIVE
#undef DSP_R4_PX
#undef DSP_R4_HALF_FIRST
#undef DSP_R4_HALF
#undef DSP_R4_LO
#undef DSP_R4_HI
#undef DSP_R4_FIRST
#undef DSP_R4_STEP
#endif

/* rows4_body takes fields of whole groups of eight, at most one run */
static inline bool rows4_fits(int32_t k)
{
    return (k & 7) == 0 && k <= 8 * S4_RUN;
}

static void __attribute__((noinline)) rows_short_full_s4(const dsp_gemm_args *a, int32_t cin, int32_t oc0,
                                                          int32_t oc1, const int16_t *buf, int8_t *y, int32_t ystride)
{
    if (rows4_fits(cin)) {
        rows4_body(a, cin, oc0, oc1, buf, y, ystride, 0);
    } else {
        rows_body(a, cin, oc0, oc1, buf, y, ystride, 0);
    }
}

static void __attribute__((noinline)) rows_short_s4(const dsp_gemm_args *a, int32_t cin, int32_t oc0, int32_t oc1,
                                                     const int16_t *buf, int8_t *y, int32_t ystride)
{
    if (rows4_fits(cin)) {
        rows4_body(a, cin, oc0, oc1, buf, y, ystride, 1);
    } else {
        rows_body(a, cin, oc0, oc1, buf, y, ystride, 1);
    }
}

static void __attribute__((noinline)) rows_general_s4(const dsp_gemm_args *a, int32_t cin, int32_t oc0,
                                                       int32_t oc1, const int16_t *buf, int8_t *y, int32_t ystride)
{
    rows_body(a, cin, oc0, oc1, buf, y, ystride, 2);
}

const struct dsp_1x1_rows dsp_1x1_rows_s4 = {rows_short_full_s4, rows_short_s4, rows_general_s4};

bool dsp_conv1x1_fits(bool s4, const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f)
{
    (void)p;
    (void)s4;
    return f->c == in->c && (int64_t)f->h * f->w * f->c <= DSP_1X1_MAX_CH;
}

/* n bytes, in words then a halfword and a byte: short runs, so no library
 * call (the empty asm keeps the compiler from turning the loops into
 * memcpy/memset calls, which cost more than these few words). */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t v = dsp_ld32(src + i);
        __asm__("" : "+r"(v));
        dsp_st32(dst + i, v);
    }
    if (n & 2) {
        uint16_t h;
        memcpy(&h, src + i, 2);
        memcpy(dst + i, &h, 2);
        i += 2;
    }
    if (n & 1) {
        dst[i] = src[i];
    }
}

static inline void fill_bytes(int8_t *dst, int8_t v, int32_t n)
{
    uint32_t v4 = (uint32_t)(uint8_t)v * 0x01010101u;
    __asm__("" : "+r"(v4));
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        dsp_st32(dst + i, v4);
        __asm__("" : "+r"(v4));
    }
    if (n & 2) {
        const uint16_t h = (uint16_t)v4;
        memcpy(dst + i, &h, 2);
        i += 2;
    }
    if (n & 1) {
        dst[i] = v;
    }
}

/* The receptive field of the output pixel whose window starts at (iy0, ix0),
 * in the weights' order (filter row, column, channel), padding = the input
 * zero point (0 once widened). */
static void __attribute__((noinline)) gather(const int8_t *img, const kwsq_dims *in, const kwsq_conv_params *p, const kwsq_dims *f,
                   int32_t iy0, int32_t ix0, int8_t zp, int8_t *patch)
{
    const int32_t cin = in->c, row = f->w * cin;
    const bool cols_in = ix0 >= 0 && ix0 + (f->w - 1) * p->dilation_w < in->w;
    for (int32_t fy = 0; fy < f->h; ++fy) {
        const int32_t iy = iy0 + fy * p->dilation_h;
        int8_t *dst = patch + fy * row;
        if (iy < 0 || iy >= in->h) {
            fill_bytes(dst, zp, row);
            continue;
        }
        const int8_t *src = img + (int64_t)iy * in->w * cin;
        if (cols_in && p->dilation_w == 1) {
            copy_bytes(dst, src + (int64_t)ix0 * cin, row);
            continue;
        }
        if (p->dilation_w == 1) {
            /* columns [lo, hi) of the window are inside the input */
            const int32_t lo = ix0 < 0 ? (-ix0 < f->w ? -ix0 : f->w) : 0;
            const int32_t end = in->w - ix0;
            const int32_t hi = end < lo ? lo : (end < f->w ? end : f->w);
            fill_bytes(dst, zp, lo * cin);
            copy_bytes(dst + lo * cin, src + (int64_t)(ix0 + lo) * cin, (hi - lo) * cin);
            fill_bytes(dst + hi * cin, zp, (f->w - hi) * cin);
            continue;
        }
        for (int32_t fx = 0; fx < f->w; ++fx) {
            const int32_t ix = ix0 + fx * p->dilation_w;
            if (ix < 0 || ix >= in->w) {
                fill_bytes(dst + fx * cin, zp, cin);
            } else {
                copy_bytes(dst + fx * cin, src + (int64_t)ix * cin, cin);
            }
        }
    }
}

/* The window of pixel j widened straight from the input, when its columns
 * are inside the image, not dilated, and a filter row is whole groups of
 * four values: per group one LDR and two SXTAB16; rows in the
 * padding are zeros (the zero point plus the offset). */
static void __attribute__((noinline)) widen_rows(const int8_t *img, const kwsq_dims *in, const kwsq_conv_params *p,
                                                  const kwsq_dims *f, int32_t iy0, int32_t ix0, int32_t off, int32_t j,
                                                  int16_t *buf)
{
    /* locals: the stores below may alias anything read through a pointer */
    const int32_t groups = f->w * in->c / 4, kh = f->h, dh = p->dilation_h, h = in->h;
    const int32_t row_bytes = in->w * in->c;
    const uint32_t off2 = dsp_dup16(off);
    const int8_t *src0 = img + (int64_t)ix0 * in->c;
    uint32_t *dst = (uint32_t *)(void *)buf + j * 2;
    for (int32_t fy = 0, iy = iy0; fy < kh; ++fy, iy += dh) {
        if ((uint32_t)iy >= (uint32_t)h) {
            for (int32_t g = 0; g < groups; ++g, dst += 2 * P1X1) {
                dst[0] = 0;
                dst[1] = 0;
            }
            continue;
        }
        const int8_t *src = src0 + (int64_t)iy * row_bytes;
        for (int32_t g = 0; g < groups; ++g, dst += 2 * P1X1, src += 4) {
            widen_word(dsp_ld32(src), off2, dst);
        }
    }
}

/* The int4 layout from the input rows when a filter row is whole groups of
 * four values (not of eight): groups of eight are made of two four-value
 * chunks, which may come from two filter rows; a chunk of a row in the
 * padding is zero-point bytes (0 once the offset is added); with k = 4
 * (mod 8) the last chunk goes to the tail. */
static void __attribute__((noinline)) widen_chunks_s4(const int8_t *img, const kwsq_dims *in, const kwsq_conv_params *p, const kwsq_dims *f,
                            int32_t iy0, int32_t ix0, int32_t off, int32_t j, int16_t *buf)
{
    const int32_t per_row = f->w * in->c / 4, chunks = f->h * per_row;
    const uint32_t off2 = dsp_dup16(off);
    const uint32_t pad = (uint32_t)(uint8_t)(int8_t)-off * 0x01010101u;
    uint32_t *dst = (uint32_t *)(void *)buf + j * 2;
    int32_t fy = 0, cx = 0;
    uint32_t v[2];
    for (int32_t c = 0; c < chunks; ++c) {
        const int32_t iy = iy0 + fy * p->dilation_h;
        v[c & 1] = (iy < 0 || iy >= in->h) ? pad : dsp_ld32(img + ((int64_t)iy * in->w + ix0) * in->c + 4 * cx);
        if (++cx == per_row) {
            cx = 0;
            ++fy;
        }
        if (c & 1) {
            widen8_s4(v[0], v[1], off2, dst);
            dst += 4 * P1X1;
        }
    }
    if (chunks & 1) {
        /* the tail: values t = 0..3 of pixel j at halfword grouped * P1X1 + t * P1X1 + j */
        int16_t *t = buf + (chunks - 1) * 4 * P1X1 + j;
        for (int32_t i = 0; i < 4; ++i, t += P1X1) {
            *t = (int16_t)((int8_t)(v[0] >> (8 * i)) + off);
        }
    }
}

/* The same in the int4 layout, when a filter row is whole groups of eight. */
static void __attribute__((noinline)) widen_rows_s4(const int8_t *img, const kwsq_dims *in, const kwsq_conv_params *p, const kwsq_dims *f,
                          int32_t iy0, int32_t ix0, int32_t off, int32_t j, int16_t *buf)
{
    const int32_t groups = f->w * in->c / 8;
    const uint32_t off2 = dsp_dup16(off);
    uint32_t *dst = (uint32_t *)(void *)buf + j * 2;
    for (int32_t fy = 0; fy < f->h; ++fy) {
        const int32_t iy = iy0 + fy * p->dilation_h;
        if (iy < 0 || iy >= in->h) {
            for (int32_t g = 0; g < groups; ++g, dst += 4 * P1X1) {
                dst[0] = 0;
                dst[1] = 0;
                dst[2 * P1X1] = 0;
                dst[2 * P1X1 + 1] = 0;
            }
            continue;
        }
        const int8_t *src = img + ((int64_t)iy * in->w + ix0) * in->c;
        for (int32_t g = 0; g < groups; ++g, dst += 4 * P1X1, src += 8) {
            widen8_s4(dsp_ld32(src), dsp_ld32(src + 4), off2, dst);
        }
    }
}

/* The int8 field of a window that crosses the input's border, straight into
 * pixel j's widened groups: the k4 bytes start as the zero point (0 once
 * widened), then the taps inside the input are copied, a channel run at a
 * time. */
static void __attribute__((noinline)) gather_border(const int8_t *img, const kwsq_dims *in, const kwsq_conv_params *p,
                                                     const kwsq_dims *f, int32_t iy0, int32_t ix0, int32_t off,
                                                     int32_t j, int8_t *patch, int16_t *buf)
{
    const int32_t cin = in->c, groups = (f->h * f->w * cin + 3) >> 2;
    const uint32_t zp4 = (uint32_t)(uint8_t)(int8_t)-off * 0x01010101u;
    uint32_t *pw = (uint32_t *)(void *)patch;
    for (int32_t g = 0; g < groups; ++g) {
        pw[g] = zp4;
    }
    /* locals: the byte stores below may alias anything read through a pointer */
    const int32_t kh = f->h, kw = f->w, dh = p->dilation_h, dw = p->dilation_w, h = in->h, w = in->w;
    const int32_t row_bytes = w * cin;
    int8_t *dst = patch;
    for (int32_t fy = 0, iy = iy0; fy < kh; ++fy, iy += dh) {
        if ((uint32_t)iy >= (uint32_t)h) {
            dst += kw * cin;
            continue;
        }
        const int8_t *row = img + (int64_t)iy * row_bytes;
        for (int32_t fx = 0, ix = ix0; fx < kw; ++fx, ix += dw, dst += cin) {
            if ((uint32_t)ix < (uint32_t)w) {
                const int8_t *src = row + (int64_t)ix * cin;
                if (cin == 1) {
                    dst[0] = src[0];
                } else {
                    for (int32_t c = 0; c < cin; ++c) {
                        dst[c] = src[c];
                    }
                }
            }
        }
    }
    const uint32_t off2 = dsp_dup16(off);
    uint32_t *out = (uint32_t *)(void *)buf + j * 2;
    for (int32_t g = 0; g < groups; ++g, out += 2 * P1X1) {
        widen_word(pw[g], off2, out);
    }
}

/* Where a block's receptive fields come from: the layer and the path each
 * pixel's window takes. */
typedef struct {
    const kwsq_conv_params *p;
    const kwsq_dims *in, *f, *out;
    const int32_t *tap;     /* value offsets (taps) */
    int8_t *patch;          /* k bytes for a gathered window */
    int32_t k, off;
    uint32_t keep, fill;    /* the last tap group's real bytes, the zero point in the others */
    bool direct, rows4, rows8, s4, taps;
} block_src;

/* A window inside the input whose filter rows are 3 contiguous bytes, kh
 * rows `rstride` bytes apart (3x3x1, 5x3x1, 7x1x3 ...), widened into pixel
 * j of buf: four rows make three words (a funnel of 32-bit row loads; the
 * bytes past a row's three are those of the input that follows it), the
 * last row is read bytewise (nothing past the window is read), the last
 * group masked to the zero point as in the taps path. */
/* Row r of such a window: four bytes from a row with another after it, the
 * last row's three bytewise. */
static inline uint32_t row3_at(const int8_t *src, bool last)
{
    return last ? (uint32_t)(uint8_t)src[0] | (uint32_t)(uint8_t)src[1] << 8 | (uint32_t)(uint8_t)src[2] << 16
                : dsp_ld32(src);
}

static inline __attribute__((always_inline)) void widen_rows3(const int8_t *src, int32_t rstride, int32_t kh,
                                                              uint32_t keep, uint32_t fill, uint32_t off2,
                                                              uint32_t *dst)
{
    int32_t r = 0;
    for (; r + 4 <= kh; r += 4, src += 4 * rstride, dst += 6 * P1X1) {
        const uint32_t a = dsp_ld32(src), b = dsp_ld32(src + rstride), c = dsp_ld32(src + 2 * rstride);
        const uint32_t d = row3_at(src + 3 * rstride, r + 4 == kh);
        widen_word((a & 0xFFFFFFu) | b << 24, off2, dst);
        widen_word(((b >> 8) & 0xFFFFu) | c << 16, off2, dst + 2 * P1X1);
        widen_word(((c >> 16) & 0xFFu) | d << 8, off2, dst + 4 * P1X1);
    }
    const int32_t rest = kh - r;
    if (rest == 1) {
        widen_word((row3_at(src, true) & keep) | fill, off2, dst);
    } else if (rest == 2) {
        const uint32_t a = dsp_ld32(src), b = row3_at(src + rstride, true);
        widen_word((a & 0xFFFFFFu) | b << 24, off2, dst);
        widen_word(((b >> 8) & keep) | fill, off2, dst + 2 * P1X1);
    } else if (rest == 3) {
        const uint32_t a = dsp_ld32(src), b = dsp_ld32(src + rstride), c = row3_at(src + 2 * rstride, true);
        widen_word((a & 0xFFFFFFu) | b << 24, off2, dst);
        widen_word(((b >> 8) & 0xFFFFu) | c << 16, off2, dst + 2 * P1X1);
        widen_word(((c >> 16) & keep) | fill, off2, dst + 4 * P1X1);
    }
}

/* Pixel j of a block: the output pixel (*oy, *ox), which then advances in row
 * order, counted in *npx; past the last one, the block's first (by, bx) again. */
static inline __attribute__((always_inline)) void block_pixel(int32_t out_h, int32_t out_w, int32_t by,
                                                              int32_t bx, int32_t *oy, int32_t *ox,
                                                              int32_t *npx, int32_t *qy, int32_t *qx)
{
    *qy = by;
    *qx = bx;
    if (*oy < out_h) {
        *qy = *oy;
        *qx = *ox;
        ++*npx;
        if (++*ox == out_w) {
            *ox = 0;
            ++*oy;
        }
    }
}

/* widen_block for pointwise int8 layers at stride 1 over whole rows whose
 * channels are whole groups: the block's pixels are consecutive channel
 * vectors, widened word by word; past the last pixel the block's first. */
static int32_t __attribute__((noinline)) widen_block_pw(const block_src *s, const int8_t *x_img, int32_t *oy_io,
                                                        int32_t *ox_io, int16_t *buf)
{
    const int32_t out_w = s->out->w, c = s->in->c;
    const uint32_t off2 = dsp_dup16(s->off);
    int32_t oy = *oy_io, ox = *ox_io;
    const int64_t p0 = (int64_t)oy * out_w + ox;
    const int64_t left = (int64_t)s->out->h * out_w - p0;
    const int32_t n = left < P1X1 ? (int32_t)left : P1X1;
    const int8_t *src = x_img + p0 * c;
    uint32_t *dst = (uint32_t *)(void *)buf;
    if (n == P1X1) {
        for (int32_t g = 0; g < c; g += 4, src += 4, dst += 2 * P1X1) {
            widen_word(dsp_ld32(src), off2, dst);
            widen_word(dsp_ld32(src + c), off2, dst + 2);
            widen_word(dsp_ld32(src + 2 * c), off2, dst + 4);
            widen_word(dsp_ld32(src + 3 * c), off2, dst + 6);
            widen_word(dsp_ld32(src + 4 * c), off2, dst + 8);
            widen_word(dsp_ld32(src + 5 * c), off2, dst + 10);
        }
    } else {
        for (int32_t g = 0; g < c; g += 4, src += 4, dst += 2 * P1X1) {
            for (int32_t j = 0; j < P1X1; ++j) {
                widen_word(dsp_ld32(src + (j < n ? j * c : 0)), off2, dst + 2 * j);
            }
        }
    }
    ox += n;
    while (ox >= out_w) {
        ox -= out_w;
        ++oy;
    }
    *oy_io = oy;
    *ox_io = ox;
    return n;
}

/* widen_block for rows3 layers whose every window lies inside the input
 * (unpadded, or the padded copy): a source pointer walks the pixels. */
static int32_t __attribute__((noinline)) widen_block_rows3(const block_src *s, const int8_t *x_img, int32_t *oy_io,
                                                           int32_t *ox_io, int16_t *buf)
{
    const kwsq_conv_params *p = s->p;
    const int32_t out_h = s->out->h, out_w = s->out->w, kh = s->f->h;
    const int32_t row_bytes = s->in->w * s->in->c, step = p->stride_w * s->in->c;
    const int32_t rstride = row_bytes * p->dilation_h, ystep = row_bytes * p->stride_h;
    const uint32_t keep = s->keep, fill = s->fill, off2 = dsp_dup16(s->off);
    const int32_t groups = (s->k + 3) >> 2;
    int32_t oy = *oy_io, ox = *ox_io, npx = 0;
    const int8_t *row = x_img + (int64_t)oy * ystep;
    const int8_t *src = row + (int64_t)ox * step;
    uint32_t *dst = (uint32_t *)(void *)buf;
#define ROWS3_WALK(KH)                                                 \
    for (; npx < P1X1 && oy < out_h; ++npx, dst += 2) {                \
        widen_rows3(src, rstride, KH, keep, fill, off2, dst);          \
        src += step;                                                   \
        if (++ox == out_w) {                                           \
            ox = 0;                                                    \
            ++oy;                                                      \
            row += ystep;                                              \
            src = row;                                                 \
        }                                                              \
    }
    if (kh == 3) {
        ROWS3_WALK(3) /* 3x3x1, 3x1x3: straight-line widening */
    } else {
        ROWS3_WALK(kh)
    }
#undef ROWS3_WALK
    /* past the last pixel: the block's first again */
    const uint32_t *first = (const uint32_t *)(const void *)buf;
    for (int32_t j = npx; j < P1X1; ++j) {
        for (int32_t g = 0; g < groups; ++g) {
            ((uint32_t *)(void *)buf)[(g * P1X1 + j) * 2] = first[g * P1X1 * 2];
            ((uint32_t *)(void *)buf)[(g * P1X1 + j) * 2 + 1] = first[g * P1X1 * 2 + 1];
        }
    }
    *oy_io = oy;
    *ox_io = ox;
    return npx;
}

/* Widens the P1X1 pixels from output pixel (*oy, *ox) on and advances it;
 * past the last pixel the block repeats its first one. Returns how many
 * pixels are real. */
static int32_t __attribute__((noinline)) widen_block(const block_src *s, const int8_t *x_img, int32_t *oy_io,
                                                     int32_t *ox_io, int16_t *buf)
{
    const kwsq_conv_params *p = s->p;
    const kwsq_dims *in = s->in, *f = s->f;
    const int32_t out_h = s->out->h, out_w = s->out->w;
    const int32_t k = s->k, off = s->off, cin = in->c;
    const int32_t sh = p->stride_h, sw = p->stride_w, ph = p->pad_h, pw = p->pad_w;
    /* windows whose origin lies in [0, ylim) x [0, xlim) are inside the input */
    const int32_t ylim = in->h - (f->h - 1) * p->dilation_h, xlim = in->w - (f->w - 1) * p->dilation_w;
    const int32_t row_bytes = in->w * cin;
    const uint32_t off2 = dsp_dup16(off);
    const int32_t groups = (k + 3) >> 2;
    const bool taps = s->taps && ylim > 0 && xlim > 0;
    int32_t oy = *oy_io, ox = *ox_io;
    const int32_t by = oy, bx = ox;
    int32_t npx = 0;
    if (s->direct && !s->s4) {
        /* pointwise int8: the pixels' channels read in place */
        for (int32_t j = 0; j < P1X1; ++j) {
            int32_t qy, qx;
            block_pixel(out_h, out_w, by, bx, &oy, &ox, &npx, &qy, &qx);
            widen_pixel(x_img + (int64_t)(qy * sh) * row_bytes + (int64_t)(qx * sw) * cin, k, off, j, buf);
        }
        *oy_io = oy;
        *ox_io = ox;
        return npx;
    }
    if (s->taps) {
        /* int8 windows of at most TAPS_MAX values, not whole rows of groups */
        const int32_t *tap = s->tap;
        const uint32_t keep = s->keep, fill = s->fill;
        for (int32_t j = 0; j < P1X1; ++j) {
            int32_t qy, qx;
            block_pixel(out_h, out_w, by, bx, &oy, &ox, &npx, &qy, &qx);
            const int32_t iy0 = qy * sh - ph, ix0 = qx * sw - pw;
            if (taps && (uint32_t)iy0 < (uint32_t)ylim && (uint32_t)ix0 < (uint32_t)xlim) {
                const int8_t *src = x_img + (int64_t)iy0 * row_bytes + (int64_t)ix0 * cin;
                const int32_t *tp = tap;
                uint32_t *dst = (uint32_t *)(void *)buf + j * 2;
                for (int32_t g = 1; g < groups; ++g, tp += 4, dst += 2 * P1X1) {
                    widen_word(tap_word(src, tp), off2, dst);
                }
                widen_word((tap_word(src, tp) & keep) | fill, off2, dst);
            } else {
                gather_border(x_img, in, p, f, iy0, ix0, off, j, s->patch, buf);
            }
        }
        *oy_io = oy;
        *ox_io = ox;
        return npx;
    }
    for (int32_t j = 0; j < P1X1; ++j) {
        int32_t qy, qx;
        block_pixel(out_h, out_w, by, bx, &oy, &ox, &npx, &qy, &qx);
        const int32_t iy0 = qy * sh - ph, ix0 = qx * sw - pw;
        if (s->direct) {
            const int8_t *win = x_img + (int64_t)iy0 * row_bytes + (int64_t)ix0 * cin;
            if (s->s4) {
                widen_pixel_s4(win, k, off, j, buf);
            } else {
                widen_pixel(win, k, off, j, buf);
            }
        } else if (s->rows4 && ix0 >= 0 && ix0 + f->w <= in->w) {
            if (s->s4) {
                if (s->rows8) {
                    widen_rows_s4(x_img, in, p, f, iy0, ix0, off, j, buf);
                } else {
                    widen_chunks_s4(x_img, in, p, f, iy0, ix0, off, j, buf);
                }
            } else {
                widen_rows(x_img, in, p, f, iy0, ix0, off, j, buf);
            }
        } else {
            gather(x_img, in, p, f, iy0, ix0, (int8_t)-off, s->patch);
            if (s->s4) {
                widen_pixel_s4(s->patch, k, off, j, buf);
            } else {
                widen_pixel(s->patch, k, off, j, buf);
            }
        }
    }
    *oy_io = oy;
    *ox_io = ox;
    return npx;
}

typedef int32_t (*widen_fn)(const block_src *s, const int8_t *x_img, int32_t *oy_io, int32_t *ox_io, int16_t *buf);

/* Output channels [oc0, oc1) of the widened pixels: channels from `split`
 * on (the last channel, when its padded row is copied) through `last`. */
static inline void run_rows(rows_fn rows, const dsp_gemm_args *a, const dsp_gemm_args *last, int32_t split, int32_t k,
                            int32_t oc0, int32_t oc1, const int16_t *buf, int8_t *y, int32_t ystride)
{
    const int32_t mid = oc1 < split ? oc1 : split;
    if (oc0 < mid) {
        rows(a, k, oc0, mid, buf, y, ystride);
    }
    if (mid < oc1) {
        rows(last, k, mid, oc1, buf, y + (mid - oc0), ystride);
    }
}

/* The extent of the input a layer's windows cover, beyond the input: rows
 * or columns of padding after it (before it: the layer's padding). */
static int64_t pad_after(int32_t out, int32_t stride, int32_t pad, int32_t kernel, int32_t dilation, int32_t in)
{
    const int64_t last = (int64_t)(out - 1) * stride - pad + (int64_t)(kernel - 1) * dilation;
    return last >= in ? last - in + 1 : 0;
}

void dsp_conv1x1(const dsp_gemm_args *args, const kwsq_conv_params *p_layer, const kwsq_dims *in_layer,
                 const int8_t *x, const kwsq_dims *f, const kwsq_dims *out, int8_t *y)
{
    /* int4 rows starting mid-byte are copied byte-aligned into s4_row */
    uint8_t s4_row[args->s4 ? (f->h * f->w * in_layer->c) / 2 + 1 : 1];
    dsp_gemm_args local = *args;
    local.s4_row = s4_row;
    const dsp_gemm_args *a = &local;
    const int32_t cin = in_layer->c, cout = out->c;
    const int32_t k = f->h * f->w * cin;
    const int32_t off = p_layer->input_offset;
    /* 1x1 without padding (leading or trailing: every output pixel's input
     * lies inside the image): the pixels are read in place; other windows
     * are gathered into `patch` first */
    const bool direct = f->h == 1 && f->w == 1 && p_layer->pad_h == 0 && p_layer->pad_w == 0 &&
                        (int64_t)(out->w - 1) * p_layer->stride_w < in_layer->w &&
                        (int64_t)(out->h - 1) * p_layer->stride_h < in_layer->h;
    /* A small padded input is copied once into a border of zero points
     * (PAD_MAX bytes at most, on the stack): every window lies inside the
     * copy, so no pixel takes the border gather. */
    const int64_t pt = p_layer->pad_h, pl = p_layer->pad_w;
    const int64_t pb = pad_after(out->h, p_layer->stride_h, p_layer->pad_h, f->h, p_layer->dilation_h, in_layer->h);
    const int64_t pr = pad_after(out->w, p_layer->stride_w, p_layer->pad_w, f->w, p_layer->dilation_w, in_layer->w);
    const int64_t padded_h = in_layer->h + pt + pb, padded_w = in_layer->w + pl + pr;
    const bool padded = !direct && pt >= 0 && pl >= 0 && (pt | pl | pb | pr) != 0 &&
                        padded_h * padded_w * cin <= PAD_MAX;
    uint32_t pad_words[padded ? (padded_h * padded_w * cin + 3) / 4 : 1];
    kwsq_dims in_padded = *in_layer;
    kwsq_conv_params p_padded = *p_layer;
    if (padded) {
        in_padded.h = (int32_t)padded_h;
        in_padded.w = (int32_t)padded_w;
        p_padded.pad_h = 0;
        p_padded.pad_w = 0;
    }
    const kwsq_dims *in = padded ? &in_padded : in_layer;
    const kwsq_conv_params *p = padded ? &p_padded : p_layer;
    /* word-aligned, whole groups (gather_border) */
    uint32_t patch_words[direct ? 1 : (k + 3) / 4];
    int8_t *patch = (int8_t *)(void *)patch_words;
    const bool s4 = a->s4;
    const bool rows4 = (f->w * cin) % 4 == 0 && p->dilation_w == 1;
    const bool rows8 = (f->w * cin) % 8 == 0;
    /* windows inside the input, not taken by widen_rows: value offsets */
    const bool taps = !s4 && !direct && !rows4 && k <= TAPS_MAX &&
                      ((int64_t)(f->h - 1) * p->dilation_h + 1) * in->w * cin < 32768;
    const bool rows3 = taps && f->w * cin == 3 && (f->w == 1 || p->dilation_w == 1);
    /* rows3 layers whose every window lies inside the input walk their pixels with a pointer */
    const bool rows3_walk = rows3 && p->pad_h == 0 && p->pad_w == 0 &&
                            (int64_t)(out->h - 1) * p->stride_h + (int64_t)(f->h - 1) * p->dilation_h < in->h &&
                            (int64_t)(out->w - 1) * p->stride_w + (int64_t)(f->w - 1) * p->dilation_w < in->w;
    int32_t tap[taps ? (k + 3) & ~3 : 1];
    if (taps && !rows3_walk) {
        /* inside the input, a window's values are fewer than 2^15 bytes from its first */
        int32_t t = 0;
        for (int32_t fy = 0; fy < f->h; ++fy) {
            for (int32_t fx = 0; fx < f->w; ++fx) {
                for (int32_t c = 0; c < cin; ++c) {
                    tap[t++] = (int32_t)(((int64_t)fy * p->dilation_h * in->w + (int64_t)fx * p->dilation_w) * cin + c);
                }
            }
        }
        for (; (t & 3) != 0; ++t) {
            tap[t] = 0;
        }
    }
    const uint32_t zp4 = (uint32_t)(uint8_t)(int8_t)-off * 0x01010101u;
    const uint32_t keep = (k & 3) != 0 ? (1u << (8 * (k & 3))) - 1u : 0xFFFFFFFFu;
    /* int8: fields padded to whole groups of four (rows8_body) */
    const int32_t kb = s4 ? k : (k + 3) & ~3;
    /* sized to the layer: P1X1 * kb halfwords, word-aligned */
    uint32_t buf_words[P1X1 * ((kb + 1) / 2)];
    int16_t *buf = (int16_t *)(void *)buf_words;
    const bool full = a->act_min == -128 && a->act_max == 127;
    bool fold = a->short_rq;
    for (int32_t oc = 0; oc < cout && fold; ++oc) {
        fold = -a->shift[oc] <= 22;
    }
    const struct dsp_1x1_rows *r4 = a->s4_rows;
    /* the short stage's constants per channel, one table row each (on the stack) */
    /* fields of a few values: dsp_conv_pw6's table (weights and constants per channel) */
    const bool pw = !s4 && fold && full && k <= DSP_PW6_MAX_K && (cout <= PW6_MAX_OC || !p_layer->in_place);
    const int32_t chunk = pw && cout > PW6_MAX_OC ? PW6_MAX_OC : cout;
    const bool tab = !pw && !s4 && fold && full && cout <= RQ_TAB_MAX;
    int32_t rq[tab ? 4 * cout : pw ? DSP_PW6_ROW(k) * chunk : 1];
    if (pw) {
        /* the table of the first chunk (row 0 = channel w_row0) */
        dsp_pw6_table((const int8_t *)a->weights, k, 0, chunk, a->bias, a->mult, a->shift, a->out_offset, rq);
        local.rq = rq;
        local.w_row0 = 0;
    }
    if (tab) {
        const uint32_t off2p1 = 2u * (uint32_t)a->out_offset + 1u;
        for (int32_t oc = 0; oc < cout; ++oc) {
            const int32_t r = -a->shift[oc];
            rq[4 * oc] = a->bias != NULL ? a->bias[oc] : 0;
            rq[4 * oc + 1] = a->mult[oc];
            rq[4 * oc + 2] = (int32_t)(off2p1 << (r - 1));
            rq[4 * oc + 3] = r;
        }
        local.rq = rq;
    }
    const rows_fn rows = s4     ? (fold && full ? r4->short_full : (a->short_rq ? r4->short_any : r4->general))
                         : pw   ? rows_pw6
                         : fold ? (full ? (tab ? rows8_full_tab : rows8_full) : rows8_clamp)
                                : rows8_general;
    /* int8 rows read whole groups: the last channel's row from a padded copy */
    int8_t last_row[!s4 && !pw && k != kb ? kb : 1];
    dsp_gemm_args last = local;
    int32_t split = cout;
    if (!s4 && !pw && k != kb) {
        memcpy(last_row, (const int8_t *)a->weights + (int64_t)(cout - 1) * k, (size_t)k);
        memset(last_row + k, 0, (size_t)(kb - k));
        last.weights = last_row;
        last.w_row0 = cout - 1;
        split = cout - 1;
    }
    /* how a block's pixels are widened */
    const widen_fn widen = rows3_walk ? widen_block_rows3
                           : direct && !s4 && p->stride_h == 1 && p->stride_w == 1 && in->w == out->w &&
                                     (cin & 3) == 0
                               ? widen_block_pw
                               : widen_block;
    const block_src src = {p, in, f, out, tap, patch, k, off, keep, zp4 & ~keep, direct, rows4, rows8, s4, taps};
    /* pointwise on 4 or 8 channels through the tiny-field rows: whole blocks in one call */
    const bool fused = pw && widen == widen_block_pw && (cin == 4 || cin == 8);
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *x_img = x + (int64_t)bt * in_layer->h * in_layer->w * cin;
        if (padded) {
            int8_t *img = (int8_t *)(void *)pad_words;
            const int32_t row = in_layer->w * cin, prow = in->w * cin;
            fill_bytes(img, (int8_t)-off, in->h * prow);
            for (int32_t iy = 0; iy < in_layer->h; ++iy) {
                copy_bytes(img + (iy + pt) * prow + pl * cin, x_img + (int64_t)iy * row, row);
            }
            x_img = img;
        }
        int8_t *y_img = y + (int64_t)bt * out->h * out->w * cout;
        /* the tiny-field rows take the channels PW6_MAX_OC at a time (a table each) */
        for (int32_t oc_lo = 0; oc_lo < cout; oc_lo += chunk) {
            const int32_t oc_hi = cout - oc_lo < chunk ? cout : oc_lo + chunk;
            if (pw && chunk < cout) {
                dsp_pw6_table((const int8_t *)a->weights, k, oc_lo, oc_hi, a->bias, a->mult, a->shift,
                              a->out_offset, rq);
                local.w_row0 = oc_lo;
            }
            int32_t oy = 0, ox = 0;
            int8_t *y_px = y_img;
            if (fused) {
                /* the whole blocks in one call, then the partial one as below */
                const int64_t done = (int64_t)out->h * out->w / P1X1 * P1X1;
                if (done > 0) {
                    const dsp_pw6_run run = {rq, y_img + oc_lo, cout, x_img, x_img + done * cin, oc_hi - oc_lo,
                                             dsp_dup16(off)};
                    if (cin == 4) {
                        dsp_pw6_direct_k4(&run);
                    } else {
                        dsp_pw6_direct_k8(&run);
                    }
                    oy = (int32_t)(done / out->w);
                    ox = (int32_t)(done % out->w);
                    y_px = y_img + done * cout;
                }
            }
            while (oy < out->h) {
                /* Every pixel is widened before any output is written, and the
                 * outputs of pixels px..px+5 end before input pixel px+6 when the
                 * layer runs in place (1x1, stride 1, cout <= cin: one chunk).
                 * Missing pixels of the last block repeat the first one. */
                const int32_t npx = widen(&src, x_img, &oy, &ox, buf);
                if (npx == P1X1) {
                    run_rows(rows, a, &last, split, k, oc_lo, oc_hi, buf, y_px + oc_lo, cout);
                } else {
                    /* last, partial block: channels in slices through a small buffer */
                    int8_t tmp[P1X1 * TAIL_OC];
                    for (int32_t oc0 = oc_lo; oc0 < oc_hi; oc0 += TAIL_OC) {
                        const int32_t n = oc_hi - oc0 < TAIL_OC ? oc_hi - oc0 : TAIL_OC;
                        run_rows(rows, a, &last, split, k, oc0, oc0 + n, buf, tmp, TAIL_OC);
                        for (int32_t j = 0; j < npx; ++j) {
                            memcpy(y_px + (int64_t)j * cout + oc0, tmp + j * TAIL_OC, (size_t)n);
                        }
                    }
                }
                y_px += (int64_t)npx * cout;
            }
        }
    }
}
