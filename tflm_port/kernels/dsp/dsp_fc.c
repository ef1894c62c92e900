/*
 * Row dot products of the dsp FULLY_CONNECTED kernels; see dsp_fc.h.
 *
 * int8: per 4 inputs one LDR and two SXTB16 (shared by the rows), per row one
 * LDR, two SXTB16 and two SMLAD.
 * int4 (rows byte-aligned): the input is widened once per call into the
 * nibble order of a weight word, (x0,x4),(x2,x6),(x1,x5),(x3,x7); per row
 * one LDR, two ANDs (one with a shifted operand) leave each nibble in the
 * top of its byte, so SXTB16 yields 16x the weights; four SMLAD; the sums
 * are divided by 16 at the end (exact: every product is a multiple of 16,
 * and |sum| < 2^27 for rows up to 65536 values).
 */
#include "dsp_fc.h"

#include "dsp_simd.h"
#include "kwsq_math.h"

void dsp_dot_rows_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t rows, int32_t *acc)
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
    acc[0] = a0;
    if (rows > 1) {
        acc[1] = a1;
    }
    if (rows > 2) {
        acc[2] = a2;
    }
    if (rows > 3) {
        acc[3] = a3;
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

/* Long rows: the input widened on the fly, per 8 values, for each group of
 * rows (no stack copy of it). */
static void dot_rows_s4_stream(const uint8_t *w, int64_t first_row, const int8_t *x, int32_t n, int32_t rows,
                               int32_t *acc)
{
    if ((n & 1) != 0) {
        /* rows start mid-byte every other row: one nibble at a time */
        for (int32_t r = 0; r < rows; ++r) {
            const int64_t start = (first_row + r) * n;
            int32_t a = 0;
            for (int32_t k = 0; k < n; ++k) {
                a += kwsq_int4_at(w, start + k) * x[k];
            }
            acc[r] = a;
        }
        return;
    }
    const int32_t grouped = n & ~7;
    const uint8_t *w0 = w + first_row * (n / 2);
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
    acc[0] = a0;
    if (rows > 1) {
        acc[1] = a1;
    }
    if (rows > 2) {
        acc[2] = a2;
    }
    if (rows > 3) {
        acc[3] = a3;
    }
}

void dsp_s4_input_pairs(const int8_t *x, int32_t n, uint32_t *xpairs)
{
    for (int32_t k = 0; k + 8 <= n; k += 8, xpairs += 4) {
        const uint32_t lo = dsp_ld32(x + k), hi = dsp_ld32(x + k + 4);
        const uint32_t e0 = dsp_sxtb16(lo), e1 = dsp_sxtb16(hi);
        const uint32_t o0 = dsp_sxtb16_ror8(lo), o1 = dsp_sxtb16_ror8(hi);
        xpairs[0] = dsp_pack_lo(e0, e1);
        xpairs[1] = dsp_pack_hi(e0, e1);
        xpairs[2] = dsp_pack_lo(o0, o1);
        xpairs[3] = dsp_pack_hi(o0, o1);
    }
}

void dsp_dot_rows_s4(const uint8_t *w, int64_t first_row, const int8_t *x, const uint32_t *xpairs, int32_t n,
                     int32_t rows, int32_t *acc)
{
    if (xpairs == NULL) {
        dot_rows_s4_stream(w, first_row, x, n, rows, acc);
        return;
    }
    if ((n & 1) != 0) {
        /* rows start mid-byte every other row: one nibble at a time */
        for (int32_t r = 0; r < rows; ++r) {
            const int64_t start = (first_row + r) * n;
            int32_t a = 0;
            for (int32_t k = 0; k < n; ++k) {
                a += kwsq_int4_at(w, start + k) * x[k];
            }
            acc[r] = a;
        }
        return;
    }
    const int32_t grouped = n & ~7;
    const uint8_t *w0 = w + first_row * (n / 2);
    const uint8_t *w1 = rows > 1 ? w0 + n / 2 : w0, *w2 = rows > 2 ? w0 + n : w0;
    const uint32_t mask = 0xF0F0F0F0u;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const uint8_t *w3 = rows > 3 ? w0 + 3 * (n / 2) : w0;
    const uint32_t *xp = xpairs;
    for (int32_t kb = 0; kb < grouped / 2; kb += 4, xp += 4) {
        const uint32_t p0 = xp[0], p1 = xp[1], p2 = xp[2], p3 = xp[3];
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
    acc[0] = a0;
    if (rows > 1) {
        acc[1] = a1;
    }
    if (rows > 2) {
        acc[2] = a2;
    }
    if (rows > 3) {
        acc[3] = a3;
    }
}
