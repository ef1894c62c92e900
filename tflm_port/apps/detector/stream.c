/* Front-end -> frame ring -> model -> detector. */
#include "kwsq_stream.h"

#include <string.h>

#ifndef KWSQ_FE_FIXED
#define KWSQ_FE_FIXED 0
#endif
/* 0: built for a header without normalization; kwsq_fe_norm is not linked. */
#ifndef KWSQ_STREAM_NORM
#define KWSQ_STREAM_NORM 1
#endif

static int normalized(const kwsq_stream_config *cfg)
{
    return KWSQ_STREAM_NORM && cfg->fe_params->normalize != KWSQ_FE_NORM_FIXED;
}

size_t kwsq_stream_ring_bytes(const kwsq_stream_config *cfg)
{
    if (normalized(cfg)) {
        return kwsq_fe_norm_bytes(cfg->fe_params);
    }
    const size_t span = (size_t)cfg->window_frames;
    return span * (size_t)cfg->fe_params->num_coeffs * kwsq_fe_input_bytes(cfg->fe_params);
}

static kwsq_status refuse(kwsq_error *err, const char *why)
{
    if (err != NULL) {
        strncpy(err->message, why, KWSQ_ERROR_LEN - 1);
        err->message[KWSQ_ERROR_LEN - 1] = '\0';
    }
    return KWSQ_ERR_ARGUMENT;
}

kwsq_status kwsq_stream_init(kwsq_stream *s, const kwsq_stream_config *cfg,
                             const uint8_t *model, size_t model_len, uint8_t *arena,
                             size_t arena_len, void *fe_buffer, size_t fe_bytes, uint8_t *ring,
                             size_t ring_bytes, kwsq_error *err)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    if (cfg->fe_params == NULL || cfg->fe_params->num_coeffs > KWSQ_STREAM_MAX_COEFFS) {
        return refuse(err, "stream: more coefficients per frame than KWSQ_STREAM_MAX_COEFFS");
    }
    if (cfg->input_frames < 1 || cfg->input_stride < 1 || cfg->hop_frames < 1) {
        return refuse(err, "stream: input frames, stride and hop must be >= 1");
    }
    if (cfg->input_offset < 0 ||
        cfg->input_offset + (cfg->input_frames - 1) * cfg->input_stride >= cfg->window_frames) {
        return refuse(err, "stream: the input does not fit its window");
    }
    const kwsq_fe_status fst = kwsq_fe_init(&s->fe, cfg->fe_params, fe_buffer, fe_bytes);
    if (fst == KWSQ_FE_ERR_NORMALIZE) {
        return refuse(err, "stream: the front-end header asks for a feature normalization "
                           "this front-end does not implement");
    }
    if (fst != KWSQ_FE_OK) {
        return refuse(err, "stream: the front-end refused its parameters or buffer");
    }
    if (!KWSQ_STREAM_NORM && cfg->fe_params->normalize != KWSQ_FE_NORM_FIXED) {
        return refuse(err, "stream: built with KWSQ_STREAM_NORM=0 for a normalized header");
    }
    if (!normalized(cfg) && (cfg->input_offset != 0 ||
                             cfg->window_frames !=
                                 (cfg->input_frames - 1) * cfg->input_stride + 1)) {
        return refuse(err, "stream: without normalization the window is the input's span");
    }
    if (normalized(cfg) && cfg->fe_params->norm_frames != cfg->window_frames) {
        return refuse(err, "stream: the header's normalization frames differ from the window");
    }
    if (kwsq_det_init(&s->det, &cfg->det) != 0) {
        return refuse(err, "stream: detector settings out of range");
    }
    if (ring_bytes < kwsq_stream_ring_bytes(cfg)) {
        return refuse(err, "stream: frame ring too small");
    }
    if (normalized(cfg) &&
        kwsq_fe_norm_init(&s->norm, cfg->fe_params, ring, ring_bytes) != KWSQ_FE_OK) {
        return refuse(err, "stream: the normalization refused its parameters or buffer");
    }
    kwsq_status st = kwsq_init_with_ops(&s->ip, cfg->ops, model, model_len, arena, arena_len, err);
    if (st != KWSQ_OK) {
        return st;
    }
    const kwsq_tensor *in = kwsq_input(s->ip, 0);
    const kwsq_tensor *out = kwsq_output(s->ip, 0);
    s->frame_bytes = (size_t)cfg->fe_params->num_coeffs * kwsq_fe_input_bytes(cfg->fe_params);
    if (in == NULL || out == NULL || (int32_t)in->type != cfg->fe_params->input_type ||
        in->bytes != s->frame_bytes * (size_t)cfg->input_frames) {
        return refuse(err, "stream: the model input does not match the front-end header");
    }
    if (out->type != KWSQ_INT8 && out->type != KWSQ_FLOAT32) {
        return refuse(err, "stream: the model output must be int8 or float32");
    }
    const size_t classes = out->bytes / (out->type == KWSQ_INT8 ? 1u : 4u);
    for (int32_t k = 0; k < cfg->det.num_keywords; k++) {
        if (cfg->columns[k] < 0 || (size_t)cfg->columns[k] >= classes) {
            return refuse(err, "stream: a keyword column is outside the model output");
        }
    }
    s->ring = ring;
    s->span = cfg->window_frames;
    s->frames = 0;
    s->next_slot = 0;
    s->phase = 0;
    return KWSQ_OK;
}

int kwsq_stream_frontend(kwsq_stream *s, const int16_t *hop)
{
    uint8_t *slot = s->ring + (size_t)s->next_slot * s->frame_bytes;
#if KWSQ_FE_FIXED
    int32_t frame[KWSQ_STREAM_MAX_COEFFS];
    if (!kwsq_fe_push_q20(&s->fe, hop, frame)) {
        return 0;
    }
    if (normalized(&s->cfg)) {
        kwsq_fe_norm_push_q20(&s->norm, frame);
    } else {
        kwsq_fe_quantize_q20(s->cfg.fe_params, frame, slot);
    }
#else
    float frame[KWSQ_STREAM_MAX_COEFFS];
    if (!kwsq_fe_push_f32(&s->fe, hop, frame)) {
        return 0;
    }
    if (normalized(&s->cfg)) {
        kwsq_fe_norm_push_f32(&s->norm, frame);
    } else {
        kwsq_fe_quantize_f32(s->cfg.fe_params, frame, slot);
    }
#endif
    s->frames++;
    s->next_slot = s->next_slot + 1 == s->span ? 0 : s->next_slot + 1;
    if (s->frames > s->span) {
        s->phase = s->phase + 1 == s->cfg.hop_frames ? 0 : s->phase + 1;
    }
    return 1;
}

int kwsq_stream_window_due(const kwsq_stream *s)
{
    return s->frames >= s->span && s->phase == 0;
}

kwsq_status kwsq_stream_invoke(kwsq_stream *s, kwsq_detection *out, int32_t *count,
                               kwsq_error *err)
{
    const kwsq_status st = kwsq_stream_run_model(s, err);
    if (st == KWSQ_OK) {
        *count = kwsq_stream_detect(s, out);
    }
    return st;
}

kwsq_status kwsq_stream_run_model(kwsq_stream *s, kwsq_error *err)
{
    const kwsq_tensor *in = kwsq_input(s->ip, 0);
    if (normalized(&s->cfg)) {
        /* the norm ring holds exactly the window: its oldest frame is frame 0 */
#if KWSQ_FE_FIXED
        kwsq_fe_norm_input_q20(&s->norm, s->cfg.input_offset, s->cfg.input_stride,
                               s->cfg.input_frames, in->data);
#else
        kwsq_fe_norm_input_f32(&s->norm, s->cfg.input_offset, s->cfg.input_stride,
                               s->cfg.input_frames, in->data);
#endif
        return kwsq_invoke(s->ip, err);
    }
    const int64_t start = s->frames - s->span;
    uint8_t *dst = (uint8_t *)in->data;
    /* Ring slots from the oldest frame on, wrapped without a 64-bit division
     * per frame (input_stride < span). */
    int32_t slot = (int32_t)(start % s->span);
    const size_t fb = s->frame_bytes;
    for (int32_t i = 0; i < s->cfg.input_frames; i++) {
        /* frames are a few dozen bytes: word copies beat a memcpy call */
        const uint8_t *src = s->ring + (size_t)slot * fb;
        uint8_t *d = dst + (size_t)i * fb;
        if ((fb & 3u) == 0u) {
            for (size_t b = 0; b < fb; b += 4) {
                memcpy(d + b, src + b, 4);
            }
        } else {
            memcpy(d, src, fb);
        }
        slot += s->cfg.input_stride;
        slot = slot >= s->span ? slot - s->span : slot;
    }
    return kwsq_invoke(s->ip, err);
}

int32_t kwsq_stream_detect(kwsq_stream *s, kwsq_detection *out)
{
    const int64_t start = s->frames - s->span;
    const kwsq_tensor *o = kwsq_output(s->ip, 0);
    for (int32_t k = 0; k < s->cfg.det.num_keywords; k++) {
        const int32_t c = s->cfg.columns[k];
        if (o->type == KWSQ_INT8) {
            /* As numpy: (float32(q) - zero point) * scale, in float32. */
            const float q = (float)((const int8_t *)o->data)[c];
            s->posteriors[k] = (q - (float)o->zero_point) * o->scale;
        } else {
            s->posteriors[k] = ((const float *)o->data)[c];
        }
    }
    const kwsq_fe_params *p = s->cfg.fe_params;
    const int64_t last = start + s->span - 1;
    const uint32_t end_sample = (uint32_t)(last * p->hop + p->window);
    return kwsq_det_push(&s->det, s->posteriors, end_sample, out);
}

int32_t kwsq_stream_finish(kwsq_stream *s, kwsq_detection *out)
{
    return kwsq_det_finish(&s->det, out);
}
