/*
 * The short output stage of the dsp depthwise paths (dsp_dw3x3.c,
 * dsp_dw_mult.c), bit-exact with TFLite Micro's requantization for right
 * shifts 1..22 and accumulators bounded as dsp_rq_short_ok checks:
 *   v = (SMMULR(2 * acc, mult) + hv + [x < 0]) >> right,
 *   hv = 2^(right-1) + offset * 2^right (the output offset folded in),
 * with the sign term taken from the doubled accumulator instead of x: they
 * differ only when x == 0 (a small negative accumulator), and then both
 * give `offset` (hv and hv - 1 floor-divide by 2^right alike). So the add
 * of hv joins the multiply: SMMLAR(2 * acc, mult, hv + (2 * acc >> 31)),
 * one instruction fewer per output.
 */
#ifndef KWSQ_DSP_DW_RQ_H
#define KWSQ_DSP_DW_RQ_H

#include <stdint.h>

#include "dsp_simd.h"

/* acc + ((a * b + 2^31) >> 32), the rounded high word added in 64 bits */
static inline int32_t dsp_dw_smmlar(int32_t a, int32_t b, int32_t acc)
{
#ifdef KWSQ_DSP_NATIVE
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    const uint64_t sum = ((uint64_t)(uint32_t)acc << 32) + (uint64_t)((int64_t)a * b) + 0x80000000ull;
    return (int32_t)(uint32_t)(sum >> 32);
#endif
}

/* The stage before the clamp, from the doubled accumulator a2 = 2 * acc. */
static inline int32_t dsp_dw_rq_short(int32_t a2, int32_t mult, int32_t hv, int32_t right)
{
    return dsp_dw_smmlar(a2, mult, hv + (a2 >> 31)) >> right;
}

#endif /* KWSQ_DSP_DW_RQ_H */
