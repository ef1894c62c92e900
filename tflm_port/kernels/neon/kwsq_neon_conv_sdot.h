/*
 * CONV_2D on AArch64 with `sdot` by element: the accumulator lanes are
 * output channels, so no horizontal sums are needed.
 *
 * The weights of a chunk of output channels are re-laid out once per call
 * (on the stack): for each block of 16 output channels and each quad of 4
 * input positions, four vectors whose byte 4i + j is the weight of channel
 * 4v + i at position 4q + j (zero past the row or the channel count). One
 * `sdot v.4s, w.16b, x.4b[q]` then adds four positions of one pixel into four
 * channels. Four pixels x 16 channels = 16 accumulators; per 16 input
 * positions: 4 input loads, 16 weight loads, 64 `sdot` for 1024 products.
 *
 * The patch of each pixel (kwsq_neon_patch) is read 16 bytes at a time up to
 * K rounded up to 16: bytes past K meet zero weights, so an im2col buffer's
 * tail needs no clearing, and an input pixel is read in place only when K is
 * a multiple of 16 (no read past the tensor).
 *
 * As in kwsq_neon_conv.h: the input offset folded into the bias (exact modulo
 * 2^32), requantization kwsq_neon_rq4, in place through a block buffer.
 */
#ifndef KWSQ_NEON_CONV_SDOT_H
#define KWSQ_NEON_CONV_SDOT_H

#include "kwsq_neon_conv.h"

#if KWSQ_NEON_SDOT

#define KWSQ_NEON_SDOT_WBUF 8192 /* re-laid-out weights per chunk */

/* wr for channels [0, n_oc) of rows `src` (K bytes each), K rounded to k16.
 * Whole blocks of 16 channels x 16 positions are 4 x 4 transposes of 32-bit
 * groups; the edges go byte by byte with zeros past the row or the channels. */
static void kwsq_neon_relayout(const int8_t *src, int32_t n_oc, int32_t k_len, int32_t k16, int8_t *wr)
{
    const int32_t nq = k16 / 4;
    const int32_t blocks = (n_oc + 15) / 16;
    for (int32_t bb = 0; bb < blocks; ++bb) {
        const bool full_block = 16 * bb + 16 <= n_oc;
        for (int32_t kk = 0; kk < k16; kk += 16) {
            if (full_block && kk + 16 <= k_len) {
                for (int32_t v = 0; v < 4; ++v) {
                    const int8_t *r = src + (int64_t)(16 * bb + 4 * v) * k_len + kk;
                    const int32x4_t r0 = vreinterpretq_s32_s8(vld1q_s8(r));
                    const int32x4_t r1 = vreinterpretq_s32_s8(vld1q_s8(r + k_len));
                    const int32x4_t r2 = vreinterpretq_s32_s8(vld1q_s8(r + 2 * k_len));
                    const int32x4_t r3 = vreinterpretq_s32_s8(vld1q_s8(r + 3 * k_len));
                    const int64x2_t t0 = vreinterpretq_s64_s32(vtrn1q_s32(r0, r1));
                    const int64x2_t t1 = vreinterpretq_s64_s32(vtrn2q_s32(r0, r1));
                    const int64x2_t t2 = vreinterpretq_s64_s32(vtrn1q_s32(r2, r3));
                    const int64x2_t t3 = vreinterpretq_s64_s32(vtrn2q_s32(r2, r3));
                    int8_t *d = wr + ((int64_t)bb * nq + kk / 4) * 64 + 16 * v;
                    vst1q_s8(d, vreinterpretq_s8_s64(vtrn1q_s64(t0, t2)));
                    vst1q_s8(d + 64, vreinterpretq_s8_s64(vtrn1q_s64(t1, t3)));
                    vst1q_s8(d + 128, vreinterpretq_s8_s64(vtrn2q_s64(t0, t2)));
                    vst1q_s8(d + 192, vreinterpretq_s8_s64(vtrn2q_s64(t1, t3)));
                }
                continue;
            }
            for (int32_t qd = kk / 4; qd < kk / 4 + 4; ++qd) {
                const int32_t k0 = 4 * qd;
                int8_t *dst = wr + ((int64_t)bb * nq + qd) * 64;
                for (int32_t r = 0; r < 16; ++r) {
                    const int32_t oc = 16 * bb + r;
                    int8_t *d = dst + 16 * (r / 4) + 4 * (r % 4);
                    for (int32_t j = 0; j < 4; ++j) {
                        d[j] = oc < n_oc && k0 + j < k_len ? src[(int64_t)oc * k_len + k0 + j] : 0;
                    }
                }
            }
        }
    }
}

#define KWSQ_SDOT_Q(qd)                                                                 \
    do {                                                                                \
        const int8x16_t w0 = vld1q_s8(wq + (qd) * 64), w1 = vld1q_s8(wq + (qd) * 64 + 16); \
        const int8x16_t w2 = vld1q_s8(wq + (qd) * 64 + 32), w3 = vld1q_s8(wq + (qd) * 64 + 48); \
        a00 = vdotq_laneq_s32(a00, w0, x0, qd);                                         \
        a01 = vdotq_laneq_s32(a01, w1, x0, qd);                                         \
        a02 = vdotq_laneq_s32(a02, w2, x0, qd);                                         \
        a03 = vdotq_laneq_s32(a03, w3, x0, qd);                                         \
        a10 = vdotq_laneq_s32(a10, w0, x1, qd);                                         \
        a11 = vdotq_laneq_s32(a11, w1, x1, qd);                                         \
        a12 = vdotq_laneq_s32(a12, w2, x1, qd);                                         \
        a13 = vdotq_laneq_s32(a13, w3, x1, qd);                                         \
        a20 = vdotq_laneq_s32(a20, w0, x2, qd);                                         \
        a21 = vdotq_laneq_s32(a21, w1, x2, qd);                                         \
        a22 = vdotq_laneq_s32(a22, w2, x2, qd);                                         \
        a23 = vdotq_laneq_s32(a23, w3, x2, qd);                                         \
        a30 = vdotq_laneq_s32(a30, w0, x3, qd);                                         \
        a31 = vdotq_laneq_s32(a31, w1, x3, qd);                                         \
        a32 = vdotq_laneq_s32(a32, w2, x3, qd);                                         \
        a33 = vdotq_laneq_s32(a33, w3, x3, qd);                                         \
    } while (0)

/* 16 channels of one pixel -> 16 bytes. */
KWSQ_NEON_INLINE int8x16_t kwsq_neon_rq16(int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3,
                                          const kwsq_neon_q4 *qb, kwsq_neon_out o, const bool left)
{
    const int8x8_t lo = kwsq_neon_finish8(kwsq_neon_rq4x(a0, qb[0], left), kwsq_neon_rq4x(a1, qb[1], left), o);
    const int8x8_t hi = kwsq_neon_finish8(kwsq_neon_rq4x(a2, qb[2], left), kwsq_neon_rq4x(a3, qb[3], left), o);
    return vcombine_s8(lo, hi);
}

/* Store n (<= 16) of the 16 result bytes. */
KWSQ_NEON_INLINE void kwsq_neon_store_n(int8_t *dst, int8x16_t v, int32_t n)
{
    if (n == 16) {
        vst1q_s8(dst, v);
        return;
    }
    int8_t tmp[16];
    vst1q_s8(tmp, v);
    memcpy(dst, tmp, (size_t)n);
}

/* Returns false when the case is not taken here (the caller goes on). */
static inline bool kwsq_neon_conv_sdot(bool s4, const kwsq_conv_params *p, const kwsq_quant_params *q,
                                       const kwsq_dims *in, const int8_t *x, const kwsq_dims *f,
                                       const uint8_t *w, const int32_t *b, const kwsq_dims *out, int8_t *y)
{
    const int32_t k_len = f->h * f->w * f->c;
    const int32_t k16 = (k_len + 15) & ~15;
    const int32_t out_c = out->c;
    int32_t chunk = (KWSQ_NEON_SDOT_WBUF / k16) & ~15;
    if (chunk > KWSQ_NEON_CONV_MAX_OC) {
        chunk = KWSQ_NEON_CONV_MAX_OC;
    }
    if (f->c != in->c || k16 > KWSQ_NEON_CONV_MAX_K || chunk < 16 || (p->in_place && chunk < out_c) ||
        (s4 && (int64_t)(chunk < out_c ? chunk : out_c) * k_len > KWSQ_NEON_CONV_WBUF)) {
        return false;
    }
    int8_t patches[4][KWSQ_NEON_CONV_MAX_K];
    int32_t bias_eff[KWSQ_NEON_CONV_MAX_OC + 16];
    kwsq_neon_q4 quant[KWSQ_NEON_CONV_MAX_OC / 4 + 4];
    int8_t tmp[4 * KWSQ_NEON_CONV_MAX_OC]; /* in place: a block's outputs, then copied */
    int8_t wbuf[KWSQ_NEON_CONV_WBUF];       /* INT4 only: the chunk unpacked */
    int8_t wr[KWSQ_NEON_SDOT_WBUF];
    const int32_t off = p->input_offset;
    const int8_t pad_value = (int8_t)(-off);
    const int32_t pixels = out->h * out->w;
    const int32_t nq = k16 / 4;
    const bool direct_ok = k_len == k16;
    const bool any_left = kwsq_neon_any_left(q, out_c);
    const kwsq_neon_out o = kwsq_neon_out_params(p->output_offset, p->act_min, p->act_max);

    for (int32_t oc0 = 0; oc0 < out_c; oc0 += chunk) {
        const int32_t n_oc = out_c - oc0 < chunk ? out_c - oc0 : chunk;
        const int32_t blocks = (n_oc + 15) / 16;
        const int8_t *wc;
        if (s4) {
            kwsq_neon_unpack_s4(w, (int64_t)oc0 * k_len, n_oc * k_len, wbuf);
            wc = wbuf;
        } else {
            wc = (const int8_t *)w + (int64_t)oc0 * k_len;
        }
        kwsq_neon_relayout(wc, n_oc, k_len, k16, wr);
        for (int32_t j = 0; j < blocks * 16; ++j) {
            bias_eff[j] = j < n_oc ? (b != NULL ? b[oc0 + j] : 0) +
                                         off * kwsq_neon_sum_s8(wc + (int64_t)j * k_len, k_len)
                                   : 0;
        }
        for (int32_t j = 0; j < blocks * 16; j += 4) {
            quant[j / 4] = j + 4 <= n_oc ? kwsq_neon_quant4(q, oc0 + j) : kwsq_neon_quant4_tail(q, oc0 + j, n_oc - j);
        }
        for (int32_t bt = 0; bt < in->n; ++bt) {
            const int8_t *xb = x + (int64_t)bt * in->h * in->w * in->c;
            int8_t *yb = y + (int64_t)bt * pixels * out_c;
            for (int32_t px = 0; px < pixels; px += 4) {
                const int32_t n_px = pixels - px < 4 ? pixels - px : 4;
                const int8_t *xs[4];
                int8_t *ys[4];
                for (int32_t i = 0; i < 4; ++i) {
                    const int32_t pi = px + (i < n_px ? i : n_px - 1);
                    const int8_t *pp = kwsq_neon_patch(p, in, xb, f, pi, out->w, pad_value, patches[i]);
                    if (pp != patches[i] && !direct_ok) {
                        kwsq_neon_copy(patches[i], pp, (size_t)k_len);
                        pp = patches[i];
                    }
                    xs[i] = pp;
                    ys[i] = p->in_place ? tmp + (int64_t)i * out_c : yb + (int64_t)pi * out_c + oc0;
                }
                for (int32_t bb = 0; bb < blocks; ++bb) {
                    const int32_t c = 16 * bb;
                    const int32x4_t b0 = vld1q_s32(bias_eff + c), b1 = vld1q_s32(bias_eff + c + 4);
                    const int32x4_t b2 = vld1q_s32(bias_eff + c + 8), b3 = vld1q_s32(bias_eff + c + 12);
                    int32x4_t a00 = b0, a01 = b1, a02 = b2, a03 = b3;
                    int32x4_t a10 = b0, a11 = b1, a12 = b2, a13 = b3;
                    int32x4_t a20 = b0, a21 = b1, a22 = b2, a23 = b3;
                    int32x4_t a30 = b0, a31 = b1, a32 = b2, a33 = b3;
                    const int8_t *wq = wr + (int64_t)bb * nq * 64;
                    for (int32_t kk = 0; kk < k16; kk += 16, wq += 256) {
                        const int8x16_t x0 = vld1q_s8(xs[0] + kk), x1 = vld1q_s8(xs[1] + kk);
                        const int8x16_t x2 = vld1q_s8(xs[2] + kk), x3 = vld1q_s8(xs[3] + kk);
                        KWSQ_SDOT_Q(0);
                        KWSQ_SDOT_Q(1);
                        KWSQ_SDOT_Q(2);
                        KWSQ_SDOT_Q(3);
                    }
                    const int32_t n_c = n_oc - c < 16 ? n_oc - c : 16;
                    const kwsq_neon_q4 *qb = quant + c / 4;
                    /* Last pixel first: a short block repeats it, each pixel is stored once. */
#define KWSQ_SDOT_STORE(left)                                                                      \
    do {                                                                                           \
        if (n_px > 3) {                                                                            \
            kwsq_neon_store_n(ys[3] + c, kwsq_neon_rq16(a30, a31, a32, a33, qb, o, left), n_c);    \
        }                                                                                          \
        if (n_px > 2) {                                                                            \
            kwsq_neon_store_n(ys[2] + c, kwsq_neon_rq16(a20, a21, a22, a23, qb, o, left), n_c);    \
        }                                                                                          \
        if (n_px > 1) {                                                                            \
            kwsq_neon_store_n(ys[1] + c, kwsq_neon_rq16(a10, a11, a12, a13, qb, o, left), n_c);    \
        }                                                                                          \
        kwsq_neon_store_n(ys[0] + c, kwsq_neon_rq16(a00, a01, a02, a03, qb, o, left), n_c);        \
    } while (0)
                    if (any_left) {
                        KWSQ_SDOT_STORE(true);
                    } else {
                        KWSQ_SDOT_STORE(false);
                    }
#undef KWSQ_SDOT_STORE
                }
                if (p->in_place) {
                    /* Every pixel of the block is read: the outputs may overwrite them. */
                    memcpy(yb + (int64_t)px * out_c, tmp, (size_t)n_px * (size_t)out_c);
                }
            }
        }
    }
    return true;
}

#endif /* KWSQ_NEON_SDOT */

#endif /* KWSQ_NEON_CONV_SDOT_H */
