/* Real FFT, fixed point: the float algorithm on int32 data with Q31
 * twiddles and 64-bit products. No scaling between stages: an input with
 * sum |x| <= 2^28 keeps every partial DFT (and 2 * X) below 2^30. */
#include "fe_internal.h"

static inline int32_t mul_q31(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * b + (1ll << 30)) >> 31);
}

static void complex_fft_q31(int32_t *z, int32_t m, int32_t n, const int32_t *cos_tab)
{
    const int32_t bits = kwsq_fe__log2_exact(m);
    for (uint32_t i = 0; i < (uint32_t)m; i++) {
        const uint32_t j = kwsq_fe__bit_reverse(i, bits);
        if (j > i) {
            const int32_t re = z[2 * i], im = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = re;
            z[2 * j + 1] = im;
        }
    }
    for (int32_t len = 2; len <= m; len <<= 1) {
        const int32_t half = len >> 1;
        const int32_t step = n / len;
        for (int32_t j = 0; j < half; j++) {
            const int32_t wr = KWSQ_FE_COS(cos_tab, n, j * step);
            const int32_t wi = -KWSQ_FE_SIN(cos_tab, n, j * step);
            for (int32_t i = j; i < m; i += len) {
                int32_t *a = z + 2 * i;
                int32_t *b = z + 2 * (i + half);
                int32_t vr, vi;
                if (j == 0) {
                    vr = b[0];
                    vi = b[1];
                } else {
                    vr = (int32_t)(((int64_t)b[0] * wr - (int64_t)b[1] * wi + (1ll << 30)) >> 31);
                    vi = (int32_t)(((int64_t)b[0] * wi + (int64_t)b[1] * wr + (1ll << 30)) >> 31);
                }
                b[0] = a[0] - vr;
                b[1] = a[1] - vi;
                a[0] += vr;
                a[1] += vi;
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
