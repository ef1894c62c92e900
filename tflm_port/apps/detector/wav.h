/* The header of a 16-bit PCM mono WAV file, read through a byte source. */
#ifndef KWSQ_WAV_H
#define KWSQ_WAV_H

#include <stddef.h>
#include <stdint.h>

/* Read up to n bytes; returns the number read (0 at the end). */
typedef size_t (*kwsq_read_fn)(void *ctx, void *buf, size_t n);

typedef struct {
    int32_t sample_rate;
    uint32_t data_bytes; /* bytes of samples after the header */
} kwsq_wav_info;

/* Parse up to the start of the sample data. Returns NULL on success or a
 * one-line reason (not RIFF/WAVE, not PCM, not 16-bit mono, truncated). */
const char *kwsq_wav_open(kwsq_read_fn read, void *ctx, kwsq_wav_info *info);

#endif
