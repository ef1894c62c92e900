/*
 * kwsq feature front-end: int16 audio in, one feature frame per hop out.
 *
 * The C twin of pipeline/data/features.py (tf.signal): frames of `window`
 * samples every `hop` samples with no end padding, a periodic Hann window, a
 * real FFT of `fft_length` points, power (LFBE) or magnitude (MFCC) spectrum,
 * HTK-mel triangular filters, log(mel + floor), for MFCC an orthonormal
 * DCT-II, then (x - norm_offset) / norm_scale and the quantization of the
 * model's input tensor. Every number that depends on the run's config (the
 * window, the filters, the DCT, the constants) comes in a kwsq_fe_params the
 * conversion step writes as `frontend.h` beside `model.h`, so the chip
 * computes the features the model was trained on.
 *
 * Two paths with the same interface:
 *  - float (cores with an FPU: Cortex-M4F, M7, M55, A-profile):
 *    kwsq_fe_push_f32 returns float features;
 *  - fixed point (cores without one): kwsq_fe_push_q20 uses only integer
 *    arithmetic (int32 data, Q31 twiddles, 64-bit accumulators, an integer
 *    log2) and returns features in Q20.
 *
 * No heap: the state lives in a caller-given buffer of kwsq_fe_state_bytes()
 * bytes (or KWSQ_FE_STATE_BYTES(...) for a static one).
 *
 * Per-window normalization (kwsq_fe_norm, FeatureConfig.normalize): training
 * subtracts the mean over a clip's frames; on a stream the model sees a window
 * of norm_frames frames (the training clip's frames) and kwsq_fe_norm keeps
 * them in a ring with a running per-coefficient sum, so each new frame costs
 * O(num_coeffs) and each model input is the window's frames minus the window's
 * mean, exactly the training clip's normalization. See normalize.c.
 *
 * Streaming: push exactly `hop` samples at a time. Frame t covers samples
 * [t*hop, t*hop + window); it is complete `delay` samples before the end of
 * the hop that returns it, delay = (-window) mod hop, so push returns 0 for
 * the first ceil(window / hop) - 1 hops and 1 (one frame) for every hop after.
 */
#ifndef KWSQ_FE_H
#define KWSQ_FE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KWSQ_FE_LFBE 0
#define KWSQ_FE_MFCC 1

/* Fraction bits of the fixed-point path's features and of its log values. */
#define KWSQ_FE_FEATURE_FRAC_BITS 20
#define KWSQ_FE_LOG_FRAC_BITS 24

/* Model input types (TFLite TensorType numbers, as kwsq_type). */
#define KWSQ_FE_INPUT_FLOAT32 0
#define KWSQ_FE_INPUT_INT16 7
#define KWSQ_FE_INPUT_INT8 9

/* Normalization of the model input over its window (FeatureConfig.normalize). */
#define KWSQ_FE_NORM_FIXED 0       /* none: the features as computed */
#define KWSQ_FE_NORM_UTTERANCE 1   /* minus the mean of every value of the window */
#define KWSQ_FE_NORM_CHANNEL 2     /* minus each coefficient's mean over the window */
#define KWSQ_FE_NORM_CHANNEL_VAR 3 /* that, divided by the coefficient's standard deviation
                                    * over the window (floored at norm_sd_floor) */

typedef enum {
    KWSQ_FE_OK = 0,
    KWSQ_FE_ERR_ARGUMENT = 1, /* NULL pointer, inconsistent parameters */
    KWSQ_FE_ERR_BUFFER = 2,   /* state buffer too small */
    KWSQ_FE_ERR_NORMALIZE = 3 /* a normalization mode this front-end does not implement */
} kwsq_fe_status;

/* A multiplier with a right shift: x * mult >> shift, rounded (64-bit product). */
typedef struct {
    int32_t mult;
    int32_t shift;
} kwsq_fe_scale;

typedef struct {
    int32_t kind;        /* KWSQ_FE_LFBE or KWSQ_FE_MFCC */
    int32_t sample_rate; /* informational: the tables already encode it */
    int32_t window;      /* samples per frame */
    int32_t hop;         /* samples between frames */
    int32_t fft_length;  /* power of two >= window */
    int32_t power;       /* 2: energies (LFBE), 1: magnitudes (MFCC) */
    int32_t num_bins;    /* mel filters */
    int32_t num_coeffs;  /* values per frame: num_bins (LFBE) or cepstra (MFCC) */
    /* Mel filters, bin-major: FFT bin k in [first_bin, end_bin) adds weight
     * lo[k - first_bin] of its power to filter channel[k - first_bin] and hi[...] to
     * the next filter (each bin lies on at most two neighbouring triangles). */
    int32_t first_bin;
    int32_t end_bin;
    const uint16_t *channel;

    /* Float path. */
    const float *window_f32; /* [window] periodic Hann */
    const float *cos_f32;    /* [fft_length / 4 + 1]: cos(2 pi k / fft_length) */
    /* The radix-4 passes' twiddles in the order the FFT uses them (see
     * rfft_f32.c): per pass q (4 or 2, then x4 while q < fft_length / 2),
     * per j < q: re and im of W^j, W^2j, W^3j, W = exp(-2 pi i / 4q). NULL:
     * taken from cos_f32 (slower). */
    const float *twiddle_f32;
    const float *mel_lo_f32;
    const float *mel_hi_f32;
    const float *dct_f32; /* [num_coeffs][num_bins], MFCC only */
    float log_floor;
    float norm_offset;
    float norm_scale;

    /* Fixed-point path. */
    const int32_t *window_q31; /* 1.0 = 2^31 - 1 */
    const int32_t *cos_q31;
    const uint16_t *mel_lo_q15;
    const uint16_t *mel_hi_q15;
    const int32_t *dct_q30;
    int32_t input_shift;      /* (sample * window_q31) >> (16 + input_shift) feeds the FFT */
    int32_t mel_exponent;     /* fixed mel = float mel * 2^mel_exponent */
    int32_t magnitude_shift;  /* power 1: extra fraction bits of the magnitudes */
    uint64_t log_floor_fixed; /* log_floor * 2^mel_exponent */
    int32_t norm_offset_q24;
    kwsq_fe_scale norm_q24_to_q20; /* 1 / norm_scale, Q24 in, Q20 out */

    /* The model's first input tensor. */
    int32_t input_type; /* KWSQ_FE_INPUT_* */
    float input_scale;
    int32_t input_zero_point;
    kwsq_fe_scale input_q20; /* 1 / input_scale, Q20 in, integer out */

    /* Normalization over the model's window (KWSQ_FE_NORM_*) and the frames of
     * that window (what training averaged over: a clip's frames). */
    int32_t normalize;
    int32_t norm_frames;
    float norm_sd_floor;       /* channel_var: the least deviation divided by */
    int32_t norm_sd_floor_q20; /* the same in Q20 */
} kwsq_fe_params;

typedef struct {
    const kwsq_fe_params *p;
    int16_t *history; /* the last window + delay samples */
    int32_t history_len;
    int32_t filled;   /* samples in history, up to history_len */
    int32_t *work;    /* fft_length + 2 words: FFT data, then mel accumulators */
    int32_t *logmel;  /* num_bins words: log values before the DCT (MFCC) */
} kwsq_fe_state;

/* Bytes of state for these dimensions (a compile-time constant expression),
 * rounded up so that every part stays 8-byte aligned. */
#define KWSQ_FE_ALIGN8(n) ((((size_t)(n)) + 7u) & ~(size_t)7u)
#define KWSQ_FE_STATE_BYTES(window, hop, fft_length, num_bins)                     \
    (KWSQ_FE_ALIGN8(((size_t)(window) + (size_t)(hop)) * sizeof(int16_t)) +       \
     KWSQ_FE_ALIGN8(((size_t)(fft_length) + 2u) * sizeof(int32_t)) +              \
     KWSQ_FE_ALIGN8(2u * ((size_t)(num_bins) + 1u) * sizeof(int32_t)) +           \
     KWSQ_FE_ALIGN8((size_t)(num_bins) * sizeof(int32_t)))

/* KWSQ_FE_OK, KWSQ_FE_ERR_NORMALIZE for a normalization mode not implemented
 * here (never ignored), else KWSQ_FE_ERR_ARGUMENT. */
kwsq_fe_status kwsq_fe_check(const kwsq_fe_params *p);

/* Check the parameters; the state buffer this needs. 0 when p is unusable. */
size_t kwsq_fe_state_bytes(const kwsq_fe_params *p);

/* Check p and lay the state out in `buffer` (8-byte aligned). */
kwsq_fe_status kwsq_fe_init(kwsq_fe_state *s, const kwsq_fe_params *p, void *buffer,
                            size_t buffer_bytes);

/* Forget all audio (start of a new recording). */
void kwsq_fe_reset(kwsq_fe_state *s);

/* Samples between the end of the newest frame and the end of the last hop. */
int32_t kwsq_fe_delay(const kwsq_fe_params *p);

/* Push `hop` samples. Returns 1 and writes num_coeffs values to `frame` when a
 * frame completes, 0 while the first window is still filling. */
int kwsq_fe_push_f32(kwsq_fe_state *s, const int16_t *hop, float *frame);
int kwsq_fe_push_q20(kwsq_fe_state *s, const int16_t *hop, int32_t *frame_q20);

/* One frame in the model's input type (int8, int16: round, add the zero
 * point, saturate; float32: copied). `out` holds num_coeffs elements. */
void kwsq_fe_quantize_f32(const kwsq_fe_params *p, const float *frame, void *out);
void kwsq_fe_quantize_q20(const kwsq_fe_params *p, const int32_t *frame_q20, void *out);

/* The window of the model input with its normalization: the last
 * norm_frames frames in a ring, and their per-coefficient sum kept as frames
 * come and go (float path: float sums, re-added from the ring in time order
 * each time the ring wraps so that rounding cannot build up over a long
 * stream; fixed path: exact int64 sums of the Q20 values). channel_var also
 * keeps sums of squares: float path of the differences from a per-coefficient
 * shift (the window's mean at the last wrap, so no cancellation), fixed path
 * of each Q20 value's square rounded to Q20. */
typedef struct {
    const kwsq_fe_params *p;
    int32_t frames; /* norm_frames */
    int32_t count;  /* frames pushed, up to `frames` */
    int32_t next;   /* ring slot of the next frame: the oldest once full */
    void *ring;     /* frames x num_coeffs: float, or int32 Q20 */
    void *sum;      /* num_coeffs: float, or int64 */
    void *sumsq;    /* channel_var, num_coeffs: float, or int64 (else NULL) */
    float *shift;   /* channel_var, float path: the sums' shift (else NULL) */
} kwsq_fe_norm;

#define KWSQ_FE_NORM_BYTES(frames, num_coeffs, normalize)                          \
    (KWSQ_FE_ALIGN8((size_t)(frames) * (size_t)(num_coeffs) * 4u) +              \
     KWSQ_FE_ALIGN8((size_t)(num_coeffs) * 8u) *                                  \
         ((normalize) == KWSQ_FE_NORM_CHANNEL_VAR ? 3u : 1u))

/* The buffer kwsq_fe_norm_init needs; 0 when p is unusable. */
size_t kwsq_fe_norm_bytes(const kwsq_fe_params *p);
kwsq_fe_status kwsq_fe_norm_init(kwsq_fe_norm *n, const kwsq_fe_params *p, void *buffer,
                                 size_t buffer_bytes);
void kwsq_fe_norm_reset(kwsq_fe_norm *n);
/* A new frame of kwsq_fe_push_f32 / _q20 (use one path per state). */
void kwsq_fe_norm_push_f32(kwsq_fe_norm *n, const float *frame);
void kwsq_fe_norm_push_q20(kwsq_fe_norm *n, const int32_t *frame_q20);
/* Whether the ring holds a whole window. */
int kwsq_fe_norm_ready(const kwsq_fe_norm *n);
/* The window's mean of each coefficient (utterance: the same value for all;
 * fixed: 0). Q20: round(sum / count), halves away from zero. With a full
 * window. */
void kwsq_fe_norm_means_f32(const kwsq_fe_norm *n, float *means);
void kwsq_fe_norm_means_q20(const kwsq_fe_norm *n, int32_t *means_q20);
/* The model input from a full window: `count` frames, the window's frames
 * first, first + stride, ... (0 = the oldest), each minus the window's mean
 * (float: in float; Q20: saturated int32 difference), quantized as
 * kwsq_fe_quantize_* into `out` (count x num_coeffs elements). channel_var:
 * float (x - mean) / max(sqrt(E[d^2] - E[d]^2), floor) with d = x - shift;
 * Q20 sd = floor(sqrt(var << 20)) with var = round(sum sq / n) - round(mean^2)
 * (each square rounded to Q20), floored, and the difference times
 * round(2^40 / sd) >> 20, rounded half away from zero (see normalize.c). */
void kwsq_fe_norm_input_f32(const kwsq_fe_norm *n, int32_t first, int32_t stride, int32_t count,
                            void *out);
void kwsq_fe_norm_input_q20(const kwsq_fe_norm *n, int32_t first, int32_t stride, int32_t count,
                            void *out);

/* Bytes per element of the model input type (0 for an unknown type). */
size_t kwsq_fe_input_bytes(const kwsq_fe_params *p);

/* The real FFT of n (power of two >= 4) points, in place. Output packed as
 * out[0] = X[0], out[1] = X[n/2], out[2k], out[2k+1] = Re, Im X[k] for
 * 0 < k < n/2. The q31 version returns 2 * X; its input must satisfy
 * sum |x| <= 2^28 (see kwsq_fe_params.input_shift). */
void kwsq_fe_rfft_f32(float *buf, int32_t n, const float *cos_tab);
void kwsq_fe_rfft_q31(int32_t *buf, int32_t n, const int32_t *cos_tab);

/* log2(v) in Q24 for v >= 1 (integer only). */
int32_t kwsq_fe_log2_q24(uint64_t v);

#ifdef __cplusplus
}
#endif

#endif /* KWSQ_FE_H */
