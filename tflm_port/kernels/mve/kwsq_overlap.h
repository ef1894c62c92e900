/*
 * kernels/mve's side of the row-order contract (include/kwsq_kernels.h,
 * "Overlapped placement"; kernels/ref/kwsq_overlap.h says what the numbers
 * mean). Keep these in step with the kernels' pass sizes.
 */
#ifndef KWSQ_OVERLAP_H
#define KWSQ_OVERLAP_H

/* CONV_2D: blocks of up to MVE_BLOCK_PX (16) pixels in flattened pixel
 * order, each read in full before its outputs are written (mve_conv_block.c;
 * mve_conv.c's passes are 4 pixels). */
#define KWSQ_CONV_OVERLAP_SPILL(p, f) 15
/* DEPTHWISE_CONV_2D: one output row at a time, one or two pixels per pass;
 * or two rows in one pass (mve_dw_dot.c's vertical pairs) after the input
 * rows of both rows' windows are copied aside, so every input row read
 * later belongs to a later window, as after a pass of the second row.
 * mve_dw_c1.c copies an output row's window rows into its strip before
 * writing the row. */
#define KWSQ_DEPTHWISE_OVERLAP_SPILL(p, f) 0

#endif /* KWSQ_OVERLAP_H */
