/* The detector application, independent of where audio comes from and where
 * text goes (a host file and stdout, or semihosting on a board). */
#ifndef KWSQ_APP_H
#define KWSQ_APP_H

#include <stdint.h>

#include "wav.h"

typedef struct {
    kwsq_read_fn read; /* the WAV file's bytes */
    void *ctx;
    void (*print)(const char *s);
    /* Optional: a free-running counter and its ticks-to-instructions map. */
    uint32_t (*counter)(void);
    uint32_t (*ticks_between)(uint32_t start, uint32_t end);
    int verbose; /* also print every window's keyword posteriors */
} kwsq_app_io;

/* Exit codes: 0 done, 1 refused (model, header, WAV), 2 arena too small. */
int kwsq_app_run(const kwsq_app_io *io);

#endif
