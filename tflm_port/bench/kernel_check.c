/* Kernel check: a variant folder's kernels against kernels/ref, bit for bit,
 * on randomized shapes.
 *
 * The firmware links the variant's kernel entry points under their own names
 * and the reference ones renamed ref_<name> (objcopy --redefine-syms, see
 * boards/Makefile, goal kernel-check), runs both on the same random case and
 * compares every output byte. Cases cover what the anchors may lack: odd
 * sizes and channel counts (vector tails), padding on every side, strides,
 * dilation, depth multipliers, groups, per-channel and per-tensor
 * quantization, power-of-two scales, weight zero points, packed INT4 rows
 * starting mid-byte, in-place plans and batches. A third of the cases draw
 * small weights (and often extreme inputs) so the proven accumulator bound
 * (accum_bound, computed here from the weights) lands on both sides of the
 * 16-bit limit: kernels with a 16-bit-accumulator path take it, and must
 * still give the reference's bytes at the worst inputs the bound allows.
 *
 * Prints "KWSQ CHECK <op> <cases> <mismatches> instructions <var>k ref <ref>k
 * fit16 <cases whose accum_bound fits int16>" per op (all cases' instructions, thousands), the first mismatch
 * of each op in detail, then "KWSQ DONE"; exits 0 when everything matched.
 * KWSQ_CHECK_CASES (default 300) and KWSQ_CHECK_SEED set the run. */
#include <string.h>

#include "board.h"
#include "kwsq_kernels.h"
#include "kwsq_math.h"
#include "semihost.h"

#ifndef KWSQ_CHECK_CASES
#define KWSQ_CHECK_CASES 300
#endif
#ifndef KWSQ_CHECK_SEED
#define KWSQ_CHECK_SEED 1
#endif

#define REF(name) ref_##name
#define DECL_CONV(name, wtype, ...)                                                                    \
    int32_t REF(name##_get_buffer_size)(const kwsq_conv_params *, __VA_ARGS__);                         \
    kwsq_status REF(name)(const kwsq_context *, const kwsq_conv_params *, const kwsq_quant_params *,    \
                          const kwsq_dims *, const int8_t *, const kwsq_dims *, const wtype *,         \
                          const int32_t *, const kwsq_dims *, int8_t *);
DECL_CONV(kwsq_conv_s8, int8_t, const kwsq_dims *)
DECL_CONV(kwsq_conv_s4, uint8_t, const kwsq_dims *)
DECL_CONV(kwsq_depthwise_conv_s8, int8_t, const kwsq_dims *, const kwsq_dims *, const kwsq_dims *)
DECL_CONV(kwsq_depthwise_conv_s4, uint8_t, const kwsq_dims *, const kwsq_dims *, const kwsq_dims *)
kwsq_status REF(kwsq_fully_connected_s8)(const kwsq_fc_params *, const kwsq_quant_params *,
                                         const kwsq_fc_dims *, const int8_t *, const int8_t *,
                                         const int32_t *, int8_t *);
kwsq_status REF(kwsq_fully_connected_s4)(const kwsq_fc_params *, const kwsq_quant_params *,
                                         const kwsq_fc_dims *, const int8_t *, const uint8_t *,
                                         const int32_t *, int8_t *);

#define MAX_IO 24576
#define MAX_W 65536
#define MAX_C 768

static int8_t input[MAX_IO], input_copy[MAX_IO];
static int8_t out_var[MAX_IO], out_ref[MAX_IO];
static int8_t weights[MAX_W];
static int32_t bias[MAX_C];
static int32_t mult[MAX_C];
static int8_t shift[MAX_C];
static uint8_t scratch_var[MAX_IO], scratch_ref[MAX_IO];

static uint32_t rng_state = 2463534242u ^ (uint32_t)KWSQ_CHECK_SEED;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Uniform in [lo, hi]. */
static int32_t rnd_in(int32_t lo, int32_t hi)
{
    return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static void fill_s8(int8_t *p, int32_t n, int32_t lo, int32_t hi)
{
    for (int32_t i = 0; i < n; ++i) {
        p[i] = (int8_t)rnd_in(lo, hi);
    }
}

static int32_t weight_at(bool s4, int64_t i)
{
    return s4 ? kwsq_int4_at((const uint8_t *)weights, i) : (int32_t)weights[i];
}

/* accum_bound as kwsq_kernels.h defines it: channel c's weights are
 * c * ch_stride + k * k_stride, k < len; z the input zero point. */
static int32_t accum_bound_of(bool s4, int32_t channels, int32_t len, int32_t ch_stride, int32_t k_stride,
                              int32_t z)
{
    int64_t bound = 0;
    for (int32_t c = 0; c < channels; ++c) {
        int64_t pos = 0, neg = 0;
        for (int32_t k = 0; k < len; ++k) {
            const int32_t v = weight_at(s4, (int64_t)c * ch_stride + (int64_t)k * k_stride);
            pos += v > 0 ? v : 0;
            neg += v < 0 ? -v : 0;
        }
        const int64_t a = pos * (127 - z) + neg * (z + 128), b = pos * (z + 128) + neg * (127 - z);
        bound = a > bound ? a : bound;
        bound = b > bound ? b : bound;
    }
    return bound > INT32_MAX ? INT32_MAX : (int32_t)bound;
}

/* Small weights for a 16-bit-accumulator case: `count` values of channels
 * `len` long, |w| <= m and a share of them zero, so that a channel's sum of
 * |w| is about a target of 100..300 and 128 x that (about the bound) lands
 * on either side of the int16 limit. */
static void fill_small(bool s4, int32_t count, int32_t len)
{
    const int32_t target = rnd_in(100, 300), max_w = s4 ? 7 : 127;
    int32_t m = 2 * target / (len > 0 ? len : 1);
    m = m < 1 ? 1 : m > max_w ? max_w : m;
    const int64_t keep = (int64_t)2 * target * 1024 / ((int64_t)len * m); /* per 1024 */
    if (s4) {
        memset(weights, 0, (size_t)(count + 1) / 2u);
    }
    for (int32_t i = 0; i < count; ++i) {
        const int32_t v = (int64_t)rnd_in(0, 1023) < keep ? rnd_in(-m, m) : 0;
        if (s4) {
            const uint32_t nib = (uint32_t)v & 0x0Fu;
            weights[i / 2] = (int8_t)((uint8_t)weights[i / 2] | (i % 2 == 0 ? nib : nib << 4));
        } else {
            weights[i] = (int8_t)v;
        }
    }
}

/* Inputs at the extremes (-128 or 127), where 16-bit sums come closest to wrapping. */
static void fill_extreme(int8_t *p, int32_t n)
{
    for (int32_t i = 0; i < n; ++i) {
        p[i] = (rnd() & 1u) != 0 ? 127 : -128;
    }
}

/* The shift that brings a typical sum of k products of random values (about
 * sqrt(k) x 74 x 74 for int8 weights, 74 x 4.6 for int4) to about +-64, so
 * most outputs land inside int8 and rounding ties are exercised, not hidden
 * by clamping. */
static int32_t typical_shift(int32_t k, bool s4)
{
    uint32_t r = 1;
    while ((r + 1) * (r + 1) <= (uint32_t)k) {
        ++r;
    }
    uint32_t mag = r * (s4 ? 340u : 5400u) / 64u;
    int32_t bits = 0;
    while (mag > 1u) {
        mag >>= 1;
        ++bits;
    }
    return -bits;
}

/* For small-weight cases: a shift that brings sums of about a tenth of the
 * bound to about +-64. */
static int32_t bound_shift(int32_t bound)
{
    int32_t bits = 0;
    for (uint32_t v = (uint32_t)bound / 640u; v > 1u; v >>= 1) {
        ++bits;
    }
    return -bits;
}

/* Quantization of `channels` channels: real multipliers in [2^30, 2^31)
 * (QuantizeMultiplier's range) around `base_shift`, or every multiplier 2^30
 * (a power-of-two scale). */
static kwsq_quant_params make_quant(int32_t channels, bool per_channel, int32_t base_shift)
{
    const bool pot = rnd_in(0, 4) == 0;
    const int32_t n = per_channel ? channels : 1;
    for (int32_t c = 0; c < n; ++c) {
        mult[c] = pot ? (1 << 30) : (int32_t)(0x40000000u + (rnd() & 0x3FFFFFFFu));
        /* Now and then a channel that scales up (shift > 0: the left-shift path). */
        const int32_t up = rnd_in(0, 7) == 0 ? 1 - base_shift + rnd_in(0, 2) : 0;
        shift[c] = (int8_t)kwsq_clamp(base_shift + rnd_in(-2, 2) + up, -31, 30);
    }
    kwsq_quant_params q = {mult, shift, per_channel, pot};
    return q;
}

static int32_t out_size(int32_t in, int32_t f, int32_t stride, int32_t dil, int32_t pad_total)
{
    const int32_t eff = dil * (f - 1) + 1;
    return in + pad_total < eff ? 0 : (in + pad_total - eff) / stride + 1;
}

typedef struct {
    const char *name;
    uint32_t cases, mismatches;
    uint64_t insn_var, insn_ref; /* instructions of all cases, variant and reference */
    uint32_t fit16;              /* cases whose accum_bound fits 16 bits */
} op_stats;

static op_stats stats[6] = {
    {"conv_s8", 0, 0, 0, 0, 0},      {"conv_s4", 0, 0, 0, 0, 0},
    {"depthwise_conv_s8", 0, 0, 0, 0, 0}, {"depthwise_conv_s4", 0, 0, 0, 0, 0},
    {"fully_connected_s8", 0, 0, 0, 0, 0}, {"fully_connected_s4", 0, 0, 0, 0, 0},
};

/* Time one kernel call: T_START before, T_END(stats field) after. */
#define T_START() const uint32_t t_start_ = board_counter_read()
#define T_ADD(field) (field) += board_ticks_to_instructions(board_ticks_between(t_start_, board_counter_read()))

static void report_mismatch(op_stats *st, int32_t at, int32_t total, const char *shape)
{
    if (st->mismatches++ == 0) {
        out_str("KWSQ MISMATCH ");
        out_str(st->name);
        out_str(" case ");
        out_u32(st->cases);
        out_str(" byte ");
        out_u32((uint32_t)at);
        out_str(" of ");
        out_u32((uint32_t)total);
        out_str(": var ");
        out_u32((uint32_t)(uint8_t)out_var[at]);
        out_str(" ref ");
        out_u32((uint32_t)(uint8_t)out_ref[at]);
        out_str(" shape ");
        out_str(shape);
        out_str("\n");
    }
}

static void put_num(char **p, int32_t v)
{
    char tmp[12];
    int n = 0;
    uint32_t u = v < 0 ? (uint32_t)(-(int64_t)v) : (uint32_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u != 0u);
    if (v < 0) {
        *(*p)++ = '-';
    }
    while (n > 0) {
        *(*p)++ = tmp[--n];
    }
    *(*p)++ = ',';
    **p = '\0';
}

static void compare(op_stats *st, int32_t n, const int32_t *fields, int32_t n_fields)
{
    const int32_t bound = fields[n_fields - 1]; /* every shape list ends with accum_bound */
    st->fit16 += bound > 0 && bound <= KWSQ_ACCUM16_MAX ? 1u : 0u;
    char shape[160];
    char *p = shape;
    *p = '\0';
    for (int32_t i = 0; i < n_fields; ++i) {
        put_num(&p, fields[i]);
    }
    for (int32_t i = 0; i < n; ++i) {
        if (out_var[i] != out_ref[i]) {
            report_mismatch(st, i, n, shape);
            break;
        }
    }
    st->cases++;
}

static void check_conv(bool depthwise, bool s4)
{
    op_stats *st = &stats[(depthwise ? 2 : 0) + (s4 ? 1 : 0)];
    kwsq_dims in, f, out;
    kwsq_conv_params p;
    memset(&p, 0, sizeof p);
    in.n = rnd_in(1, 2);
    in.h = rnd_in(1, 12);
    in.w = rnd_in(1, 12);
    const int32_t shape_kind = rnd_in(0, 3); /* 0: 1x1, else any window */
    f.h = shape_kind == 0 ? 1 : rnd_in(1, 5);
    f.w = shape_kind == 0 ? 1 : rnd_in(1, 5);
    p.stride_h = rnd_in(1, 3);
    p.stride_w = rnd_in(1, 3);
    p.dilation_h = rnd_in(0, 3) == 0 ? 2 : 1;
    p.dilation_w = rnd_in(0, 3) == 0 ? 2 : 1;
    if (depthwise) {
        static const int32_t dms[] = {1, 1, 1, 1, 2, 3, 4, 5, 8, 16};
        in.c = rnd_in(1, 40);
        p.depth_multiplier = dms[rnd_in(0, 9)];
        if (p.depth_multiplier > 1) {
            /* multipliers up to 5 also on enough channels for 16-lane groups, and
             * often on one input channel */
            in.c = p.depth_multiplier > 5 ? rnd_in(1, 4) : rnd_in(0, 3) == 0 ? 1 : rnd_in(1, 20);
        }
        out.c = in.c * p.depth_multiplier;
        f.n = 1;
        f.c = out.c;
    } else {
        in.c = rnd_in(1, 48);
        const int32_t groups = rnd_in(0, 5) == 0 && in.c % 2 == 0 ? 2 : 1;
        f.c = in.c / groups;
        out.c = groups * rnd_in(1, 24);
        f.n = out.c;
        p.depth_multiplier = 1;
    }
    const int32_t pad_h_total = rnd_in(0, f.h), pad_w_total = rnd_in(0, f.w);
    p.pad_h = rnd_in(0, pad_h_total);
    p.pad_w = rnd_in(0, pad_w_total);
    out.n = in.n;
    out.h = out_size(in.h, f.h, p.stride_h, p.dilation_h, pad_h_total);
    out.w = out_size(in.w, f.w, p.stride_w, p.dilation_w, pad_w_total);
    /* Sometimes an in-place plan, as Prepare makes it. */
    if (rnd_in(0, 3) == 0) {
        if (!depthwise && f.c == in.c) {
            f.h = f.w = 1;
            p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
            p.pad_h = p.pad_w = 0;
            out.h = in.h;
            out.w = in.w;
            out.c = f.n = rnd_in(1, in.c);
            p.in_place = true;
        } else if (depthwise && p.depth_multiplier == 1) {
            p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
            p.pad_h = (f.h - 1) / 2;
            p.pad_w = (f.w - 1) / 2;
            out.h = in.h;
            out.w = in.w;
            p.in_place = true;
        }
    }
    const int32_t in_bytes = in.n * in.h * in.w * in.c;
    const int32_t out_bytes = out.n * out.h * out.w * out.c;
    const int32_t w_count = (depthwise ? f.h * f.w * out.c : out.c * f.h * f.w * f.c);
    if (out.h < 1 || out.w < 1 || in_bytes > MAX_IO || out_bytes > MAX_IO || w_count > MAX_W ||
        out.c > MAX_C) {
        return;
    }
    p.input_offset = rnd_in(-127, 128);
    p.output_offset = rnd_in(-128, 127);
    p.act_min = rnd_in(0, 3) == 0 ? rnd_in(-128, 0) : -128;
    p.act_max = rnd_in(0, 3) == 0 ? rnd_in(p.act_min, 127) : 127;
    const int32_t k_len = depthwise ? f.h * f.w : f.h * f.w * f.c;
    const bool small = rnd_in(0, 2) == 0;
    if (small && rnd_in(0, 1) == 0) {
        fill_extreme(input, in_bytes);
    } else {
        fill_s8(input, in_bytes, -128, 127);
    }
    if (small) {
        fill_small(s4, w_count, k_len);
    } else if (s4) {
        fill_s8(weights, (w_count + 1) / 2, -128, 127); /* packed: any byte is two valid nibbles */
    } else {
        fill_s8(weights, w_count, rnd_in(0, 1) ? -128 : -127, 127);
    }
    p.accum_bound = depthwise ? accum_bound_of(s4, out.c, k_len, 1, out.c, -p.input_offset)
                              : accum_bound_of(s4, out.c, k_len, k_len, 1, -p.input_offset);
    const bool has_bias = rnd_in(0, 4) != 0;
    for (int32_t c = 0; c < out.c; ++c) {
        bias[c] = rnd_in(-20000, 20000);
    }
    const kwsq_quant_params q =
        make_quant(out.c, true, small ? bound_shift(p.accum_bound) : typical_shift(k_len, s4));
    const int32_t *b = has_bias ? bias : NULL;

    const int32_t buf_var = depthwise ? (s4 ? kwsq_depthwise_conv_s4_get_buffer_size(&p, &in, &f, &out)
                                            : kwsq_depthwise_conv_s8_get_buffer_size(&p, &in, &f, &out))
                                      : (s4 ? kwsq_conv_s4_get_buffer_size(&p, &out)
                                            : kwsq_conv_s8_get_buffer_size(&p, &out));
    const int32_t buf_ref = depthwise ? (s4 ? ref_kwsq_depthwise_conv_s4_get_buffer_size(&p, &in, &f, &out)
                                            : ref_kwsq_depthwise_conv_s8_get_buffer_size(&p, &in, &f, &out))
                                      : (s4 ? ref_kwsq_conv_s4_get_buffer_size(&p, &out)
                                            : ref_kwsq_conv_s8_get_buffer_size(&p, &out));
    if (buf_var > MAX_IO || buf_ref > MAX_IO) {
        return;
    }
    const kwsq_context ctx_var = {.buf = buf_var > 0 ? scratch_var : NULL, .size = buf_var};
    const kwsq_context ctx_ref = {.buf = buf_ref > 0 ? scratch_ref : NULL, .size = buf_ref};
    /* In place, each kernel runs on its own copy of the input as its output. */
    int8_t *x_var = input, *y_var = out_var, *x_ref = input_copy, *y_ref = out_ref;
    memcpy(input_copy, input, (size_t)in_bytes);
    if (p.in_place) {
        memcpy(out_var, input, (size_t)in_bytes);
        memcpy(out_ref, input, (size_t)in_bytes);
        x_var = out_var;
        x_ref = out_ref;
    }
    if (depthwise && s4) {
        {
            T_START();
            kwsq_depthwise_conv_s4(&ctx_var, &p, &q, &in, x_var, &f, (const uint8_t *)weights, b, &out, y_var);
            T_ADD(st->insn_var);
        }
        {
            T_START();
            ref_kwsq_depthwise_conv_s4(&ctx_ref, &p, &q, &in, x_ref, &f, (const uint8_t *)weights, b, &out, y_ref);
            T_ADD(st->insn_ref);
        }
    } else if (depthwise) {
        {
            T_START();
            kwsq_depthwise_conv_s8(&ctx_var, &p, &q, &in, x_var, &f, weights, b, &out, y_var);
            T_ADD(st->insn_var);
        }
        {
            T_START();
            ref_kwsq_depthwise_conv_s8(&ctx_ref, &p, &q, &in, x_ref, &f, weights, b, &out, y_ref);
            T_ADD(st->insn_ref);
        }
    } else if (s4) {
        {
            T_START();
            kwsq_conv_s4(&ctx_var, &p, &q, &in, x_var, &f, (const uint8_t *)weights, b, &out, y_var);
            T_ADD(st->insn_var);
        }
        {
            T_START();
            ref_kwsq_conv_s4(&ctx_ref, &p, &q, &in, x_ref, &f, (const uint8_t *)weights, b, &out, y_ref);
            T_ADD(st->insn_ref);
        }
    } else {
        {
            T_START();
            kwsq_conv_s8(&ctx_var, &p, &q, &in, x_var, &f, weights, b, &out, y_var);
            T_ADD(st->insn_var);
        }
        {
            T_START();
            ref_kwsq_conv_s8(&ctx_ref, &p, &q, &in, x_ref, &f, weights, b, &out, y_ref);
            T_ADD(st->insn_ref);
        }
    }
    const int32_t fields[] = {in.n, in.h, in.w, in.c, f.h, f.w, f.c, out.h, out.w, out.c,
                              p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_h, p.pad_w,
                              p.depth_multiplier, p.in_place, q.pot, has_bias, p.accum_bound};
    compare(st, out_bytes, fields, (int32_t)(sizeof fields / sizeof fields[0]));
}

static void check_fc(bool s4)
{
    op_stats *st = &stats[4 + (s4 ? 1 : 0)];
    kwsq_fc_dims d;
    d.batches = rnd_in(1, 3);
    d.accum_depth = rnd_in(0, 2) == 0 ? rnd_in(1, 40) : rnd_in(1, 700);
    d.output_depth = rnd_in(1, 70);
    const int32_t w_count = d.accum_depth * d.output_depth;
    if (d.batches * d.accum_depth > MAX_IO || w_count > MAX_W || d.output_depth > MAX_C) {
        return;
    }
    kwsq_fc_params p;
    memset(&p, 0, sizeof p);
    p.filter_offset = !s4 && rnd_in(0, 3) == 0 ? rnd_in(-127, 128) : 0;
    p.output_offset = rnd_in(-128, 127);
    p.act_min = rnd_in(0, 3) == 0 ? rnd_in(-128, 0) : -128;
    p.act_max = rnd_in(0, 3) == 0 ? rnd_in(p.act_min, 127) : 127;
    const bool small = rnd_in(0, 2) == 0;
    if (small) {
        fill_small(s4, w_count, d.accum_depth);
    } else {
        fill_s8(weights, s4 ? (w_count + 1) / 2 : w_count, -128, 127);
    }
    fill_s8(input, d.batches * d.accum_depth, -128, 127);
    if (small && rnd_in(0, 1) == 0) {
        /* The worst input for a random row: every product at its largest, one sign. */
        const int32_t row = rnd_in(0, d.output_depth - 1), sign = rnd_in(0, 1);
        for (int32_t i = 0; i < d.accum_depth; ++i) {
            const int32_t w = weight_at(s4, (int64_t)row * d.accum_depth + i);
            input[i] = (int8_t)((w >= 0) == (sign == 0) ? 127 : -128);
        }
    }
    p.accum_bound = accum_bound_of(s4, d.output_depth, d.accum_depth, d.accum_depth, 1, 0);
    for (int32_t o = 0; o < d.output_depth; ++o) {
        bias[o] = rnd_in(-200000, 200000); /* row constants: bias + folded offsets */
    }
    const bool per_channel = rnd_in(0, 1) == 1;
    const kwsq_quant_params q = make_quant(d.output_depth, per_channel,
                                           small ? bound_shift(p.accum_bound) : typical_shift(d.accum_depth, s4));
    if (s4) {
        {
            T_START();
            kwsq_fully_connected_s4(&p, &q, &d, input, (const uint8_t *)weights, bias, out_var);
            T_ADD(st->insn_var);
        }
        {
            T_START();
            ref_kwsq_fully_connected_s4(&p, &q, &d, input, (const uint8_t *)weights, bias, out_ref);
            T_ADD(st->insn_ref);
        }
    } else {
        {
            T_START();
            kwsq_fully_connected_s8(&p, &q, &d, input, weights, bias, out_var);
            T_ADD(st->insn_var);
        }
        {
            T_START();
            ref_kwsq_fully_connected_s8(&p, &q, &d, input, weights, bias, out_ref);
            T_ADD(st->insn_ref);
        }
    }
    const int32_t fields[] = {d.batches, d.accum_depth, d.output_depth, p.filter_offset, per_channel, q.pot,
                              p.accum_bound};
    compare(st, d.batches * d.output_depth, fields, (int32_t)(sizeof fields / sizeof fields[0]));
}

int main(void)
{
    board_counter_start();
    for (uint32_t i = 0; i < KWSQ_CHECK_CASES; ++i) {
        check_conv(false, false);
        check_conv(false, true);
        check_conv(true, false);
        check_conv(true, true);
        check_fc(false);
        check_fc(true);
    }
    uint32_t bad = 0;
    for (int i = 0; i < 6; ++i) {
        out_str("KWSQ CHECK ");
        out_str(stats[i].name);
        out_str(" ");
        out_u32(stats[i].cases);
        out_str(" ");
        out_u32(stats[i].mismatches);
        out_str(" instructions ");
        out_u32((uint32_t)(stats[i].insn_var / 1000u));
        out_str("k ref ");
        out_u32((uint32_t)(stats[i].insn_ref / 1000u));
        out_str("k fit16 ");
        out_u32(stats[i].fit16);
        out_str("\n");
        bad += stats[i].mismatches;
    }
    out_str("KWSQ DONE\n");
    return bad == 0 ? BOARD_EXIT_OK : BOARD_EXIT_RUNTIME_ERROR;
}
