/* The fixed-point path: integer arithmetic only, features in Q20.
 *
 * Scales: (sample * window_q31) >> (16 + input_shift) is the windowed sample times
 * 2^(30 - input_shift); the FFT returns twice the DFT, so the power spectrum
 * is the float one times 2^(2 (31 - input_shift)) and a magnitude (computed
 * with magnitude_shift extra fraction bits) the float one times
 * 2^(31 - input_shift + magnitude_shift). The mel sums carry that factor,
 * 2^mel_exponent, which the log takes off again. */
#include <string.h>

#include "fe_internal.h"

#define LN2_Q31 1488522236 /* ln(2) * 2^31 */

/* floor(sqrt(x)) of a 32-bit value, one result bit per step. */
static uint32_t isqrt32(uint32_t x)
{
    uint32_t r = 0;
    uint32_t bit = 1u << 30;
    while (bit > x) {
        bit >>= 2;
    }
    while (bit != 0u) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

/* sqrt(p) * 2^frac_bits to 16 significant bits. */
static uint64_t magnitude(uint64_t p, int32_t frac_bits)
{
    if (p == 0u) {
        return 0u;
    }
    const int32_t m = (63 - kwsq_fe__floor_log2_u64(p)) / 2;
    const uint32_t top = (uint32_t)((p << (2 * m)) >> 32); /* [2^30, 2^32) */
    const uint64_t r = isqrt32(top);                       /* sqrt(p << 2m) ~ r * 2^16 */
    const int32_t sh = 16 - m + frac_bits;
    return sh >= 0 ? r << sh : r >> -sh;
}

/* p * w / 2^15 for a Q15 weight without a 64x32 multiply. */
static uint64_t mul_q15(uint64_t p, uint32_t w)
{
    const uint64_t hi = (uint64_t)(uint32_t)(p >> 32) * w;
    const uint64_t lo = (uint64_t)(uint32_t)p * w;
    return (hi << 17) + (lo >> 15);
}

int kwsq_fe_push_q20(kwsq_fe_state *s, const int16_t *hop, int32_t *frame_q20)
{
    if (!kwsq_fe__advance(s, hop)) {
        return 0;
    }
    const kwsq_fe_params *p = s->p;
    const int32_t n = p->fft_length;
    int32_t *buf = s->work;
    /* Block floating point: quiet frames are scaled up by 2^gain so that the
     * FFT's rounding stays far below their content (the log takes the gain off
     * again); max |sample| << gain <= 32768 keeps sum |x| <= 2^28. A Q31
     * window: a Q15 one would add noise 90 dB under the frame's peak. */
    int32_t peak = 0;
    for (int32_t i = 0; i < p->window; i++) {
        const int32_t a = s->history[i] < 0 ? -(int32_t)s->history[i] : s->history[i];
        peak = a > peak ? a : peak;
    }
    int32_t gain = 0;
    while (peak != 0 && (peak << (gain + 1)) <= 32768) {
        gain++;
    }
    const int32_t shift = 16 + p->input_shift - gain;
    const int64_t round_in = 1ll << (shift - 1);
    for (int32_t i = 0; i < p->window; i++) {
        const int64_t prod = (int64_t)s->history[i] * p->window_q31[i];
        buf[i] = (int32_t)((prod + round_in) >> shift);
    }
    memset(buf + p->window, 0, (size_t)(n - p->window) * sizeof(int32_t));
    kwsq_fe_rfft_q31(buf, n, p->cos_q31);

    uint64_t *acc = (uint64_t *)(void *)(s->work + n + 2);
    memset(acc, 0, (size_t)(p->num_bins + 1) * sizeof(uint64_t));
    for (int32_t k = p->first_bin; k < p->end_bin; k++) {
        int32_t re, im;
        if (k == 0) {
            re = buf[0];
            im = 0;
        } else if (k == n / 2) {
            re = buf[1];
            im = 0;
        } else {
            re = buf[2 * k];
            im = buf[2 * k + 1];
        }
        uint64_t v = (uint64_t)((int64_t)re * re) + (uint64_t)((int64_t)im * im);
        if (p->power == 1) {
            v = magnitude(v, p->magnitude_shift);
        }
        const int32_t j = k - p->first_bin;
        const uint16_t c = p->channel[j];
        acc[c] += mul_q15(v, p->mel_lo_q15[j]);
        acc[c + 1] += mul_q15(v, p->mel_hi_q15[j]);
    }

    int32_t *logmel = s->logmel;
    const int32_t frame_gain = p->power == 2 ? 2 * gain : gain;
    const int32_t exponent_q24 = (p->mel_exponent + frame_gain) * (1 << KWSQ_FE_LOG_FRAC_BITS);
    const uint64_t floor = p->log_floor_fixed << frame_gain;
    for (int32_t b = 0; b < p->num_bins; b++) {
        const int32_t l2 = kwsq_fe_log2_q24(acc[b] + floor) - exponent_q24;
        logmel[b] = (int32_t)(((int64_t)l2 * LN2_Q31 + (1ll << 30)) >> 31);
    }
    for (int32_t c = 0; c < p->num_coeffs; c++) {
        int32_t x;
        if (p->kind == KWSQ_FE_MFCC) {
            const int32_t *row = p->dct_q30 + (size_t)c * (size_t)p->num_bins;
            int64_t sum = 0;
            for (int32_t b = 0; b < p->num_bins; b++) {
                sum += (int64_t)row[b] * logmel[b];
            }
            x = (int32_t)((sum + (1ll << 29)) >> 30);
        } else {
            x = logmel[c];
        }
        frame_q20[c] = kwsq_fe__apply_scale(x - p->norm_offset_q24, p->norm_q24_to_q20);
    }
    return 1;
}
