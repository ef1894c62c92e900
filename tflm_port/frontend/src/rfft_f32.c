/* Real FFT, float: an n/2-point complex FFT of the even/odd samples packed
 * as complex numbers, then the split that separates their spectra.
 *
 * The complex FFT is radix 4, decimation in time, on input in bit-reversed
 * order (the float front-end writes its windowed frame there directly, so
 * it needs no permutation pass): three complex multiplications per four
 * points instead of four for two radix-2 stages. With bit-reversed rather
 * than base-4-digit-reversed input, the second and third quarter of each
 * block hold the odd-index half's even and odd parts swapped; the butterfly
 * reads them in that order. An odd number of radix-2 stages leaves one
 * radix-2 pass, done first. */
#include "fe_internal.h"

/* The twiddle-free first pass: radix 4 (q = 1), or radix 2 when log2(m) is
 * odd. Returns the block size reached. */
static int32_t first_pass(float *z, int32_t m, int32_t log2m)
{
    if (log2m & 1) {
        for (int32_t i = 0; i < m; i += 2) {
            float *a = z + 2 * i;
            const float r = a[0], im = a[1];
            a[0] = r + a[2];
            a[1] = im + a[3];
            a[2] = r - a[2];
            a[3] = im - a[3];
        }
        return 2;
    }
    for (int32_t i = 0; i < m; i += 4) {
        float *a = z + 2 * i;
        /* bit-reversed: a[0] x0, a[1] x2, a[2] x1, a[3] x3 of the 4-point DFT */
        const float s0r = a[0] + a[2], s0i = a[1] + a[3];
        const float d0r = a[0] - a[2], d0i = a[1] - a[3];
        const float s1r = a[4] + a[6], s1i = a[5] + a[7];
        const float d1r = a[4] - a[6], d1i = a[5] - a[7];
        a[0] = s0r + s1r;
        a[1] = s0i + s1i;
        a[4] = s0r - s1r;
        a[5] = s0i - s1i;
        /* d1 times -i: (d1i, -d1r) */
        a[2] = d0r + d1i;
        a[3] = d0i - d1r;
        a[6] = d0r - d1i;
        a[7] = d0i + d1r;
    }
    return 4;
}

#if defined(__GNUC__)
#define FE_INLINE static inline __attribute__((always_inline))
#else
#define FE_INLINE static inline
#endif

/* One radix-4 butterfly: p0 points at element k of a block of 4q points,
 * which become 4q points of the next stage. Within a block, quarter 0 is the
 * DFT of the even-even part, quarter 1 of the odd-even (index 2 mod 4),
 * quarter 2 of the even-odd (1 mod 4), quarter 3 of 3 mod 4:
 * X[k + r q] = sum_s W_4q^(s k) W_4^(s r) Y_s[k]. w = the twiddles
 * W_4q^k, W_4q^2k, W_4q^3k as (re, im) pairs. */
FE_INLINE void radix4_butterfly(float *p0, int32_t q, const float *w)
{
    const float w1r = w[0], w1i = w[1], w2r = w[2], w2i = w[3], w3r = w[4], w3i = w[5];
    float *p2 = p0 + 2 * q; /* quarter 1: Y_2 in, X[k + q] out */
    float *p1 = p2 + 2 * q; /* quarter 2: Y_1 in, X[k + 2q] out */
    float *p3 = p1 + 2 * q;
    const float y0r = p0[0], y0i = p0[1];
    const float a1r = p1[0], a1i = p1[1];
    const float a2r = p2[0], a2i = p2[1];
    const float a3r = p3[0], a3i = p3[1];
    const float y1r = KWSQ_FE_MADD(a1r, w1r, -a1i * w1i), y1i = KWSQ_FE_MADD(a1r, w1i, a1i * w1r);
    const float y2r = KWSQ_FE_MADD(a2r, w2r, -a2i * w2i), y2i = KWSQ_FE_MADD(a2r, w2i, a2i * w2r);
    const float y3r = KWSQ_FE_MADD(a3r, w3r, -a3i * w3i), y3i = KWSQ_FE_MADD(a3r, w3i, a3i * w3r);
    const float s02r = y0r + y2r, s02i = y0i + y2i;
    const float d02r = y0r - y2r, d02i = y0i - y2i;
    const float s13r = y1r + y3r, s13i = y1i + y3i;
    const float d13r = y1r - y3r, d13i = y1i - y3i;
    /* X[k] = s02 + s13, X[k + 2q] = s02 - s13,
     * X[k + q] = d02 - i d13, X[k + 3q] = d02 + i d13 */
    p0[0] = s02r + s13r;
    p0[1] = s02i + s13i;
    p1[0] = s02r - s13r;
    p1[1] = s02i - s13i;
    p2[0] = d02r + d13i;
    p2[1] = d02i - d13r;
    p3[0] = d02r - d13i;
    p3[1] = d02i + d13r;
}

/* The radix-4 passes with the twiddles taken from the quarter-wave table. */
static void radix4_passes_cos(float *z, int32_t m, int32_t n, const float *cos_tab, int32_t q)
{
    for (; q < m; q <<= 2) {
        const int32_t step = n / (4 * q); /* W_4q^j = W_n^(j step) */
        for (int32_t j = 0; j < q; j++) {
            float w[6];
            for (int32_t s = 0; s < 3; s++) {
                float c, si;
                kwsq_fe__twiddle_f32(cos_tab, n, (s + 1) * j * step, &c, &si);
                w[2 * s] = c;
                w[2 * s + 1] = -si; /* W = exp(-2 pi i k / n) */
            }
            for (int32_t i = j; i < m; i += 4 * q) {
                radix4_butterfly(z + 2 * i, q, w);
            }
        }
    }
}

/* The same with the twiddles of every pass in one table, in the order they
 * are used (frontend.h's twiddle_f32): blocks outside, k inside, so the
 * twiddles are read in sequence and nothing is computed per column. */
static void radix4_passes_table(float *z, int32_t m, const float *tw, int32_t q)
{
    for (; q < m; tw += 6 * q, q <<= 2) {
        for (float *block = z; block < z + 2 * m; block += 8 * q) {
            const float *w = tw;
            float *p0 = block;
            for (int32_t k = 0; k < q; k++, w += 6, p0 += 2) {
                radix4_butterfly(p0, q, w);
            }
        }
    }
}

void kwsq_fe__cfft_bitrev_f32(float *z, int32_t m, int32_t n, const float *cos_tab,
                              const float *twiddles)
{
    if (m < 2) {
        return;
    }
    const int32_t q = first_pass(z, m, kwsq_fe__floor_log2_u64((uint64_t)m));
    if (twiddles != NULL) {
        radix4_passes_table(z, m, twiddles, q);
    } else {
        radix4_passes_cos(z, m, n, cos_tab, q);
    }
}

void kwsq_fe__rfft_split_f32(float *buf, int32_t n, const float *cos_tab)
{
    const int32_t m = n >> 1;
    const float z0r = buf[0], z0i = buf[1];
    buf[0] = 2.0f * (z0r + z0i);
    buf[1] = 2.0f * (z0r - z0i);
    for (int32_t k = 1; k <= m / 2; k++) {
        float *zk = buf + 2 * k;
        float *zm = buf + 2 * (m - k);
        /* 2E = Z[k] + conj Z[m-k], 2O = -i (Z[k] - conj Z[m-k]); the factor 2
         * is exact, so leaving it in changes no bit of the result but the
         * exponent */
        const float er = zk[0] + zm[0];
        const float ei = zk[1] - zm[1];
        const float or_ = zk[1] + zm[1];
        const float oi = zm[0] - zk[0];
        /* k <= n / 4: the first quadrant of the table */
        const float wr = cos_tab[k];
        const float wi = -cos_tab[n / 4 - k];
        const float tr = KWSQ_FE_MADD(wr, or_, -wi * oi);
        const float ti = KWSQ_FE_MADD(wr, oi, wi * or_);
        /* 2X[k] = 2E + W^k 2O, 2X[m-k] = conj(2E - W^k 2O) */
        zk[0] = er + tr;
        zk[1] = ei + ti;
        zm[0] = er - tr;
        zm[1] = ti - ei;
    }
}

void kwsq_fe_rfft_f32(float *buf, int32_t n, const float *cos_tab)
{
    const int32_t m = n >> 1;
    const int32_t bits = kwsq_fe__floor_log2_u64((uint64_t)m);
    for (int32_t i = 1; bits > 0 && i < m; i++) {
        const int32_t j = (int32_t)kwsq_fe__bit_reverse((uint32_t)i, bits);
        if (j > i) {
            const float re = buf[2 * i], im = buf[2 * i + 1];
            buf[2 * i] = buf[2 * j];
            buf[2 * i + 1] = buf[2 * j + 1];
            buf[2 * j] = re;
            buf[2 * j + 1] = im;
        }
    }
    kwsq_fe__cfft_bitrev_f32(buf, m, n, cos_tab, NULL);
    kwsq_fe__rfft_split_f32(buf, n, cos_tab);
    for (int32_t i = 0; i < n; i++) {
        buf[i] *= 0.5f;
    }
}
