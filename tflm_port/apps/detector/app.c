/* Read a WAV hop by hop, as a microphone driver would deliver it, run the
 * stream and print detections (and, on a board, what each part cost).
 *
 * Lines, all starting with "KWSQ " (pipeline/device/deploy.py parses them):
 *   KWSQ DETECTOR <kind> <fixed 0|1>          start
 *   KWSQ MEMORY <arena used> <front-end state> <frame ring>
 *   KWSQ DETECT <keyword> <name> <end sample> <score x 1e6>
 *   KWSQ POST <end sample> <posterior x 1e6>...   (verbose only)
 *   KWSQ HOPS <hops> <windows>
 *   KWSQ COST fe <total> <max> model <total> <max> det <total> <max>
 *                                     (instructions, with a counter; det: the
 *                                      posteriors through the detector rules)
 *   KWSQ ERROR <reason>
 *   KWSQ DONE
 */
#include "app.h"

#include <string.h>

#include "detector_config.h"
#include "frontend.h"
#include "kwsq_stream.h"
#include "model.h"

#ifdef KWSQ_DET_OP_LIST
/* model_ops.c (kwsq deploy): only the model's ops are linked. */
extern const kwsq_op_resolver KWSQ_DET_OP_LIST;
#define KWSQ_DET_OPS (&KWSQ_DET_OP_LIST)
#else
#define KWSQ_DET_OPS (&kwsq_all_ops)
#endif

#ifndef KWSQ_ARENA_BYTES
#define KWSQ_ARENA_BYTES 65536
#endif
#ifndef KWSQ_FE_FIXED
#define KWSQ_FE_FIXED 0
#endif

#if KWSQ_FRONTEND_NORMALIZE == KWSQ_FE_NORM_FIXED
#define RING_BYTES (KWSQ_FRONTEND_WINDOW_FRAMES * KWSQ_FRONTEND_NUM_COEFFS * \
                    KWSQ_DET_INPUT_ELEMENT_BYTES)
#elif KWSQ_FRONTEND_NORMALIZE == KWSQ_FE_NORM_UTTERANCE || \
    KWSQ_FRONTEND_NORMALIZE == KWSQ_FE_NORM_CHANNEL ||   \
    KWSQ_FRONTEND_NORMALIZE == KWSQ_FE_NORM_CHANNEL_VAR
/* raw frames of the window and their sums (kwsq_fe_norm) */
#define RING_BYTES KWSQ_FE_NORM_BYTES(KWSQ_FRONTEND_WINDOW_FRAMES, KWSQ_FRONTEND_NUM_COEFFS, \
                                      KWSQ_FRONTEND_NORMALIZE)
#else
#error "frontend.h asks for a feature normalization the C front-end does not implement"
#endif

static uint8_t arena[KWSQ_ARENA_BYTES] __attribute__((aligned(16)));
static uint64_t fe_buffer[(KWSQ_FRONTEND_STATE_BYTES + 7) / 8];
static uint8_t ring[RING_BYTES] __attribute__((aligned(8)));
static const int32_t columns[KWSQ_DET_NUM_KEYWORDS] = KWSQ_DET_COLUMNS;
static const char *const names[KWSQ_DET_NUM_KEYWORDS] = KWSQ_DET_NAMES;
static kwsq_stream stream;

static void print_u32(const kwsq_app_io *io, uint32_t v)
{
    char digits[11];
    int n = 10;
    digits[n] = '\0';
    do {
        digits[--n] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    io->print(digits + n);
}

static void print_u64(const kwsq_app_io *io, uint64_t v)
{
    char digits[21];
    int n = 20;
    digits[n] = '\0';
    do {
        digits[--n] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    io->print(digits + n);
}

static void print_i32(const kwsq_app_io *io, int32_t v)
{
    if (v < 0) {
        io->print("-");
        print_u32(io, (uint32_t)(-(int64_t)v));
    } else {
        print_u32(io, (uint32_t)v);
    }
}

static int32_t micro(double v)
{
    const double m = v * 1e6;
    return (int32_t)(m < 0 ? m - 0.5 : m + 0.5);
}

static void print_detections(const kwsq_app_io *io, const kwsq_detection *d, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        io->print("KWSQ DETECT ");
        print_i32(io, d[i].keyword);
        io->print(" ");
        io->print(names[d[i].keyword]);
        io->print(" ");
        print_u32(io, d[i].end_sample);
        io->print(" ");
        print_i32(io, micro(d[i].score));
        io->print("\n");
    }
}

static int fail(const kwsq_app_io *io, const char *why, int code)
{
    io->print("KWSQ ERROR ");
    io->print(why);
    io->print("\n");
    return code;
}

int kwsq_app_run(const kwsq_app_io *io)
{
    const kwsq_stream_config cfg = {
        .fe_params = &kwsq_frontend,
        .input_frames = KWSQ_FRONTEND_INPUT_FRAMES,
        .input_stride = KWSQ_FRONTEND_INPUT_STRIDE,
        .input_offset = KWSQ_FRONTEND_INPUT_OFFSET,
        .window_frames = KWSQ_FRONTEND_WINDOW_FRAMES,
        .hop_frames = KWSQ_DET_HOP_FRAMES,
        .columns = columns,
        .det = {
            .num_keywords = KWSQ_DET_NUM_KEYWORDS,
            .smooth_windows = KWSQ_DET_SMOOTH_WINDOWS,
            .threshold = KWSQ_DET_THRESHOLD,
            .refractory_seconds = KWSQ_DET_REFRACTORY_SECONDS,
            .sample_rate = KWSQ_FRONTEND_SAMPLE_RATE,
        },
        .ops = KWSQ_DET_OPS,
    };
    kwsq_error err;
    err.message[0] = '\0';
    io->print(KWSQ_FRONTEND_NUM_COEFFS == KWSQ_FRONTEND_NUM_BINS ? "KWSQ DETECTOR lfbe "
                                                                  : "KWSQ DETECTOR mfcc ");
    io->print(KWSQ_FE_FIXED ? "1\n" : "0\n");
    const kwsq_status st = kwsq_stream_init(&stream, &cfg, kwsq_model, kwsq_model_len, arena,
                                            sizeof(arena), fe_buffer, sizeof(fe_buffer), ring,
                                            sizeof(ring), &err);
    if (st != KWSQ_OK) {
        return fail(io, err.message, st == KWSQ_ERR_ARENA ? 2 : 1);
    }
    io->print("KWSQ MEMORY ");
    print_u32(io, (uint32_t)kwsq_arena_used_bytes(stream.ip));
    io->print(" ");
    print_u32(io, (uint32_t)kwsq_fe_state_bytes(&kwsq_frontend));
    io->print(" ");
    print_u32(io, (uint32_t)kwsq_stream_ring_bytes(&cfg));
    io->print("\n");

    kwsq_wav_info wav;
    const char *why = kwsq_wav_open(io->read, io->ctx, &wav);
    if (why != 0) {
        return fail(io, why, 1);
    }
    if (wav.sample_rate != KWSQ_FRONTEND_SAMPLE_RATE) {
        return fail(io, "the WAV sample rate differs from the model's features", 1);
    }

    int16_t hop[KWSQ_FRONTEND_HOP];
    kwsq_detection found[KWSQ_DET_MAX_KEYWORDS];
    uint32_t left = wav.data_bytes / 2u;
    uint32_t hops = 0, windows = 0;
    uint64_t fe_total = 0, model_total = 0, det_total = 0;
    uint32_t fe_max = 0, model_max = 0, det_max = 0;
    while (left > 0u) {
        /* A last partial hop is zero-padded; its frame counts only if it ends
         * within the recording, as the Python streaming path frames it. */
        const uint32_t want = left < KWSQ_FRONTEND_HOP ? left : KWSQ_FRONTEND_HOP;
        const size_t got = io->read(io->ctx, hop, want * 2u) / 2u;
        if (got == 0u) {
            break;
        }
        memset(hop + got, 0, (KWSQ_FRONTEND_HOP - got) * sizeof(int16_t));
        const int real = (int32_t)got >= KWSQ_FRONTEND_HOP - kwsq_fe_delay(&kwsq_frontend);
        left = got < want ? 0u : left - want;
        hops++;
        const uint32_t t0 = io->counter ? io->counter() : 0u;
        const int framed = kwsq_stream_frontend(&stream, hop) && real;
        const uint32_t t1 = io->counter ? io->counter() : 0u;
        if (io->counter) {
            const uint32_t n = io->ticks_between(t0, t1);
            fe_total += n;
            fe_max = n > fe_max ? n : fe_max;
        }
        if (!framed || !kwsq_stream_window_due(&stream)) {
            continue;
        }
        const uint32_t t2 = io->counter ? io->counter() : 0u;
        if (kwsq_stream_run_model(&stream, &err) != KWSQ_OK) {
            return fail(io, err.message, 1);
        }
        const uint32_t t3 = io->counter ? io->counter() : 0u;
        const int32_t count = kwsq_stream_detect(&stream, found);
        const uint32_t t4 = io->counter ? io->counter() : 0u;
        if (io->counter) {
            const uint32_t n = io->ticks_between(t2, t3);
            model_total += n;
            model_max = n > model_max ? n : model_max;
            const uint32_t d = io->ticks_between(t3, t4);
            det_total += d;
            det_max = d > det_max ? d : det_max;
        }
        windows++;
        if (io->verbose) {
            io->print("KWSQ POST ");
            print_u32(io, (uint32_t)(((stream.frames - 1) * KWSQ_FRONTEND_HOP) +
                                     KWSQ_FRONTEND_WINDOW));
            for (int32_t k = 0; k < KWSQ_DET_NUM_KEYWORDS; k++) {
                io->print(" ");
                print_i32(io, micro(stream.posteriors[k]));
            }
            io->print("\n");
        }
        print_detections(io, found, count);
    }
    print_detections(io, found, kwsq_stream_finish(&stream, found));
    io->print("KWSQ HOPS ");
    print_u32(io, hops);
    io->print(" ");
    print_u32(io, windows);
    io->print("\n");
    if (io->counter) {
        io->print("KWSQ COST fe ");
        print_u64(io, fe_total);
        io->print(" ");
        print_u32(io, fe_max);
        io->print(" model ");
        print_u64(io, model_total);
        io->print(" ");
        print_u32(io, model_max);
        io->print(" det ");
        print_u64(io, det_total);
        io->print(" ");
        print_u32(io, det_max);
        io->print("\n");
    }
    io->print("KWSQ DONE\n");
    return 0;
}
