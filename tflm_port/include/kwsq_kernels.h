/*
 * kwsq kernel entry points: one plain C function per op and data type, in
 * the manner of CMSIS-NN (kwsq_<op>_<type>, parameter structs instead of long
 * argument lists, a ..._get_buffer_size companion where scratch is needed,
 * a status returned from every kernel).
 *
 * The op files (src/ops/) do all checking and precomputation in Prepare
 * (multipliers, shifts, folded per-row constants, padding, activation
 * ranges, buffer sizes) and their Eval only calls these functions, so a
 * kernel here may assume valid arguments. kernels/ref/ holds the portable
 * definitions, one function per file named after it; an optimized folder
 * (kernels/dsp, kernels/mve, kernels/neon) replaces a function by providing
 * a file of the same name (see tflm_port/README.md, "Kernel variants").
 *
 * Every variant must give the reference results bit for bit.
 *
 * Conventions: tensors are NHWC; int8 offsets are added to the stored value
 * (input_offset = -input zero point, output_offset = +output zero point);
 * requantization is TFLite's MultiplyByQuantizedMultiplier with (multiplier,
 * shift) from QuantizeMultiplier; packed INT4 weights hold two values per
 * byte, low nibble first, and a row may start mid-byte.
 */
#ifndef KWSQ_KERNELS_H
#define KWSQ_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "kwsq_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Model-selective builds. A firmware built for one model (kwsq convert's op
 * list; boards/Makefile VARIANTS) may define KWSQ_MODEL_VARIANTS and, for
 * every shape class below, KWSQ_MODEL_HAS_<class> to 1 when the model has a
 * layer of that class and 0 otherwise (pipeline/tflite/export_c.py,
 * model_variants). A kernel folder guards a fast path with
 * KWSQ_MODEL_HAS(<class>) where the path can only run on layers of that
 * class; a path compiled out is never linked, and since the model has no
 * such layer nothing changes for it. The generic path always stays, so any
 * model still runs, bit-exact. Without KWSQ_MODEL_VARIANTS every path is
 * built. Classes:
 *   DW_DM1   DEPTHWISE_CONV_2D with depth multiplier 1
 *   DW_MULT  DEPTHWISE_CONV_2D with depth multiplier > 1
 *   DW_MULT_CH DEPTHWISE_CONV_2D with depth multiplier > 1 on more than one
 *            input channel (a subset of DW_MULT: kernels/dsp's any-shape
 *            path takes those, dsp_dw_mult the one-channel ones)
 *   DW_3X3   DEPTHWISE_CONV_2D 3x3, stride 1, no dilation, multiplier 1,
 *            the shorter output side at most KWSQ_DW_3X3_SIDE (kernels/dsp's
 *            planes path computes every such layer, in place too)
 *   DW_DM1_ANY DEPTHWISE_CONV_2D with depth multiplier 1 outside DW_3X3
 *            (kernels/dsp's any-shape and per-pixel paths: a model whose
 *            multiplier-1 layers are all DW_3X3 links neither)
 *   INT4     a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED with packed
 *            INT4 weights
 *   FC_SHORT a FULLY_CONNECTED whose accumulation depth (weights dimension 1)
 *            is at most KWSQ_FC_SHORT_MAX: a folder's path for short inputs
 *            (e.g. the input widened once per call) may only take depths up
 *            to it
 *   DW_GENERIC a DEPTHWISE_CONV_2D outside the plain shapes: INT4 weights, an
 *            input side of 32768 or more, an output width of 0, or with depth
 *            multiplier 1 more than KWSQ_DW_PLAIN_TAPS filter taps, with a
 *            multiplier > 1 more than KWSQ_DW_PLAIN_TAPS tap pairs (filter
 *            height x ceil(width / 2)) or a dilated window of H rows and W
 *            columns with (W + 2 * dilation_w + 2) * H > KWSQ_DW_PLAIN_WINDOW.
 *            This class guards the other way round: a folder whose fast paths
 *            compute every plain layer (kernels/dsp) may leave its generic
 *            depthwise loop out when the model has no DW_GENERIC layer, and
 *            then refuses in Prepare (..._get_buffer_size < 0) any layer its
 *            fast paths turn down; it never computes it another way. */
#define KWSQ_FC_SHORT_MAX 1024
#define KWSQ_DW_PLAIN_TAPS 128
#define KWSQ_DW_PLAIN_WINDOW 768
#define KWSQ_DW_3X3_SIDE 252
#ifdef KWSQ_MODEL_VARIANTS
#define KWSQ_MODEL_HAS(cls) (KWSQ_MODEL_HAS_##cls != 0)
#else
#define KWSQ_MODEL_HAS(cls) true
#endif

/* Scratch memory for one call: `size` bytes at `buf` (NULL when the kernel's
 * ..._get_buffer_size returned 0). `persist` (builds with
 * -DKWSQ_PERSISTENT_QUANT only, so the others build the context as before):
 * memory kept for the whole run that the kernel's ..._persist filled in
 * Prepare with constants derived from the weights, bias and requantization,
 * NULL when it asked for none; KWSQ_CONTEXT_PERSIST reads it (NULL without
 * the field). Build contexts with designated initializers. */
typedef struct {
    void *buf;
    int32_t size;
#ifdef KWSQ_PERSISTENT_QUANT
    void *persist;
#endif
} kwsq_context;
#ifdef KWSQ_PERSISTENT_QUANT
#define KWSQ_CONTEXT_PERSIST(ctx) ((ctx)->persist)
#else
#define KWSQ_CONTEXT_PERSIST(ctx) ((void)(ctx), (void *)0)
#endif

/* NHWC dimensions; for filters: n = output channels (conv) or 1
 * (depthwise), h, w = taps, c = input channels per group (conv) or output
 * channels (depthwise). */
typedef struct {
    int32_t n;
    int32_t h;
    int32_t w;
    int32_t c;
} kwsq_dims;

/* Requantization of output channel c: multiplier[c], shift[c]. Convolutions
 * always get one entry per output channel; FULLY_CONNECTED with per_channel
 * false has one entry that serves every row. `pot` is set when every
 * multiplier is exactly 2^30 (a power-of-two scale): the shift-only path
 * gives the same result without the 64-bit multiply. */
typedef struct {
    const int32_t *multiplier;
    const int8_t *shift;
    bool per_channel;
    bool pot;
} kwsq_quant_params;

/* CONV_2D and DEPTHWISE_CONV_2D. */
typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t stride_w, stride_h;
    int32_t dilation_w, dilation_h;
    int32_t pad_w, pad_h;           /* leading padding */
    int32_t act_min, act_max;       /* int8 clamp of the fused activation */
    int32_t depth_multiplier;       /* depthwise: output channels per input channel */
    /* The output buffer is the input buffer (Prepare got an in-place plan):
     * conv needs a 1x1 stride-1 filter, depthwise stride 1, no dilation,
     * depth multiplier 1 and a same-size output. The kernel must read every
     * input byte before it overwrites it, with the scratch its
     * ..._get_buffer_size asks for. */
    bool in_place;
    /* Proven accumulator range, see below the struct (0 = unknown). */
    int32_t accum_bound;
} kwsq_conv_params;

/* accum_bound of the conv and FULLY_CONNECTED params: the largest |partial
 * sum| of w * (x - z) (w the stored weights, z the input zero point, any
 * subset of one output channel's products, any int8 input), computed in
 * Prepare from the constant weights as max over channels of
 * max(P (127 - z) + N (z + 128), P (z + 128) + N (127 - z)), P and N the sums
 * of a channel's positive weights and of its negative weights' magnitudes
 * (the fixed-point QAT paper's proven accumulator range; saturated at
 * INT32_MAX). It also bounds the plain sums of w * x that the kernels
 * accumulate (z = 0 and z = -1 minimize it over z). A kernel may accumulate
 * in int16 when 0 < accum_bound <= KWSQ_ACCUM16_MAX; 0 means not computed
 * (a struct zero-initialized elsewhere): take the 32-bit path. Bias and
 * offsets are added in 32 bits afterwards. */
#define KWSQ_ACCUM16_MAX 32767
/* Whether a kernel may take its 16-bit-accumulator path; -DKWSQ_NO_ACC16
 * turns every such path off (for measuring what it buys). */
#ifdef KWSQ_NO_ACC16
#define KWSQ_ACCUM16_OK(bound) ((void)(bound), false)
#else
#define KWSQ_ACCUM16_OK(bound) ((bound) > 0 && (bound) <= KWSQ_ACCUM16_MAX)
#endif

/* FULLY_CONNECTED int8 / int4. */
typedef struct {
    int32_t batches;
    int32_t accum_depth;            /* input values per batch = weights per row */
    int32_t output_depth;           /* rows */
} kwsq_fc_dims;

typedef struct {
    int32_t filter_offset;          /* -weight zero point (per-tensor weights), else 0 */
    int32_t output_offset;
    int32_t act_min, act_max;
    /* See accum_bound under kwsq_conv_params (0 = unknown). */
    int32_t accum_bound;
    /* max over rows of |row_const[o]| (saturated at INT32_MAX), computed in
     * Prepare; 0 = unknown (a kernel that needs it takes the maximum itself). */
    int32_t row_const_max;
} kwsq_fc_params;

typedef struct {
    float act_min, act_max;         /* float clamp of the fused activation */
} kwsq_float_range;

/* AVERAGE_POOL_2D and MAX_POOL_2D. */
typedef struct {
    int32_t stride_w, stride_h;
    int32_t filter_w, filter_h;
    int32_t pad_w, pad_h;
    int32_t act_min, act_max;       /* int8 */
    float fact_min, fact_max;       /* float */
} kwsq_pool_params;

/* SOFTMAX int8 (output scale 1/256, zero point -128), TFLM's fixed-point
 * exp with 5 integer bits and a 12-integer-bit sum. */
typedef struct {
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} kwsq_softmax_params;

/* ---- FULLY_CONNECTED -------------------------------------------------------
 * row_const[o] = bias[o] + input_offset * (sum of row o + accum_depth *
 * filter_offset): everything that does not depend on the input, folded in
 * Prepare (kwsq_fc_row_constants_*), so the kernel adds it to the plain dot
 * product of the stored values (plus filter_offset * sum of the input when
 * the weights have a zero point). Equal to TFLM's result modulo 2^32. */
kwsq_status kwsq_fully_connected_s8(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const int8_t *weights, const int32_t *row_const, int8_t *output);
kwsq_status kwsq_fully_connected_s4(const kwsq_fc_params *params, const kwsq_quant_params *quant,
                                    const kwsq_fc_dims *dims, const int8_t *input,
                                    const uint8_t *packed_weights, const int32_t *row_const,
                                    int8_t *output);
/* Float input and output, int8 weights (symmetric, per row or per tensor):
 * each input row is quantized to int8 (symmetric, or asymmetric when
 * `asymmetric`) as LiteRT's hybrid kernel does, into ctx->buf. row_sums[o]
 * is the sum of row o, row_scales[o] its scale; bias may be NULL. */
int32_t kwsq_fully_connected_hybrid_f32_get_buffer_size(const kwsq_fc_dims *dims);
kwsq_status kwsq_fully_connected_hybrid_f32(const kwsq_context *ctx, const kwsq_float_range *act,
                                            bool asymmetric, const kwsq_fc_dims *dims,
                                            const float *input, const int8_t *weights,
                                            const int32_t *row_sums, const float *row_scales,
                                            const float *bias, float *output);
kwsq_status kwsq_fully_connected_f32(const kwsq_float_range *act, const kwsq_fc_dims *dims,
                                     const float *input, const float *weights, const float *bias,
                                     float *output);

/* ---- Float CONV_2D and DEPTHWISE_CONV_2D --------------------------------------
 * float32 input, weights (OHWI / 1HWC), optional bias (NULL) and output, in
 * TFLM's reference order: per output, the taps inside the input in filter
 * row, column (and, for CONV_2D, input channel) order summed from 0, then
 * the bias added and the activation clamp applied. Uses params' strides,
 * dilations, padding and depth_multiplier; grouped CONV_2D when the input
 * has a multiple of the filter's channels. */
kwsq_status kwsq_conv_f32(const kwsq_conv_params *params, const kwsq_float_range *act, const kwsq_dims *input_dims,
                          const float *input, const kwsq_dims *filter_dims, const float *filter, const float *bias,
                          const kwsq_dims *output_dims, float *output);
kwsq_status kwsq_depthwise_conv_f32(const kwsq_conv_params *params, const kwsq_float_range *act,
                                    const kwsq_dims *input_dims, const float *input, const kwsq_dims *filter_dims,
                                    const float *filter, const float *bias, const kwsq_dims *output_dims,
                                    float *output);

/* ---- Overlapped placement: the row-order contract ---------------------------
 * The planner may place a CONV_2D or DEPTHWISE_CONV_2D output so that it
 * overlaps the op's input (src/ops/conv_common.c, kwsq_overlap_output): the
 * input starts `delta` bytes above the output's start, with delta the
 * smallest (rounded up to 8) for which no input byte still to be read is
 * overwritten, computed from the geometry and this contract. `in_place` is
 * false then, and input and output are different pointers into one region.
 *
 * Every kernel of a folder (s8 and s4, fast paths and fallbacks) must keep:
 * 1. Output rows (batch-major) are finished in increasing order: the kernel
 *    works in passes, and a pass that starts in output row r writes only
 *    output pixels from row r on, and none past pixel (r + 1) * out_w - 1 +
 *    SPILL (SPILL: output pixels a pass may write past the end of the row it
 *    starts in, e.g. 3 for passes of 4 pixels in flattened pixel order).
 * 2. From the start of a pass in output row r (batch b, row oy) on, the
 *    kernel reads no input row of batch b before max(0, oy * stride_h -
 *    pad_h) (the first row of row r's window), and no earlier batch.
 * 3. Anything read earlier and needed later is copied aside (stack or
 *    scratch) before outputs are written over it.
 * A folder states its SPILL for conv and depthwise layers in its own
 * kwsq_overlap.h, as macros of the layer's parameters and filter dims
 * (kernels/ref/kwsq_overlap.h explains; -1 = the folder does not keep the
 * contract for that layer, whose output then never overlaps its input). The
 * anchors and randomized shapes run overlapped on every folder in
 * tests/tflm_port/test_overlap.py, bit-exact with TFLite Micro. */

/* ---- CONV_2D: per-channel quantized, grouped (input c / filter c groups).
 * bias may be NULL. */
int32_t kwsq_conv_s8_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *output_dims);
/* Prepare (builds with -DKWSQ_PERSISTENT_QUANT only): with persist NULL,
 * the kwsq_context.persist bytes the kernel wants for this layer (0: none);
 * then, given that many zeroed bytes, computes its constants into them. */
int32_t kwsq_conv_s8_persist(const kwsq_conv_params *params, const kwsq_quant_params *quant,
                             const kwsq_dims *input_dims, const kwsq_dims *filter_dims, const int8_t *filter,
                             const int32_t *bias, const kwsq_dims *output_dims, void *persist);
kwsq_status kwsq_conv_s8(const kwsq_context *ctx, const kwsq_conv_params *params,
                         const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                         const int8_t *input, const kwsq_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias, const kwsq_dims *output_dims, int8_t *output);
int32_t kwsq_conv_s4_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *output_dims);
kwsq_status kwsq_conv_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                         const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                         const int8_t *input, const kwsq_dims *filter_dims,
                         const uint8_t *packed_filter, const int32_t *bias,
                         const kwsq_dims *output_dims, int8_t *output);

/* ---- DEPTHWISE_CONV_2D: any depth multiplier; bias may be NULL. The scratch
 * size may depend on every shape (a kernel path that needs none asks none);
 * a negative size refuses the layer (only in a model-selective build without
 * the DW_GENERIC class, for a layer no linked path computes). */
int32_t kwsq_depthwise_conv_s8_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *input_dims,
                                               const kwsq_dims *filter_dims, const kwsq_dims *output_dims);
/* Prepare (builds with -DKWSQ_PERSISTENT_QUANT only), as kwsq_conv_s8_persist:
 * the kwsq_context.persist bytes for this layer (0: none), then its
 * constants computed into that many zeroed bytes. */
int32_t kwsq_depthwise_conv_s8_persist(const kwsq_conv_params *params, const kwsq_quant_params *quant,
                                       const kwsq_dims *input_dims, const kwsq_dims *filter_dims,
                                       const int8_t *filter, const int32_t *bias, const kwsq_dims *output_dims,
                                       void *persist);
kwsq_status kwsq_depthwise_conv_s8(const kwsq_context *ctx, const kwsq_conv_params *params,
                                   const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                                   const int8_t *input, const kwsq_dims *filter_dims,
                                   const int8_t *filter, const int32_t *bias,
                                   const kwsq_dims *output_dims, int8_t *output);
int32_t kwsq_depthwise_conv_s4_get_buffer_size(const kwsq_conv_params *params, const kwsq_dims *input_dims,
                                               const kwsq_dims *filter_dims, const kwsq_dims *output_dims);
kwsq_status kwsq_depthwise_conv_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                                   const kwsq_quant_params *quant, const kwsq_dims *input_dims,
                                   const int8_t *input, const kwsq_dims *filter_dims,
                                   const uint8_t *packed_filter, const int32_t *bias,
                                   const kwsq_dims *output_dims, int8_t *output);

/* ---- pooling: input and output share quantization (int8). */
kwsq_status kwsq_avg_pool_s8(const kwsq_pool_params *params, const kwsq_dims *input_dims,
                             const int8_t *input, const kwsq_dims *output_dims, int8_t *output);
kwsq_status kwsq_avg_pool_f32(const kwsq_pool_params *params, const kwsq_dims *input_dims,
                              const float *input, const kwsq_dims *output_dims, float *output);
kwsq_status kwsq_max_pool_s8(const kwsq_pool_params *params, const kwsq_dims *input_dims,
                             const int8_t *input, const kwsq_dims *output_dims, int8_t *output);
kwsq_status kwsq_max_pool_f32(const kwsq_pool_params *params, const kwsq_dims *input_dims,
                              const float *input, const kwsq_dims *output_dims, float *output);

/* ---- SOFTMAX over the last dimension: `rows` rows of `depth` values. */
kwsq_status kwsq_softmax_s8(const kwsq_softmax_params *params, int32_t rows, int32_t depth,
                            const int8_t *input, int8_t *output);
kwsq_status kwsq_softmax_f32(float beta, int32_t rows, int32_t depth, const float *input,
                             float *output);


/* ---- elementwise ops -------------------------------------------------------
 * LOGISTIC, TANH, RELU, RELU6, QUANTIZE, DEQUANTIZE, ADD, MUL. `count`
 * values are read from `input` and written to `output` (which may be the
 * same buffer). */

/* LOGISTIC and TANH int8: the input scaled to Q4.27 with (input_multiplier,
 * input_left_shift) after subtracting input_zero_point, saturated beyond
 * +-input_radius, then gemmlowp's fixed-point function (TFLM's
 * logistic_common.cc / tanh_common.cc). Output zero point -128 (LOGISTIC,
 * scale 1/256) or 0 (TANH, scale 1/128). */
typedef struct {
    int32_t input_zero_point;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t input_radius;
} kwsq_fx_act_params;

kwsq_status kwsq_logistic_s8(const kwsq_fx_act_params *params, int32_t count, const int8_t *input,
                             int8_t *output);
kwsq_status kwsq_tanh_s8(const kwsq_fx_act_params *params, int32_t count, const int8_t *input,
                         int8_t *output);
kwsq_status kwsq_logistic_f32(int32_t count, const float *input, float *output);
kwsq_status kwsq_tanh_f32(int32_t count, const float *input, float *output);

/* Any int8 -> int8 function given by its 256 values: output = table[input +
 * 128]. LOGISTIC and TANH build their table in Prepare by running
 * kwsq_logistic_s8 / kwsq_tanh_s8 on every int8 value, so the lookup is
 * their result bit for bit. */
kwsq_status kwsq_lut_s8(const int8_t *table, int32_t count, const int8_t *input, int8_t *output);

/* int8 requantization: output = clamp(output_offset + mbqm(input -
 * input_zero_point, multiplier, shift), act_min, act_max). RELU (act_min
 * the quantized zero) and QUANTIZE int8 -> int8 (full range). */
typedef struct {
    int32_t input_zero_point;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
    int32_t act_min, act_max;
} kwsq_requant_params;

kwsq_status kwsq_requantize_s8(const kwsq_requant_params *params, int32_t count,
                               const int8_t *input, int8_t *output);
/* int8 clamp to [lo, hi] (RELU6 in the input's quantization). */
kwsq_status kwsq_clamp_s8(int32_t lo, int32_t hi, int32_t count, const int8_t *input,
                          int8_t *output);
/* float clamp to [lo, hi] (RELU: [0, +inf), RELU6: [0, 6]). */
kwsq_status kwsq_clamp_f32(float lo, float hi, int32_t count, const float *input, float *output);
/* QUANTIZE float -> int8: round(x / scale) half away from zero, + zero point,
 * saturated. */
kwsq_status kwsq_quantize_f32_s8(float scale, int32_t zero_point, int32_t count,
                                 const float *input, int8_t *output);
/* DEQUANTIZE int8 -> float: (float)(scale * (x - zero_point)) computed in
 * double, as TFLM's reference kernel. */
kwsq_status kwsq_dequantize_s8_f32(double scale, int32_t zero_point, int32_t count,
                                   const int8_t *input, float *output);

/* ADD and MUL int8 on one run of `count` outputs; input k advances by
 * strideK (1, or 0 for a broadcast value). ADD: TFLM's scheme (inputs
 * offset, shifted left by left_shift, rescaled with in1/in2 multipliers,
 * summed, rescaled with the output multiplier); MUL: the product of the
 * offset inputs rescaled with the output multiplier (in1/in2 multipliers
 * unused). Then output_offset and the activation clamp. */
typedef struct {
    int32_t in1_offset, in2_offset, output_offset;
    int32_t in1_multiplier, in1_shift;
    int32_t in2_multiplier, in2_shift;
    int32_t output_multiplier, output_shift;
    int32_t left_shift;
    int32_t act_min, act_max;
} kwsq_arith_params;

kwsq_status kwsq_add_s8(const kwsq_arith_params *params, int32_t count, const int8_t *input1,
                        int32_t stride1, const int8_t *input2, int32_t stride2, int8_t *output);
/* ADD int8 with a constant input 2, given as its rescaled terms
 * scaled2[j] = mbqm((in2_offset + x2[j]) << left_shift, in2_multiplier,
 * in2_shift), computed once in Prepare: one requantization less per value. */
kwsq_status kwsq_add_s8_const(const kwsq_arith_params *params, int32_t count, const int8_t *input1,
                              int32_t stride1, const int32_t *scaled2, int32_t stride2,
                              int8_t *output);
kwsq_status kwsq_mul_s8(const kwsq_arith_params *params, int32_t count, const int8_t *input1,
                        int32_t stride1, const int8_t *input2, int32_t stride2, int8_t *output);
kwsq_status kwsq_add_f32(const kwsq_float_range *act, int32_t count, const float *input1,
                         int32_t stride1, const float *input2, int32_t stride2, float *output);
kwsq_status kwsq_mul_f32(const kwsq_float_range *act, int32_t count, const float *input1,
                         int32_t stride1, const float *input2, int32_t stride2, float *output);

#ifdef __cplusplus
}
#endif

#endif /* KWSQ_KERNELS_H */
