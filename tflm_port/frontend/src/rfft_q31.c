/* Real FFT, fixed point: the float algorithm on int32 data with Q31
 * twiddles and 64-bit products. No scaling between stages: an input with
 * sum |x| <= 2^28 keeps every partial DFT (and 2 * X) below 2^30. */
#include "fe_internal.h"

static inline int32_t mul_q31(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * b + (1ll << 30)) >> 31);
}

/* Re and Im of (ar + i ai)(wr + i wi) with a Q31 twiddle, rounded. */
static inline int32_t cmul_re(int32_t ar, int32_t ai, int32_t wr, int32_t wi)
{
    return (int32_t)(((int64_t)ar * wr - (int64_t)ai * wi + (1ll << 30)) >> 31);
}

static inline int32_t cmul_im(int32_t ar, int32_t ai, int32_t wr, int32_t wi)
{
    return (int32_t)(((int64_t)ar * wi + (int64_t)ai * wr + (1ll << 30)) >> 31);
}

/* One radix-2 stage: blocks of q points become blocks of 2q. */
static void radix2_stage(int32_t *z, int32_t m, int32_t n, const int32_t *cos_tab, int32_t q)
{
    const int32_t step = n / (2 * q);
    for (int32_t j = 0; j < q; j++) {
        const int32_t wr = KWSQ_FE_COS(cos_tab, n, j * step);
        const int32_t wi = -KWSQ_FE_SIN(cos_tab, n, j * step);
        for (int32_t i = j; i < m; i += 2 * q) {
            int32_t *a = z + 2 * i;
            int32_t *b = a + 2 * q;
            const int32_t vr = cmul_re(b[0], b[1], wr, wi), vi = cmul_im(b[0], b[1], wr, wi);
            const int32_t ar = a[0], ai = a[1];
            a[0] = ar + vr;
            a[1] = ai + vi;
            b[0] = ar - vr;
            b[1] = ai - vi;
        }
    }
}

/* In place, decimation in time, radix 2^2. The first two stages need no
 * multiplications (twiddles 1 and -i). */
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
    /* Two radix-2 stages per pass (radix 2^2), as the float version. */
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
        const int32_t step1 = n / (2 * q);
        const int32_t step2 = n / (4 * q);
        for (int32_t j = 0; j < q; j++) {
            const int32_t w1r = KWSQ_FE_COS(cos_tab, n, j * step1);
            const int32_t w1i = -KWSQ_FE_SIN(cos_tab, n, j * step1);
            const int32_t w2r = KWSQ_FE_COS(cos_tab, n, j * step2);
            const int32_t w2i = -KWSQ_FE_SIN(cos_tab, n, j * step2);
            for (int32_t i = j; i < m; i += 4 * q) {
                int32_t *p0 = z + 2 * i;
                int32_t *p1 = p0 + 2 * q;
                int32_t *p2 = p1 + 2 * q;
                int32_t *p3 = p2 + 2 * q;
                const int32_t x0r = p0[0], x0i = p0[1], x1r = p1[0], x1i = p1[1];
                const int32_t x2r = p2[0], x2i = p2[1], x3r = p3[0], x3i = p3[1];
                const int32_t t1r = cmul_re(x1r, x1i, w1r, w1i), t1i = cmul_im(x1r, x1i, w1r, w1i);
                const int32_t t3r = cmul_re(x3r, x3i, w1r, w1i), t3i = cmul_im(x3r, x3i, w1r, w1i);
                const int32_t ar = x0r + t1r, ai = x0i + t1i;
                const int32_t br = x0r - t1r, bi = x0i - t1i;
                const int32_t cr = x2r + t3r, ci = x2i + t3i;
                const int32_t dr = x2r - t3r, di = x2i - t3i;
                const int32_t ucr = cmul_re(cr, ci, w2r, w2i), uci = cmul_im(cr, ci, w2r, w2i);
                /* -i w2 d = (Im(w2 d), -Re(w2 d)) */
                const int32_t udr = cmul_im(dr, di, w2r, w2i), udi = -cmul_re(dr, di, w2r, w2i);
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
