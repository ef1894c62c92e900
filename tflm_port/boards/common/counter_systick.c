/* Instruction counting with SysTick, for boards without a usable 32-bit
 * CMSDK timer (the SSE-300 of mps3-an547 has none at 0x40000000).
 *
 * SysTick is only 24 bits wide, so its wrap interrupt extends it to 32 bits.
 * Under -icount the wraps fall at the same instruction every run, so the few
 * instructions of the handler keep the count deterministic; they are included
 * in what is measured (about 10 every 2^24 ticks). */
#include "board.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_CSR_ENABLE 0x1u
#define SYST_CSR_TICKINT 0x2u
#define SYST_CSR_CLKSOURCE_CPU 0x4u
#define SYST_MAX 0x00FFFFFFu

static volatile uint32_t wraps;

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    wraps++;
}

void board_counter_start(void)
{
    SYST_CSR = 0u;
    wraps = 0u;
    SYST_RVR = SYST_MAX;
    SYST_CVR = 0u; /* any write clears it; it reloads from RVR */
    SYST_CSR = SYST_CSR_CLKSOURCE_CPU | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

uint32_t board_counter_read(void)
{
    uint32_t before;
    uint32_t value;
    do {
        before = wraps;
        value = SYST_CVR;
    } while (wraps != before);
    /* Elapsed ticks count up; the board API counts down like the CMSDK timer. */
    const uint32_t elapsed = before * (SYST_MAX + 1u) + (SYST_MAX - value);
    return ~elapsed;
}
