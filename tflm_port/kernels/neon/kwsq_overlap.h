/*
 * kernels/neon's side of the row-order contract (include/kwsq_kernels.h,
 * "Overlapped placement"; kernels/ref/kwsq_overlap.h says what the numbers
 * mean). Keep these in step with the kernels' pass sizes.
 */
#ifndef KWSQ_OVERLAP_H
#define KWSQ_OVERLAP_H

/* CONV_2D: -1, the NEON conv does not keep the contract: when the output
 * channels do not fit one chunk of re-laid-out weights it makes one pass
 * over the whole input per chunk, and 1x1 patches are read in place while
 * later channel blocks of the same pixels are computed (a 3x3 32 -> 32
 * conv overlapped with its input gave wrong outputs on a64). */
#define KWSQ_CONV_OVERLAP_SPILL(p, f) -1
/* DEPTHWISE_CONV_2D: one output row at a time (a whole row, or one pixel). */
#define KWSQ_DEPTHWISE_OVERLAP_SPILL(p, f) 0

#endif /* KWSQ_OVERLAP_H */
