/*
 * CONV_2D with NEON, shared by kwsq_conv_s8.c and kwsq_conv_s4.c (each
 * instantiates it with a constant weight format).
 *
 * The input offset is folded out of the inner loop: for every output
 * channel, sum over the window of w * (x + off) = dot(w, patch) + off * sum(w),
 * where the patch holds the window's input bytes and, at padded taps, the
 * input zero point (-off), whose term is w * 0 like a skipped tap in the
 * reference. So the inner loop is a plain int8 dot product (kwsq_dot16) of a
 * weight row with a patch; int32 sums wrap identically in any order, so the
 * result equals the reference modulo 2^32, hence bit for bit.
 *
 * Patches: a 1x1 filter reads the input pixel in place; any other filter
 * gathers its window into a stack buffer (im2col, one pixel at a time). Four
 * output pixels (two on ARMv7-A) times four output channels are computed per
 * block, so every weight load serves several pixels.
 *
 * When the layer's accum_bound proves 16 bits enough and there is no `sdot`,
 * the block multiplies into int16 lanes (kwsq_mla16, half the instructions
 * of the widening kwsq_dot16); padded taps read the zero point, whose
 * products the bound covers (it holds for any int8 input).
 *
 * Packed INT4 weights are unpacked, a chunk of output channels at a time,
 * into a bounded stack buffer (never into the arena) and then used by every
 * output pixel, so INT4 costs one unpack per weight per call.
 *
 * Cases this path does not take (grouped convolution, windows or channel
 * chunks larger than the stack buffers, in place with more than
 * KWSQ_NEON_CONV_MAX_OC channels) run the reference loop.
 */
#ifndef KWSQ_NEON_CONV_H
#define KWSQ_NEON_CONV_H

#include "kwsq_conv_ref.h"
#include "kwsq_neon.h"

#define KWSQ_NEON_CONV_MAX_K 2048       /* bytes of one im2col patch */
#define KWSQ_NEON_CONV_MAX_OC 256       /* output channels per chunk */
#define KWSQ_NEON_CONV_WBUF 8192        /* unpacked INT4 weights per chunk */
/* Output pixels per block: 4 x 4 accumulators fit AArch64's 32 vector
 * registers, ARMv7-A's 16 take 2 x 4. */
#if defined(__aarch64__)
#define KWSQ_NEON_CONV_PX 4
#else
#define KWSQ_NEON_CONV_PX 2
#endif

static inline int32_t kwsq_neon_sum_s8(const int8_t *w, int32_t n)
{
    int32x4_t acc = vdupq_n_s32(0);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc = vpadalq_s16(acc, vpaddlq_s8(vld1q_s8(w + i)));
    }
    int32_t s = kwsq_hsum(acc);
    for (; i < n; ++i) {
        s += w[i];
    }
    return s;
}

/* The first 8 bytes at p, upper half zero (tails of 8..15 bytes). */
KWSQ_NEON_INLINE int8x16_t kwsq_neon_low8(const int8_t *p)
{
    return vcombine_s8(vld1_s8(p), vdup_n_s8(0));
}

/* Four weight rows w, w + K, w + 2K, w + 3K (output channels) times the
 * patches x[0 .. KWSQ_NEON_CONV_PX): sums[p] = {dot0, dot1, dot2, dot3}.
 * ACC: the multiply-accumulates in int16 lanes (kwsq_mla16: the layer's
 * accum_bound fits 16 bits) or int32 (kwsq_dot16). */
#define KWSQ_NEON_DOT_BLOCK(NAME, ACC_T, ZERO, MAC, WIDEN)                                             \
    KWSQ_NEON_INLINE void NAME(const int8_t *w, int32_t k_len, const int8_t *const *x, int32x4_t *sums) \
    {                                                                                                  \
        const int8_t *w0 = w, *w1 = w + k_len, *w2 = w + 2 * k_len, *w3 = w + 3 * k_len;               \
        ACC_T acc[KWSQ_NEON_CONV_PX][4];                                                               \
        _Pragma("GCC unroll 4") for (int p = 0; p < KWSQ_NEON_CONV_PX; ++p)                            \
        {                                                                                              \
            acc[p][0] = acc[p][1] = acc[p][2] = acc[p][3] = ZERO;                                      \
        }                                                                                              \
        int32_t k = 0;                                                                                 \
        for (; k + 16 <= k_len; k += 16) {                                                             \
            const int8x16_t r0 = vld1q_s8(w0 + k), r1 = vld1q_s8(w1 + k);                              \
            const int8x16_t r2 = vld1q_s8(w2 + k), r3 = vld1q_s8(w3 + k);                              \
            _Pragma("GCC unroll 4") for (int p = 0; p < KWSQ_NEON_CONV_PX; ++p)                        \
            {                                                                                          \
                const int8x16_t xv = vld1q_s8(x[p] + k);                                               \
                acc[p][0] = MAC(acc[p][0], r0, xv);                                                    \
                acc[p][1] = MAC(acc[p][1], r1, xv);                                                    \
                acc[p][2] = MAC(acc[p][2], r2, xv);                                                    \
                acc[p][3] = MAC(acc[p][3], r3, xv);                                                    \
            }                                                                                          \
        }                                                                                              \
        if (k + 8 <= k_len) {                                                                          \
            const int8x16_t r0 = kwsq_neon_low8(w0 + k), r1 = kwsq_neon_low8(w1 + k);                  \
            const int8x16_t r2 = kwsq_neon_low8(w2 + k), r3 = kwsq_neon_low8(w3 + k);                  \
            _Pragma("GCC unroll 4") for (int p = 0; p < KWSQ_NEON_CONV_PX; ++p)                        \
            {                                                                                          \
                const int8x16_t xv = kwsq_neon_low8(x[p] + k);                                         \
                acc[p][0] = MAC(acc[p][0], r0, xv);                                                    \
                acc[p][1] = MAC(acc[p][1], r1, xv);                                                    \
                acc[p][2] = MAC(acc[p][2], r2, xv);                                                    \
                acc[p][3] = MAC(acc[p][3], r3, xv);                                                    \
            }                                                                                          \
            k += 8;                                                                                    \
        }                                                                                              \
        _Pragma("GCC unroll 4") for (int p = 0; p < KWSQ_NEON_CONV_PX; ++p)                            \
        {                                                                                              \
            sums[p] = kwsq_hsum4(WIDEN(acc[p][0]), WIDEN(acc[p][1]), WIDEN(acc[p][2]), WIDEN(acc[p][3])); \
        }                                                                                              \
        for (; k < k_len; ++k) {                                                                       \
            const int32_t v0 = w0[k], v1 = w1[k], v2 = w2[k], v3 = w3[k];                              \
            for (int p = 0; p < KWSQ_NEON_CONV_PX; ++p) {                                              \
                const int32_t xv = x[p][k];                                                            \
                const int32_t t[4] = {v0 * xv, v1 * xv, v2 * xv, v3 * xv};                             \
                sums[p] = vaddq_s32(sums[p], vld1q_s32(t));                                            \
            }                                                                                          \
        }                                                                                              \
    }

KWSQ_NEON_DOT_BLOCK(kwsq_neon_dot_block, int32x4_t, vdupq_n_s32(0), kwsq_dot16, KWSQ_NEON_ID32)
KWSQ_NEON_DOT_BLOCK(kwsq_neon_dot_block16, int16x8_t, vdupq_n_s16(0), kwsq_mla16, kwsq_widen16)

/* Requantize and store a block: four channels (at j) of n_px <= PX pixels. */
KWSQ_NEON_INLINE void kwsq_neon_conv_store(const int32x4_t *s, int32x4_t be, kwsq_neon_q4 qq, kwsq_neon_out o,
                                           int8_t *const *ys, int32_t j, int32_t n_px)
{
    if (n_px == KWSQ_NEON_CONV_PX) {
        const int8x8_t f01 = kwsq_neon_finish8(kwsq_neon_rq4(vaddq_s32(s[0], be), qq),
                                               kwsq_neon_rq4(vaddq_s32(s[1], be), qq), o);
        vst1_lane_s32((int32_t *)(void *)(ys[0] + j), vreinterpret_s32_s8(f01), 0);
        vst1_lane_s32((int32_t *)(void *)(ys[1] + j), vreinterpret_s32_s8(f01), 1);
#if KWSQ_NEON_CONV_PX == 4
        const int8x8_t f23 = kwsq_neon_finish8(kwsq_neon_rq4(vaddq_s32(s[2], be), qq),
                                               kwsq_neon_rq4(vaddq_s32(s[3], be), qq), o);
        vst1_lane_s32((int32_t *)(void *)(ys[2] + j), vreinterpret_s32_s8(f23), 0);
        vst1_lane_s32((int32_t *)(void *)(ys[3] + j), vreinterpret_s32_s8(f23), 1);
#endif
        return;
    }
    for (int32_t i = 0; i < n_px; ++i) {
        kwsq_neon_store4(ys[i] + j, kwsq_neon_rq4(vaddq_s32(s[i], be), qq), o);
    }
}

/* Copy n bytes (small n is common: one filter row of a thin input). */
KWSQ_NEON_INLINE void kwsq_neon_copy(int8_t *dst, const int8_t *src, size_t n)
{
    for (; n >= 16; n -= 16, src += 16, dst += 16) {
        vst1q_s8(dst, vld1q_s8(src));
    }
    if (n >= 8) {
        vst1_s8(dst, vld1_s8(src));
        n -= 8, src += 8, dst += 8;
    }
    if (n >= 4) {
        memcpy(dst, src, 4);
        n -= 4, src += 4, dst += 4;
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

/* Set n bytes to v. */
KWSQ_NEON_INLINE void kwsq_neon_fill(int8_t *dst, int8_t v, size_t n)
{
    const int8x16_t vv = vdupq_n_s8(v);
    for (; n >= 16; n -= 16, dst += 16) {
        vst1q_s8(dst, vv);
    }
    if (n >= 8) {
        vst1_s8(dst, vget_low_s8(vv));
        n -= 8, dst += 8;
    }
    for (; n > 0; --n) {
        *dst++ = v;
    }
}

/* The window of output pixel `px` (row-major over the output plane) as K
 * contiguous bytes: the input pixel itself for an in-bounds 1x1 filter,
 * else gathered into buf with the input zero point at padded taps. */
KWSQ_NEON_INLINE const int8_t *kwsq_neon_patch(const kwsq_conv_params *p, const kwsq_dims *in,
                                            const int8_t *x_batch, const kwsq_dims *f, int32_t px,
                                            int32_t out_w, int8_t pad_value, int8_t *buf)
{
    const int32_t oy = px / out_w, ox = px % out_w;
    const int32_t in_h = in->h, in_w = in->w, in_c = in->c;
    const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
    if (f->h == 1 && f->w == 1 && iy0 >= 0 && iy0 < in_h && ix0 >= 0 && ix0 < in_w) {
        return x_batch + ((int64_t)iy0 * in_w + ix0) * in_c;
    }
    int8_t *dst = buf;
    const size_t row_bytes = (size_t)f->w * (size_t)in_c;
    const int32_t last = ix0 + p->dilation_w * (f->w - 1);
    const bool row_inside = p->dilation_w == 1 && ix0 >= 0 && last < in_w;
    for (int32_t fy = 0; fy < f->h; ++fy) {
        const int32_t iy = iy0 + p->dilation_h * fy;
        if (iy < 0 || iy >= in_h) {
            kwsq_neon_fill(dst, pad_value, row_bytes);
            dst += row_bytes;
            continue;
        }
        const int8_t *xrow = x_batch + (int64_t)iy * in_w * in_c;
        if (row_inside) {
            kwsq_neon_copy(dst, xrow + (int64_t)ix0 * in_c, row_bytes);
            dst += row_bytes;
            continue;
        }
        if (p->dilation_w == 1) {
            /* Padding, then the columns that exist in one span. */
            int32_t fx0, fx1;
            kwsq_window_clip(ix0, 1, f->w, in_w, &fx0, &fx1);
            kwsq_neon_fill(dst, pad_value, row_bytes);
            if (fx1 > fx0) {
                kwsq_neon_copy(dst + (size_t)fx0 * in_c, xrow + (int64_t)(ix0 + fx0) * in_c,
                               (size_t)(fx1 - fx0) * in_c);
            }
            dst += row_bytes;
            continue;
        }
        for (int32_t fx = 0; fx < f->w; ++fx) {
            const int32_t ix = ix0 + p->dilation_w * fx;
            if (ix < 0 || ix >= in_w) {
                kwsq_neon_fill(dst, pad_value, (size_t)in_c);
            } else {
                kwsq_neon_copy(dst, xrow + (int64_t)ix * in_c, (size_t)in_c);
            }
            dst += in_c;
        }
    }
    return buf;
}

/* The conv with the accumulator width fixed, so each width is compiled
 * into its own loop nest (a test inside the pixel loop costs the 32-bit
 * path registers). */
KWSQ_NEON_INLINE kwsq_status kwsq_neon_conv_body(bool s4, const kwsq_context *ctx, const kwsq_conv_params *p,
                                                 const kwsq_quant_params *q, const kwsq_dims *in,
                                                 const int8_t *x, const kwsq_dims *f, const uint8_t *w,
                                                 const int32_t *b, const kwsq_dims *out, int8_t *y,
                                                 const bool acc16)
{
    enum { PX = KWSQ_NEON_CONV_PX };
    const int32_t k_len = f->h * f->w * f->c;
    const int32_t out_c = out->c;
    /* Chunk of output channels: all of them unless INT4 unpacking needs more
     * stack than KWSQ_NEON_CONV_WBUF (then a multiple of four). */
    int32_t chunk = out_c < KWSQ_NEON_CONV_MAX_OC ? out_c : KWSQ_NEON_CONV_MAX_OC;
    if (s4 && (int64_t)chunk * k_len > KWSQ_NEON_CONV_WBUF) {
        chunk = (KWSQ_NEON_CONV_WBUF / k_len) & ~3;
    }
    if (f->c != in->c || k_len > KWSQ_NEON_CONV_MAX_K || chunk < 4 ||
        (p->in_place && chunk < out_c)) {
        return kwsq_ref_conv(s4, ctx, p, q, in, x, f, w, b, out, y);
    }
    int8_t patches[PX][KWSQ_NEON_CONV_MAX_K];
    int32_t bias_eff[KWSQ_NEON_CONV_MAX_OC];
    kwsq_neon_q4 quant[KWSQ_NEON_CONV_MAX_OC / 4];
    int8_t tmp[PX * KWSQ_NEON_CONV_MAX_OC]; /* in place: a block's outputs, then copied */
    int8_t wbuf[KWSQ_NEON_CONV_WBUF];       /* INT4 only; the s8 path never touches it */
    const int32_t off = p->input_offset;
    const int8_t pad_value = (int8_t)(-off);
    const int32_t pixels = out->h * out->w;
    const kwsq_neon_out o = kwsq_neon_out_params(p->output_offset, p->act_min, p->act_max);

    for (int32_t oc0 = 0; oc0 < out_c; oc0 += chunk) {
        const int32_t n_oc = out_c - oc0 < chunk ? out_c - oc0 : chunk;
        const int32_t n_oc4 = n_oc & ~3;
        const int8_t *wc;
        if (s4) {
            kwsq_neon_unpack_s4(w, (int64_t)oc0 * k_len, n_oc * k_len, wbuf);
            wc = wbuf;
        } else {
            wc = (const int8_t *)w + (int64_t)oc0 * k_len;
        }
        for (int32_t j = 0; j < n_oc; ++j) {
            bias_eff[j] = (b != NULL ? b[oc0 + j] : 0) + off * kwsq_neon_sum_s8(wc + (int64_t)j * k_len, k_len);
        }
        for (int32_t j = 0; j < n_oc4; j += 4) {
            quant[j / 4] = kwsq_neon_quant4(q, oc0 + j);
        }
        for (int32_t bt = 0; bt < in->n; ++bt) {
            const int8_t *xb = x + (int64_t)bt * in->h * in->w * in->c;
            int8_t *yb = y + (int64_t)bt * pixels * out_c;
            for (int32_t px = 0; px < pixels; px += PX) {
                /* The last block repeats its last pixel; each pixel is stored once. */
                const int8_t *xs[PX];
                int8_t *ys[PX];
                int32_t n_px = pixels - px < PX ? pixels - px : PX;
                for (int32_t i = 0; i < PX; ++i) {
                    const int32_t pi = px + (i < n_px ? i : n_px - 1);
                    xs[i] = kwsq_neon_patch(p, in, xb, f, pi, out->w, pad_value, patches[i]);
                    ys[i] = p->in_place ? tmp + (int64_t)i * out_c : yb + (int64_t)pi * out_c + oc0;
                }
                for (int32_t j = 0; j < n_oc4; j += 4) {
                    int32x4_t s[PX];
                    if (acc16) {
                        kwsq_neon_dot_block16(wc + (int64_t)j * k_len, k_len, xs, s);
                    } else {
                        kwsq_neon_dot_block(wc + (int64_t)j * k_len, k_len, xs, s);
                    }
                    kwsq_neon_conv_store(s, vld1q_s32(bias_eff + j), quant[j / 4], o, ys, j, n_px);
                }
                for (int32_t j = n_oc4; j < n_oc; ++j) {
                    const int8_t *row = wc + (int64_t)j * k_len;
                    for (int32_t i = 0; i < n_px; ++i) {
                        ys[i][j] = kwsq_neon_out1(kwsq_neon_dot(row, xs[i], k_len) + bias_eff[j], q, oc0 + j,
                                                  p->output_offset, p->act_min, p->act_max);
                    }
                }
                if (p->in_place) {
                    /* Every pixel of the block is read: the outputs may overwrite them. */
                    memcpy(yb + (int64_t)px * out_c, tmp, (size_t)n_px * (size_t)out_c);
                }
            }
        }
    }
    return KWSQ_OK;
}

#define KWSQ_NEON_CONV_ARGS                                                                            \
    bool s4, const kwsq_context *ctx, const kwsq_conv_params *p, const kwsq_quant_params *q,             \
        const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const uint8_t *w, const int32_t *b,    \
        const kwsq_dims *out, int8_t *y

/* One function per width, each with its own inlining budget. */
static __attribute__((noinline)) kwsq_status kwsq_neon_conv32(KWSQ_NEON_CONV_ARGS)
{
    return kwsq_neon_conv_body(s4, ctx, p, q, in, x, f, w, b, out, y, false);
}

#if !KWSQ_NEON_SDOT
static __attribute__((noinline)) kwsq_status kwsq_neon_conv16(KWSQ_NEON_CONV_ARGS)
{
    return kwsq_neon_conv_body(s4, ctx, p, q, in, x, f, w, b, out, y, true);
}
#endif

static inline kwsq_status kwsq_neon_conv(KWSQ_NEON_CONV_ARGS)
{
#if !KWSQ_NEON_SDOT
    /* INT4 weights bound every product by 8 * 128 = 1024: a window of at most 255
     * values puts at most 31 products in an int16 lane (15 blocks of 2, the 8-tail's
     * 1; the scalar tail is added in int32), whatever the layer's bound. */
    if (KWSQ_NEON_ACC16(p->accum_bound) || (s4 && KWSQ_ACCUM16_OK(1) && f->h * f->w * f->c <= 255)) {
        return kwsq_neon_conv16(s4, ctx, p, q, in, x, f, w, b, out, y);
    }
#endif
    return kwsq_neon_conv32(s4, ctx, p, q, in, x, f, w, b, out, y);
}

#endif /* KWSQ_NEON_CONV_H */
