/*
 * Requantization for the dsp kernels: TFLite Micro's MultiplyByQuantizedMultiplier
 * (double rounding), bit for bit, in fewer instructions than the portable
 * form in kwsq_math.h:
 *  - SaturatingRoundingDoublingHighMul(a, m) with m > 0 equals
 *    floor((a * m + 2^30) / 2^31) for every a (the nudge of a negative
 *    product and C's truncating division meet at the same value), which is
 *    one SMULL and a 64-bit add;
 *  - power-of-two scales (m = 2^30) need no multiply at all: the doubling
 *    high multiply is a rounding halving.
 */
#ifndef KWSQ_DSP_REQUANT_H
#define KWSQ_DSP_REQUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "dsp_simd.h"

/* RoundingDivideByPOT(x, right), right in 0..31. */
static inline int32_t dsp_rdbpot(int32_t x, int32_t right)
{
    const int32_t mask = (int32_t)((1u << right) - 1u);
    const int32_t th = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> right) + ((x & mask) > th ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier(acc, mult, shift), mult > 0. */
static inline int32_t dsp_requant(int32_t acc, int32_t mult, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t a = (int32_t)((uint32_t)acc << left);
    const int32_t x = (int32_t)(((int64_t)a * mult + (1LL << 30)) >> 31);
    return dsp_rdbpot(x, shift > 0 ? 0 : -shift);
}

/* The same for mult == 2^30 (power-of-two scale): shifts only. */
static inline int32_t dsp_requant_pot(int32_t acc, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t a = (int32_t)((uint32_t)acc << left);
    return dsp_rdbpot((a >> 1) + (a & 1), shift > 0 ? 0 : -shift);
}

/*
 * The short form, for a layer whose accumulators are bounded (Prepare checks
 * |acc| * 2^(left + 1) < 2^31 from the weights and bias) and whose right
 * shifts are 1..31:
 *  - SRDHM(acc << left, m) = (2 * (acc << left) * m + 2^31) >> 32 = SMMULR;
 *  - RoundingDivideByPOT(x, r) = (x + 2^(r-1) - [x < 0]) >> r (no overflow:
 *    |x| < 2^30).
 */
typedef struct {
    int32_t lshift;     /* left + 1 */
    int32_t mult;
    int32_t half;       /* 2^(right - 1) */
    int32_t right;
} dsp_rq;

static inline dsp_rq dsp_rq_channel(int32_t mult, int32_t shift)
{
    dsp_rq q;
    const int32_t right = shift > 0 ? 0 : -shift;
    q.lshift = (shift > 0 ? shift : 0) + 1;
    q.mult = mult;
    q.right = right;
    q.half = right > 0 ? (int32_t)(1u << (right - 1)) : 0;
    return q;
}

/* Whether channel accumulators bounded by |acc| <= bound fit the short form
 * with this shift. */
static inline bool dsp_rq_short_ok(int64_t bound, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    return shift < 0 && left < 30 && bound < (1LL << (30 - left));
}

static inline int32_t dsp_rq_apply(const dsp_rq *q, int32_t acc)
{
    const int32_t x = dsp_smmulr((int32_t)((uint32_t)acc << q->lshift), q->mult);
    return (x + q->half + (x >> 31)) >> q->right;
}

/*
 * The output stage of a kernel: requantize, add the output zero point,
 * clamp, per channel. Kernels copy it into a local first: their int8 stores
 * may alias anything, so fields read through a pointer would be reloaded
 * after every store.
 */
typedef struct {
    const int32_t *mult;
    const int8_t *shift;
    int32_t out_offset, act_min, act_max;
    bool short_rq;      /* every channel: right shift >= 1, no left shift, bounded accumulators */
    bool pot;
    bool full_range;    /* act_min == -128 and act_max == 127: one SSAT */
} dsp_out;

static inline dsp_out dsp_out_make(const int32_t *mult, const int8_t *shift, int32_t out_offset, int32_t act_min,
                                   int32_t act_max, bool short_rq, bool pot)
{
    dsp_out o = {mult, shift, out_offset, act_min, act_max, short_rq, pot, act_min == -128 && act_max == 127};
    return o;
}

/* One output: requantize channel ch's accumulator, add the offset, clamp. Always inlined,
 * so a hot loop keeps the flags and constants in registers (dsp_fc's row pairs). */
static inline __attribute__((always_inline)) int8_t dsp_out_one_inline(const dsp_out *o, int32_t acc,
                                                                      int32_t ch)
{
    int32_t v;
    if (o->short_rq) {
        /* shift < 0: left = 0, so SRDHM is SMMULR of 2 * acc */
        const int32_t right = -o->shift[ch];
        const int32_t x = dsp_smmulr((int32_t)((uint32_t)acc << 1), o->mult[ch]);
        v = (x + (int32_t)(1u << (right - 1)) + (x >> 31)) >> right;
    } else if (o->pot) {
        v = dsp_requant_pot(acc, o->shift[ch]);
    } else {
        v = dsp_requant(acc, o->mult[ch], o->shift[ch]);
    }
    v += o->out_offset;
    if (o->full_range) {
        return (int8_t)dsp_ssat8(v);
    }
    return (int8_t)(v < o->act_min ? o->act_min : (v > o->act_max ? o->act_max : v));
}

static inline int8_t dsp_out_one(const dsp_out *o, int32_t acc, int32_t ch)
{
    return dsp_out_one_inline(o, acc, ch);
}

/* The same, one shared out-of-line body (dsp_out.c): for paths where a call
 * per output costs little against the output's work, or that rarely run. */
int8_t dsp_out_one_call(const dsp_out *o, int32_t acc, int32_t ch);

#endif /* KWSQ_DSP_REQUANT_H */
