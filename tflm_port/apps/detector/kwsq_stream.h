/*
 * Audio to detections on a device: the feature front-end, a ring of the
 * newest quantized frames, the model invoked on the newest input window,
 * and the detector. The pieces are separate calls so that a harness can
 * measure the front-end and the model apart.
 *
 * Input windows follow kwsq eval's streaming path
 * (pipeline/evaluate/streaming.py Windowing): a window is window_frames
 * frames, the input is INPUT_FRAMES frames INPUT_STRIDE apart from frame
 * input_offset of it; windows start every hop_frames frames from frame 0 (1
 * for the stacked DNNs: a new input every frame; a whole clip of frames every
 * few frames for the conv models). Without normalization the window is the
 * input's span and the ring holds quantized frames; with it (the header's
 * normalize) the ring is a kwsq_fe_norm of raw frames with running sums, and
 * the input is quantized from the window's frames minus its mean.
 *
 * The front-end path is chosen at build time: KWSQ_FE_FIXED=1 for the
 * fixed-point path, else the float path.
 */
#ifndef KWSQ_STREAM_H
#define KWSQ_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "kwsq_detector.h"
#include "kwsq_fe.h"
#include "kwsq_ops.h"
#include "kwsq_rt.h"

#ifndef KWSQ_STREAM_MAX_COEFFS
#define KWSQ_STREAM_MAX_COEFFS 128
#endif

typedef struct {
    const kwsq_fe_params *fe_params;
    int32_t input_frames;
    int32_t input_stride;
    int32_t input_offset;  /* first input frame in the window */
    int32_t window_frames; /* frames of a window (the normalization's frames) */
    int32_t hop_frames;
    const int32_t *columns; /* output column of each keyword */
    kwsq_det_config det;
    /* The ops the interpreter may use: the model's op list (kwsq convert's
     * model_ops.c, so the firmware links only those) or &kwsq_all_ops. */
    const kwsq_op_resolver *ops;
} kwsq_stream_config;

typedef struct {
    kwsq_stream_config cfg;
    kwsq_fe_state fe;
    kwsq_interpreter *ip;
    kwsq_detector det;
    uint8_t *ring;        /* span frames of quantized features (no normalization) */
    kwsq_fe_norm norm;    /* the window with its sums (normalization) */
    size_t frame_bytes;
    int32_t span;         /* window_frames */
    int64_t frames;       /* frames produced so far */
    int32_t next_slot;    /* frames % span: where the next frame goes */
    int32_t phase;        /* (frames - span) % hop_frames once frames >= span */
    float posteriors[KWSQ_DET_MAX_KEYWORDS];
} kwsq_stream;

/* Bytes of the frame ring for a configuration (with normalization: the
 * kwsq_fe_norm buffer, raw frames and sums). 0 for a configuration the
 * front-end refuses. */
size_t kwsq_stream_ring_bytes(const kwsq_stream_config *cfg);

/* Set everything up; on failure the reason is in err (a kwsq_status is returned). */
kwsq_status kwsq_stream_init(kwsq_stream *s, const kwsq_stream_config *cfg,
                             const uint8_t *model, size_t model_len, uint8_t *arena,
                             size_t arena_len, void *fe_buffer, size_t fe_bytes, uint8_t *ring,
                             size_t ring_bytes, kwsq_error *err);

/* One hop of audio through the front-end; 1 when a new frame entered the ring. */
int kwsq_stream_frontend(kwsq_stream *s, const int16_t *hop);

/* Whether the newest frame completes an input window. */
int kwsq_stream_window_due(const kwsq_stream *s);

/* Run the model on the newest window and the detector on its posteriors.
 * *count detections are written to out (room for KWSQ_DET_MAX_KEYWORDS). */
kwsq_status kwsq_stream_invoke(kwsq_stream *s, kwsq_detection *out, int32_t *count,
                               kwsq_error *err);
/* kwsq_stream_invoke in its two parts, for timing them apart: the model on
 * the newest input window, then its posteriors through the detector. */
kwsq_status kwsq_stream_run_model(kwsq_stream *s, kwsq_error *err);
int32_t kwsq_stream_detect(kwsq_stream *s, kwsq_detection *out);

/* End of audio: detections the last window decides. */
int32_t kwsq_stream_finish(kwsq_stream *s, kwsq_detection *out);

#endif
