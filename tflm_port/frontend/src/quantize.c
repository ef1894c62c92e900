/* The model input tensor's quantization of one frame: round(x / scale) +
 * zero point, saturated. The float path rounds half to even on the float
 * quotient, as numpy does when kwsq quantizes features in Python. */
#include <math.h>

#include "fe_internal.h"

/* |v| < 2^31. floor by the truncating conversion (one instruction with an
 * FPU, where floorf is a library call); v - floor(v) is exact. */
static int32_t round_half_even(float v)
{
    int32_t i = (int32_t)v;
    if ((float)i > v) {
        i--;
    }
    const float d = v - (float)i;
    if (d > 0.5f || (d == 0.5f && (i & 1))) {
        i++;
    }
    return i;
}

static int32_t saturate(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static void store(const kwsq_fe_params *p, void *out, int32_t i, int32_t q)
{
    if (p->input_type == KWSQ_FE_INPUT_INT8) {
        ((int8_t *)out)[i] = (int8_t)saturate(q, -128, 127);
    } else {
        ((int16_t *)out)[i] = (int16_t)saturate(q, -32768, 32767);
    }
}

static inline void quantize_one_f32(const kwsq_fe_params *p, float v, void *out, int32_t i)
{
    if (p->input_type == KWSQ_FE_INPUT_FLOAT32) {
        ((float *)out)[i] = v;
    } else {
        /* a division, as numpy's x / scale: a reciprocal would round differently */
        const float x = v / p->input_scale;
        const float limit = 1e9f; /* keep the int conversion defined */
        const float c = x > limit ? limit : (x < -limit ? -limit : x);
        store(p, out, i, round_half_even(c) + p->input_zero_point);
    }
}

void kwsq_fe_quantize_f32(const kwsq_fe_params *p, const float *frame, void *out)
{
    for (int32_t i = 0; i < p->num_coeffs; i++) {
        quantize_one_f32(p, frame[i], out, i);
    }
}

void kwsq_fe__quantize_value_f32(const kwsq_fe_params *p, float v, void *out, int32_t i)
{
    quantize_one_f32(p, v, out, i);
}

/* x * mult >> shift, rounded half away from zero, saturated to int32. */
int32_t kwsq_fe__apply_scale(int32_t x, kwsq_fe_scale s)
{
    const int64_t prod = (int64_t)x * s.mult;
    const int64_t half = s.shift > 0 ? (1ll << (s.shift - 1)) : 0;
    int64_t r = prod >= 0 ? (prod + half) >> s.shift : -((-prod + half) >> s.shift);
    if (r > INT32_MAX) {
        r = INT32_MAX;
    } else if (r < INT32_MIN) {
        r = INT32_MIN;
    }
    return (int32_t)r;
}

static inline void quantize_one_q20(const kwsq_fe_params *p, int32_t v, void *out, int32_t i)
{
    if (p->input_type == KWSQ_FE_INPUT_FLOAT32) {
        ((float *)out)[i] = (float)v * (1.0f / (float)(1 << 20));
    } else {
        /* |zero point| <= 32768, so the sum saturated to int32 cannot wrap. */
        int32_t q = kwsq_fe__apply_scale(v, p->input_q20);
        q = saturate(q, INT32_MIN + 32768, INT32_MAX - 32768);
        store(p, out, i, q + p->input_zero_point);
    }
}

void kwsq_fe_quantize_q20(const kwsq_fe_params *p, const int32_t *frame_q20, void *out)
{
    for (int32_t i = 0; i < p->num_coeffs; i++) {
        quantize_one_q20(p, frame_q20[i], out, i);
    }
}

void kwsq_fe__quantize_value_q20(const kwsq_fe_params *p, int32_t v, void *out, int32_t i)
{
    quantize_one_q20(p, v, out, i);
}
