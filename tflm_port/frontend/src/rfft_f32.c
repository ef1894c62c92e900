/* Real FFT, float: an n/2-point complex radix-2 FFT of the even/odd samples
 * packed as complex numbers, then the split that separates their spectra. */
#include "fe_internal.h"

static void complex_fft_f32(float *z, int32_t m, int32_t n, const float *cos_tab)
{
    const int32_t bits = kwsq_fe__log2_exact(m);
    for (uint32_t i = 0; i < (uint32_t)m; i++) {
        const uint32_t j = kwsq_fe__bit_reverse(i, bits);
        if (j > i) {
            const float re = z[2 * i], im = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = re;
            z[2 * j + 1] = im;
        }
    }
    for (int32_t len = 2; len <= m; len <<= 1) {
        const int32_t half = len >> 1;
        const int32_t step = n / len; /* W_len^j = W_n^(j * step) */
        for (int32_t j = 0; j < half; j++) {
            const float wr = KWSQ_FE_COS(cos_tab, n, j * step);
            const float wi = -KWSQ_FE_SIN(cos_tab, n, j * step);
            for (int32_t i = j; i < m; i += len) {
                float *a = z + 2 * i;
                float *b = z + 2 * (i + half);
                const float vr = b[0] * wr - b[1] * wi;
                const float vi = b[0] * wi + b[1] * wr;
                b[0] = a[0] - vr;
                b[1] = a[1] - vi;
                a[0] += vr;
                a[1] += vi;
            }
        }
    }
}

void kwsq_fe_rfft_f32(float *buf, int32_t n, const float *cos_tab)
{
    const int32_t m = n >> 1;
    complex_fft_f32(buf, m, n, cos_tab);
    const float z0r = buf[0], z0i = buf[1];
    buf[0] = z0r + z0i;
    buf[1] = z0r - z0i;
    for (int32_t k = 1; k <= m / 2; k++) {
        float *zk = buf + 2 * k;
        float *zm = buf + 2 * (m - k);
        /* E = (Z[k] + conj Z[m-k]) / 2, O = -i (Z[k] - conj Z[m-k]) / 2 */
        const float er = 0.5f * (zk[0] + zm[0]);
        const float ei = 0.5f * (zk[1] - zm[1]);
        const float or_ = 0.5f * (zk[1] + zm[1]);
        const float oi = -0.5f * (zk[0] - zm[0]);
        const float wr = KWSQ_FE_COS(cos_tab, n, k);
        const float wi = -KWSQ_FE_SIN(cos_tab, n, k);
        const float tr = wr * or_ - wi * oi;
        const float ti = wr * oi + wi * or_;
        /* X[k] = E + W^k O, X[m-k] = conj(E - W^k O) */
        zk[0] = er + tr;
        zk[1] = ei + ti;
        zm[0] = er - tr;
        zm[1] = ti - ei;
    }
}
