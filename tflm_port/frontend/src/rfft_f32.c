/* Real FFT, float: an n/2-point complex radix-2 FFT of the even/odd samples
 * packed as complex numbers, then the split that separates their spectra. */
#include "fe_internal.h"

/* In place, radix 2, decimation in time. The first two stages need no
 * multiplications (twiddles 1 and -i), nor does the first butterfly column of
 * the others. */
static void complex_fft_f32(float *z, int32_t m, int32_t n, const float *cos_tab)
{
    /* Bit-reversed order, the reversed index kept incrementally. */
    for (int32_t i = 0, j = 0; i < m; i++) {
        if (j > i) {
            const float re = z[2 * i], im = z[2 * i + 1];
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
        float *a = z + 2 * i;
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
    if (m == 2) {
        const float r = z[0], im = z[1];
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
            float *a = z + 2 * i;
            float *b = z + 2 * (i + half);
            const float ar = a[0], ai = a[1], br = b[0], bi = b[1];
            a[0] = ar + br;
            a[1] = ai + bi;
            b[0] = ar - br;
            b[1] = ai - bi;
        }
        for (int32_t j = 1; j < half; j++) {
            const float wr = KWSQ_FE_COS(cos_tab, n, j * step);
            const float wi = -KWSQ_FE_SIN(cos_tab, n, j * step);
            for (int32_t i = j; i < m; i += len) {
                float *a = z + 2 * i;
                float *b = z + 2 * (i + half);
                const float br = b[0], bi = b[1];
                const float vr = br * wr - bi * wi;
                const float vi = br * wi + bi * wr;
                const float ar = a[0], ai = a[1];
                a[0] = ar + vr;
                a[1] = ai + vi;
                b[0] = ar - vr;
                b[1] = ai - vi;
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
