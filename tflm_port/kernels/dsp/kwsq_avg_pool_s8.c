/*
 * kwsq_avg_pool_s8 for cores with the DSP extension, bit-exact with
 * kernels/ref (TFLite Micro's reference: the sum over the in-image taps
 * divided by their count, rounded half away from zero).
 *
 * A window of whole input rows (a global pool) is one loop over its taps,
 * sixteen, then eight channels per pass and two taps per iteration
 * (pool_run16, pool_run8); other windows eight channels per pass, then
 * four: per tap two LDR and four SXTAB16 add the bytes into 16-bit lanes
 * ((c0, c2) and (c1, c3) of each word). The lanes cannot overflow while
 * the window has at most 255 taps (255 * 128 < 2^15); larger windows sum
 * channel by channel in 32 bits.
 */
#include "dsp_simd.h"
#include "kwsq_kernels.h"
#include "kwsq_math.h"

#define POOL_LANE_TAPS 255

/* Lanes (c0, c2) of word V added into E, lanes (c1, c3) into O. */
#define POOL_ADD(E, O, V) ((E) = dsp_sxtab16((E), (V)), (O) = dsp_sxtab16_ror8((O), (V)))

static inline int8_t pool_out(int32_t acc, int32_t count, int32_t lo, int32_t hi)
{
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return (int8_t)(acc < lo ? lo : (acc > hi ? hi : acc));
}

/* acc[2q], acc[2q + 1] += the lanes of word q of `run` taps of sixteen
 * channels, `depth` bytes apart; two taps per iteration. */
static void __attribute__((noinline)) pool_run16(const int8_t *xp, int32_t depth, int32_t run, uint32_t *acc)
{
    uint32_t e0 = 0, o0 = 0, e1 = 0, o1 = 0, e2 = 0, o2 = 0, e3 = 0, o3 = 0;
    const int8_t *end = xp + (int64_t)(run & ~1) * depth;
    for (; xp != end; xp += 2 * depth) {
        uint32_t v0 = dsp_ld32(xp), v1 = dsp_ld32(xp + 4), v2 = dsp_ld32(xp + 8), v3 = dsp_ld32(xp + 12);
        POOL_ADD(e0, o0, v0);
        POOL_ADD(e1, o1, v1);
        POOL_ADD(e2, o2, v2);
        POOL_ADD(e3, o3, v3);
        v0 = dsp_ld32(xp + depth);
        v1 = dsp_ld32(xp + depth + 4);
        v2 = dsp_ld32(xp + depth + 8);
        v3 = dsp_ld32(xp + depth + 12);
        POOL_ADD(e0, o0, v0);
        POOL_ADD(e1, o1, v1);
        POOL_ADD(e2, o2, v2);
        POOL_ADD(e3, o3, v3);
    }
    if (run & 1) {
        const uint32_t v0 = dsp_ld32(xp), v1 = dsp_ld32(xp + 4), v2 = dsp_ld32(xp + 8), v3 = dsp_ld32(xp + 12);
        POOL_ADD(e0, o0, v0);
        POOL_ADD(e1, o1, v1);
        POOL_ADD(e2, o2, v2);
        POOL_ADD(e3, o3, v3);
    }
    acc[0] = e0;
    acc[1] = o0;
    acc[2] = e1;
    acc[3] = o1;
    acc[4] = e2;
    acc[5] = o2;
    acc[6] = e3;
    acc[7] = o3;
}

/* The same for eight channels: acc[0..3] (e0, o0, e1, o1). */
static void __attribute__((noinline)) pool_run8(const int8_t *xp, int32_t depth, int32_t run, uint32_t *acc)
{
    uint32_t e0 = 0, o0 = 0, e1 = 0, o1 = 0;
    const int8_t *end = xp + (int64_t)(run & ~1) * depth;
    for (; xp != end; xp += 2 * depth) {
        const uint32_t v0 = dsp_ld32(xp), v1 = dsp_ld32(xp + 4);
        const uint32_t v2 = dsp_ld32(xp + depth), v3 = dsp_ld32(xp + depth + 4);
        POOL_ADD(e0, o0, v0);
        POOL_ADD(e1, o1, v1);
        POOL_ADD(e0, o0, v2);
        POOL_ADD(e1, o1, v3);
    }
    if (run & 1) {
        const uint32_t v0 = dsp_ld32(xp), v1 = dsp_ld32(xp + 4);
        POOL_ADD(e0, o0, v0);
        POOL_ADD(e1, o1, v1);
    }
    acc[0] = e0;
    acc[1] = o0;
    acc[2] = e1;
    acc[3] = o1;
}

kwsq_status kwsq_avg_pool_s8(const kwsq_pool_params *params, const kwsq_dims *input_dims, const int8_t *input,
                             const kwsq_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, depth = input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    const int32_t lo = params->act_min, hi = params->act_max;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * params->stride_h - params->pad_h;
            int32_t fy0, fy1;
            kwsq_window_clip(iy0, 1, params->filter_h, in_h, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * params->stride_w - params->pad_w;
                int32_t fx0, fx1;
                kwsq_window_clip(ix0, 1, params->filter_w, in_w, &fx0, &fx1);
                int8_t *y = output + (((int64_t)b * out_h + oy) * out_w + ox) * depth;
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);
                if (count == 0) {
                    return KWSQ_ERR_EVAL;
                }
                const int8_t *x0 = input + (((int64_t)b * in_h + iy0 + fy0) * in_w + ix0 + fx0) * depth;
                const int64_t row_step = (int64_t)in_w * depth;
                const int32_t taps_w = fx1 - fx0;
                int32_t c = 0;
                if (count <= POOL_LANE_TAPS) {
                    /* a window of whole input rows is one run of taps */
                    const bool flat = (int64_t)taps_w * depth == row_step;
                    const int32_t rows = flat ? 1 : fy1 - fy0, run = flat ? count : taps_w;
                    for (; flat && c + 16 <= depth; c += 16) {
                        /* a global window, sixteen channels per tap: four loads, eight SXTAB16 */
                        uint32_t acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                        pool_run16(x0 + c, depth, count, acc);
                        for (int32_t q = 0; q < 4; ++q) {
                            const uint32_t e = acc[2 * q], o = acc[2 * q + 1];
                            y[c + 4 * q] = pool_out((int16_t)(e & 0xFFFFu), count, lo, hi);
                            y[c + 4 * q + 1] = pool_out((int16_t)(o & 0xFFFFu), count, lo, hi);
                            y[c + 4 * q + 2] = pool_out((int16_t)(e >> 16), count, lo, hi);
                            y[c + 4 * q + 3] = pool_out((int16_t)(o >> 16), count, lo, hi);
                        }
                    }
                    for (; flat && c + 8 <= depth; c += 8) {
                        uint32_t acc[4] = {0, 0, 0, 0};
                        pool_run8(x0 + c, depth, count, acc);
                        for (int32_t q = 0; q < 2; ++q) {
                            const uint32_t e = acc[2 * q], o = acc[2 * q + 1];
                            y[c + 4 * q] = pool_out((int16_t)(e & 0xFFFFu), count, lo, hi);
                            y[c + 4 * q + 1] = pool_out((int16_t)(o & 0xFFFFu), count, lo, hi);
                            y[c + 4 * q + 2] = pool_out((int16_t)(e >> 16), count, lo, hi);
                            y[c + 4 * q + 3] = pool_out((int16_t)(o >> 16), count, lo, hi);
                        }
                    }
                    for (; c + 8 <= depth; c += 8) {
                        /* eight channels per tap: two loads, four SXTAB16 */
                        uint32_t e0 = 0, o0 = 0, e1 = 0, o1 = 0;
                        const int8_t *xr = x0 + c;
                        for (int32_t r = 0; r < rows; ++r, xr += row_step) {
                            const int8_t *xp = xr;
                            for (int32_t t = 0; t < run; ++t, xp += depth) {
                                const uint32_t v0 = dsp_ld32(xp), v1 = dsp_ld32(xp + 4);
                                POOL_ADD(e0, o0, v0);
                                POOL_ADD(e1, o1, v1);
                            }
                        }
                        y[c] = pool_out((int16_t)(e0 & 0xFFFFu), count, lo, hi);
                        y[c + 1] = pool_out((int16_t)(o0 & 0xFFFFu), count, lo, hi);
                        y[c + 2] = pool_out((int16_t)(e0 >> 16), count, lo, hi);
                        y[c + 3] = pool_out((int16_t)(o0 >> 16), count, lo, hi);
                        y[c + 4] = pool_out((int16_t)(e1 & 0xFFFFu), count, lo, hi);
                        y[c + 5] = pool_out((int16_t)(o1 & 0xFFFFu), count, lo, hi);
                        y[c + 6] = pool_out((int16_t)(e1 >> 16), count, lo, hi);
                        y[c + 7] = pool_out((int16_t)(o1 >> 16), count, lo, hi);
                    }
                    for (; c + 4 <= depth; c += 4) {
                        uint32_t e = 0, o = 0;
                        const int8_t *xr = x0 + c;
                        for (int32_t fy = fy0; fy < fy1; ++fy, xr += row_step) {
                            const int8_t *xp = xr;
                            for (int32_t fx = 0; fx < taps_w; ++fx, xp += depth) {
                                const uint32_t v = dsp_ld32(xp);
                                POOL_ADD(e, o, v);
                            }
                        }
                        y[c] = pool_out((int16_t)(e & 0xFFFFu), count, lo, hi);
                        y[c + 1] = pool_out((int16_t)(o & 0xFFFFu), count, lo, hi);
                        y[c + 2] = pool_out((int16_t)(e >> 16), count, lo, hi);
                        y[c + 3] = pool_out((int16_t)(o >> 16), count, lo, hi);
                    }
                }
                for (; c < depth; ++c) {
                    int32_t acc = 0;
                    const int8_t *xr = x0 + c;
                    for (int32_t fy = fy0; fy < fy1; ++fy, xr += row_step) {
                        for (int32_t fx = 0; fx < taps_w; ++fx) {
                            acc += xr[(int64_t)fx * depth];
                        }
                    }
                    y[c] = pool_out(acc, count, lo, hi);
                }
            }
        }
    }
    return KWSQ_OK;
}
