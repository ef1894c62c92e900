/*
 * Preparation helpers shared by several kernels; see kwsq_kernel_util.h.
 */
#include "kwsq_kernel_util.h"

static float table_scale(const kwsq_quant_tables *qt, int32_t c)
{
    return qt->scales == NULL ? 0.0f : kwsq_rd_f32(qt->scales + (qt->per_channel ? 4u * (uint32_t)c : 0u));
}

kwsq_status kwsq_quant_tables_prepare(struct kwsq_interpreter *ip, kwsq_node *n, const kwsq_tensor_int *input,
                                      const kwsq_tensor_int *filter, const kwsq_tensor_int *output,
                                      int32_t channels, kwsq_quant_tables *qt)
{
    if (filter->v.num_channels > 1 && filter->v.num_channels != channels) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "filter has %d scales for %d output channels",
                         (int)filter->v.num_channels, (int)channels);
    }
    qt->scales = filter->m->scales;
    qt->channels = channels;
    qt->per_channel = filter->v.num_channels > 1;
#ifdef KWSQ_PERSISTENT_QUANT
    qt->mult = kwsq_alloc_persistent_array(ip, (size_t)channels, 4u);
    qt->shift = kwsq_alloc_persistent(ip, (size_t)channels);
    if (qt->mult == NULL || qt->shift == NULL) {
        return KWSQ_ERR_ARENA;
    }
#else
    const int32_t slot = kwsq_request_scratch(ip, n, (size_t)channels * 5u);
    if (slot < 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "too many scratch buffers");
    }
    qt->slot = (int8_t)slot;
#endif
    qt->pot = true;
    for (int32_t c = 0; c < channels; ++c) {
        int32_t mult;
        int s;
        kwsq_quantize_ratio(input->v.scale, table_scale(qt, c), output->v.scale, &mult, &s);
        if (s < -31 || s > 31) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "requantization scale out of range");
        }
#ifdef KWSQ_PERSISTENT_QUANT
        qt->mult[c] = mult;
        qt->shift[c] = (int8_t)s;
#endif
        qt->pot = qt->pot && mult == (1 << 30);
    }
#ifdef KWSQ_NO_SHIFT_ONLY
    qt->pot = false; /* measuring what the shift-only requantization buys: same results, general path */
#endif
    return KWSQ_OK;
}

void kwsq_quant_tables_eval(const struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_quant_tables *qt,
                            float in_scale, float out_scale, kwsq_quant_params *q)
{
#ifdef KWSQ_PERSISTENT_QUANT
    (void)ip;
    (void)n;
    (void)in_scale;
    (void)out_scale;
    q->multiplier = qt->mult;
    q->shift = qt->shift;
#else
    int32_t *mult = kwsq_scratch(ip, n, qt->slot);
    int8_t *shift = (int8_t *)(mult + qt->channels);
    const int32_t count = qt->per_channel ? qt->channels : 1;
    kwsq_ratio_base rb;
    (void)kwsq_ratio_base_of(in_scale, out_scale, &rb);
    kwsq_ratio_fill(&rb, qt->scales, count, mult, shift);
    for (int32_t c = count; c < qt->channels; ++c) { /* one scale: the same entry everywhere */
        mult[c] = mult[0];
        shift[c] = shift[0];
    }
    q->multiplier = mult;
    q->shift = shift;
#endif
    q->per_channel = true;
    q->pot = qt->pot;
}

int32_t kwsq_accum_bound(const kwsq_tensor_int *filter, int32_t channels, int32_t len, int32_t ch_stride,
                         int32_t k_stride, int32_t z)
{
    const uint8_t *w = (const uint8_t *)filter->v.data;
    const bool s4 = filter->v.type == KWSQ_INT4;
    const int64_t hi = 127 - (int64_t)z, lo = (int64_t)z + 128;
    int64_t bound = 0;
    for (int32_t c = 0; c < channels; ++c) {
        int64_t pos = 0, neg = 0;
        for (int32_t k = 0; k < len; ++k) {
            const int64_t i = (int64_t)c * ch_stride + (int64_t)k * k_stride;
            const int32_t v = s4 ? kwsq_int4_at(w, i) : (int32_t)(int8_t)w[i];
            if (v > 0) {
                pos += v;
            } else {
                neg -= v;
            }
        }
        const int64_t a = pos * hi + neg * lo, b = pos * lo + neg * hi;
        const int64_t m = a > b ? a : b;
        bound = m > bound ? m : bound;
        if (bound >= INT32_MAX) {
            return INT32_MAX;
        }
    }
    return (int32_t)bound;
}

/* 64-bit intermediates: a hostile model's strides and sizes must not overflow. */
int32_t kwsq_out_size(int32_t padding, int32_t in, int32_t filter, int32_t stride, int32_t dilation)
{
    int64_t effective = ((int64_t)filter - 1) * dilation + 1;
    int64_t out = 0;
    if (stride <= 0) {
        return 0;
    }
    if (padding == KWSQ_PADDING_SAME) {
        out = ((int64_t)in + stride - 1) / stride;
    } else if (padding == KWSQ_PADDING_VALID) {
        out = ((int64_t)in + stride - effective) / stride;
    }
    return out < 0 || out > INT32_MAX ? -1 : (int32_t)out;
}

int32_t kwsq_padding(int32_t stride, int32_t dilation, int32_t in, int32_t filter, int32_t out)
{
    int64_t effective = ((int64_t)filter - 1) * dilation + 1;
    int64_t total = ((int64_t)out - 1) * stride + effective - in;
    total = total > 0 ? total / 2 : 0;
    return total > INT32_MAX / 2 ? INT32_MAX / 2 : (int32_t)total;
}

#ifdef KWSQ_SHORT_ERRORS
#undef kwsq_check_tensor
#undef kwsq_check_q8
#endif

kwsq_status kwsq_check_tensor(struct kwsq_interpreter *ip, const kwsq_node *n,
                              const kwsq_tensor_int *t, const char *role, kwsq_type type,
                              int32_t rank)
{
    if (t == NULL) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: missing %s tensor", role);
    }
    if (t->v.type != type) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "%s %T: type %s not supported (expected %s)", role, t,
                         kwsq_type_name(t->v.type), kwsq_type_name(type));
    }
    if (rank >= 0 && t->v.num_dims != rank) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "%s %T: must have %d dimensions, has %d", role, t,
                         (int)rank, (int)t->v.num_dims);
    }
    return KWSQ_OK;
}

kwsq_status kwsq_check_q8(struct kwsq_interpreter *ip, const kwsq_node *n,
                          const kwsq_tensor_int *t, const char *role)
{
    kwsq_status st = kwsq_check_tensor(ip, n, t, role, KWSQ_INT8, -1);
    if (st != KWSQ_OK) {
        return st;
    }
    if (!(t->v.scale > 0.0f) || !(t->v.scale <= 3.4e38f) || t->v.num_channels > 1) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "%s %T: must be quantized per tensor with a positive scale",
                         role, t);
    }
    if (t->v.zero_point < -128 || t->v.zero_point > 127) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: %s %T: zero point out of int8 range", role, t);
    }
    return KWSQ_OK;
}
