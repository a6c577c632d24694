/*
 * hal.h - device hardware and its interrupts (hal/): a transfer takes its
 * latency, then raises the device's interrupt line on its CPU.
 */
#ifndef IOSIM_HAL_H
#define IOSIM_HAL_H

#include "core/core.h"

/* Hardware (hal/hw.c) */
struct sim_hw {
  sim_t *S;
  PDEVICE_OBJECT dev;
  uint64_t latency;
  int cpu;
  KIRQL irql;
  SIM_ISR *isr;
  PVOID ctx;
  uint32_t id;
  struct sim_hw *next;
};
typedef struct hw_irq {
  LIST_ENTRY link;
  sim_hw_t *hw;
  PIRP irp;
} hw_irq_t;

void hw_interrupt(sim_t *S, hw_irq_t *irq);
/* The interrupt dispatcher: raise to the line's DIRQL, run the ISR. */
void KiInterruptDispatch(sim_t *S, cpu_t *c, hw_irq_t *irq);
void hal_destroy(sim_t *S);

#endif
