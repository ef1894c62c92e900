/* Host tool: run both front-end paths over raw int16 audio and dump every
 * frame, for the comparison with pipeline/data/features.py.
 *
 *   fe-dump AUDIO.raw OUT.bin [SEGMENT_SAMPLES [WINDOWS.bin]]
 *
 * The params header is compiled in (-DKWSQ_FE_PARAMS_HEADER="frontend.h").
 * AUDIO.raw is int16 little-endian; with SEGMENT_SAMPLES the audio is cut
 * into independent clips of that length (the front-end is reset for each,
 * and a clip's trailing partial hop is dropped). A stream's last partial hop
 * is zero-padded and gives a frame only if that frame ends within the audio.
 * OUT.bin has, per frame: float[num_coeffs] (float path), int32[num_coeffs]
 * (fixed path, Q20), then the model input bytes quantized from each path.
 * SEGMENT_SAMPLES 0 is one stream. WINDOWS.bin gets, after every frame that
 * completes a window of KWSQ_FRONTEND_WINDOW_FRAMES frames (kwsq_fe_norm, the
 * header's normalization), the window's means: float[num_coeffs] (float path),
 * int32[num_coeffs] (Q20), then the model input (INPUT_FRAMES frames from
 * INPUT_OFFSET, INPUT_STRIDE apart, normalized and quantized) of each path.
 * A normalization mode the front-end lacks is refused (exit 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kwsq_fe.h"
#include KWSQ_FE_PARAMS_HEADER

#define P kwsq_frontend

static uint64_t state_f_buf[(KWSQ_FRONTEND_STATE_BYTES + 7) / 8];
static uint64_t state_q_buf[(KWSQ_FRONTEND_STATE_BYTES + 7) / 8];
#define NORM_BYTES \
    KWSQ_FE_NORM_BYTES(KWSQ_FRONTEND_WINDOW_FRAMES, KWSQ_FRONTEND_NUM_COEFFS, KWSQ_FRONTEND_NORMALIZE)
static uint64_t norm_f_buf[(NORM_BYTES + 7) / 8];
static uint64_t norm_q_buf[(NORM_BYTES + 7) / 8];
#define INPUT_VALUES (KWSQ_FRONTEND_INPUT_FRAMES * KWSQ_FRONTEND_NUM_COEFFS)
static uint8_t win_f[INPUT_VALUES * 4];
static uint8_t win_q[INPUT_VALUES * 4];

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fe-dump AUDIO.raw OUT.bin [SEGMENT_SAMPLES [WINDOWS.bin]]\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    FILE *out = fopen(argv[2], "wb");
    if (in == NULL || out == NULL) {
        fprintf(stderr, "fe-dump: cannot open %s\n", in == NULL ? argv[1] : argv[2]);
        return 2;
    }
    const long segment = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
    FILE *wout = NULL;
    if (argc > 4 && (wout = fopen(argv[4], "wb")) == NULL) {
        fprintf(stderr, "fe-dump: cannot open %s\n", argv[4]);
        return 2;
    }
    kwsq_fe_state sf, sq;
    kwsq_fe_norm nf, nq;
    if (kwsq_fe_check(&P) == KWSQ_FE_ERR_NORMALIZE) {
        fprintf(stderr, "fe-dump: the front-end does not implement normalization mode %d\n",
                (int)P.normalize);
        return 3;
    }
    if (kwsq_fe_init(&sf, &P, state_f_buf, sizeof(state_f_buf)) != KWSQ_FE_OK ||
        kwsq_fe_init(&sq, &P, state_q_buf, sizeof(state_q_buf)) != KWSQ_FE_OK ||
        kwsq_fe_norm_init(&nf, &P, norm_f_buf, sizeof(norm_f_buf)) != KWSQ_FE_OK ||
        kwsq_fe_norm_init(&nq, &P, norm_q_buf, sizeof(norm_q_buf)) != KWSQ_FE_OK) {
        fprintf(stderr, "fe-dump: the front-end refused its parameters\n");
        return 1;
    }
    int16_t hop[KWSQ_FRONTEND_HOP];
    float ff[KWSQ_FRONTEND_NUM_COEFFS];
    int32_t fq[KWSQ_FRONTEND_NUM_COEFFS];
    uint8_t qf[KWSQ_FRONTEND_NUM_COEFFS * 4];
    uint8_t qq[KWSQ_FRONTEND_NUM_COEFFS * 4];
    const size_t qbytes = kwsq_fe_input_bytes(&P) * KWSQ_FRONTEND_NUM_COEFFS;
    long pos = 0;
    for (;;) {
        if (segment > 0 && pos + KWSQ_FRONTEND_HOP > segment) {
            /* skip the rest of this clip */
            int16_t skip;
            for (long i = pos; i < segment; i++) {
                if (fread(&skip, sizeof(skip), 1, in) != 1) {
                    break;
                }
            }
            pos = 0;
            kwsq_fe_reset(&sf);
            kwsq_fe_reset(&sq);
            kwsq_fe_norm_reset(&nf);
            kwsq_fe_norm_reset(&nq);
            continue;
        }
        const size_t got = fread(hop, sizeof(int16_t), KWSQ_FRONTEND_HOP, in);
        if (got == 0) {
            break;
        }
        /* A last partial hop, zero-padded: its frame counts only if it ends
         * within the audio (as features.py frames a recording). */
        memset(hop + got, 0, (KWSQ_FRONTEND_HOP - got) * sizeof(int16_t));
        const int real = (long)got >= KWSQ_FRONTEND_HOP - kwsq_fe_delay(&P);
        pos += KWSQ_FRONTEND_HOP;
        const int a = kwsq_fe_push_f32(&sf, hop, ff);
        const int b = kwsq_fe_push_q20(&sq, hop, fq);
        if (a != b) {
            fprintf(stderr, "fe-dump: the two paths disagree on frame timing\n");
            return 1;
        }
        if (a && real) {
            kwsq_fe_quantize_f32(&P, ff, qf);
            kwsq_fe_quantize_q20(&P, fq, qq);
            fwrite(ff, sizeof(float), KWSQ_FRONTEND_NUM_COEFFS, out);
            fwrite(fq, sizeof(int32_t), KWSQ_FRONTEND_NUM_COEFFS, out);
            fwrite(qf, 1, qbytes, out);
            fwrite(qq, 1, qbytes, out);
            kwsq_fe_norm_push_f32(&nf, ff);
            kwsq_fe_norm_push_q20(&nq, fq);
            if (wout != NULL && kwsq_fe_norm_ready(&nf)) {
                float mf[KWSQ_FRONTEND_NUM_COEFFS];
                int32_t mq[KWSQ_FRONTEND_NUM_COEFFS];
                kwsq_fe_norm_means_f32(&nf, mf);
                kwsq_fe_norm_means_q20(&nq, mq);
                kwsq_fe_norm_input_f32(&nf, KWSQ_FRONTEND_INPUT_OFFSET, KWSQ_FRONTEND_INPUT_STRIDE,
                                       KWSQ_FRONTEND_INPUT_FRAMES, win_f);
                kwsq_fe_norm_input_q20(&nq, KWSQ_FRONTEND_INPUT_OFFSET, KWSQ_FRONTEND_INPUT_STRIDE,
                                       KWSQ_FRONTEND_INPUT_FRAMES, win_q);
                fwrite(mf, sizeof(float), KWSQ_FRONTEND_NUM_COEFFS, wout);
                fwrite(mq, sizeof(int32_t), KWSQ_FRONTEND_NUM_COEFFS, wout);
                fwrite(win_f, 1, qbytes * KWSQ_FRONTEND_INPUT_FRAMES, wout);
                fwrite(win_q, 1, qbytes * KWSQ_FRONTEND_INPUT_FRAMES, wout);
            }
        }
    }
    fclose(in);
    if (wout != NULL && fclose(wout) != 0) {
        return 1;
    }
    return fclose(out) == 0 ? 0 : 1;
}
