/*
 * This kernel folder's side of the row-order contract (include/kwsq_kernels.h,
 * "Overlapped placement"): for a layer with parameters `p` (const
 * kwsq_conv_params *) and filter dims `f` (const kwsq_dims *), how many output
 * pixels a pass of the CONV_2D and DEPTHWISE_CONV_2D kernels may write past
 * the end of the output row it starts in; -1 = the kernels do not keep the
 * contract for that layer, and the planner never overlaps its output with its
 * input.
 *
 * A variant folder that replaces a conv or depthwise entry point ships its
 * own kwsq_overlap.h (found before this one on the include path) with the
 * largest spill of its kernels, the reference fallbacks included.
 */
#ifndef KWSQ_OVERLAP_H
#define KWSQ_OVERLAP_H

/* One output pixel per pass (kwsq_conv_ref.h, kwsq_depthwise_conv_ref.h). */
#define KWSQ_CONV_OVERLAP_SPILL(p, f) 0
#define KWSQ_DEPTHWISE_OVERLAP_SPILL(p, f) 0

#endif /* KWSQ_OVERLAP_H */
