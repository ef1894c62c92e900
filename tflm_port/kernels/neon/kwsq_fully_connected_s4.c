/*
 * kwsq_fully_connected_s4 with NEON, weights read packed, any shape.
 *
 * A byte b holds weight 2j in its low nibble and 2j+1 in its high nibble.
 * (b << 4) as int8 is 16 * w[2j] and (b & 0xF0) as int8 is 16 * w[2j+1], so
 * with the input's 32 values split into their even and odd elements by
 * one deinterleaving load (`ld2`/`vld2.8`, shared by the rows of a block),
 * one row costs per 16 bytes one load, two bit operations and two dot
 * products (kwsq_dot16) into one accumulator that ends as 16 times the
 * reference's sum; an exact shift right by 4 gives it back. (No single bit
 * operation splits a byte: b itself is 16 * w[2j+1] + the low nibble read
 * unsigned, whose sign bit would need a correction term per row.)
 *
 * Rows of any length, read where they lie (nothing unpacked): row r starts
 * at nibble r * n, in byte s = (r * n) >> 1.
 *   - n even: every row is m = n / 2 whole bytes.
 *   - n odd (m = (n - 1) / 2): the rows of a pair share one byte, the even
 *     row's last weight (low nibble) and the odd row's first (high). An even
 *     row ("A") is the m + 1 = h bytes from s, dotted with the input as it is
 *     plus a zero for the foreign high nibble; an odd row ("B") is the h
 *     bytes from s (the shared byte first), dotted with the input shifted by
 *     one, a zero before x[0] for the foreign low nibble. Blocks of four rows
 *     are A, B, A, B: two input loads per step instead of one.
 * Each row is its 16-byte blocks plus one "extra" vector: for an even-n or A
 * row the last 16 bytes of the row (overlapping the last block) times the
 * input's lanes that no block counted; for a B row the first 16 bytes (the
 * shared byte and the part before its blocks, which are aligned to the end
 * of the row so that no block reads x[-1]). When the A row's last bytes and
 * the B row's first ones fit one vector (at most 8 bytes outside the blocks)
 * a pair reads them with one load. Rows shorter than 16 bytes (n <= 30) are
 * only the 16 bytes ending at their last byte; blocks whose first row starts
 * within 16 bytes of the weights read those from a zero-padded copy of the
 * weights' first bytes. The extra vectors' input lanes are built once per
 * batch, with zeros for the lanes already counted or outside the row, and
 * for x[-1] and x[n]. Nothing past a row's last byte is read. A last block
 * of 1-3 rows runs the four-row code with the missing rows replaced by the
 * first one and stores only the real rows.
 *
 * Accumulation:
 *   - `sdot` (AArch64 with the dot product): int32 lanes of 16x the
 *     products (rows up to 65,568 values, so 16 x the sum cannot wrap;
 *     longer rows go nibble by nibble).
 *   - no `sdot`, the layer's accum_bound <= 32767: the nibbles sign-extended
 *     (`shl`+`sshr`, `sshr`) and multiplied into int16 lanes (kwsq_mla16: 8
 *     products per instruction), widened once per row.
 *   - no `sdot` and no proof: the same in chunks of 7 blocks (4-bit weights
 *     bound each product by 8 * 128 = 1024; 28 products per lane < 32768),
 *     then `sadalp`/`vpadal` into int32.
 */
#include "kwsq_neon.h"

enum { FC4_X16, FC4_ACC16, FC4_CHUNK16 };

/* Without `sdot` and without a proven 16-bit bound: 4-bit weights bound
 * every product by 8 * 128 = 1024, so an int16 lane holds the 4 products
 * a block adds for 7 blocks (28 * 1024 < 32768). */
#define KWSQ_NEON_FC4_CHUNK 7

/* acc += 16 x (even nibbles . e + odd nibbles . o) */
KWSQ_NEON_INLINE int32x4_t dot16_s4(int32x4_t acc, int8x16_t b, int8x16_t e, int8x16_t o)
{
    acc = kwsq_dot16(acc, vshlq_n_s8(b, 4), e);
    return kwsq_dot16(acc, vandq_s8(b, vdupq_n_s8((int8_t)0xF0)), o);
}

/* acc (int16 lanes) += even nibbles . e + odd nibbles . o */
KWSQ_NEON_INLINE int16x8_t mla16_s4(int16x8_t acc, int8x16_t b, int8x16_t e, int8x16_t o)
{
    acc = kwsq_mla16(acc, vshrq_n_s8(vshlq_n_s8(b, 4), 4), e);
    return kwsq_mla16(acc, vshrq_n_s8(b, 4), o);
}

/* What one row type of a layer reads: its blocks from p, its extra vector
 * at q (byte offsets from the row's start byte), the extra vector's even /
 * odd input lanes e, and the input of its first block. */
typedef struct {
    int32_t p, q;
    int8x16x2_t e;
    const int8_t *x;
} fc4_kind;

/* Extra-vector lanes: lane j pairs x[base + 2j] (even) and x[base + 2j + 1]
 * (odd) for lo <= j < hi; every other lane, and x[-1], x[n], zero. */
static int8x16x2_t fc4_lanes(const int8_t *x, int32_t n, int32_t base, int32_t lo, int32_t hi)
{
    int8_t buf[32];
    memset(buf, 0, sizeof buf);
    const int32_t first = base + 2 * lo > 0 ? base + 2 * lo : 0, end = base + 2 * hi < n ? base + 2 * hi : n;
    if (end > first) {
        memcpy(buf + (first - base), x + first, (size_t)(end - first));
    }
    return vld2q_s8(buf);
}

/* The layer's geometry: m (bytes of whole nibble pairs per row), blocks
 * per row, whether rows carry an extra vector and are short (< 16 bytes). */
typedef struct {
    int32_t n, m, blocks;
    bool odd, extra, short_rows;
} fc4_shape;

static fc4_shape fc4_shape_of(int32_t n)
{
    fc4_shape s;
    s.n = n;
    s.odd = (n & 1) != 0;
    s.m = n / 2;
    const int32_t h = s.odd ? s.m + 1 : s.m; /* bytes a row spans, with the shared byte */
    s.short_rows = h < 16;
    s.blocks = s.short_rows ? 0 : s.m >> 4;
    s.extra = s.short_rows || s.odd || (s.m & 15) != 0;
    return s;
}

/* The A kind (every even-n row, and the even rows of odd n) for input x:
 * the blocks from the row's start, then the row's last 16 bytes (which for
 * a short row begin before it: the lanes of those bytes are zero). */
static fc4_kind fc4_kind_a(fc4_shape s, const int8_t *x)
{
    const int32_t h = s.odd ? s.m + 1 : s.m;
    const int32_t rem = h - 16 * s.blocks; /* bytes outside the blocks: 0..15 (even n), 1..16 (odd) */
    fc4_kind a;
    a.p = 0;
    a.q = h - 16;
    a.x = x;
    a.e = fc4_lanes(x, s.n, 2 * (h - 16), 16 - rem, 16);
    return a;
}

/* The B kind (the odd rows of odd n): lanes x[2j - 1], x[2j] for byte j
 * from the shared byte. Long rows: the first rem bytes, then the blocks
 * aligned to the row's end; short rows: the row's last 16 bytes. */
static fc4_kind fc4_kind_b(fc4_shape s, const int8_t *x)
{
    const int32_t h = s.m + 1, rem = h - 16 * s.blocks;
    fc4_kind b;
    if (s.short_rows) {
        b.p = 0;
        b.q = h - 16;
        b.x = x;
        b.e = fc4_lanes(x, s.n, 2 * (h - 16) - 1, 16 - h, 16);
    } else {
        b.p = rem;
        b.q = 0;
        b.x = x + 2 * rem - 1;
        b.e = fc4_lanes(x, s.n, -1, 0, rem);
    }
    return b;
}

/* The combined extra vector of a row pair (odd n, rem <= 8): the A row's
 * last rem bytes and the B row's first rem bytes overlap in the shared byte,
 * 2 rem - 1 <= 15 bytes from the A row's start + 16 x blocks, read once. */
typedef struct {
    int8x16x2_t ea, eb; /* the lanes of the A row, of the B row */
} fc4_pair;

/* Lanes v moved by k (-16 < k < 16: lane j takes v[j - k]), the vacated
 * lanes zero. */
static int8x16x2_t fc4_move_lanes(int8x16x2_t v, int32_t k)
{
    int8_t buf[2][48];
    memset(buf, 0, sizeof buf);
    vst1q_s8(buf[0] + 16 + k, v.val[0]);
    vst1q_s8(buf[1] + 16 + k, v.val[1]);
    v.val[0] = vld1q_s8(buf[0] + 16);
    v.val[1] = vld1q_s8(buf[1] + 16);
    return v;
}

/* From the A and B kinds' lanes (A: the last rem lanes, B: the first rem). */
static fc4_pair fc4_pair_of(fc4_shape s, const fc4_kind *a, const fc4_kind *b)
{
    const int32_t rem = s.m + 1 - 16 * s.blocks;
    fc4_pair p;
    p.ea = fc4_move_lanes(a->e, rem - 16); /* lanes 0 .. rem - 1 */
    p.eb = fc4_move_lanes(b->e, rem - 1);  /* lanes rem - 1 .. 2 rem - 2 */
    return p;
}

#if KWSQ_NEON_SDOT
/* The full blocks of four rows with `sdot`, as one asm loop: 22 instructions
 * per 16 bytes of four rows (23 with the second input), the same operations
 * as dot16_s4; written out because GCC moves the tied accumulators between
 * registers inside the loop (4 more instructions per step). */
#define FC4_ROW(ACC, W, T, U, E, O)                                                                        \
    "ldr q" #T ", [%[" #W "]], #16\n\t"                                                                    \
    "shl v" #U ".16b, v" #T ".16b, #4\n\t"                                                                 \
    "and v" #T ".16b, v" #T ".16b, %[mask].16b\n\t"                                                        \
    "sdot %[" #ACC "].4s, v" #U ".16b, v" #E ".16b\n\t"                                                    \
    "sdot %[" #ACC "].4s, v" #T ".16b, v" #O ".16b\n\t"

KWSQ_NEON_INLINE void fc4_sdot_blocks(const bool two, int32x4_t *a0, int32x4_t *a1, int32x4_t *a2, int32x4_t *a3,
                                      const int8_t *w0, const int8_t *w1, const int8_t *w2, const int8_t *w3,
                                      const int8_t *xa, const int8_t *xb, int32_t c)
{
    if (c <= 0) {
        return;
    }
    const int8x16_t mask = vdupq_n_s8((int8_t)0xF0);
    int32x4_t r0 = *a0, r1 = *a1, r2 = *a2, r3 = *a3;
    if (two) {
        __asm__("1:\n\t"
                "ld2 {v24.16b, v25.16b}, [%[xa]], #32\n\t"
                "ld2 {v26.16b, v27.16b}, [%[xb]], #32\n\t"
                FC4_ROW(r0, w0, 16, 17, 24, 25) FC4_ROW(r1, w1, 18, 19, 26, 27)
                FC4_ROW(r2, w2, 16, 17, 24, 25) FC4_ROW(r3, w3, 18, 19, 26, 27)
                "subs %w[c], %w[c], #1\n\t"
                "b.ne 1b\n\t"
                : [r0] "+w"(r0), [r1] "+w"(r1), [r2] "+w"(r2), [r3] "+w"(r3), [w0] "+r"(w0), [w1] "+r"(w1),
                  [w2] "+r"(w2), [w3] "+r"(w3), [xa] "+r"(xa), [xb] "+r"(xb), [c] "+r"(c)
                : [mask] "w"(mask)
                : "v16", "v17", "v18", "v19", "v24", "v25", "v26", "v27", "cc", "memory");
    } else {
        __asm__("1:\n\t"
                "ld2 {v24.16b, v25.16b}, [%[xa]], #32\n\t"
                FC4_ROW(r0, w0, 16, 17, 24, 25) FC4_ROW(r1, w1, 18, 19, 24, 25)
                FC4_ROW(r2, w2, 16, 17, 24, 25) FC4_ROW(r3, w3, 18, 19, 24, 25)
                "subs %w[c], %w[c], #1\n\t"
                "b.ne 1b\n\t"
                : [r0] "+w"(r0), [r1] "+w"(r1), [r2] "+w"(r2), [r3] "+w"(r3), [w0] "+r"(w0), [w1] "+r"(w1),
                  [w2] "+r"(w2), [w3] "+r"(w3), [xa] "+r"(xa), [c] "+r"(c)
                : [mask] "w"(mask)
                : "v16", "v17", "v18", "v19", "v24", "v25", "cc", "memory");
        (void)xb;
    }
    *a0 = r0, *a1 = r1, *a2 = r2, *a3 = r3;
}
#undef FC4_ROW
#endif

/* Rows starting at bytes r0..r3 (r0, r2 of kind a, r1, r3 of kind b; all of
 * kind a when !TWO): {dot0, dot1, dot2, dot3}. CHUNK: blocks per int16 chunk
 * (FC4_CHUNK16), else 0. PAIRX: r1 = r0 + m, r3 = r2 + m, and the extra
 * vectors are the pairs' combined ones. */
KWSQ_NEON_INLINE int32x4_t fc4_dot4(const int mode, const bool two, const int32_t chunk, const int8_t *r0,
                                    const int8_t *r1, const int8_t *r2, const int8_t *r3, const fc4_kind a,
                                    const fc4_kind b, const int32_t blocks, const bool extra, const bool pairx,
                                    const int8x16x2_t pea, const int8x16x2_t peb)
{
    const int8_t *w0 = r0 + a.p, *w1 = r1 + (two ? b.p : a.p), *w2 = r2 + a.p, *w3 = r3 + (two ? b.p : a.p);
    const int8_t *xa = a.x, *xb = two ? b.x : a.x;
    const int8x16x2_t be = two ? b.e : a.e;
    const int32_t bq = two ? b.q : a.q;
    if (mode == FC4_X16) {
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
#if KWSQ_NEON_SDOT
        fc4_sdot_blocks(two, &a0, &a1, &a2, &a3, w0, w1, w2, w3, xa, xb, blocks);
#else
        for (int32_t c = blocks; c > 0; --c) {
            const int8x16x2_t va = vld2q_s8(xa); /* 32 inputs split even / odd */
            const int8x16x2_t vb = two ? vld2q_s8(xb) : va;
            a0 = dot16_s4(a0, vld1q_s8(w0), va.val[0], va.val[1]);
            a1 = dot16_s4(a1, vld1q_s8(w1), vb.val[0], vb.val[1]);
            a2 = dot16_s4(a2, vld1q_s8(w2), va.val[0], va.val[1]);
            a3 = dot16_s4(a3, vld1q_s8(w3), vb.val[0], vb.val[1]);
            xa += 32, xb += 32, w0 += 16, w1 += 16, w2 += 16, w3 += 16;
        }
#endif
        if (two && pairx) {
            const int8x16_t mask = vdupq_n_s8((int8_t)0xF0);
            const int8x16_t v0 = vld1q_s8(r0 + 16 * blocks), v2 = vld1q_s8(r2 + 16 * blocks);
            const int8x16_t l0 = vshlq_n_s8(v0, 4), h0 = vandq_s8(v0, mask);
            const int8x16_t l2 = vshlq_n_s8(v2, 4), h2 = vandq_s8(v2, mask);
            a0 = kwsq_dot16(kwsq_dot16(a0, l0, pea.val[0]), h0, pea.val[1]);
            a1 = kwsq_dot16(kwsq_dot16(a1, l0, peb.val[0]), h0, peb.val[1]);
            a2 = kwsq_dot16(kwsq_dot16(a2, l2, pea.val[0]), h2, pea.val[1]);
            a3 = kwsq_dot16(kwsq_dot16(a3, l2, peb.val[0]), h2, peb.val[1]);
        } else if (extra) {
            a0 = dot16_s4(a0, vld1q_s8(r0 + a.q), a.e.val[0], a.e.val[1]);
            a1 = dot16_s4(a1, vld1q_s8(r1 + bq), be.val[0], be.val[1]);
            a2 = dot16_s4(a2, vld1q_s8(r2 + a.q), a.e.val[0], a.e.val[1]);
            a3 = dot16_s4(a3, vld1q_s8(r3 + bq), be.val[0], be.val[1]);
        }
        /* exact: every lane is a sum of multiples of 16 */
        return vshrq_n_s32(kwsq_hsum4(a0, a1, a2, a3), 4);
    }
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    int16x8_t a0 = vdupq_n_s16(0), a1 = a0, a2 = a0, a3 = a0;
    int32_t left = blocks;
    do {
        int32_t c = chunk == 0 || left < chunk ? left : chunk;
        left -= c;
        for (; c > 0; --c) {
            const int8x16x2_t va = vld2q_s8(xa);
            const int8x16x2_t vb = two ? vld2q_s8(xb) : va;
            a0 = mla16_s4(a0, vld1q_s8(w0), va.val[0], va.val[1]);
            a1 = mla16_s4(a1, vld1q_s8(w1), vb.val[0], vb.val[1]);
            a2 = mla16_s4(a2, vld1q_s8(w2), va.val[0], va.val[1]);
            a3 = mla16_s4(a3, vld1q_s8(w3), vb.val[0], vb.val[1]);
            xa += 32, xb += 32, w0 += 16, w1 += 16, w2 += 16, w3 += 16;
        }
        if (chunk != 0) {
            s0 = vpadalq_s16(s0, a0);
            s1 = vpadalq_s16(s1, a1);
            s2 = vpadalq_s16(s2, a2);
            s3 = vpadalq_s16(s3, a3);
            a0 = a1 = a2 = a3 = vdupq_n_s16(0);
        }
    } while (chunk != 0 && left > 0);
    /* with chunks, the extra vector is a chunk of its own (a0..a3 are zero) */
    if (two && pairx) {
        const int8x16_t v0 = vld1q_s8(r0 + 16 * blocks), v2 = vld1q_s8(r2 + 16 * blocks);
        const int8x16_t l0 = vshrq_n_s8(vshlq_n_s8(v0, 4), 4), h0 = vshrq_n_s8(v0, 4);
        const int8x16_t l2 = vshrq_n_s8(vshlq_n_s8(v2, 4), 4), h2 = vshrq_n_s8(v2, 4);
        a0 = kwsq_mla16(kwsq_mla16(a0, l0, pea.val[0]), h0, pea.val[1]);
        a1 = kwsq_mla16(kwsq_mla16(a1, l0, peb.val[0]), h0, peb.val[1]);
        a2 = kwsq_mla16(kwsq_mla16(a2, l2, pea.val[0]), h2, pea.val[1]);
        a3 = kwsq_mla16(kwsq_mla16(a3, l2, peb.val[0]), h2, peb.val[1]);
    } else if (extra) {
        a0 = mla16_s4(a0, vld1q_s8(r0 + a.q), a.e.val[0], a.e.val[1]);
        a1 = mla16_s4(a1, vld1q_s8(r1 + bq), be.val[0], be.val[1]);
        a2 = mla16_s4(a2, vld1q_s8(r2 + a.q), a.e.val[0], a.e.val[1]);
        a3 = mla16_s4(a3, vld1q_s8(r3 + bq), be.val[0], be.val[1]);
    }
    return kwsq_hsum4(vpadalq_s16(s0, a0), vpadalq_s16(s1, a1), vpadalq_s16(s2, a2), vpadalq_s16(s3, a3));
}

/* Short rows read the 16 bytes ending at their last byte, which for the
 * first rows begin before the weights: those blocks read a copy of the
 * weights' first bytes with zeros in front. A short row is at most 16 bytes
 * (n <= 31), so the first FC4_FRONT bytes hold every such block. */
#define FC4_FRONT 96

/* One batch: the rows in blocks of four, the last block of 1..3 rows with
 * the missing rows replaced by the block's first. */
KWSQ_NEON_INLINE void fc4_rows(const int mode, const bool two, const bool pairx, const int32_t chunk,
                               const fc4_shape *s, const kwsq_fc_params *params, const kwsq_quant_params *quant,
                               int32_t rows, const uint8_t *packed_weights, const int32_t *row_const,
                               int32_t xsum, const int8_t *x, int8_t *y)
{
    const kwsq_neon_out op = kwsq_neon_out_params(params->output_offset, params->act_min, params->act_max);
    const int32_t n = s->n, m = s->m, blocks = s->blocks;
    const bool extra = s->extra;
    const fc4_kind a = fc4_kind_a(*s, x), b = two ? fc4_kind_b(*s, x) : a;
    fc4_pair pr;
    if (pairx) {
        pr = fc4_pair_of(*s, &a, &b);
    } else {
        pr.ea = pr.eb = a.e;
    }
    const int32x4_t vxsum = vdupq_n_s32(xsum);
    /* a copy: the stores to y (int8) could alias *quant */
    const kwsq_quant_params q = *quant;
    const kwsq_neon_q4 q_tensor = kwsq_neon_quant4(&q, 0);
    const int8_t *const w = (const int8_t *)packed_weights;
    /* blocks of short rows that start within 16 bytes of the weights read the copy */
    int8_t front[16 + FC4_FRONT];
    int32_t nfront = 0;
    if (s->short_rows) {
        const int64_t w_bytes = ((int64_t)rows * n + 1) / 2;
        memset(front, 0, 16);
        memcpy(front + 16, w, (size_t)(w_bytes < FC4_FRONT ? w_bytes : FC4_FRONT));
        nfront = (16 + 2 * n - 1) / (2 * n); /* blocks k with 2 n k < 16 */
    }
    /* rows o, o+1, o+2, o+3 start at bytes (o * n) / 2 + {0, m, n, n + m} (o even) */
    const int8_t *base = nfront > 0 ? front + 16 : w;
    const int32_t *rc = row_const;
    int32_t o = 0;
    for (; o + 4 <= rows; o += 4) {
        if (nfront != 0 && o == 4 * nfront) {
            base = w + (int64_t)o / 2 * n;
        }
        int32x4_t acc = fc4_dot4(mode, two, chunk, base, base + m, base + n, base + n + m, a, b, blocks, extra,
                                 pairx, pr.ea, pr.eb);
        acc = vaddq_s32(acc, vaddq_s32(vld1q_s32(rc), vxsum));
        kwsq_neon_store4(y + o, kwsq_neon_rq4(acc, q.per_channel ? kwsq_neon_quant4(&q, o) : q_tensor), op);
        base += 2 * n, rc += 4;
    }
    const int32_t valid = rows - o;
    if (valid > 0) {
        if (o == 4 * nfront) {
            base = w + (int64_t)o / 2 * n;
        }
        const int8_t *r1 = valid > 1 ? base + m : base, *r2 = valid > 2 ? base + n : base;
        int32x4_t acc = fc4_dot4(mode, two, chunk, base, r1, r2, base, a, b, blocks, extra, false, a.e, a.e);
        int32_t rcv[4] = {0, 0, 0, 0};
        int8_t out[8];
        memcpy(rcv, row_const + o, (size_t)valid * sizeof rcv[0]);
        acc = vaddq_s32(acc, vaddq_s32(vld1q_s32(rcv), vxsum));
        const int16x4_t v = kwsq_neon_rq4(acc, kwsq_neon_quant4_tail(quant, o, valid));
        vst1_s8(out, kwsq_neon_finish8(v, v, op));
        memcpy(y + o, out, (size_t)valid);
    }
}

/* Rows over 65,000 values with `sdot` (16 x their sum could wrap int32):
 * nibble by nibble, exactly the reference. */
static __attribute__((noinline)) void fc4_rows_long(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                                    int32_t n, int32_t rows, const uint8_t *packed_weights,
                                                    const int32_t *row_const, int32_t xsum, const int8_t *x,
                                                    int8_t *y)
{
    for (int32_t o = 0; o < rows; ++o) {
        int32_t acc = 0;
        for (int32_t i = 0; i < n; ++i) {
            acc += kwsq_int4_at(packed_weights, (int64_t)o * n + i) * x[i];
        }
        y[o] = kwsq_neon_out1(acc + row_const[o] + xsum, quant, o, params->output_offset, params->act_min,
                              params->act_max);
    }
}

kwsq_status kwsq_fully_connected_s4(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const uint8_t *packed_weights, const int32_t *row_const,
                                    int8_t *output)
{
    const int32_t n = dims->accum_depth, rows = dims->output_depth;
    const fc4_shape s = fc4_shape_of(n);
    /* odd n, long rows, at most 8 bytes outside the blocks: combined extra vectors */
    const bool pairx = s.odd && !s.short_rows && s.m + 1 - 16 * s.blocks <= 8;
    for (int32_t bt = 0; bt < dims->batches; ++bt) {
        const int8_t *x = input + (int64_t)bt * n;
        int8_t *y = output + (int64_t)bt * rows;
        int32_t xsum = 0;
        if (params->filter_offset != 0) {
            for (int32_t i = 0; i < n; ++i) {
                xsum += x[i];
            }
            xsum *= params->filter_offset;
        }
#define FC4_ROWS(MODE, TWO, PAIRX, CHUNK) \
    fc4_rows(MODE, TWO, PAIRX, CHUNK, &s, params, quant, rows, packed_weights, row_const, xsum, x, y)
        /* `sdot`: 16 x the sum cannot wrap while 16 * 32 * 2049 * 1024 < 2^31 */
        const bool x16 = KWSQ_NEON_SDOT && s.blocks <= 2048;
        const bool acc16 = !KWSQ_NEON_SDOT && KWSQ_NEON_ACC16(params->accum_bound);
        if (x16 || acc16) {
            const int mode = x16 ? FC4_X16 : FC4_ACC16;
            if (pairx) {
                FC4_ROWS(mode, true, true, 0);
            } else if (s.odd) {
                FC4_ROWS(mode, true, false, 0);
            } else {
                FC4_ROWS(mode, false, false, 0);
            }
        } else if (KWSQ_NEON_SDOT) {
            fc4_rows_long(params, quant, n, rows, packed_weights, row_const, xsum, x, y);
        } else if (s.odd) {
            FC4_ROWS(FC4_CHUNK16, true, pairx, KWSQ_NEON_FC4_CHUNK);
        } else {
            FC4_ROWS(FC4_CHUNK16, false, false, KWSQ_NEON_FC4_CHUNK);
        }
#undef FC4_ROWS
    }
    return KWSQ_OK;
}
