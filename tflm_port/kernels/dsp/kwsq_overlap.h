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
/* DEPTHWISE_CONV_2D: multiplier > 1 on one input channel (dsp_dw_mult.c):
 * chunks of a row's pixels, every input channel of the row before the next
 * row, input rows read only from the row's window on, earlier ones kept in
 * its slots: spill 0. The any-shape path (dsp_dw_any.c: multiplier 1, and
 * multipliers > 1 on several input channels) writes bands of rows channel
 * by channel; overlapped, a band holds at most 1 + KWSQ_DSP_DW_SPILL /
 * out_w rows (and the fallbacks, one pixel per pass, less). The 3x3
 * multiplier-1 path (dsp_dw3x3.c, strides 1 and 2) writes channel block by
 * channel block over the whole map, so those layers never overlap. */
#define KWSQ_DSP_DW_SPILL 0
#define KWSQ_DEPTHWISE_OVERLAP_SPILL(p, f)                                                            \
    ((p)->depth_multiplier == 1 && (f)->h == 3 && (f)->w == 3 && (p)->stride_w <= 2 &&              \
             (p)->stride_h <= 2 && (p)->dilation_w == 1 && (p)->dilation_h == 1                      \
         ? -1                                                                                        \
     : (f)->c == (p)->depth_multiplier && (f)->c > 1 ? 0                                             \
                                                     : KWSQ_DSP_DW_SPILL)

#endif /* KWSQ_OVERLAP_H */
