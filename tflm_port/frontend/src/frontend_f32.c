/* The float path: one frame from the sample history, in the order and the
 * precision (float32) of pipeline/data/features.py. */
#include <math.h>
#include <string.h>

#include "fe_internal.h"

/* Natural log of x > 0 for the log-mel energies, ~20 instructions with an
 * FPU instead of ~80 for the library's logf, within 2 ulp: x = 2^e m with m
 * in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <
 * 0.172, by its series to s^9 (the next term is < 1e-9 of log m), e ln 2
 * added in two parts. Anything but a positive normal float goes to logf. */
static inline float fe_log(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if (u - 0x00800000u >= 0x7f000000u) { /* zero, negative, subnormal, inf or NaN */
        return logf(x);
    }
    int32_t e = (int32_t)(u >> 23) - 127;
    u = (u & 0x007fffffu) | 0x3f800000u; /* m in [1, 2) */
    if (u > 0x3fb504f3u) {               /* m > sqrt(2): m / 2 */
        u -= 0x00800000u;
        e++;
    }
    float m;
    memcpy(&m, &u, sizeof m);
    const float f = m - 1.0f; /* exact */
    const float sv = f / (2.0f + f);
    const float z = sv * sv;
    const float series =
        KWSQ_FE_MADD(z, KWSQ_FE_MADD(z, KWSQ_FE_MADD(z, 1.0f / 9.0f, 1.0f / 7.0f), 1.0f / 5.0f),
                     1.0f / 3.0f);
    const float log_m = KWSQ_FE_MADD(2.0f * sv, z * series, 2.0f * sv);
    const float ef = (float)e;
    /* ln 2 = 0.693359375 (exact in a few bits) - 2.12194440e-4 */
    return KWSQ_FE_MADD(ef, 0.693359375f, KWSQ_FE_MADD(ef, -2.12194440e-4f, log_m));
}

/* Power (power 2) or magnitude (power 1) of one FFT bin. */
static inline float spectrum_value(float re, float im, int32_t power)
{
    const float v = KWSQ_FE_MADD(re, re, im * im);
    return power == 1 ? sqrtf(v) : v;
}

/* The open mel sums: acc[channel] (cur) and acc[channel + 1] (next). */
typedef struct {
    float cur, next;
    int32_t channel;
} mel_sum;

static inline void mel_add(mel_sum *sum, float *acc, const kwsq_fe_params *p, int32_t j, float v)
{
    const int32_t c = p->channel[j];
    while (sum->channel < c) {
        acc[sum->channel] = sum->cur;
        sum->cur = sum->next;
        sum->next = 0.0f;
        sum->channel++;
    }
    sum->cur = KWSQ_FE_MADD(p->mel_lo_f32[j], v, sum->cur);
    sum->next = KWSQ_FE_MADD(p->mel_hi_f32[j], v, sum->next);
}

int kwsq_fe_push_f32(kwsq_fe_state *s, const int16_t *hop, float *frame)
{
    if (!kwsq_fe__advance(s, hop)) {
        return 0;
    }
    const kwsq_fe_params *p = s->p;
    const int32_t n = p->fft_length;
    float *buf = (float *)(void *)s->work;
    /* audio = int16 / 32768 exactly, as the WAV reader does, then the window;
     * sample pairs (2t, 2t + 1) are the complex points of the half-length
     * FFT, written straight to their bit-reversed places (no permutation
     * pass), zero padded. */
    const int32_t m = n >> 1;
    const int32_t bits = kwsq_fe__floor_log2_u64((uint64_t)m);
    const int16_t *h = s->history;
    const float *w = p->window_f32;
    const int32_t pairs = p->window >> 1;
    for (int32_t t = 0; t < pairs; t++) {
        float *z = buf + 2 * kwsq_fe__bit_reverse((uint32_t)t, bits);
        z[0] = kwsq_fe__q15_to_f32(h[2 * t]) * w[2 * t];
        z[1] = kwsq_fe__q15_to_f32(h[2 * t + 1]) * w[2 * t + 1];
    }
    for (int32_t t = pairs; t < m; t++) {
        float *z = buf + 2 * kwsq_fe__bit_reverse((uint32_t)t, bits);
        z[0] = 2 * t < p->window ? kwsq_fe__q15_to_f32(h[2 * t]) * w[2 * t] : 0.0f;
        z[1] = 0.0f;
    }
    kwsq_fe__cfft_bitrev_f32(buf, m, n, p->cos_f32, p->twiddle_f32);
    kwsq_fe__rfft_split_f32(buf, n, p->cos_f32);

    /* The mel sums: bin k adds lo * its power to channel c and hi * its power
     * to c + 1, c never decreasing with k, so the two open sums stay in
     * registers (the same additions in the same order as acc[c] += ...). */
    float *acc = (float *)(void *)(s->work + n + 2); /* num_bins + 1: the last is a guard */
    memset(acc, 0, (size_t)(p->num_bins + 1) * sizeof(float));
    mel_sum sum = {0.0f, 0.0f, p->first_bin < p->end_bin ? p->channel[0] : 0};
    int32_t k = p->first_bin;
    if (k == 0 && k < p->end_bin) {
        mel_add(&sum, acc, p, 0, spectrum_value(buf[0], 0.0f, p->power));
        k = 1;
    }
    const int32_t mid_end = p->end_bin < m ? p->end_bin : m;
    for (; k < mid_end; k++) {
        mel_add(&sum, acc, p, k - p->first_bin,
                spectrum_value(buf[2 * k], buf[2 * k + 1], p->power));
    }
    if (k == m && k < p->end_bin) {
        mel_add(&sum, acc, p, k - p->first_bin, spectrum_value(buf[1], 0.0f, p->power));
    }
    acc[sum.channel] = sum.cur;
    acc[sum.channel + 1] = sum.next;

    /* The spectrum came out doubled (kwsq_fe__rfft_split_f32): powers 4x,
     * magnitudes 2x, and so the mel sums; undone exactly here. */
    const float undo = p->power == 1 ? 0.5f : 0.25f;
    float *logmel = (float *)(void *)s->logmel;
    for (int32_t b = 0; b < p->num_bins; b++) {
        logmel[b] = fe_log(KWSQ_FE_MADD(acc[b], undo, p->log_floor));
    }
    for (int32_t c = 0; c < p->num_coeffs; c++) {
        float x;
        if (p->kind == KWSQ_FE_MFCC) {
            const float *row = p->dct_f32 + (size_t)c * (size_t)p->num_bins;
            x = 0.0f;
            for (int32_t b = 0; b < p->num_bins; b++) {
                x += row[b] * logmel[b];
            }
        } else {
            x = logmel[c];
        }
        frame[c] = (x - p->norm_offset) / p->norm_scale;
    }
    return 1;
}
