/* Per-window normalization of the model input (FeatureConfig.normalize).
 *
 * Training normalizes each clip by the mean over the clip's frames
 * (pipeline/data/features.py normalize_clip). On a stream the model's window
 * is that clip's frames (norm_frames of them; for a stacked model the stacked
 * frames lie inside it, as in the clip), so the streaming equivalent is: the
 * window's frames minus the window's mean, the window being the last
 * norm_frames frames (pipeline/evaluate/streaming.py computes the same).
 *
 * The frames wait in a ring of norm_frames slots with a running sum per
 * coefficient: a new frame adds itself and takes the frame it replaces off,
 * O(num_coeffs) per frame, and a model input reads the sums once.
 *  - Fixed-point path: Q20 frames, int64 sums (exact, no drift on streams of
 *    any length). Mean = sum / n rounded half away from zero (an integer: Q20),
 *    then x - mean saturated to int32, then kwsq_fe_quantize_q20's rounding.
 *    pipeline/device/frontend.py norm_input_q20 is the bit-exact numpy twin.
 *  - Float path: float32 frames and sums. Adding and subtracting for hours
 *    would let rounding build up, so each time the ring wraps (slot 0 is then
 *    the oldest frame) the sums are added up again from the ring in time
 *    order: amortized one more add per value and frame, and the sum's error
 *    stays that of adding up at most 2 x norm_frames values.
 * Utterance mode: the mean of every value of the window (sum of the
 * coefficient sums / (norm_frames x num_coeffs)).
 *
 * channel_var (per-coefficient mean and variance normalization) also divides
 * by the window's standard deviation, floored at norm_sd_floor, as training:
 *  - float: sums of d = x - shift and of d^2, the shift being the window's
 *    mean when the ring last wrapped (then both sums are added up afresh), so
 *    var = E[d^2] - E[d]^2 does not cancel; (x - mean) / sd by a division;
 *  - Q20: sums of x and of sq(x) = x^2 >> 20 rounded (exact int64); mean as
 *    above, var = round(sum sq / n) - sq(mean) (>= 0), sd = floor(sqrt(var
 *    << 20)) floored at norm_sd_floor_q20, r = round(2^40 / sd) (1 / sd in
 *    Q20), normalized = (x - mean) r >> 20 rounded half away from zero,
 *    saturated: integer steps the numpy twin repeats bit for bit.
 */
#include <math.h>
#include <string.h>

#include "fe_internal.h"

size_t kwsq_fe_norm_bytes(const kwsq_fe_params *p)
{
    if (kwsq_fe_check(p) != KWSQ_FE_OK || p->norm_frames < 1) {
        return 0;
    }
    return KWSQ_FE_NORM_BYTES(p->norm_frames, p->num_coeffs, p->normalize);
}

kwsq_fe_status kwsq_fe_norm_init(kwsq_fe_norm *n, const kwsq_fe_params *p, void *buffer,
                                 size_t buffer_bytes)
{
    const kwsq_fe_status checked = kwsq_fe_check(p);
    if (checked != KWSQ_FE_OK) {
        return checked;
    }
    const size_t need = kwsq_fe_norm_bytes(p);
    const int var = p->normalize == KWSQ_FE_NORM_CHANNEL_VAR;
    if (n == NULL || need == 0 || buffer == NULL || ((uintptr_t)buffer & 7u) != 0) {
        return KWSQ_FE_ERR_ARGUMENT;
    }
    if (buffer_bytes < need) {
        return KWSQ_FE_ERR_BUFFER;
    }
    uint8_t *at = (uint8_t *)buffer;
    n->p = p;
    n->frames = p->norm_frames;
    n->ring = at;
    n->sum = at + KWSQ_FE_ALIGN8((size_t)p->norm_frames * (size_t)p->num_coeffs * 4u);
    const size_t part = KWSQ_FE_ALIGN8((size_t)p->num_coeffs * 8u);
    n->sumsq = var ? (uint8_t *)n->sum + part : NULL;
    n->shift = var ? (float *)(void *)((uint8_t *)n->sum + 2u * part) : NULL;
    kwsq_fe_norm_reset(n);
    return KWSQ_FE_OK;
}

void kwsq_fe_norm_reset(kwsq_fe_norm *n)
{
    n->count = 0;
    n->next = 0;
    memset(n->sum, 0, (size_t)n->p->num_coeffs * 8u);
    if (n->sumsq != NULL) {
        memset(n->sumsq, 0, (size_t)n->p->num_coeffs * 8u);
        memset(n->shift, 0, (size_t)n->p->num_coeffs * sizeof(float));
    }
}

int kwsq_fe_norm_ready(const kwsq_fe_norm *n)
{
    return n->count == n->frames;
}

/* The slot the next frame goes to; takes it (count and next advance). */
static int32_t take_slot(kwsq_fe_norm *n, int *replaces)
{
    const int32_t slot = n->next;
    *replaces = n->count == n->frames;
    if (!*replaces) {
        n->count++;
    }
    n->next = slot + 1 == n->frames ? 0 : slot + 1;
    return slot;
}

/* channel_var, float: sums of d = x - shift and d^2; at each wrap the shift
 * moves to the window's mean and both are added up afresh in time order. */
static void push_var_f32(kwsq_fe_norm *n, const float *frame, float *dst, int replaces)
{
    const int32_t c = n->p->num_coeffs;
    float *sum = (float *)n->sum;
    float *sq = (float *)n->sumsq;
    float *shift = n->shift;
    for (int32_t k = 0; k < c; k++) {
        const float d = frame[k] - shift[k];
        if (replaces) {
            const float o = dst[k] - shift[k];
            sum[k] += d - o;
            sq[k] += d * d - o * o;
        } else {
            sum[k] += d;
            sq[k] += d * d;
        }
        dst[k] = frame[k];
    }
    if (n->next == 0 && n->count == n->frames) {
        const float *ring = (const float *)n->ring;
        for (int32_t k = 0; k < c; k++) {
            shift[k] += sum[k] / (float)n->frames;
            sum[k] = 0.0f;
            sq[k] = 0.0f;
        }
        for (int32_t f = 0; f < n->frames; f++) {
            for (int32_t k = 0; k < c; k++) {
                const float d = ring[(size_t)f * (size_t)c + (size_t)k] - shift[k];
                sum[k] += d;
                sq[k] += d * d;
            }
        }
    }
}

void kwsq_fe_norm_push_f32(kwsq_fe_norm *n, const float *frame)
{
    const int32_t c = n->p->num_coeffs;
    int replaces;
    const int32_t slot = take_slot(n, &replaces);
    float *dst = (float *)n->ring + (size_t)slot * (size_t)c;
    float *sum = (float *)n->sum;
    if (n->sumsq != NULL) {
        push_var_f32(n, frame, dst, replaces);
        return;
    }
    for (int32_t k = 0; k < c; k++) {
        sum[k] += replaces ? frame[k] - dst[k] : frame[k];
        dst[k] = frame[k];
    }
    if (n->next == 0 && n->count == n->frames) {
        /* the ring is in time order: add the window up afresh */
        const float *ring = (const float *)n->ring;
        for (int32_t k = 0; k < c; k++) {
            sum[k] = 0.0f;
        }
        for (int32_t f = 0; f < n->frames; f++) {
            for (int32_t k = 0; k < c; k++) {
                sum[k] += ring[(size_t)f * (size_t)c + (size_t)k];
            }
        }
    }
}

/* x^2 in Q20 (x in Q20), rounded: x^2 <= 2^62 fits. */
static int64_t square_q20(int32_t x)
{
    return (int64_t)(((uint64_t)((int64_t)x * x) + (1u << 19)) >> 20);
}

void kwsq_fe_norm_push_q20(kwsq_fe_norm *n, const int32_t *frame_q20)
{
    const int32_t c = n->p->num_coeffs;
    int replaces;
    const int32_t slot = take_slot(n, &replaces);
    int32_t *dst = (int32_t *)n->ring + (size_t)slot * (size_t)c;
    int64_t *sum = (int64_t *)n->sum;
    int64_t *sq = (int64_t *)n->sumsq;
    for (int32_t k = 0; k < c; k++) {
        sum[k] += replaces ? (int64_t)frame_q20[k] - dst[k] : (int64_t)frame_q20[k];
        if (sq != NULL) {
            sq[k] += replaces ? square_q20(frame_q20[k]) - square_q20(dst[k])
                              : square_q20(frame_q20[k]);
        }
        dst[k] = frame_q20[k];
    }
}

/* round(sum / count), halves away from zero; one 32-bit division when the
 * numbers fit (the same quotient as the 64-bit one). */
static int64_t round_div(int64_t sum, int64_t count)
{
    const uint64_t a = (sum < 0 ? (uint64_t)0 - (uint64_t)sum : (uint64_t)sum) +
                       (uint64_t)(count / 2);
    uint64_t q;
    if (a <= 0xffffffffu && count <= 0xffffffff) {
        q = (uint32_t)a / (uint32_t)count;
    } else {
        q = a / (uint64_t)count;
    }
    return sum < 0 ? -(int64_t)q : (int64_t)q;
}

/* The mean of int32 values: an int32. */
static int32_t mean_q20(int64_t sum, int64_t count)
{
    return (int32_t)round_div(sum, count);
}

/* floor(sqrt(x)), one result bit per step. */
static uint64_t isqrt64(uint64_t x)
{
    uint64_t r = 0;
    uint64_t bit = (uint64_t)1 << 62;
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

/* channel_var, Q20: 1 / sd of coefficient k in Q20, round(2^40 / sd). */
static int64_t inverse_sd_q20(const kwsq_fe_norm *n, int32_t k, int32_t mean)
{
    const int64_t msq = round_div(((const int64_t *)n->sumsq)[k], n->frames);
    int64_t var = msq - square_q20(mean);
    var = var < 0 ? 0 : var;
    /* var << 20 must stay below 2^64: a deviation of up to 2^22 (in Q20: 4M) */
    const uint64_t v = (uint64_t)var >= ((uint64_t)1 << 43) ? ((uint64_t)1 << 63)
                                                             : (uint64_t)var << 20;
    int64_t sd = (int64_t)isqrt64(v);
    sd = sd < n->p->norm_sd_floor_q20 ? n->p->norm_sd_floor_q20 : sd;
    return (int64_t)((((uint64_t)1 << 40) + (uint64_t)(sd / 2)) / (uint64_t)sd);
}

static float total_f32(const kwsq_fe_norm *n)
{
    const float *sum = (const float *)n->sum;
    float t = 0.0f;
    for (int32_t k = 0; k < n->p->num_coeffs; k++) {
        t += sum[k];
    }
    return t;
}

static int64_t total_q20(const kwsq_fe_norm *n)
{
    const int64_t *sum = (const int64_t *)n->sum;
    int64_t t = 0;
    for (int32_t k = 0; k < n->p->num_coeffs; k++) {
        t += sum[k];
    }
    return t;
}

void kwsq_fe_norm_means_f32(const kwsq_fe_norm *n, float *means)
{
    const kwsq_fe_params *p = n->p;
    const float count = (float)(n->count > 0 ? n->count : 1);
    const float all = p->normalize == KWSQ_FE_NORM_UTTERANCE
                          ? total_f32(n) / (count * (float)p->num_coeffs)
                          : 0.0f;
    for (int32_t k = 0; k < p->num_coeffs; k++) {
        if (p->normalize == KWSQ_FE_NORM_CHANNEL) {
            means[k] = ((const float *)n->sum)[k] / count;
        } else if (p->normalize == KWSQ_FE_NORM_CHANNEL_VAR) {
            means[k] = n->shift[k] + ((const float *)n->sum)[k] / count;
        } else {
            means[k] = all;
        }
    }
}

void kwsq_fe_norm_means_q20(const kwsq_fe_norm *n, int32_t *means_q20)
{
    const kwsq_fe_params *p = n->p;
    const int64_t count = n->count > 0 ? n->count : 1;
    const int32_t all = p->normalize == KWSQ_FE_NORM_UTTERANCE
                            ? mean_q20(total_q20(n), count * p->num_coeffs)
                            : 0;
    for (int32_t k = 0; k < p->num_coeffs; k++) {
        if (p->normalize == KWSQ_FE_NORM_CHANNEL || p->normalize == KWSQ_FE_NORM_CHANNEL_VAR) {
            means_q20[k] = mean_q20(((const int64_t *)n->sum)[k], count);
        } else {
            means_q20[k] = all;
        }
    }
}

/* Ring slot of window frame `first` (0 = the oldest of a full ring). */
static int32_t first_slot(const kwsq_fe_norm *n, int32_t first)
{
    int32_t slot = n->next + first;
    while (slot >= n->frames) {
        slot -= n->frames;
    }
    return slot;
}

void kwsq_fe_norm_input_f32(const kwsq_fe_norm *n, int32_t first, int32_t stride, int32_t count,
                            void *out)
{
    const kwsq_fe_params *p = n->p;
    const int32_t c = p->num_coeffs;
    const float *ring = (const float *)n->ring;
    const float all = p->normalize == KWSQ_FE_NORM_UTTERANCE
                          ? total_f32(n) / ((float)n->frames * (float)c)
                          : 0.0f;
    for (int32_t k = 0; k < c; k++) {
        float mean = p->normalize == KWSQ_FE_NORM_CHANNEL
                         ? ((const float *)n->sum)[k] / (float)n->frames
                         : all;
        float sd = 1.0f;
        if (n->sumsq != NULL) {
            const float md = ((const float *)n->sum)[k] / (float)n->frames;
            const float var = ((const float *)n->sumsq)[k] / (float)n->frames - md * md;
            sd = var > 0.0f ? sqrtf(var) : 0.0f;
            sd = sd < p->norm_sd_floor ? p->norm_sd_floor : sd;
            mean = n->shift[k] + md;
        }
        int32_t slot = first_slot(n, first);
        for (int32_t i = 0; i < count; i++) {
            float x = ring[(size_t)slot * (size_t)c + (size_t)k] - mean;
            if (n->sumsq != NULL) {
                x = x / sd;
            }
            kwsq_fe__quantize_value_f32(p, x, out, i * c + k);
            slot += stride;
            slot = slot >= n->frames ? slot - n->frames : slot;
        }
    }
}

void kwsq_fe_norm_input_q20(const kwsq_fe_norm *n, int32_t first, int32_t stride, int32_t count,
                            void *out)
{
    const kwsq_fe_params *p = n->p;
    const int32_t c = p->num_coeffs;
    const int32_t *ring = (const int32_t *)n->ring;
    const int32_t all = p->normalize == KWSQ_FE_NORM_UTTERANCE
                            ? mean_q20(total_q20(n), (int64_t)n->frames * c)
                            : 0;
    for (int32_t k = 0; k < c; k++) {
        const int32_t mean = p->normalize == KWSQ_FE_NORM_UTTERANCE
                                 ? all
                                 : (p->normalize == KWSQ_FE_NORM_FIXED
                                        ? 0
                                        : mean_q20(((const int64_t *)n->sum)[k], n->frames));
        const int64_t inv = n->sumsq != NULL ? inverse_sd_q20(n, k, mean) : 0;
        int32_t slot = first_slot(n, first);
        for (int32_t i = 0; i < count; i++) {
            int64_t x = (int64_t)ring[(size_t)slot * (size_t)c + (size_t)k] - mean;
            x = x > INT32_MAX ? INT32_MAX : (x < INT32_MIN ? INT32_MIN : x);
            if (n->sumsq != NULL) {
                /* |x| <= 2^31, inv <= 2^30 (sd floor >= 2^-10): the product fits */
                const uint64_t a = (uint64_t)(x < 0 ? -x : x) * (uint64_t)inv;
                const int64_t m = (int64_t)((a + (1u << 19)) >> 20);
                x = x < 0 ? -m : m;
                x = x > INT32_MAX ? INT32_MAX : (x < INT32_MIN ? INT32_MIN : x);
            }
            kwsq_fe__quantize_value_q20(p, (int32_t)x, out, i * c + k);
            slot += stride;
            slot = slot >= n->frames ? slot - n->frames : slot;
        }
    }
}
