/* Smoothing, peak picking, threshold and refractory suppression per keyword. */
#include "kwsq_detector.h"

#include <math.h>

int kwsq_det_init(kwsq_detector *d, const kwsq_det_config *cfg)
{
    if (cfg->num_keywords < 1 || cfg->num_keywords > KWSQ_DET_MAX_KEYWORDS ||
        cfg->smooth_windows < 1 || cfg->smooth_windows > KWSQ_DET_MAX_SMOOTH ||
        cfg->sample_rate < 1 || !(cfg->refractory_seconds >= 0.0)) {
        return -1;
    }
    d->cfg = *cfg;
    d->windows = 0;
    /* sum < w * threshold * (1 - 2^-40) gives sum / w < threshold * (1 - 2^-41) even
     * with the roundings of this product and of the division, so the rounded
     * quotient is under the threshold. */
    d->low_sum = cfg->threshold > 0.0
                     ? (double)cfg->smooth_windows * cfg->threshold * (1.0 - 0x1p-40)
                     : -INFINITY;
    d->slot = 0;
    for (int32_t k = 0; k < KWSQ_DET_MAX_KEYWORDS; k++) {
        kwsq_det_keyword *s = &d->kw[k];
        for (int32_t i = 0; i <= KWSQ_DET_MAX_SMOOTH; i++) {
            s->sums[i] = 0.0;
        }
        s->last = 0.0;
        s->last_sample = 0;
        s->rising = 0;
        s->last_detection = -INFINITY;
        s->has_detection = 0;
    }
    return 0;
}

/* A peak at the previous window: threshold, then refractory suppression. */
static int32_t consider(kwsq_detector *d, int32_t k, kwsq_detection *out, int32_t n)
{
    kwsq_det_keyword *s = &d->kw[k];
    if (!(s->last >= d->cfg.threshold)) {
        return n;
    }
    const double t = (double)s->last_sample / (double)d->cfg.sample_rate;
    /* As det.py computes it: kept when t >= last + refractory (float64). */
    if (t < s->last_detection + d->cfg.refractory_seconds) {
        return n; /* dropped: does not restart the refractory time */
    }
    s->last_detection = t;
    s->has_detection = 1;
    out[n].keyword = k;
    out[n].end_sample = s->last_sample;
    out[n].score = s->last;
    return n + 1;
}

int32_t kwsq_det_push(kwsq_detector *d, const float *posteriors, uint32_t end_sample,
                      kwsq_detection *out)
{
    const int32_t w = d->cfg.smooth_windows;
    const int64_t t = d->windows;
    const int32_t ring = w + 1;
    /* Ring slots of c[t], c[t + 1] and c[lo] (lo = t + 1 - w once t + 1 >= w,
     * which is t + 2 mod ring; else 0), kept in int32 without a division. */
    const int32_t cur = d->slot;
    const int32_t next = cur + 1 == ring ? 0 : cur + 1;
    const int32_t lo_slot = t + 1 >= w ? (next + 1 == ring ? 0 : next + 1) : 0;
    /* windows averaged: t + 1 - lo */
    const double count = (double)(t + 1 >= w ? w : (int32_t)(t + 1));
    int32_t n = 0;
    for (int32_t k = 0; k < d->cfg.num_keywords; k++) {
        kwsq_det_keyword *s = &d->kw[k];
        /* c[t + 1] = c[t] + p[t]; the ring keeps c[t + 1 - w .. t + 1]. */
        const double prev = s->sums[cur];
        const double now = prev + (double)posteriors[k];
        s->sums[next] = now;
        /* w == 1 is the identity in Python, not a difference of two sums. A
         * value certainly under the threshold is kept as -inf instead of
         * being divided out (a soft-float division on an M4F, ~200
         * instructions): it can neither be a detection nor end one early
         * (a peak above the threshold is >= it, a rise to one is > it), so the
         * rules decide exactly as with the quotient. */
        double smoothed;
        if (w == 1) {
            smoothed = (double)posteriors[k];
        } else {
            const double sum = now - s->sums[lo_slot];
            smoothed = (count == (double)w && sum < d->low_sum) ? -INFINITY : sum / count;
        }
        if (t > 0) {
            if (s->rising && s->last >= smoothed) {
                n = consider(d, k, out, n);
            }
            s->rising = smoothed > s->last;
        } else {
            s->rising = 1;
        }
        s->last = smoothed;
        s->last_sample = end_sample;
    }
    d->windows = t + 1;
    d->slot = next;
    return n;
}

int32_t kwsq_det_finish(kwsq_detector *d, kwsq_detection *out)
{
    int32_t n = 0;
    if (d->windows == 0) {
        return 0;
    }
    for (int32_t k = 0; k < d->cfg.num_keywords; k++) {
        if (d->kw[k].rising) {
            n = consider(d, k, out, n);
        }
        d->kw[k].rising = 0;
    }
    return n;
}
