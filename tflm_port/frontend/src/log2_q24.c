/* Integer log2 in Q24: the exponent from the leading bit, the 24 fraction
 * bits by repeated squaring of the Q30 mantissa (each square that reaches 2
 * yields a 1 bit). About 1e-7 from the true value, with no table. */
#include "fe_internal.h"

int32_t kwsq_fe_log2_q24(uint64_t v)
{
    if (v == 0u) {
        return INT32_MIN;
    }
    const int32_t e = kwsq_fe__floor_log2_u64(v);
    uint32_t m = (uint32_t)(e >= 30 ? v >> (e - 30) : v << (30 - e)); /* [2^30, 2^31) */
    int32_t frac = 0;
    for (int32_t i = 0; i < KWSQ_FE_LOG_FRAC_BITS; i++) {
        m = (uint32_t)(((uint64_t)m * m) >> 30); /* < 2^32 */
        frac <<= 1;
        if (m >= (1u << 31)) {
            m >>= 1;
            frac |= 1;
        }
    }
    return (int32_t)(((uint32_t)e << KWSQ_FE_LOG_FRAC_BITS) | (uint32_t)frac);
}
