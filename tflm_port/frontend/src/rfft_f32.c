/* Real FFT, float: an n/2-point complex radix-2 FFT of the even/odd samples
 * packed as complex numbers, then the split that separates their spectra. */
#include "fe_internal.h"

/* One radix-2 stage: blocks of q points become blocks of 2q. */
static void radix2_stage(float *z, int32_t m, int32_t n, const float *cos_tab, int32_t q)
{
    const int32_t step = n / (2 * q);
    for (int32_t j = 0; j < q; j++) {
        const float wr = KWSQ_FE_COS(cos_tab, n, j * step);
        const float wi = -KWSQ_FE_SIN(cos_tab, n, j * step);
        for (int32_t i = j; i < m; i += 2 * q) {
            float *a = z + 2 * i;
            float *b = a + 2 * q;
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

/* In place, decimation in time, radix 2^2. The first two stages need no
 * multiplications (twiddles 1 and -i). */
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
    /* Blocks of q points become blocks of 4q: two radix-2 stages in one pass
     * (radix 2^2), half the loads and stores. An odd stage left over runs as
     * plain radix 2 first. */
    int32_t q = 4;
    int32_t stages = 0;
    for (int32_t k = m / 4; k > 1; k >>= 1) {
        stages++;
    }
    if (stages & 1) {
        radix2_stage(z, m, n, cos_tab, q);
        q <<= 1;
    }
    for (; 4 * q <= m; q <<= 2) {
        const int32_t step1 = n / (2 * q); /* W_2q^j */
        const int32_t step2 = n / (4 * q); /* W_4q^j */
        for (int32_t j = 0; j < q; j++) {
            const float w1r = KWSQ_FE_COS(cos_tab, n, j * step1);
            const float w1i = -KWSQ_FE_SIN(cos_tab, n, j * step1);
            const float w2r = KWSQ_FE_COS(cos_tab, n, j * step2);
            const float w2i = -KWSQ_FE_SIN(cos_tab, n, j * step2);
            for (int32_t i = j; i < m; i += 4 * q) {
                float *p0 = z + 2 * i;
                float *p1 = p0 + 2 * q;
                float *p2 = p1 + 2 * q;
                float *p3 = p2 + 2 * q;
                const float x0r = p0[0], x0i = p0[1], x1r = p1[0], x1i = p1[1];
                const float x2r = p2[0], x2i = p2[1], x3r = p3[0], x3i = p3[1];
                /* first stage: w1 on x1 and x3 */
                const float t1r = x1r * w1r - x1i * w1i, t1i = x1r * w1i + x1i * w1r;
                const float t3r = x3r * w1r - x3i * w1i, t3i = x3r * w1i + x3i * w1r;
                const float ar = x0r + t1r, ai = x0i + t1i;
                const float br = x0r - t1r, bi = x0i - t1i;
                const float cr = x2r + t3r, ci = x2i + t3i;
                const float dr = x2r - t3r, di = x2i - t3i;
                /* second stage: w2 on c, -i w2 on d */
                const float ucr = cr * w2r - ci * w2i, uci = cr * w2i + ci * w2r;
                const float udr = dr * w2i + di * w2r, udi = di * w2i - dr * w2r; /* -i w2 d */
                p0[0] = ar + ucr;
                p0[1] = ai + uci;
                p2[0] = ar - ucr;
                p2[1] = ai - uci;
                p1[0] = br + udr;
                p1[1] = bi + udi;
                p3[0] = br - udr;
                p3[1] = bi - udi;
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
