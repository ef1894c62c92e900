/* RIFF/WAVE chunks: "fmt " must say PCM, 1 channel, 16 bits; others are skipped. */
#include "wav.h"

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
           ((uint32_t)b[3] << 24);
}

static uint16_t le16(const uint8_t *b)
{
    return (uint16_t)(b[0] | (b[1] << 8));
}

static int read_exact(kwsq_read_fn read, void *ctx, uint8_t *buf, size_t n)
{
    return read(ctx, buf, n) == n;
}

static int skip(kwsq_read_fn read, void *ctx, uint32_t n)
{
    uint8_t junk[64];
    while (n > 0u) {
        const size_t part = n < sizeof(junk) ? n : sizeof(junk);
        if (!read_exact(read, ctx, junk, part)) {
            return 0;
        }
        n -= (uint32_t)part;
    }
    return 1;
}

static int tag_is(const uint8_t *b, const char *tag)
{
    return b[0] == (uint8_t)tag[0] && b[1] == (uint8_t)tag[1] && b[2] == (uint8_t)tag[2] &&
           b[3] == (uint8_t)tag[3];
}

const char *kwsq_wav_open(kwsq_read_fn read, void *ctx, kwsq_wav_info *info)
{
    uint8_t h[12];
    if (!read_exact(read, ctx, h, 12) || !tag_is(h, "RIFF") || !tag_is(h + 8, "WAVE")) {
        return "not a RIFF/WAVE file";
    }
    int have_fmt = 0;
    for (;;) {
        uint8_t c[8];
        if (!read_exact(read, ctx, c, 8)) {
            return "no data chunk";
        }
        const uint32_t size = le32(c + 4);
        if (tag_is(c, "fmt ")) {
            uint8_t f[16];
            if (size < 16u || !read_exact(read, ctx, f, 16)) {
                return "truncated fmt chunk";
            }
            const uint16_t format = le16(f);
            if ((format != 1u && format != 0xFFFEu) || le16(f + 2) != 1u || le16(f + 14) != 16u) {
                return "not 16-bit PCM mono";
            }
            info->sample_rate = (int32_t)le32(f + 4);
            have_fmt = 1;
            if (!skip(read, ctx, size - 16u + (size & 1u))) {
                return "truncated fmt chunk";
            }
        } else if (tag_is(c, "data")) {
            if (!have_fmt) {
                return "data chunk before fmt chunk";
            }
            info->data_bytes = size;
            return 0;
        } else if (!skip(read, ctx, size + (size & 1u))) {
            return "truncated chunk";
        }
    }
}
