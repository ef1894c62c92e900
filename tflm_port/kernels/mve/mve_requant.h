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
#include <stddef.h>
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

/* The per-call record of four output channels of the dot-product paths
 * (mve_dw_dot.c, mve_conv_dot.c): folded bases, multipliers, right shifts
 * (<= 0) and left shifts. One pointer reaches every field by an immediate
 * offset (their assembly relies on the layout). */
typedef struct {
    int32_t base[4];
    int32_t mult[4];
    int8_t rsh[4];
    int8_t lsh[4];
} mve_rq4;

typedef char mve_rq4_layout[offsetof(mve_rq4, mult) == 16 && offsetof(mve_rq4, rsh) == 32 && sizeof(mve_rq4) == 40
                                ? 1
                                : -1];

/* Record r of channels c .. c + 3 (the lanes from och on zero): bias (may
 * be NULL) + offset * sums (weight sums of the four channels); returns the
 * largest shift, > 0 when some channel shifts left. */
static inline int32_t mve_rq4_fill(mve_rq4 *r, const int32_t *bias, const int32_t *mult, const int8_t *shift,
                                   int32_t c, int32_t och, int32x4_t sums, int32_t offset)
{
    const mve_pred16_t pr = vctp32q((uint32_t)(och - c));
    const int32x4_t b = bias != NULL ? vldrwq_z_s32(bias + c, pr) : vdupq_n_s32(0);
    vstrwq_s32(r->base, vpselq_s32(vmlaq_n_s32(b, sums, offset), vdupq_n_s32(0), pr));
    vstrwq_s32(r->mult, vldrwq_z_s32(mult + c, pr));
    const int32x4_t sh = vldrbq_z_s32(shift + c, pr);
    vstrbq_s32(r->lsh, vmaxq_s32(sh, vdupq_n_s32(0)));
    vstrbq_s32(r->rsh, vminq_s32(sh, vdupq_n_s32(0)));
    return vmaxvq_s32(INT32_MIN, sh);
}

/* Inline-assembly tail of the dot-product loops (mve_dw_dot.c, mve_conv_dot.c):
 * the sums of four channels in r6, r8, r10, r12 requantized with the mve_rq4
 * record at %[r] (advanced to the next), offset by %[off], clamped to
 * %q[lo]..%q[hi] and stored as four bytes at %[y]. Needs q0-q2; no left shift.
 * FIX: the -1 for negative values before the rounding shift, MVE_RQ4_FIXUP
 * (lanes whose right shift is 0 get none) or, when every right shift of the
 * four is nonzero, MVE_RQ4_FIXUP_RN (one instruction fewer). */
#define MVE_RQ4_FIXUP "vand q1, q0, q2\n\t" "vshr.s32 q1, q1, #31\n\t"
#define MVE_RQ4_FIXUP_RN "vshr.s32 q1, q0, #31\n\t"
#define MVE_RQ4_ASM_R6_R12_WITH(FIX)                                                                         \
    "vmov q0[2], q0[0], r6, r10\n\t"                                                                    \
    "vmov q0[3], q0[1], r8, r12\n\t"                                                                    \
    "vldrw.u32 q1, [%[r]], #40\n\t"                                                                     \
    "vadd.i32 q0, q0, q1\n\t"                                                                           \
    "vldrw.u32 q1, [%[r], #-24]\n\t"                                                                    \
    "vqrdmulh.s32 q0, q0, q1\n\t"                                                                       \
    "vldrb.s32 q2, [%[r], #-8]\n\t" FIX                                                                 \
    "vqadd.s32 q0, q0, q1\n\t"                                                                          \
    "vrshl.s32 q0, q0, q2\n\t"                                                                          \
    "vadd.i32 q0, q0, %[off]\n\t"                                                                       \
    "vmax.s32 q0, q0, %q[lo]\n\t"                                                                       \
    "vmin.s32 q0, q0, %q[hi]\n\t"                                                                       \
    "vstrb.32 q0, [%[y]], #4\n\t"
#define MVE_RQ4_ASM_R6_R12 MVE_RQ4_ASM_R6_R12_WITH(MVE_RQ4_FIXUP)

/* The sums v of four channels requantized with record r, clamped and stored
 * at y, the first n lanes. */
static inline __attribute__((always_inline)) void mve_rq4_out(bool left, int32x4_t v, const mve_rq4 *r, int32_t n,
                                                              int32_t out_off, int32x4_t lo, int32x4_t hi, int8_t *y)
{
    v = vaddq_s32(v, vldrwq_s32(r->base));
    if (left) {
        v = vshlq_s32(v, vldrbq_s32(r->lsh));
    }
    v = mve_requant_r(v, vldrwq_s32(r->mult), vldrbq_s32(r->rsh));
    v = vminq_s32(vmaxq_s32(vaddq_n_s32(v, out_off), lo), hi);
    if (n == 4) {
        vstrbq_s32(y, v);
    } else {
        vstrbq_p_s32(y, v, vctp32q((uint32_t)n));
    }
}

#endif /* KWSQ_MVE_REQUANT_H */
