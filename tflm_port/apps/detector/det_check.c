/* Host tool: the detector alone on posteriors from a file, for the test that
 * holds it to pipeline/evaluate/det.py.
 *
 *   det-check IN.bin
 *
 * IN.bin: int32 num_keywords, int32 smooth_windows, float64 threshold,
 * float64 refractory_seconds, int32 sample_rate, int32 windows, then per
 * window uint32 end_sample and float32 posteriors[num_keywords].
 * Prints "<keyword> <end_sample> <score %.17g>" per detection. */
#include <stdio.h>

#include "kwsq_detector.h"

int main(int argc, char **argv)
{
    FILE *f = argc > 1 ? fopen(argv[1], "rb") : NULL;
    if (f == NULL) {
        fprintf(stderr, "usage: det-check IN.bin\n");
        return 2;
    }
    kwsq_det_config cfg;
    int32_t windows;
    if (fread(&cfg.num_keywords, 4, 1, f) != 1 || fread(&cfg.smooth_windows, 4, 1, f) != 1 ||
        fread(&cfg.threshold, 8, 1, f) != 1 || fread(&cfg.refractory_seconds, 8, 1, f) != 1 ||
        fread(&cfg.sample_rate, 4, 1, f) != 1 || fread(&windows, 4, 1, f) != 1) {
        fprintf(stderr, "det-check: truncated header\n");
        return 2;
    }
    static kwsq_detector d;
    if (kwsq_det_init(&d, &cfg) != 0) {
        fprintf(stderr, "det-check: settings out of range\n");
        return 1;
    }
    kwsq_detection out[KWSQ_DET_MAX_KEYWORDS];
    float p[KWSQ_DET_MAX_KEYWORDS];
    for (int32_t t = 0; t < windows; t++) {
        uint32_t end;
        if (fread(&end, 4, 1, f) != 1 ||
            fread(p, 4, (size_t)cfg.num_keywords, f) != (size_t)cfg.num_keywords) {
            fprintf(stderr, "det-check: truncated posteriors\n");
            return 2;
        }
        const int32_t n = kwsq_det_push(&d, p, end, out);
        for (int32_t i = 0; i < n; i++) {
            printf("%d %u %.17g\n", (int)out[i].keyword, (unsigned)out[i].end_sample, out[i].score);
        }
    }
    const int32_t n = kwsq_det_finish(&d, out);
    for (int32_t i = 0; i < n; i++) {
        printf("%d %u %.17g\n", (int)out[i].keyword, (unsigned)out[i].end_sample, out[i].score);
    }
    fclose(f);
    return 0;
}
