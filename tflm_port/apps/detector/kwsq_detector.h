/*
 * Streaming keyword detection from posteriors: the rules of kwsq eval's
 * streaming path (pipeline/evaluate/det.py), reproduced exactly so that the
 * device reports the detections the evaluation counted.
 *
 * Per keyword, for the posterior p[t] of input window t (end time time[t]):
 *  1. smoothing: s[t] = mean of p[max(0, t - w + 1) .. t], computed as Python
 *     does (a float64 running sum, difference of two sums, divided by the count);
 *  2. peaks: s[t] > s[t - 1] (or t == 0) and s[t] >= s[t + 1] (or t is the
 *     last window), so a peak is known one window later (or at the end);
 *  3. a peak with s[t] >= threshold is a detection unless it comes less than
 *     `refractory` seconds after this keyword's previous detection (tested as
 *     det.py does: kept when time >= previous time + refractory, in float64).
 * Times are sample counts (the end of the window's last frame); seconds are
 * samples / sample_rate in float64, as in Python.
 */
#ifndef KWSQ_DETECTOR_H
#define KWSQ_DETECTOR_H

#include <stdint.h>

#ifndef KWSQ_DET_MAX_KEYWORDS
#define KWSQ_DET_MAX_KEYWORDS 16
#endif
#ifndef KWSQ_DET_MAX_SMOOTH
#define KWSQ_DET_MAX_SMOOTH 64
#endif

typedef struct {
    int32_t num_keywords;
    int32_t smooth_windows;  /* w >= 1 */
    double threshold;
    double refractory_seconds;
    int32_t sample_rate;
} kwsq_det_config;

typedef struct {
    int32_t keyword;     /* index into the keyword list */
    uint32_t end_sample; /* end of the peak window's audio */
    double score;        /* smoothed posterior at the peak */
} kwsq_detection;

typedef struct {
    double sums[KWSQ_DET_MAX_SMOOTH + 1]; /* running sums c[t + 1 - i], ring */
    double last;                          /* s[t - 1]; -inf: certainly under the threshold */
    uint32_t last_sample;                 /* time of window t - 1 */
    int32_t rising;                       /* s[t - 1] qualified as a peak start */
    double last_detection;                /* seconds; -inf before the first */
    int32_t has_detection;
} kwsq_det_keyword;

typedef struct {
    kwsq_det_config cfg;
    int64_t windows; /* windows seen */
    int32_t slot;    /* windows % (smooth_windows + 1): the ring slot of c[t] */
    /* A full window's sum below this is a smoothed value certainly under the
     * threshold (see kwsq_det_push); -inf: always divide. */
    double low_sum;
    kwsq_det_keyword kw[KWSQ_DET_MAX_KEYWORDS];
} kwsq_detector;

/* 0 on success, -1 when the configuration is out of range. */
int kwsq_det_init(kwsq_detector *d, const kwsq_det_config *cfg);

/* One window's keyword posteriors (num_keywords values) ending at end_sample.
 * Writes the detections this decides (peaks of the previous window) to out
 * (room for num_keywords) and returns their number. */
int32_t kwsq_det_push(kwsq_detector *d, const float *posteriors, uint32_t end_sample,
                      kwsq_detection *out);

/* End of the recording: the last window may be a peak. */
int32_t kwsq_det_finish(kwsq_detector *d, kwsq_detection *out);

#endif
