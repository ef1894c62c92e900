/*
 * One output of the dsp kernels' general stage, out of line: the paths that
 * requantize few outputs, or only in shapes and scales off their fast stage
 * (the deep FULLY_CONNECTED rows, dsp_dw_mult's general stage), share this one
 * body instead of each inlining dsp_out_one_inline.
 */
#include "dsp_requant.h"

int8_t dsp_out_one_call(const dsp_out *o, int32_t acc, int32_t ch)
{
    return dsp_out_one_inline(o, acc, ch);
}
