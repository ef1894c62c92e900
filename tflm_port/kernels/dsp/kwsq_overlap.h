/*
 * kernels/dsp's side of the row-order contract (include/kwsq_kernels.h,
 * "Overlapped placement"; kernels/ref/kwsq_overlap.h says what the numbers
 * mean). Keep these in step with the kernels' pass sizes.
 */
#ifndef KWSQ_OVERLAP_H
#define KWSQ_OVERLAP_H

/* CONV_2D: passes of DSP_COLS (4) pixels, 1x1 of P1X1 (6), in flattened
 * pixel order: up to 5 pixels past the row a pass starts in. */
#define KWSQ_CONV_OVERLAP_SPILL(p, f) 5
/* DEPTHWISE_CONV_2D: one output row at a time (multiplier 1: a pixel per
 * pass; multiplier > 1, dsp_dw_mult.c: chunks of a row's pixels, every input
 * channel of the row before the next row, input rows read only from the
 * row's window on, earlier ones kept in its slots); but the 3x3 stride-1
 * multiplier-1 path (dsp_dw3x3.c) writes channel block by channel block, so
 * those layers never overlap. */
#define KWSQ_DEPTHWISE_OVERLAP_SPILL(p, f)                                                            \
    ((p)->depth_multiplier == 1 && (f)->h == 3 && (f)->w == 3 && (p)->stride_w == 1 &&              \
             (p)->stride_h == 1 && (p)->dilation_w == 1 && (p)->dilation_h == 1                      \
         ? -1                                                                                        \
         : 0)

#endif /* KWSQ_OVERLAP_H */
