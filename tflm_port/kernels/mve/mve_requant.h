/*
 * Requantization of four output channels at once with Helium, bit-exact with
 * TFLite Micro's MultiplyByQuantizedMultiplier (double rounding):
 * VQRDMULH is SaturatingRoundingDoublingHighMul lane by lane, and a rounding
 * right shift after subtracting 1 from negative values rounds halves away
 * from zero as RoundingDivideByPOT does. Then offset, clamp, narrow to int8.
 */
#ifndef KWSQ_MVE_REQUANT_H
#define KWSQ_MVE_REQUANT_H

#include <arm_mve.h>
#include <stdint.h>

/* acc (4 channels) with per-lane multiplier and shift (TFLM convention:
 * shift > 0 shifts left before the multiply). */
static inline int32x4_t mve_requant(int32x4_t acc, int32x4_t mult, int32x4_t shift)
{
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t left = vmaxq_s32(shift, zero);
    const int32x4_t right = vminq_s32(shift, zero); /* <= 0: a right shift for VRSHL */
    const int32x4_t x = vqrdmulhq_s32(vshlq_s32(acc, left), mult);
    /* -1 on negative values when there is a right shift */
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, right), 31);
    return vrshlq_s32(vqaddq_s32(x, fixup), right);
}

/* The same with the shift split once per call: right <= 0, acc already
 * shifted left by the channel's left shift (if any). */
static inline int32x4_t mve_requant_r(int32x4_t acc, int32x4_t mult, int32x4_t right)
{
    const int32x4_t x = vqrdmulhq_s32(acc, mult);
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, right), 31);
    return vrshlq_s32(vqaddq_s32(x, fixup), right);
}

static inline int32x4_t mve_out_s32(int32x4_t acc, int32x4_t mult, int32x4_t shift, int32_t out_offset,
                                    int32_t act_min, int32_t act_max)
{
    int32x4_t v = vaddq_n_s32(mve_requant(acc, mult, shift), out_offset);
    v = vmaxq_s32(v, vdupq_n_s32(act_min));
    return vminq_s32(v, vdupq_n_s32(act_max));
}

#endif /* KWSQ_MVE_REQUANT_H */
