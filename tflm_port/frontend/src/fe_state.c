/* Parameter checks, state layout and the sample history shared by both paths. */
#include <string.h>

#include "fe_internal.h"

int32_t kwsq_fe_delay(const kwsq_fe_params *p)
{
    return (p->hop - p->window % p->hop) % p->hop;
}

static int params_ok(const kwsq_fe_params *p)
{
    if (p == NULL || p->window < 2 || p->hop < 1 || p->num_bins < 1 || p->fft_length < 4) {
        return 0;
    }
    if ((p->fft_length & (p->fft_length - 1)) != 0 || p->fft_length < p->window) {
        return 0;
    }
    if (p->kind != KWSQ_FE_LFBE && p->kind != KWSQ_FE_MFCC) {
        return 0;
    }
    if (p->kind == KWSQ_FE_LFBE ? p->num_coeffs != p->num_bins
                                : (p->num_coeffs < 1 || p->num_coeffs > p->num_bins)) {
        return 0;
    }
    if (p->power != 1 && p->power != 2) {
        return 0;
    }
    if (p->first_bin < 0 || p->end_bin < p->first_bin || p->end_bin > p->fft_length / 2 + 1) {
        return 0;
    }
    if (p->end_bin > p->first_bin && p->channel == NULL) {
        return 0;
    }
    for (int32_t k = 0; k < p->end_bin - p->first_bin; k++) {
        if (p->channel[k] >= (uint16_t)p->num_bins) {
            return 0;
        }
    }
    return 1;
}

kwsq_fe_status kwsq_fe_check(const kwsq_fe_params *p)
{
    if (!params_ok(p)) {
        return KWSQ_FE_ERR_ARGUMENT;
    }
    /* A mode this front-end does not implement is refused, never ignored: the
     * model would get inputs unlike the ones it was trained on. */
    if (p->normalize != KWSQ_FE_NORM_FIXED && p->normalize != KWSQ_FE_NORM_UTTERANCE &&
        p->normalize != KWSQ_FE_NORM_CHANNEL && p->normalize != KWSQ_FE_NORM_CHANNEL_VAR) {
        return KWSQ_FE_ERR_NORMALIZE;
    }
    if (p->normalize != KWSQ_FE_NORM_FIXED && p->norm_frames < 1) {
        return KWSQ_FE_ERR_ARGUMENT;
    }
    if (p->normalize == KWSQ_FE_NORM_CHANNEL_VAR &&
        !(p->norm_sd_floor > 0.0f && p->norm_sd_floor_q20 >= 1024)) {
        /* a floor of >= 2^-10 keeps (x - mean) / sd in 62-bit products */
        return KWSQ_FE_ERR_ARGUMENT;
    }
    return KWSQ_FE_OK;
}

size_t kwsq_fe_state_bytes(const kwsq_fe_params *p)
{
    if (kwsq_fe_check(p) != KWSQ_FE_OK) {
        return 0;
    }
    return KWSQ_FE_STATE_BYTES(p->window, p->hop, p->fft_length, p->num_bins);
}

kwsq_fe_status kwsq_fe_init(kwsq_fe_state *s, const kwsq_fe_params *p, void *buffer,
                            size_t buffer_bytes)
{
    const kwsq_fe_status checked = kwsq_fe_check(p);
    if (checked == KWSQ_FE_ERR_NORMALIZE) {
        return checked;
    }
    const size_t need = kwsq_fe_state_bytes(p);
    if (s == NULL || need == 0 || buffer == NULL || ((uintptr_t)buffer & 7u) != 0) {
        return KWSQ_FE_ERR_ARGUMENT;
    }
    if (buffer_bytes < need) {
        return KWSQ_FE_ERR_BUFFER;
    }
    uint8_t *at = (uint8_t *)buffer;
    s->p = p;
    s->history = (int16_t *)(void *)at;
    s->history_len = p->window + kwsq_fe_delay(p);
    at += KWSQ_FE_ALIGN8(((size_t)p->window + (size_t)p->hop) * sizeof(int16_t));
    s->work = (int32_t *)(void *)at;
    at += KWSQ_FE_ALIGN8(((size_t)p->fft_length + 2u) * sizeof(int32_t));
    at += KWSQ_FE_ALIGN8(2u * ((size_t)p->num_bins + 1u) * sizeof(int32_t));
    s->logmel = (int32_t *)(void *)at;
    kwsq_fe_reset(s);
    return KWSQ_FE_OK;
}

void kwsq_fe_reset(kwsq_fe_state *s)
{
    s->filled = 0;
    memset(s->history, 0, (size_t)s->history_len * sizeof(int16_t));
}

int kwsq_fe__advance(kwsq_fe_state *s, const int16_t *hop)
{
    const int32_t len = s->history_len;
    const int32_t h = s->p->hop;
    if (h >= len) {
        memcpy(s->history, hop + (h - len), (size_t)len * sizeof(int16_t));
    } else {
        memmove(s->history, s->history + h, (size_t)(len - h) * sizeof(int16_t));
        memcpy(s->history + (len - h), hop, (size_t)h * sizeof(int16_t));
    }
    if (s->filled < len) {
        s->filled = s->filled + h < len ? s->filled + h : len;
    }
    return s->filled == len;
}

size_t kwsq_fe_input_bytes(const kwsq_fe_params *p)
{
    switch (p->input_type) {
    case KWSQ_FE_INPUT_FLOAT32:
        return 4u;
    case KWSQ_FE_INPUT_INT16:
        return 2u;
    case KWSQ_FE_INPUT_INT8:
        return 1u;
    default:
        return 0u;
    }
}
