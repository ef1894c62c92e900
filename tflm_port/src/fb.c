/*
 * A minimal flatbuffer reader for the TFLite schema subset kwsq needs.
 *
 * Every position is checked against the buffer length before it is read, with
 * overflow-safe arithmetic, so a truncated or hostile file is rejected instead
 * of being read out of bounds. Reads are byte-wise little-endian, so neither
 * the host's endianness nor the model's alignment matters here.
 */
#include <string.h>

#include "kwsq_internal.h"

uint32_t kwsq_rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint16_t kwsq_rd_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

float kwsq_rd_f32(const uint8_t *p)
{
    uint32_t u = kwsq_rd_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int64_t kwsq_rd_i64(const uint8_t *p)
{
    uint64_t u = (uint64_t)kwsq_rd_u32(p) | ((uint64_t)kwsq_rd_u32(p + 4) << 32);
    return (int64_t)u;
}

/* True when [pos, pos + n) lies inside the buffer. */
static bool in_bounds(const kwsq_fb *fb, size_t pos, size_t n)
{
    return pos <= fb->len && n <= fb->len - pos;
}

bool kwsq_fb_table_at(const kwsq_fb *fb, size_t pos, kwsq_fb_table *t)
{
    if (!in_bounds(fb, pos, 4) || (pos & 3u) != 0) {
        return false;
    }
    int32_t soff = (int32_t)kwsq_rd_u32(fb->buf + pos);
    /* vtable = pos - soff, computed without signed overflow */
    int64_t vt = (int64_t)pos - (int64_t)soff;
    if (vt < 0 || (uint64_t)vt > (uint64_t)fb->len || !in_bounds(fb, (size_t)vt, 4) || (vt & 1) != 0) {
        return false;
    }
    uint16_t vt_size = kwsq_rd_u16(fb->buf + vt);
    uint16_t tab_size = kwsq_rd_u16(fb->buf + vt + 2);
    if (vt_size < 4 || (vt_size & 1u) != 0 || !in_bounds(fb, (size_t)vt, vt_size) || tab_size < 4 ||
        !in_bounds(fb, pos, tab_size)) {
        return false;
    }
    t->pos = pos;
    t->vt = (size_t)vt;
    t->vt_size = vt_size;
    t->tab_size = tab_size;
    return true;
}

bool kwsq_fb_root(const kwsq_fb *fb, kwsq_fb_table *root)
{
    if (fb->buf == NULL || !in_bounds(fb, 0, 8)) {
        return false;
    }
    return kwsq_fb_table_at(fb, kwsq_rd_u32(fb->buf), root);
}

/* Position of field `id` (0 when absent); false when its `size` bytes do not
 * lie inside the table. */
static bool field(const kwsq_fb *fb, const kwsq_fb_table *t, int id, size_t size, size_t *pos)
{
    size_t slot = 4u + 2u * (size_t)id;
    *pos = 0;
    if (id < 0 || slot + 2u > t->vt_size) {
        return true;
    }
    uint16_t off = kwsq_rd_u16(fb->buf + t->vt + slot);
    if (off == 0) {
        return true;
    }
    if (off < 4 || (size_t)off + size > t->tab_size) {
        return false;
    }
    *pos = t->pos + off;
    return in_bounds(fb, *pos, size);
}

bool kwsq_fb_i32(const kwsq_fb *fb, const kwsq_fb_table *t, int id, int32_t def, int32_t *out)
{
    size_t p;
    if (!field(fb, t, id, 4, &p)) {
        return false;
    }
    *out = p ? (int32_t)kwsq_rd_u32(fb->buf + p) : def;
    return true;
}

bool kwsq_fb_u32(const kwsq_fb *fb, const kwsq_fb_table *t, int id, uint32_t def, uint32_t *out)
{
    size_t p;
    if (!field(fb, t, id, 4, &p)) {
        return false;
    }
    *out = p ? kwsq_rd_u32(fb->buf + p) : def;
    return true;
}

bool kwsq_fb_i8(const kwsq_fb *fb, const kwsq_fb_table *t, int id, int32_t def, int32_t *out)
{
    size_t p;
    if (!field(fb, t, id, 1, &p)) {
        return false;
    }
    *out = p ? (int32_t)(int8_t)fb->buf[p] : def;
    return true;
}

bool kwsq_fb_u8(const kwsq_fb *fb, const kwsq_fb_table *t, int id, int32_t def, int32_t *out)
{
    size_t p;
    if (!field(fb, t, id, 1, &p)) {
        return false;
    }
    *out = p ? (int32_t)fb->buf[p] : def;
    return true;
}

bool kwsq_fb_f32(const kwsq_fb *fb, const kwsq_fb_table *t, int id, float def, float *out)
{
    size_t p;
    if (!field(fb, t, id, 4, &p)) {
        return false;
    }
    *out = p ? kwsq_rd_f32(fb->buf + p) : def;
    return true;
}

bool kwsq_fb_u64(const kwsq_fb *fb, const kwsq_fb_table *t, int id, uint64_t def, uint64_t *out)
{
    size_t p;
    if (!field(fb, t, id, 8, &p)) {
        return false;
    }
    *out = p ? (uint64_t)kwsq_rd_i64(fb->buf + p) : def;
    return true;
}

/* Follow the uoffset stored at `p`. */
static bool deref(const kwsq_fb *fb, size_t p, size_t *target)
{
    uint32_t off = kwsq_rd_u32(fb->buf + p);
    if (off == 0 || off > fb->len - p) {
        return false;
    }
    *target = p + off;
    return true;
}

bool kwsq_fb_subtable(const kwsq_fb *fb, const kwsq_fb_table *t, int id, bool *present,
                      kwsq_fb_table *out)
{
    size_t p, target;
    *present = false;
    if (!field(fb, t, id, 4, &p)) {
        return false;
    }
    if (p == 0) {
        return true;
    }
    *present = true;
    return deref(fb, p, &target) && kwsq_fb_table_at(fb, target, out);
}

bool kwsq_fb_vector(const kwsq_fb *fb, const kwsq_fb_table *t, int id, size_t elem_size,
                    kwsq_fb_vec *out)
{
    size_t p, target;
    out->pos = 0;
    out->count = 0;
    if (!field(fb, t, id, 4, &p)) {
        return false;
    }
    if (p == 0) {
        return true;
    }
    if (!deref(fb, p, &target) || !in_bounds(fb, target, 4)) {
        return false;
    }
    uint32_t count = kwsq_rd_u32(fb->buf + target);
    size_t first = target + 4;
    if (elem_size != 0 && (size_t)count > (fb->len - first) / elem_size) {
        return false;
    }
    out->pos = first;
    out->count = count;
    return true;
}

bool kwsq_fb_vec_table(const kwsq_fb *fb, const kwsq_fb_vec *v, uint32_t i, kwsq_fb_table *out)
{
    size_t target;
    if (i >= v->count) {
        return false;
    }
    return deref(fb, v->pos + 4u * (size_t)i, &target) && kwsq_fb_table_at(fb, target, out);
}
