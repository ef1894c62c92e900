/* Shared by the front-end's files: the sample history and twiddle lookup. */
#ifndef KWSQ_FE_INTERNAL_H
#define KWSQ_FE_INTERNAL_H

#include "kwsq_fe.h"

/* Append one hop to the history; 1 when the oldest `window` samples of the
 * history now form a complete frame. */
int kwsq_fe__advance(kwsq_fe_state *s, const int16_t *hop);

/* x * mult >> shift, rounded half away from zero, saturated to int32. */
int32_t kwsq_fe__apply_scale(int32_t x, kwsq_fe_scale s);

/* cos and sin of 2 pi k / n for 0 <= k <= n / 2, from a quarter-wave table
 * of n / 4 + 1 entries (cos_tab[j] = cos(2 pi j / n)). */
#define KWSQ_FE_COS(tab, n, k) ((k) <= (n) / 4 ? (tab)[(k)] : -(tab)[(n) / 2 - (k)])
#define KWSQ_FE_SIN(tab, n, k) ((k) <= (n) / 4 ? (tab)[(n) / 4 - (k)] : (tab)[(k) - (n) / 4])

/* Index of the highest set bit of v > 0. */
static inline int32_t kwsq_fe__floor_log2_u64(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return 63 - __builtin_clzll(v);
#else
    int32_t e = 0;
    while (v >>= 1) {
        e++;
    }
    return e;
#endif
}

#endif
