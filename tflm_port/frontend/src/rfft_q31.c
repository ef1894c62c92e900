/* Real FFT, fixed point: the float algorithm on int32 data with Q31
 * twiddles and 64-bit products. No scaling between stages: an input with
 * sum |x| <= 2^28 keeps every partial DFT (and 2 * X) below 2^30. */
#include "fe_internal.h"

static inline int32_t mul_q31(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * b + (1ll << 30)) >> 31);
}

/* In place, radix 2, decimation in time. The first two stages need no
 * multiplications (twiddles 1 and -i), nor does the first butterfly column of
 * the others. */
static void complex_fft_q31(int32_t *z, int32_t m, int32_t n, const int32_t *cos_tab)
{
    /* Bit-reversed order, the reversed index kept incrementally. */
    for (int32_t i = 0, j = 0; i < m; i++) {
        if (j > i) {
            const int32_t re = z[2 * i], im = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = re;
            z[2 * j + 1] = im;
        }
        int32_t bit = m >> 1;
        while (bit > 0 && (j & bit)) {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
    }
    /* Stages of length 2 and 4 together: one radix-4 butterfly per 4 values. */
    for (int32_t i = 0; i + 3 < m; i += 4) {
        int32_t *a = z + 2 * i;
        const int32_t s0r = a[0] + a[2], s0i = a[1] + a[3];
        const int32_t d0r = a[0] - a[2], d0i = a[1] - a[3];
        const int32_t s1r = a[4] + a[6], s1i = a[5] + a[7];
        const int32_t d1r = a[4] - a[6], d1i = a[5] - a[7];
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
    if (m == 2) {
        const int32_t r = z[0], im = z[1];
        z[0] = r + z[2];
        z[1] = im + z[3];
        z[2] = r - z[2];
        z[3] = im - z[3];
        return;
    }
    for (int32_t len = 8; len <= m; len <<= 1) {
        const int32_t half = len >> 1;
        const int32_t step = n / len; /* W_len^j = W_n^(j * step) */
        for (int32_t i = 0; i < m; i += len) {
            int32_t *a = z + 2 * i;
            int32_t *b = z + 2 * (i + half);
            const int32_t ar = a[0], ai = a[1], br = b[0], bi = b[1];
            a[0] = ar + br;
            a[1] = ai + bi;
            b[0] = ar - br;
            b[1] = ai - bi;
        }
        for (int32_t j = 1; j < half; j++) {
            const int32_t wr = KWSQ_FE_COS(cos_tab, n, j * step);
            const int32_t wi = -KWSQ_FE_SIN(cos_tab, n, j * step);
            for (int32_t i = j; i < m; i += len) {
                int32_t *a = z + 2 * i;
                int32_t *b = z + 2 * (i + half);
                const int32_t vr =
                    (int32_t)(((int64_t)b[0] * wr - (int64_t)b[1] * wi + (1ll << 30)) >> 31);
                const int32_t vi =
                    (int32_t)(((int64_t)b[0] * wi + (int64_t)b[1] * wr + (1ll << 30)) >> 31);
                const int32_t ar = a[0], ai = a[1];
                a[0] = ar + vr;
                a[1] = ai + vi;
                b[0] = ar - vr;
                b[1] = ai - vi;
            }
        }
    }
}

void kwsq_fe_rfft_q31(int32_t *buf, int32_t n, const int32_t *cos_tab)
{
    const int32_t m = n >> 1;
    complex_fft_q31(buf, m, n, cos_tab);
    const int32_t z0r = buf[0], z0i = buf[1];
    buf[0] = 2 * (z0r + z0i);
    buf[1] = 2 * (z0r - z0i);
    for (int32_t k = 1; k <= m / 2; k++) {
        int32_t *zk = buf + 2 * k;
        int32_t *zm = buf + 2 * (m - k);
        /* 2E and 2O, then 2X[k] = 2E + W^k 2O, 2X[m-k] = conj(2E - W^k 2O). */
        const int32_t er = zk[0] + zm[0];
        const int32_t ei = zk[1] - zm[1];
        const int32_t or_ = zk[1] + zm[1];
        const int32_t oi = zm[0] - zk[0];
        const int32_t wr = KWSQ_FE_COS(cos_tab, n, k);
        const int32_t wi = -KWSQ_FE_SIN(cos_tab, n, k);
        const int32_t tr = mul_q31(or_, wr) - mul_q31(oi, wi);
        const int32_t ti = mul_q31(oi, wr) + mul_q31(or_, wi);
        zk[0] = er + tr;
        zk[1] = ei + ti;
        zm[0] = er - tr;
        zm[1] = ti - ei;
    }
}
