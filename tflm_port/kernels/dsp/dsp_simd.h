/*
 * The few Armv7E-M DSP-extension instructions the dsp kernels are built on
 * (SXTB16 and its rotated form, SMLAD, PKHBT/PKHTB, SADD16), as inline
 * functions. On a core with the DSP extension they are single instructions;
 * elsewhere (the host build, which runs the same kernels for the tests) they
 * are plain C with exactly the same results, so one source is checked on the
 * host and measured under QEMU.
 *
 * Pairs: a 32-bit word seen as two signed 16-bit lanes, (lo, hi).
 */
#ifndef KWSQ_DSP_SIMD_H
#define KWSQ_DSP_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define KWSQ_DSP_NATIVE 1
#endif

/* Unaligned 32-bit load/store (the M4 allows them for LDR/STR). */
static inline uint32_t dsp_ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint32_t dsp_ld16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline void dsp_st32(void *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

#ifdef KWSQ_DSP_NATIVE

/* (sext byte0, sext byte2) */
static inline uint32_t dsp_sxtb16(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(x));
    return r;
}

/* (sext byte1, sext byte3): the rotated form, one instruction */
static inline uint32_t dsp_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* acc + x.lo * y.lo + x.hi * y.hi */
static inline int32_t dsp_smlad(uint32_t x, uint32_t y, int32_t acc)
{
    int32_t r;
    __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}

/* (a.lo, b.lo) */
static inline uint32_t dsp_pack_lo(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* (a.hi, b.hi) */
static inline uint32_t dsp_pack_hi(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
    return r;
}

/* lane-wise a + b, 16 bits each (wrapping) */
static inline uint32_t dsp_sadd16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("sadd16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* saturate to a signed 8-bit value */
static inline int32_t dsp_ssat8(int32_t x)
{
    int32_t r;
    __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(x));
    return r;
}

/* (a * b + 2^31) >> 32, the rounded high word of the product */
static inline int32_t dsp_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* c + dsp_smmulr(a, b) (SMMLAR: c * 2^32 + a * b + 2^31, high word) */
static inline int32_t dsp_smmlar(int32_t a, int32_t b, int32_t c)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
}

/* acc + x.lo * y.lo (SMLABB), x.lo * y.hi (SMLABT), x.hi * y.lo (SMLATB),
 * x.hi * y.hi (SMLATT): one 16x16 product of chosen lanes */
#define DSP_SMLA_XY(name, insn)                                         \
    static inline int32_t name(uint32_t x, uint32_t y, int32_t acc)     \
    {                                                                   \
        int32_t r;                                                      \
        __asm__(insn " %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc)); \
        return r;                                                       \
    }
DSP_SMLA_XY(dsp_smlabb, "smlabb")
DSP_SMLA_XY(dsp_smlabt, "smlabt")
DSP_SMLA_XY(dsp_smlatb, "smlatb")
DSP_SMLA_XY(dsp_smlatt, "smlatt")
#undef DSP_SMLA_XY

/* a + (sext byte0, sext byte2) of x, lane-wise (16 bits, wrapping) */
static inline uint32_t dsp_sxtab16(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

/* a + (sext byte1, sext byte3) of x */
static inline uint32_t dsp_sxtab16_ror8(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

#else /* portable equivalents, bit for bit */

static inline int32_t dsp_smmulr(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * b + 0x80000000LL) >> 32);
}

static inline int32_t dsp_smmlar(int32_t a, int32_t b, int32_t c)
{
    return (int32_t)((uint32_t)c + (uint32_t)dsp_smmulr(a, b));
}

static inline uint32_t dsp_lanes(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

static inline int32_t dsp_lo(uint32_t x)
{
    return (int16_t)(x & 0xFFFFu);
}

static inline int32_t dsp_hi(uint32_t x)
{
    return (int16_t)(x >> 16);
}

static inline uint32_t dsp_sxtb16(uint32_t x)
{
    return dsp_lanes((int8_t)(x & 0xFFu), (int8_t)((x >> 16) & 0xFFu));
}

static inline uint32_t dsp_sxtb16_ror8(uint32_t x)
{
    return dsp_lanes((int8_t)((x >> 8) & 0xFFu), (int8_t)(x >> 24));
}

static inline int32_t dsp_smlad(uint32_t x, uint32_t y, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(dsp_lo(x) * dsp_lo(y)) + (uint32_t)(dsp_hi(x) * dsp_hi(y)));
}

static inline uint32_t dsp_pack_lo(uint32_t a, uint32_t b)
{
    return (a & 0xFFFFu) | (b << 16);
}

static inline uint32_t dsp_pack_hi(uint32_t a, uint32_t b)
{
    return (a >> 16) | (b & 0xFFFF0000u);
}

static inline uint32_t dsp_sadd16(uint32_t a, uint32_t b)
{
    return dsp_lanes(dsp_lo(a) + dsp_lo(b), dsp_hi(a) + dsp_hi(b));
}

static inline int32_t dsp_ssat8(int32_t x)
{
    return x < -128 ? -128 : (x > 127 ? 127 : x);
}

static inline int32_t dsp_smlabb(uint32_t x, uint32_t y, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(dsp_lo(x) * dsp_lo(y)));
}

static inline int32_t dsp_smlabt(uint32_t x, uint32_t y, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(dsp_lo(x) * dsp_hi(y)));
}

static inline int32_t dsp_smlatb(uint32_t x, uint32_t y, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(dsp_hi(x) * dsp_lo(y)));
}

static inline int32_t dsp_smlatt(uint32_t x, uint32_t y, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(dsp_hi(x) * dsp_hi(y)));
}

static inline uint32_t dsp_sxtab16(uint32_t a, uint32_t x)
{
    return dsp_lanes(dsp_lo(a) + (int8_t)(x & 0xFFu), dsp_hi(a) + (int8_t)((x >> 16) & 0xFFu));
}

static inline uint32_t dsp_sxtab16_ror8(uint32_t a, uint32_t x)
{
    return dsp_lanes(dsp_lo(a) + (int8_t)((x >> 8) & 0xFFu), dsp_hi(a) + (int8_t)(x >> 24));
}

#endif

/* Both lanes = v (a 16-bit value). */
static inline uint32_t dsp_dup16(int32_t v)
{
    return ((uint32_t)v & 0xFFFFu) * 0x00010001u;
}

#endif /* KWSQ_DSP_SIMD_H */
