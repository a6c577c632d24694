/*
 * ex.h - what the executive (ex/) installs in the machine besides the
 * other components' routines: the end-of-run account (ex/account.c).
 */
#ifndef IOSIM_EX_H
#define IOSIM_EX_H

#include "io/io.h"

/* S->hooks.run_end_account: one irp-outstanding step per IRP still
   allocated, one thread-stuck step per thread still waiting. */
void ex_run_end_account(sim_t *S);

#endif
