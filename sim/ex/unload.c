/*
 * unload.c - the drivers' unload at the end of a run, and what they leave
 * behind.  When the machine is at rest with no thread stuck, the I/O
 * manager's part of a shutdown runs: a system thread calls each driver's
 * DriverUnload, the last loaded first, at PASSIVE_LEVEL (as Windows' I/O
 * manager does, from a system worker, when the service is stopped).  Then
 * the account of what the unloaded drivers left: devices not deleted and
 * symbolic links not removed (their driver named), pool still allocated
 * (by tag), timers still set (iosim cancels them so the run can end: on
 * Windows their DPC would later run in the driver's freed image), and
 * system threads still running.  One unload-leftover step each.
 */
#include "ex/ex.h"
#include "ps/ps.h"

static bool unload_wanted(const sim_t *S) {
  for (size_t i = 0; i < S->ndrivers; i++)
    if (S->drivers[i]->DriverUnload && !S->drivers[i]->SimUnloaded) return true;
  return false;
}

static void account_devices(sim_t *S, PDRIVER_OBJECT drv) {
  for (PDEVICE_OBJECT d = drv->DeviceObject; d; d = d->NextDevice) {
    trc_event_t e = trc_ev(TRC_UNLOAD_LEFTOVER, NULL, d);
    e.service = "IoDeleteDevice";
    e.text = drv->SimName;
    trc_send(S, &e, "%s left device %s (no IoDeleteDevice)", drv->SimName, d->SimName);
  }
}

static void account_links(sim_t *S) {
  for (const io_symlink_t *l = S->symlinks; l; l = l->next) {
    const char *dev = l->target;
    if (!strncmp(dev, "\\Device\\", 8)) dev += 8;
    PDEVICE_OBJECT d = sim_find_device(S, dev);
    trc_event_t e = trc_ev(TRC_UNLOAD_LEFTOVER, NULL, d);
    e.service = "IoDeleteSymbolicLink";
    e.text = l->name;
    trc_send(S, &e, "symbolic link %s -> %s left (no IoDeleteSymbolicLink)", l->name, l->target);
  }
}

static void account_pool(sim_t *S) {
  sim_pool_tag_t tags[64];
  size_t n = sim_pool_outstanding(S, tags, 64);
  for (size_t i = 0; i < n && i < 64; i++) {
    trc_event_t e = trc_ev(TRC_UNLOAD_LEFTOVER, NULL, NULL);
    e.service = "ExFreePoolWithTag";
    e.text = tags[i].name;
    e.count = tags[i].blocks_outstanding > INT32_MAX ? INT32_MAX : (int)tags[i].blocks_outstanding;
    trc_send(S, &e, "pool tag %s: %llu block(s), %llu bytes still allocated", tags[i].name,
             (unsigned long long)tags[i].blocks_outstanding, (unsigned long long)tags[i].bytes_outstanding);
  }
}

static void account_timers(sim_t *S) {
  while (!list_empty(&S->timers)) {
    PKTIMER t = CONTAINING_RECORD(S->timers.Flink, KTIMER, TimerListEntry);
    if (!trc_on(S)) {
      KeCancelTimer(t);
      continue;
    }
    trc_event_t e = trc_ev(TRC_UNLOAD_LEFTOVER, NULL, NULL);
    e.service = "KeCancelTimer";
    e.object = obj_id(S, &t->Header);
    trc_send(S, &e, "a timer is still set%s: iosim cancels it", t->Dpc ? ", with a DPC" : "");
    KeCancelTimer(t); /* unlinks it */
  }
}

static void account_threads(sim_t *S, PKTHREAD self) {
  for (LIST_ENTRY *l = S->threads.Flink; l != &S->threads; l = l->Flink) {
    PKTHREAD t = CONTAINING_RECORD(l, KTHREAD, all_link);
    if (t == self || !t->SystemThread || t->idle_worker || t->state == THR_TERMINATED) continue;
    trc_event_t e = trc_ev(TRC_UNLOAD_LEFTOVER, NULL, NULL);
    e.service = "PsTerminateSystemThread";
    e.target_thread = t->id;
    trc_send(S, &e, "system thread %s still runs", t->name);
  }
}

static void unload_main(PVOID ctx) {
  sim_t *S = ctx;
  bool any = false;
  for (size_t i = S->ndrivers; i-- > 0;) any |= io_unload_driver(S, S->drivers[i]);
  if (!any && !S->unloaded_midrun) return;
  account_timers(S); /* cancelled even untraced: a periodic timer would never let the run end */
  if (!trc_on(S)) return;
  for (size_t i = 0; i < S->ndrivers; i++)
    if (S->drivers[i]->SimUnloaded) account_devices(S, S->drivers[i]);
  account_links(S);
  account_pool(S);
  account_threads(S, thr_current(S));
}

bool ex_run_idle(sim_t *S) {
  if (S->unload_started || !(unload_wanted(S) || S->unloaded_midrun)) return false;
  S->unload_started = true;
  ps_create_system_thread(S, "unload", unload_main, S);
  return true;
}
