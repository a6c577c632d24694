/*
 * dispobj.c - what a satisfied wait does to the kernel library's dispatcher
 * objects (kernel-facts 13.2, 13.3), wait.c's one call into them: a
 * synchronization timer goes back to not-signalled (it releases one
 * waiter), a semaphore's count drops by one, and a mutex counts one more
 * acquisition by its new (or same) owner, who from its first acquisition
 * on holds its normal kernel APCs back as in a critical region.
 */
#include "ke/ke.h"

static void mutant_acquire(PKMUTANT m, PKTHREAD t) {
  m->Header.SignalState--;
  if (m->Header.SignalState != 0) return; /* a recursive acquisition */
  m->OwnerThread = t;
  t->KernelApcDisable = (int16_t)(t->KernelApcDisable - m->ApcDisable);
  list_insert_head(&t->MutantListHead, &m->MutantListEntry);
}

void KiWaitSatisfyObject(DISPATCHER_HEADER *h, PKTHREAD t) {
  switch (h->Type) {
  case OBJ_TIMER_SYNCHRONIZATION: h->SignalState = 0; break;
  case OBJ_SEMAPHORE: h->SignalState--; break;
  case OBJ_MUTANT: mutant_acquire((PKMUTANT)h, t); break;
  default: break; /* a notification timer stays signalled */
  }
}
