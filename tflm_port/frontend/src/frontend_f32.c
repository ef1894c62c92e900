/* The float path: one frame from the sample history, in the order and the
 * precision (float32) of pipeline/data/features.py. */
#include <math.h>
#include <string.h>

#include "fe_internal.h"

int kwsq_fe_push_f32(kwsq_fe_state *s, const int16_t *hop, float *frame)
{
    if (!kwsq_fe__advance(s, hop)) {
        return 0;
    }
    const kwsq_fe_params *p = s->p;
    const int32_t n = p->fft_length;
    float *buf = (float *)(void *)s->work;
    /* audio = int16 / 32768 exactly, as the WAV reader does, then the window. */
    for (int32_t i = 0; i < p->window; i++) {
        buf[i] = ((float)s->history[i] * (1.0f / 32768.0f)) * p->window_f32[i];
    }
    memset(buf + p->window, 0, (size_t)(n - p->window) * sizeof(float));
    kwsq_fe_rfft_f32(buf, n, p->cos_f32);

    float *acc = (float *)(void *)(s->work + n + 2); /* num_bins + 1: the last is a guard */
    memset(acc, 0, (size_t)(p->num_bins + 1) * sizeof(float));
    for (int32_t k = p->first_bin; k < p->end_bin; k++) {
        float re, im;
        if (k == 0) {
            re = buf[0];
            im = 0.0f;
        } else if (k == n / 2) {
            re = buf[1];
            im = 0.0f;
        } else {
            re = buf[2 * k];
            im = buf[2 * k + 1];
        }
        float v = re * re + im * im;
        if (p->power == 1) {
            v = sqrtf(v);
        }
        const int32_t j = k - p->first_bin;
        const uint16_t c = p->channel[j];
        acc[c] += p->mel_lo_f32[j] * v;
        acc[c + 1] += p->mel_hi_f32[j] * v;
    }

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
