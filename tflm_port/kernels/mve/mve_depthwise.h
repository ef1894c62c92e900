/*
 * The DEPTHWISE_CONV_2D body of this folder (kwsq_depthwise_conv_s8.c),
 * shared by the int8 and the packed int4 entry points.
 */
#ifndef KWSQ_MVE_DEPTHWISE_H
#define KWSQ_MVE_DEPTHWISE_H

#include "kwsq_kernels.h"

/* Packed int4 weights: depth multiplier 1 and channels a multiple of 8 run
 * the Helium path, other shapes the reference loop. */
kwsq_status mve_depthwise_s4(const kwsq_context *ctx, const kwsq_conv_params *params,
                             const kwsq_quant_params *quant, const kwsq_dims *input_dims, const int8_t *input,
                             const kwsq_dims *filter_dims, const uint8_t *wbytes, const int32_t *bias,
                             const kwsq_dims *output_dims, int8_t *output);

/* Depth multiplier 1, int8 or packed int4 weights (widened once per call),
 * or an int8 multiplier mve_dw_c16_expand_bytes accepts with that much
 * scratch, 16 channels per pass (mve_dw_c16.c):
 * false (nothing written) for other shapes or when the per-call tables
 * (stack) would exceed the limits below. */
#define MVE_DW_C16_MAX_TAPS 32
#define MVE_DW_C16_MAX_CH 256
#define MVE_DW_C16_MAX_WEIGHTS 2304 /* taps x channels rearranged on the stack */
/* Depth multiplier > 1 and not a multiple of 4, int8, at least 16 output
 * channels: the scratch bytes the 16-channel path needs to expand the input
 * rows of the window (0: the layer does not take it). */
#define MVE_DW_EXPAND_MAX_ROWS 64
/* int8, multiplier 1: fewer channels than one full group run the 8- and
 * 4-channel loops of kwsq_depthwise_conv_s8.c (4 channels: 8.6 instead of
 * 10.3 instructions per MAC) */
#define MVE_DW_C16_MIN_CH 16
int32_t mve_dw_c16_expand_bytes(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f,
                                const kwsq_dims *out);
bool mve_depthwise_c16(bool s4, const kwsq_context *ctx, const kwsq_conv_params *d, const kwsq_quant_params *q,
                       const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const uint8_t *w,
                       const int32_t *bias, const kwsq_dims *out, int8_t *y);

/* int8, any depth multiplier: one output channel at a time, taps in lanes
 * (mve_dw_dot.c), when the window's rows of one channel, padded, fit 256
 * bytes (8-bit gather offsets), the taps fit MVE_DW_DOT_MAX_CHUNKS groups
 * of 16 and the rearranged weights the stack limit. mve_dw_dot_bytes: the
 * scratch it needs (0: the layer does not take it). */
#define MVE_DW_DOT_MAX_CHUNKS 4
#define MVE_DW_DOT_MAX_WEIGHTS 2304
int32_t mve_dw_dot_bytes(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out);
bool mve_depthwise_dot(const kwsq_context *ctx, const kwsq_conv_params *d, const kwsq_quant_params *q,
                       const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const int8_t *w,
                       const int32_t *bias, const kwsq_dims *out, int8_t *y);

/* int8, one input channel, depth multiplier 1..MVE_DW_C1_MAX_MULT: the
 * window's taps in lanes from one padded strip of input rows, gathered once
 * per pixel for all output channels (mve_dw_c1.c), when the taps fit
 * MVE_DW_C1_MAX_CHUNKS groups of 16 and each group's offsets from its first
 * row 8 bits. mve_dw_c1_bytes: the scratch it needs (0: the layer does not
 * take it). */
#define MVE_DW_C1_MAX_CHUNKS 8
#define MVE_DW_C1_MAX_MULT 16
int32_t mve_dw_c1_bytes(const kwsq_conv_params *d, const kwsq_dims *in, const kwsq_dims *f, const kwsq_dims *out);
/* kwsq_depthwise_conv_s8_persist of this path: the bytes of its constants
 * (0: none), computed into persist unless NULL; mve_depthwise_c1 reads them
 * from kwsq_context.persist when set, else builds them on the stack. Only
 * layers of at most MVE_DW_C1_PERSIST_PX output pixels keep them: building
 * them costs as much as a few pixels: 5 % of dm4_32x20x1's 5x5 x4 layer
 * (160 pixels), 1.5 % of micro_speech's 10x8 x8 one (500 pixels), which
 * would keep 928 bytes more arena for it. */
#define MVE_DW_C1_PERSIST_PX 256
int32_t mve_dw_c1_persist(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in,
                          const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out,
                          void *persist);
bool mve_depthwise_c1(const kwsq_context *ctx, const kwsq_conv_params *d, const kwsq_quant_params *q,
                      const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const int8_t *w,
                      const int32_t *bias, const kwsq_dims *out, int8_t *y);

#endif /* KWSQ_MVE_DEPTHWISE_H */
