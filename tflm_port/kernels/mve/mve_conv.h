/*
 * CONV_2D for Cortex-M55 Helium (mve_conv.c): the body of kwsq_conv_s8 and
 * kwsq_conv_s4 in this folder.
 */
#ifndef KWSQ_MVE_CONV_H
#define KWSQ_MVE_CONV_H

#include "kwsq_kernels.h"

#define MVE_COLS 4
/* Largest receptive field (values) the stack columns hold (4 KB); larger
 * fields take the reference loop. */
#define MVE_MAX_PATCH 1024
/* Most output channels of the 1x1 path (its per-channel offset table is on
 * the stack, 4 bytes a channel); wider layers take the general path. */
#define MVE_MAX_1X1_CH 512

/* The receptive field of one pixel (group g) as raw int8 with zero-point
 * padding; `split`: each block of 32 values stored as its 16 even then 16
 * odd values (the order of the int4 nibble vectors). */
void mve_fill_col(const kwsq_conv_params *p, const kwsq_dims *in, const kwsq_dims *f, const int8_t *img,
                  int32_t iy0, int32_t ix0, int32_t g, bool split, int8_t *col);

/* A convolution of one group, int8 or packed int4 weights
 * (mve_conv_block.c); false (nothing written) when it exceeds the limits
 * above or runs in place with more output than input channels. */
bool mve_conv_block(bool s4, const kwsq_conv_params *p, const kwsq_quant_params *q, const kwsq_dims *in,
                    const int8_t *x, const kwsq_dims *f, const uint8_t *w, const int32_t *bias,
                    const kwsq_dims *out, int8_t *y);

/* int8, receptive fields of at most 16 x MVE_CONV_DOT_MAX_CHUNKS values
 * whose window rows (padded) fit MVE_CONV_DOT_MAX_ROWS bytes of stack, not
 * in place, no groups: the field gathered once per pixel, one VMLAV per 16
 * values per output channel (mve_conv_dot.c); false (nothing written)
 * otherwise. */
#define MVE_CONV_DOT_MAX_CHUNKS 3
#define MVE_CONV_DOT_MAX_ROWS 1024
#define MVE_CONV_DOT_MAX_CH 256
bool mve_conv_dot(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in, const int8_t *x,
                  const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out, int8_t *y,
                  void *persist);
/* kwsq_conv_s8_persist of this folder: the bytes mve_conv_dot keeps its
 * per-layer constants in (geometry, requantization records, the padded
 * weight copy; 0 when the layer does not take the path) or, given them
 * zeroed, computes them there; mve_conv_dot then reads them instead of
 * computing them on the stack per call (persist NULL). */
int32_t mve_conv_dot_persist(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in,
                             const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out,
                             void *persist);

/* int8, no groups, a multiple of 4 output channels (at most
 * MVE_CONV_PIX_MAX_CH), every shift < 0 and multiplier >= 0, receptive
 * fields of at most MVE_CONV_PIX_MAX_FIELD values, and either 1x1 without
 * padding or, not in place, fields of at least 5 values whose buffers fit
 * (at least one output row: MVE_CONV_PIX_ADDRS bytes of window addresses,
 * MVE_CONV_PIX_PAD of padded input rows, window offsets < 256): four pixels
 * per vector, channels as scalars for 1x1 layers on up to
 * MVE_CONV_PIX_MAX_CIN input channels, one dot product per pixel otherwise
 * (mve_conv_pix.c); false (nothing written) when the layer is not on the
 * path. Its constants live in the persistent bytes (mve_conv_pix_persist:
 * their size, 0 when the layer does not take the path; given the bytes,
 * fills them) or, without them, on the stack when they fit
 * MVE_CONV_PIX_STACK. */
#define MVE_CONV_PIX_MAX_CIN 4
#define MVE_CONV_PIX_MAX_FIELD 16
#define MVE_CONV_PIX_MAX_CH 256
#define MVE_CONV_PIX_STACK 2048
#define MVE_CONV_PIX_ADDRS 2048
#define MVE_CONV_PIX_PAD 1024
bool mve_conv_pix(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in, const int8_t *x,
                  const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out, int8_t *y,
                  void *persist);
int32_t mve_conv_pix_persist(const kwsq_conv_params *d, const kwsq_quant_params *q, const kwsq_dims *in,
                             const kwsq_dims *f, const int8_t *w, const int32_t *bias, const kwsq_dims *out,
                             void *persist);

kwsq_status mve_conv(bool s4, const kwsq_context *ctx, const kwsq_conv_params *p, const kwsq_quant_params *q,
                     const kwsq_dims *in, const int8_t *x, const kwsq_dims *f, const uint8_t *w, const int32_t *bias,
                     const kwsq_dims *out, int8_t *y);

#endif /* KWSQ_MVE_CONV_H */
