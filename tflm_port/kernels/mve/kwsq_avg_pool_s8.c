/*
 * kwsq_avg_pool_s8 for Cortex-M55 Helium, bit-exact with kernels/ref: the
 * window sums 16 channels per pass, in int16 lanes (two widening loads and
 * two adds per tap) while the tap count keeps every sum inside int16
 * (count * 128 <= 32767), else in int32 lanes; then the reference's
 * division, rounded half away from zero, and clamp: in int32 lanes by a
 * reciprocal multiply for int16 sums, per channel otherwise.
 */
#include <arm_mve.h>

#include "kwsq_kernels.h"
#include "kwsq_math.h"

/* The sums of channels c0 .. c0 + 15 (n of them valid) over the window:
 * int32, or with `narrow` 16 int16 values at the start of `sums`. */
static void window_sums(const int8_t *x, int32_t row_stride, int32_t depth, int32_t rows, int32_t cols,
                        int32_t n, bool narrow, int32_t *sums)
{
    const mve_pred16_t p0 = vctp16q((uint32_t)n), p1 = vctp16q((uint32_t)(n > 8 ? n - 8 : 0));
    if (narrow) {
        int16x8_t s0 = vdupq_n_s16(0), s1 = vdupq_n_s16(0);
        /* a window of whole rows is one run of taps (global pools) */
        if (cols * depth == row_stride) {
            cols *= rows;
            rows = 1;
        }
        /* loads of whole groups of 8 channels unpredicated (no VPST) */
        for (int32_t r = 0; r < rows; ++r, x += row_stride) {
            const int8_t *xp = x;
            if (n < 8) {
                for (int32_t k = 0; k < cols; ++k, xp += depth) {
                    s0 = vaddq_s16(s0, vldrbq_z_s16(xp, p0));
                }
            } else if (n == 8) {
                for (int32_t k = 0; k < cols; ++k, xp += depth) {
                    s0 = vaddq_s16(s0, vldrbq_s16(xp));
                }
            } else if (n < 16) {
                for (int32_t k = 0; k < cols; ++k, xp += depth) {
                    s0 = vaddq_s16(s0, vldrbq_s16(xp));
                    s1 = vaddq_s16(s1, vldrbq_z_s16(xp + 8, p1));
                }
            } else {
                for (int32_t k = 0; k < cols; ++k, xp += depth) {
                    s0 = vaddq_s16(s0, vldrbq_s16(xp));
                    s1 = vaddq_s16(s1, vldrbq_s16(xp + 8));
                }
            }
        }
        vstrhq_s16((int16_t *)sums, s0);
        vstrhq_s16((int16_t *)sums + 8, s1);
        return;
    }
    const mve_pred16_t q0 = vctp32q((uint32_t)n), q1 = vctp32q((uint32_t)(n > 4 ? n - 4 : 0));
    const mve_pred16_t q2 = vctp32q((uint32_t)(n > 8 ? n - 8 : 0)), q3 = vctp32q((uint32_t)(n > 12 ? n - 12 : 0));
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    for (int32_t r = 0; r < rows; ++r, x += row_stride) {
        const int8_t *xp = x;
        for (int32_t k = 0; k < cols; ++k, xp += depth) {
            s0 = vaddq_s32(s0, vldrbq_z_s32(xp, q0));
            s1 = vaddq_s32(s1, vldrbq_z_s32(xp + 4, q1));
            s2 = vaddq_s32(s2, vldrbq_z_s32(xp + 8, q2));
            s3 = vaddq_s32(s3, vldrbq_z_s32(xp + 12, q3));
        }
    }
    vstrwq_s32(sums, s0);
    vstrwq_s32(sums + 4, s1);
    vstrwq_s32(sums + 8, s2);
    vstrwq_s32(sums + 12, s3);
}

/* Four sums divided by count (1..255) rounding half away from zero: the
 * quotient of |sum| + count / 2 by VMULH.U32 with floor(2^32 / count) + 1,
 * exact while (|sum| + count / 2) * count < 2^32 (here at most
 * 128.5 * 255^2), then the sign back. */
static inline int32x4_t divide4(int32x4_t acc, uint32_t m, int32_t half)
{
    const uint32x4_t a = vreinterpretq_u32_s32(vaddq_n_s32(vabsq_s32(acc), half));
    const int32x4_t sign = vshrq_n_s32(acc, 31);
    return vsubq_s32(veorq_s32(vreinterpretq_s32_u32(vmulhq_u32(a, vdupq_n_u32(m))), sign), sign);
}

/* Outputs of n channels (1..16) from their int16 sums over count taps:
 * even and odd channels widened apart, divided, clamped and narrowed back
 * in order. */
static void narrow_out(const int16_t *sums, int32_t n, int32_t count, int32_t act_min, int32_t act_max, int8_t *y)
{
    const int32x4_t lo = vdupq_n_s32(act_min), hi = vdupq_n_s32(act_max);
    const int32_t half = count / 2;
    for (int32_t c = 0; c < n; c += 8) {
        const int16x8_t s = vldrhq_s16(sums + c);
        int32x4_t even = vmovlbq_s16(s), odd = vmovltq_s16(s);
        if (count > 1) {
            const uint32_t m = (uint32_t)(0xFFFFFFFFu / (uint32_t)count) + 1u;
            even = divide4(even, m, half);
            odd = divide4(odd, m, half);
        }
        even = vminq_s32(vmaxq_s32(even, lo), hi);
        odd = vminq_s32(vmaxq_s32(odd, lo), hi);
        int16x8_t v = vmovnbq_s32(vdupq_n_s16(0), even);
        v = vmovntq_s32(v, odd);
        vstrbq_p_s16(y + c, v, vctp16q((uint32_t)(n - c)));
    }
}

/* A window over whole rows (count <= 255 taps, `depth` bytes apart, a
 * multiple of 8 channels) is one run of taps: the int16 sums of 8 * groups
 * channels (groups 1..4) from x, widening loads at immediate offsets; with
 * one group of 8 channels four taps per iteration into four sums. */
static void run_sums(const int8_t *x, int32_t count, int32_t depth, int32_t groups, int16_t *sums)
{
    int16x8_t s0 = vdupq_n_s16(0), s1 = s0, s2 = s0, s3 = s0;
    int32_t t = 0;
    if (groups == 1 && depth == 8) {
        for (; t + 4 <= count; t += 4, x += 32) {
            s0 = vaddq_s16(s0, vldrbq_s16(x));
            s1 = vaddq_s16(s1, vldrbq_s16(x + 8));
            s2 = vaddq_s16(s2, vldrbq_s16(x + 16));
            s3 = vaddq_s16(s3, vldrbq_s16(x + 24));
        }
        for (; t < count; ++t, x += 8) {
            s0 = vaddq_s16(s0, vldrbq_s16(x));
        }
        s0 = vaddq_s16(vaddq_s16(s0, s1), vaddq_s16(s2, s3));
        s1 = s2 = s3 = vdupq_n_s16(0);
    } else if (groups == 1) {
        for (; t < count; ++t, x += depth) {
            s0 = vaddq_s16(s0, vldrbq_s16(x));
        }
    } else if (groups == 2) {
        for (; t < count; ++t, x += depth) {
            s0 = vaddq_s16(s0, vldrbq_s16(x));
            s1 = vaddq_s16(s1, vldrbq_s16(x + 8));
        }
    } else if (groups == 3) {
        for (; t < count; ++t, x += depth) {
            s0 = vaddq_s16(s0, vldrbq_s16(x));
            s1 = vaddq_s16(s1, vldrbq_s16(x + 8));
            s2 = vaddq_s16(s2, vldrbq_s16(x + 16));
        }
    } else {
        for (; t < count; ++t, x += depth) {
            s0 = vaddq_s16(s0, vldrbq_s16(x));
            s1 = vaddq_s16(s1, vldrbq_s16(x + 8));
            s2 = vaddq_s16(s2, vldrbq_s16(x + 16));
            s3 = vaddq_s16(s3, vldrbq_s16(x + 24));
        }
    }
    vstrhq_s16(sums, s0);
    vstrhq_s16(sums + 8, s1);
    vstrhq_s16(sums + 16, s2);
    vstrhq_s16(sums + 24, s3);
}

kwsq_status kwsq_avg_pool_s8(const kwsq_pool_params *params, const kwsq_dims *input_dims,
                             const int8_t *input, const kwsq_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, depth = input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    int8_t *y = output;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * params->stride_h - params->pad_h;
            int32_t fy0, fy1;
            kwsq_window_clip(iy0, 1, params->filter_h, in_h, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * params->stride_w - params->pad_w;
                int32_t fx0, fx1;
                kwsq_window_clip(ix0, 1, params->filter_w, in_w, &fx0, &fx1);
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);
                if (count == 0) {
                    return KWSQ_ERR_EVAL;
                }
                const int8_t *x = input + (((int64_t)b * in_h + iy0 + fy0) * in_w + ix0 + fx0) * depth;
                if (fx1 - fx0 == in_w && count <= 255 && depth % 8 == 0) {
                    /* whole rows of a multiple of 8 channels: runs of taps,
                     * 32 channels per pass */
                    for (int32_t c0 = 0; c0 < depth; c0 += 32, y += 32) {
                        const int32_t n = depth - c0 < 32 ? depth - c0 : 32;
                        int16_t sums[32] __attribute__((aligned(16)));
                        run_sums(x + c0, count, depth, n / 8, sums);
                        narrow_out(sums, n, count, params->act_min, params->act_max, y);
                    }
                    y -= ((depth + 31) & ~31) - depth;
                    continue;
                }
                for (int32_t c0 = 0; c0 < depth; c0 += 16, x += 16, y += 16) {
                    const int32_t n = depth - c0 < 16 ? depth - c0 : 16;
                    int32_t sums[16] __attribute__((aligned(16)));
                    window_sums(x, in_w * depth, depth, fy1 - fy0, fx1 - fx0, n, count <= 255, sums);
                    if (count <= 255) {
                        narrow_out((const int16_t *)sums, n, count, params->act_min, params->act_max, y);
                        continue;
                    }
                    for (int32_t j = 0; j < n; ++j) {
                        const int32_t acc = sums[j];
                        const int32_t v = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                        y[j] = (int8_t)kwsq_clamp(v, params->act_min, params->act_max);
                    }
                }
                y -= ((depth + 15) & ~15) - depth;
            }
        }
    }
    return KWSQ_OK;
}
