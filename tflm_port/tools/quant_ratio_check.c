/*
 * Checks kwsq_quantize_ratio (integer only) against kwsq_quantize_multiplier
 * on the double a * b / c, the computation TFLite does, bit for bit
 * (tests/tflm_port/test_quant_ratio.py builds and runs it).
 *
 *   quant_ratio_check random N SEED   N random triples: any bit pattern,
 *                                     and scales in the ranges models use
 *   quant_ratio_check sweep A C       every float b in [1, 2) and [2^-20, 2^-19)
 *                                     (all 2^23 mantissas, twice) with a, c given
 * Prints "checked <count> mismatches <count>" and the first few mismatches;
 * exit 0 when none.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kwsq_math.h"

static unsigned long long checked, bad;

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void check(float a, float b, float c)
{
    int32_t m1, m2;
    int s1, s2;
    kwsq_quantize_multiplier((double)a * (double)b / (double)c, &m1, &s1);
    kwsq_quantize_ratio(a, b, c, &m2, &s2);
    ++checked;
    kwsq_ratio_base rb;
    int32_t m3;
    int8_t s3;
    (void)kwsq_ratio_base_of(a, c, &rb);
    kwsq_ratio_fill(&rb, (const uint8_t *)&b, 1, &m3, &s3); /* the loop Eval runs */
    if (m3 != m2 || s3 != s2) {
        m2 = m3 + 1; /* counted below as a mismatch */
    }
    if (m1 != m2 || s1 != s2) {
        if (bad < 10) {
            printf("mismatch a=%a b=%a c=%a double (%" PRId32 ", %d) integer (%" PRId32 ", %d)\n", (double)a,
                   (double)b, (double)c, m1, s1, m2, s2);
        }
        ++bad;
    }
}

/* SOFTMAX's scaling as kwsq computed it in double (and TFLM does). */
static bool softmax_double(float beta, float scale, int int_bits, int32_t *mult, int *shift)
{
    double real = (double)beta * (double)scale * (double)(1LL << (31 - int_bits));
    if (real > (double)((1LL << 31) - 1)) {
        real = (double)((1LL << 31) - 1);
    }
    kwsq_quantize_multiplier(real, mult, shift);
    return !(real <= 1.0 || *shift < 0);
}

static void check_softmax(float beta, float scale, int e)
{
    int32_t m1, m2;
    int s1, s2;
    const bool ok1 = softmax_double(beta, scale, 5, &m1, &s1);
    const bool ok2 = kwsq_softmax_scaling(beta, scale, 5, &m2, &s2);
    const bool le1 = (double)beta * (double)scale <= ldexp(1.0, e);
    const bool le2 = kwsq_product_at_most(beta, scale, e);
    ++checked;
    if (ok1 != ok2 || (ok1 && (m1 != m2 || s1 != s2)) || le1 != le2) {
        if (bad < 10) {
            printf("softmax mismatch beta=%a scale=%a e=%d\n", (double)beta, (double)scale, e);
        }
        ++bad;
    }
}

static uint64_t state;

static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 16);
}

/* A scale as models have them: exponent within 2^-40 .. 2^8, any mantissa. */
static float scale_like(void)
{
    const uint32_t exp = 87u + next() % 48u;
    return from_bits((exp << 23) | (next() & 0x7FFFFFu));
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "random") == 0) {
        /* the special values against each other */
        static const uint32_t special[] = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u,
                                           0x3F800000u, 0xBF800000u, 0x00000001u, 0x7F7FFFFFu, 0x33000000u,
                                           0x4F000000u, 0x4EFFFFFFu};
        const int ns = (int)(sizeof special / sizeof special[0]);
        for (int i = 0; i < ns; ++i) {
            for (int j = 0; j < ns; ++j) {
                check_softmax(from_bits(special[i]), from_bits(special[j]), -26);
                for (int k = 0; k < ns; ++k) {
                    check(from_bits(special[i]), from_bits(special[j]), from_bits(special[k]));
                }
            }
        }
        const unsigned long long n = strtoull(argv[2], NULL, 10);
        state = strtoull(argv[3], NULL, 10) * 2654435761u + 88172645463325252ull;
        for (unsigned long long i = 0; i < n; ++i) {
            switch (i % 4) {
            case 0: /* any bit patterns: signs, subnormals, zeros, inf, NaN */
                check(from_bits(next()), from_bits(next()), from_bits(next()));
                break;
            case 1: /* scales of similar size: ratios near 1, ties */
            {
                const float a = scale_like();
                check(a, scale_like(), a * from_bits(0x3F000000u + (next() & 0x00FFFFFFu)));
                break;
            }
            default:
                check(scale_like(), scale_like(), scale_like());
                break;
            }
            /* SOFTMAX: beta near 1 or any bits, an int8 input scale */
            const float beta = i % 3 == 0 ? from_bits(next()) : from_bits(0x3F000000u + (next() & 0x01FFFFFFu));
            const float scale = i % 5 == 0 ? from_bits(next()) : scale_like();
            check_softmax(beta, scale, (int)(next() % 120) - 60);
            if (i % 1000 == 0) { /* products right at 2^e */
                const float a = from_bits(0x3F800000u | (next() & 0x7FFFFFu));
                check_softmax(a, 1.0f / a, 0);
                check_softmax(0x1p-13f, 0x1p-13f, -26);
            }
        }
    } else if (argc == 4 && strcmp(argv[1], "sweep") == 0) {
        const float a = strtof(argv[2], NULL), c = strtof(argv[3], NULL);
        for (uint32_t m = 0; m < (1u << 23); ++m) {
            check(a, from_bits(0x3F800000u | m), c);
            check(a, from_bits(0x35800000u | m), c);
        }
    } else {
        fprintf(stderr, "usage: quant_ratio_check random N SEED | sweep A C\n");
        return 2;
    }
    printf("checked %llu mismatches %llu\n", checked, bad);
    return bad == 0 ? 0 : 1;
}
