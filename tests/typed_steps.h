/*
 * typed_steps.h - a synthetic trace with every typed fact filled in (the
 * asynchronous read of lesson 2: IRP 2 through fs0 -> vol0 -> disk0, pended,
 * completed in a DPC, finished by a special kernel APC), written through
 * tracedb_record_event.  The readers (`iosim irp`, the views, the pictures)
 * are tested on it, and on the same steps with every detail replaced by
 * "x": their output must not change, since no fact may come from prose.
 * Shared by test_tracedb.c and test_viz.c.
 */
#ifndef IOSIM_TESTS_TYPED_STEPS_H
#define IOSIM_TESTS_TYPED_STEPS_H

#include <sqlite3.h>
#include <stdio.h>

#include "iosim/sim.h"
#include "iosim/tracedb.h"

/* Each step starts from TRC_EVENT_INIT ("nothing applies") and overrides
   what its kind sets: overriding an initializer is the point here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"

#define TS_(t_, cpu_, irql_, fr_, th_, irp_, dev_, sl_, k_, ...)                                   \
  {TRC_EVENT_INIT, .t_ns = (t_), .cpu = (cpu_), .irql = (irql_), .frame = TRC_FRAME_##fr_,         \
   .thread = (th_), .irp = (irp_), .device = (dev_), .stack_location = (sl_), .kind = (k_),       \
   __VA_ARGS__}
/* Devices: disk0 = 1, vol0 = 2, fs0 = 3; thread 1 "app"; the read is IRP 2. */
#define TS_THREAD(t, dev, sl, k, ...) TS_(t, 0, 0, THREAD, 1, 2, dev, sl, k, __VA_ARGS__)
#define TS_PENDING .has_status = 1, .status = STATUS_PENDING
#define TS_SUCCESS .has_status = 1, .status = STATUS_SUCCESS

static const trc_event_t typed_steps[] = {
    TS_(0, -1, 0, IDLE, 0, 0, 0, 0, TRC_RUN_START, .detail = "2 CPUs, seed 7"),
    TS_(2700, 0, 0, THREAD, 1, 0, 3, 0, TRC_SYSCALL, .service = "NtReadFile", .file = 1, .major = IRP_MJ_READ,
        .offset = 0, .detail = "NtReadFile on f (overlapped file)"),
    TS_THREAD(3200, 0, 4, TRC_IRP_ALLOC, .stack_size = 3, .major = IRP_MJ_READ, .file = 1,
              .detail = "3 stack locations"),
    TS_THREAD(3350, 0, 4, TRC_IRP_QUEUE_THREAD, .target_thread = 1, .writes = TRC_W_THREAD_LIST,
              .detail = "on app's IRP list"),
    TS_THREAD(3350, 3, 3, TRC_CALL, .major = IRP_MJ_READ, .loc_from = 4, .loc_to = 3,
              .writes = TRC_W_CURRENT_LOCATION, .detail = "IoCallDriver(fs0, IRP 2) -> location 3"),
    TS_THREAD(3430, 3, 3, TRC_DISPATCH, .major = IRP_MJ_READ, .detail = "fsd dispatch IRP_MJ_READ"),
    TS_THREAD(3430, 3, 3, TRC_COPY_STACK, .loc_from = 3, .loc_to = 2, .writes = TRC_W_LOCATION,
              .detail = "location 3 copied to 2"),
    TS_THREAD(3450, 3, 3, TRC_SET_COMPLETION, .loc_to = 2, .control = 0xE0, .routine_device = 3,
              .writes = TRC_W_COMPLETION | TRC_W_CONTROL,
              .detail = "in location 2, invoke on success error cancel"),
    TS_THREAD(3470, 2, 2, TRC_CALL, .major = IRP_MJ_READ, .loc_from = 3, .loc_to = 2,
              .writes = TRC_W_CURRENT_LOCATION, .detail = "IoCallDriver(vol0, IRP 2) -> location 2"),
    TS_THREAD(3550, 2, 2, TRC_DISPATCH, .major = IRP_MJ_READ, .detail = "volume dispatch IRP_MJ_READ"),
    TS_THREAD(3550, 2, 3, TRC_SKIP_STACK, .loc_from = 2, .loc_to = 3, .writes = TRC_W_CURRENT_LOCATION,
              .detail = "location 2 will be reused by the lower driver"),
    TS_THREAD(3570, 1, 2, TRC_CALL, .major = IRP_MJ_READ, .loc_from = 3, .loc_to = 2,
              .writes = TRC_W_CURRENT_LOCATION, .detail = "IoCallDriver(disk0, IRP 2) -> location 2"),
    TS_THREAD(3650, 1, 2, TRC_DISPATCH, .major = IRP_MJ_READ, .detail = "disk dispatch IRP_MJ_READ"),
    TS_THREAD(3650, 1, 2, TRC_MARK_PENDING, .control = 0xE1, .writes = TRC_W_CONTROL,
              .detail = "SL_PENDING_RETURNED set in location 2"),
    TS_THREAD(3660, 1, 2, TRC_SET_CANCEL, .cancel_routine = 1, .writes = TRC_W_CANCEL_ROUTINE,
              .detail = "cancel routine set"),
    TS_THREAD(3670, 1, 2, TRC_HW_START, .offset = 0, .detail = "transfer takes 200000 ns"),
    TS_THREAD(3690, 1, 2, TRC_RETURN, TS_PENDING, .detail = "disk0 returns STATUS_PENDING"),
    TS_THREAD(3710, 2, 2, TRC_RETURN, TS_PENDING, .detail = "vol0 returns STATUS_PENDING"),
    TS_THREAD(3730, 3, 3, TRC_RETURN, TS_PENDING, .detail = "fs0 returns STATUS_PENDING"),
    TS_(3750, 0, 0, THREAD, 1, 2, 3, 0, TRC_SYSCALL_RETURN, TS_PENDING, .service = "NtReadFile",
        .detail = "returns STATUS_PENDING"),
    TS_(203670, 0, 0, IDLE, 0, 0, 1, 0, TRC_INTERRUPT, .target_cpu = 0, .detail = "IRQL 5 line raised on CPU 0"),
    TS_(203670, 0, 5, ISR, 0, 2, 1, 2, TRC_ISR, .detail = "ISR of disk0"),
    TS_(204120, 0, 5, ISR, 0, 2, 1, 2, TRC_DPC_QUEUED, .target_cpu = 0, .detail = "disk0 on CPU 0"),
    TS_(204140, 0, 5, ISR, 0, 0, 1, 0, TRC_ISR_END, .irql_from = 5, .irql_to = 0, .detail = "back to IRQL 0"),
    TS_(204140, 0, 2, DPC, 0, 2, 1, 2, TRC_DPC_RUN, .detail = "disk0"),
    TS_(204200, 0, 2, DPC, 0, 2, 1, 2, TRC_SET_CANCEL, .cancel_routine = 0, .writes = TRC_W_CANCEL_ROUTINE,
        .detail = "cancel routine cleared"),
    TS_(204490, 0, 2, DPC, 0, 2, 1, 2, TRC_COMPLETE, TS_SUCCESS, .has_info = 1, .info = 4096,
        .writes = TRC_W_STATUS | TRC_W_INFORMATION, .detail = "IoCompleteRequest(STATUS_SUCCESS, 4096 bytes)"),
    TS_(204610, 0, 2, DPC, 0, 2, 3, 3, TRC_COMPLETION_CALL, TS_SUCCESS, .pending_returned = 1,
        .routine_device = 3, .loc_from = 2, .loc_to = 3,
        .writes = TRC_W_CURRENT_LOCATION | TRC_W_PENDING_RETURNED,
        .detail = "routine in location 2 for fs0, PendingReturned=1"),
    TS_(204720, 0, 2, DPC, 0, 2, 3, 3, TRC_MARK_PENDING, .control = 0x01, .writes = TRC_W_CONTROL,
        .detail = "SL_PENDING_RETURNED set in location 3"),
    TS_(204740, 0, 2, DPC, 0, 2, 3, 3, TRC_COMPLETION_RETURN, TS_SUCCESS, .detail = "STATUS_SUCCESS"),
    TS_(204740, 0, 2, DPC, 0, 2, 0, 5, TRC_WALK_DONE, TS_SUCCESS, .pending_returned = 1, .loc_from = 3,
        .loc_to = 4, .stage2 = TRC_STAGE2_APC, .writes = TRC_W_PENDING_RETURNED | TRC_W_CURRENT_LOCATION,
        .detail = "walk finished, PendingReturned=1"),
    TS_(204740, 0, 2, DPC, 0, 2, 0, 0, TRC_APC_QUEUED, .target_thread = 1,
        .detail = "special kernel APC IopCompleteRequest to thread app"),
    TS_(204810, 0, 2, DPC, 0, 0, 1, 0, TRC_DPC_END, .detail = "disk0"),
    TS_(206010, 0, 1, APC, 1, 2, 0, 0, TRC_APC_RUN, .detail = "IopCompleteRequest in thread app"),
    TS_(206310, 0, 1, APC, 1, 2, 0, 5, TRC_STAGE2, TS_SUCCESS, .stage2 = TRC_STAGE2_APC,
        .detail = "IopCompleteRequest: full notification"),
    TS_(206710, 0, 1, APC, 1, 2, 0, 5, TRC_IOSB_WRITTEN, TS_SUCCESS, .has_info = 1, .info = 4096,
        .writes = TRC_W_USER_IOSB, .detail = "I/O status block = {STATUS_SUCCESS, 4096}"),
    TS_(206810, 0, 1, APC, 1, 2, 0, 5, TRC_IRP_FREE, .detail = "IRP 2 freed"),
    TS_(206810, 0, 1, APC, 1, 2, 0, 0, TRC_APC_END, .detail = "IopCompleteRequest"),
    /* The run-end step's outcome is typed: "stalled", whatever the prose says. */
    TS_(206810, -1, 0, IDLE, 0, 0, 0, 0, TRC_RUN_END, .outcome = TRC_OUTCOME_STALLED,
        .detail = "ok after 206810 ns"),
};
#define TYPED_STEPS (sizeof typed_steps / sizeof typed_steps[0])

#pragma GCC diagnostic pop

/* Records the steps as one run of db (no machine: tracedb_begin_run with
   S = NULL), with every detail replaced by `detail` unless it is NULL.
   Returns the run id, or 0 on failure. */
static inline int64_t typed_steps_record(tracedb_t *db, const char *detail) {
  if (tracedb_begin_run(db, NULL, "typed-steps", 0x7e57, 7) != SIM_OK) return 0;
  for (size_t i = 0; i < TYPED_STEPS; i++) {
    trc_event_t ev = typed_steps[i];
    ev.seq = i + 1;
    if (detail) ev.detail = detail;
    if (tracedb_record_event(db, &ev) != SIM_OK) return 0;
  }
  int64_t run = tracedb_run_id(db);
  return tracedb_end_run(db, NULL, TRACEDB_OUTCOME_STALLED, NULL) == SIM_OK ? run : 0;
}

/* The machine rows a real run would have written at its end (the steps
   above have no machine to read them from); the irp row only if asked. */
static inline int typed_steps_machine(const char *path, int64_t run, int with_irp) {
  sqlite3 *h = NULL;
  if (sqlite3_open(path, &h) != SQLITE_OK) return -1;
  char sql[1024];
  snprintf(sql, sizeof sql,
           "INSERT INTO driver VALUES(%1$lld, 1, 'disk'), (%1$lld, 2, 'volume'), (%1$lld, 4, 'fsd');"
           "INSERT INTO device VALUES(%1$lld, 1, 'disk0', 1, NULL, 1), (%1$lld, 2, 'vol0', 2, 1, 2),"
           " (%1$lld, 3, 'fs0', 4, 2, 3);"
           "INSERT INTO thread VALUES(%1$lld, 1, 'app', 'terminated');",
           (long long)run);
  int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK && with_irp) {
    snprintf(sql, sizeof sql,
             "INSERT INTO irp(run_id, id, tag, major, major_code, thread, file, master, stack_count,"
             " final_status, information, issued_ns, completed_ns, pending_returned, completed, freed)"
             " VALUES(%lld, 2, 'r1', 'IRP_MJ_READ', 3, 1, 1, NULL, 3, 'STATUS_SUCCESS', 4096, 3200,"
             " 204740, 1, 1, 1)",
             (long long)run);
    rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
  }
  sqlite3_close(h);
  return rc == SQLITE_OK ? 0 : -1;
}

#endif
