/*
 * kernels/mve's side of the row-order contract (include/kwsq_kernels.h,
 * "Overlapped placement"; kernels/ref/kwsq_overlap.h says what the numbers
 * mean). Keep these in step with the kernels' pass sizes.
 */
#ifndef KWSQ_OVERLAP_H
#define KWSQ_OVERLAP_H

/* CONV_2D: passes of MVE_COLS (4) pixels in flattened pixel order. */
#define KWSQ_CONV_OVERLAP_SPILL(p, f) 3
/* DEPTHWISE_CONV_2D: one output row at a time, one or two pixels per pass. */
#define KWSQ_DEPTHWISE_OVERLAP_SPILL(p, f) 0

#endif /* KWSQ_OVERLAP_H */
