/* The float path: one frame from the sample history, in the order and the
 * precision (float32) of pipeline/data/features.py. */
#include <math.h>
#include <string.h>

#include "fe_internal.h"

/* Power (power 2) or magnitude (power 1) of one FFT bin. */
static inline float spectrum_value(float re, float im, int32_t power)
{
    const float v = re * re + im * im;
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
    sum->cur += p->mel_lo_f32[j] * v;
    sum->next += p->mel_hi_f32[j] * v;
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
        z[0] = ((float)h[2 * t] * (1.0f / 32768.0f)) * w[2 * t];
        z[1] = ((float)h[2 * t + 1] * (1.0f / 32768.0f)) * w[2 * t + 1];
    }
    for (int32_t t = pairs; t < m; t++) {
        float *z = buf + 2 * kwsq_fe__bit_reverse((uint32_t)t, bits);
        z[0] = 2 * t < p->window ? ((float)h[2 * t] * (1.0f / 32768.0f)) * w[2 * t] : 0.0f;
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

    float *logmel = (float *)(void *)s->logmel;
    for (int32_t b = 0; b < p->num_bins; b++) {
        logmel[b] = logf(acc[b] + p->log_floor);
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
