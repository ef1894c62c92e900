/* Reset and fault handling for every Cortex-M board we emulate.
 *
 * Ours rather than a vendor's so that the same small file serves M4, M7 and
 * M55: vector table, .data copy, .bss zero, FPU (and MVE) enable, then main().
 * A fault prints its name over semihosting and exits with BOARD_EXIT_FAULT so a
 * crash in the runtime shows up as a clear failure, never as a hung QEMU. */
#include <stdint.h>

#include "board.h"
#include "semihost.h"

extern uint32_t __stack_top;
extern uint32_t __data_load;
extern uint32_t __data_start;
extern uint32_t __data_end;
extern uint32_t __bss_start;
extern uint32_t __bss_end;

int main(void);
void Reset_Handler(void) __attribute__((noreturn));

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define CPACR_CP10_CP11_FULL (0xFu << 20)

static void report_fault(const char *name)
{
    out_flush();
    out_str("KWSQ FAULT ");
    out_str(name);
    out_str(" cfsr=");
    out_u32(SCB_CFSR);
    out_str("\n");
    out_flush();
    semihost_exit(BOARD_EXIT_FAULT);
}

static void NMI_Handler(void) { report_fault("NMI"); }
static void HardFault_Handler(void) { report_fault("HardFault"); }
static void MemManage_Handler(void) { report_fault("MemManage"); }
static void BusFault_Handler(void) { report_fault("BusFault"); }
static void UsageFault_Handler(void) { report_fault("UsageFault"); }
void Default_Handler(void);
void Default_Handler(void) { report_fault("unexpected interrupt"); }
/* A board whose instruction counter is SysTick overrides this one. */
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

typedef void (*vector_fn)(void);

/* Only the system exceptions: the firmware uses no peripheral interrupts, and
 * any system exception it does not expect lands in the fault report. */
__attribute__((section(".vectors"), used)) static const vector_fn vector_table[16] = {
    (vector_fn)(uintptr_t)&__stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    SysTick_Handler,
};

void Reset_Handler(void)
{
    /* FPU first: compiled code may touch s-registers at any point after this. */
    SCB_CPACR |= CPACR_CP10_CP11_FULL;
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    const uint32_t *src = &__data_load;
    for (uint32_t *dst = &__data_start; dst < &__data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start; dst < &__bss_end;) {
        *dst++ = 0u;
    }
    int code = main();
    out_flush();
    semihost_exit(code);
}
