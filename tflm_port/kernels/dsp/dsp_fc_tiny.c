/*
 * FULLY_CONNECTED rows of short accumulation depth (1..DSP_FC_TINY_MAX) for
 * the dsp int8 kernel; see dsp_fc.h.
 *
 * A short row costs little arithmetic, so the per-row and per-call fixed
 * work decides. The input is widened once into at most four (even, odd)
 * lane words, zero-padded to whole groups of four; every row is then one
 * pass of a loop specialized for its number of groups (1..4, fully
 * unrolled): the accumulator starts at the row constant (bias and offset
 * terms), then one word load, two SXTB16 and two SMLAD per four values, then
 * the output stage inline. A row's last group may read up to three bytes of
 * the next row's weights, which meet the zero lanes; the last row of the
 * tensor stops at its last whole group and adds its tail one value at a time
 * (nothing is read past the weights). Depth 1 is one multiply per row.
 *
 * Output stage: when every channel takes the short form (dsp_requant.h:
 * bounded accumulators, right shift >= 1), SMMULR of 2 * acc, the rounding
 * right shift, the offset and the clamp (SSAT for the full int8 range), with
 * the multiplier and shift read per row through a pointer that steps only
 * for per-channel weights. Otherwise dsp_out_one_inline.
 */
#include "dsp_fc.h"

#include "dsp_simd.h"

#define AI static inline __attribute__((always_inline))

AI int8_t stage(int32_t acc, int32_t mult, int32_t right, int32_t off, int32_t amin, int32_t amax, bool full)
{
    const int32_t x = dsp_smmulr((int32_t)((uint32_t)acc << 1), mult);
    const int32_t v = ((x + (int32_t)(1u << (right - 1)) + (x >> 31)) >> right) + off;
    if (full) {
        return (int8_t)dsp_ssat8(v);
    }
    return (int8_t)(v < amin ? amin : (v > amax ? amax : v));
}

/* The short-form stage's constants. */
typedef struct {
    const int32_t *mult;
    const int8_t *shift;
    int32_t step;       /* 1 per channel, 0 per tensor */
    int32_t off, amin, amax;
} tiny_stage;

/* acc + the first g groups of row w (g a constant in the unrolled
 * instances; g = 0: depth 1, xe[0] holds x[0] itself). */
AI int32_t dot_groups(const int8_t *w, const uint32_t *xe, const uint32_t *xo, const int32_t g, int32_t acc)
{
    if (g == 0) {
        return acc + w[0] * (int32_t)xe[0];
    }
#pragma GCC unroll 4
    for (int32_t i = 0; i < g; ++i) {
        const uint32_t v = dsp_ld32(w + 4 * i);
        acc = dsp_smlad(dsp_sxtb16(v), xe[i], acc);
        acc = dsp_smlad(dsp_sxtb16_ror8(v), xo[i], acc);
    }
    return acc;
}

/* The same with g not a constant (the general stage, the last row). */
static int32_t dot_groups_any(const int8_t *w, const uint32_t *xe, const uint32_t *xo, int32_t g, int32_t acc)
{
    if (g == 0) {
        return acc + w[0] * (int32_t)xe[0];
    }
    for (int32_t i = 0; i < g; ++i) {
        const uint32_t v = dsp_ld32(w + 4 * i);
        acc = dsp_smlad(dsp_sxtb16(v), xe[i], acc);
        acc = dsp_smlad(dsp_sxtb16_ror8(v), xo[i], acc);
    }
    return acc;
}

/* Per-tensor rows [0, rows) of g groups each, short stage; g and full are
 * constants in every instance (the group loop unrolled, the channel's
 * constants in registers). */
AI void rows_tensor(const int8_t *w, int32_t n, int32_t rows, const uint32_t *xe, const uint32_t *xo, const int32_t g,
                    const int32_t *rc, uint32_t xsum, const tiny_stage *ts, const bool full, int8_t *y)
{
    const int32_t off = ts->off, amin = ts->amin, amax = ts->amax;
    const int32_t mult = ts->mult[0], right = -ts->shift[0];
    for (int32_t o = 0; o < rows; ++o, w += n) {
        const int32_t acc = dot_groups(w, xe, xo, g, (int32_t)((uint32_t)rc[o] + xsum));
        y[o] = stage(acc, mult, right, off, amin, amax, full);
    }
}

/* Per-channel rows [0, rows) of g groups each, short stage with the full
 * int8 range; g a constant in every instance: each row's multiplier and
 * shift read with its constant. */
AI void rows_channel(const int8_t *w, int32_t n, int32_t rows, const uint32_t *xe, const uint32_t *xo, const int32_t g,
                     const int32_t *rc, uint32_t xsum, const tiny_stage *ts, int8_t *y)
{
    const int32_t off = ts->off;
    const int32_t *mult = ts->mult;
    const int8_t *shift = ts->shift;
    for (int32_t o = 0; o < rows; ++o, w += n) {
        const int32_t acc = dot_groups(w, xe, xo, g, (int32_t)((uint32_t)rc[o] + xsum));
        y[o] = stage(acc, mult[o], -shift[o], off, -128, 127, true);
    }
}

static void __attribute__((noinline)) rows_short_any(const int8_t *w, int32_t n, int32_t rows, const uint32_t *xe,
                                                     const uint32_t *xo, int32_t g, const int32_t *rc, uint32_t xsum,
                                                     const tiny_stage *ts, bool full, int8_t *y)
{
    if (ts->step != 0 && full) {
        /* per channel, full range: the group loop unrolled */
        switch (g) {
        case 0:
            rows_channel(w, n, rows, xe, xo, 0, rc, xsum, ts, y);
            return;
        case 1:
            rows_channel(w, n, rows, xe, xo, 1, rc, xsum, ts, y);
            return;
        case 2:
            rows_channel(w, n, rows, xe, xo, 2, rc, xsum, ts, y);
            return;
        case 3:
            rows_channel(w, n, rows, xe, xo, 3, rc, xsum, ts, y);
            return;
        case 4:
            rows_channel(w, n, rows, xe, xo, 4, rc, xsum, ts, y);
            return;
        default:
            break;
        }
    }
    if (ts->step != 0) {
        /* per channel: each row's multiplier and shift */
        for (int32_t o = 0; o < rows; ++o, w += n) {
            const int32_t acc = dot_groups_any(w, xe, xo, g, (int32_t)((uint32_t)rc[o] + xsum));
            y[o] = stage(acc, ts->mult[o], -ts->shift[o], ts->off, ts->amin, ts->amax, full);
        }
        return;
    }
#define TINY_CASE(G)                                                                                    \
    case G:                                                                                             \
        if (full) {                                                                                     \
            rows_tensor(w, n, rows, xe, xo, G, rc, xsum, ts, true, y);                                  \
        } else {                                                                                        \
            rows_tensor(w, n, rows, xe, xo, G, rc, xsum, ts, false, y);                                 \
        }                                                                                               \
        break;
    switch (g) {
        TINY_CASE(0)
        TINY_CASE(1)
        TINY_CASE(2)
        TINY_CASE(3)
        TINY_CASE(4)
    default:
        break;
    }
#undef TINY_CASE
}

void dsp_fc_tiny_s8(const int8_t *w, int32_t n, int32_t rows, const int8_t *x, const dsp_fc_out *fo, int8_t *y)
{
    const dsp_out *out = &fo->out;
    const int32_t *rc = fo->row_const;
    const uint32_t xsum = fo->xsum;
    const bool pc = fo->per_channel;
    /* x padded with zeros to whole groups, widened: xe = lanes (0, 2),
     * xo = lanes (1, 3) of each group; depth 1: xe[0] = x[0], g = 0 */
    uint32_t xe[DSP_FC_TINY_MAX / 4], xo[DSP_FC_TINY_MAX / 4];
    const int32_t whole = n / 4;
    int32_t groups = (n + 3) / 4;
    for (int32_t g = 0; g < whole; ++g) {
        const uint32_t v = dsp_ld32(x + 4 * g);
        xe[g] = dsp_sxtb16(v);
        xo[g] = dsp_sxtb16_ror8(v);
    }
    if (n == 1) {
        xe[0] = (uint32_t)(int32_t)x[0];
        groups = 0;
    } else if (whole < groups) {
        uint32_t v = 0;
        for (int32_t k = n - 1; k >= 4 * whole; --k) {
            v = (v << 8) | (uint8_t)x[k];
        }
        xe[whole] = dsp_sxtb16(v);
        xo[whole] = dsp_sxtb16_ror8(v);
    }
    /* every row but the last reads whole groups (depth 1: one value) */
    const int32_t full_rows = whole == groups || n == 1 ? rows : rows - 1;
    if (out->short_rq) {
        const tiny_stage ts = {out->mult, out->shift, pc ? 1 : 0, out->out_offset, out->act_min, out->act_max};
        rows_short_any(w, n, full_rows, xe, xo, groups, rc, xsum, &ts, out->full_range, y);
    } else {
        for (int32_t o = 0; o < full_rows; ++o) {
            const int32_t acc = dot_groups_any(w + o * n, xe, xo, groups, (int32_t)((uint32_t)rc[o] + xsum));
            y[o] = dsp_out_one_call(out, acc, pc ? o : 0);
        }
    }
    if (full_rows < rows) {
        const int32_t o = full_rows;
        const int8_t *wl = w + o * n;
        int32_t acc = whole > 0 ? dot_groups_any(wl, xe, xo, whole, (int32_t)((uint32_t)rc[o] + xsum))
                                : (int32_t)((uint32_t)rc[o] + xsum);
        for (int32_t k = 4 * whole; k < n; ++k) {
            acc += wl[k] * x[k];
        }
        y[o] = dsp_out_one_call(out, acc, pc ? o : 0);
    }
}
