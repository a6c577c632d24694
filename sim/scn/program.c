/*
 * program.c - thread programs: what a simulated application does, one
 * statement at a time, through the system services (NtCreateFile,
 * NtReadFile, waits) exactly as a Win32 program would reach them.
 */
#include "run_int.h"

typedef struct prog {
  run_state_t *rs;
  const thread_decl_t *decl;
} prog_t;

/* The ReadFileEx-style completion routine: runs as a user APC. */
static void scr_user_apc(PVOID ctx, PIO_STATUS_BLOCK iosb, ULONG reserved) {
  (void)reserved;
  char sb[16];
  sim_note("completion routine for %s runs: %s, %lu bytes", (const char *)ctx,
           iosim_status_name(iosb->Status, sb), (unsigned long)iosb->Information);
}

static PVOID wait_object(run_state_t *rs, const char *name) {
  for (int i = 0; i < rs->nevents; i++)
    if (!strcmp(rs->events[i].name, name)) return &rs->events[i].ev;
  PFILE_OBJECT fo = rs_file(rs, name);
  if (fo) return &fo->Event;
  return sim_thread_by_name(rs->S, name);
}

static void prog_io(prog_t *p, const op_t *o) {
  run_state_t *rs = p->rs;
  PFILE_OBJECT fo = rs_file(rs, o->name);
  if (!fo) {
    sim_trace_script(0, NULL, o->text, false, "%s: skipped, file %s is not open", o->text, o->name);
    return;
  }
  IO_STATUS_BLOCK *iosb = ar_alloc(&rs->ar, sizeof *iosb);
  iosb->Status = STATUS_PENDING;
  KEVENT *ev = o->names ? rs_event(rs, (const char *)o->names) : NULL;
  IO_APC_ROUTINE *apc = (o->flags & PF_APC) ? scr_user_apc : NULL;
  /* ApcContext: the callback's argument for ReadFileEx, else the
     OVERLAPPED - which a port packet carries unless hEvent's low bit is set. */
  PVOID ctx = (o->flags & PF_NO_PORT) ? NULL : (PVOID)(o->name2 ? o->name2 : "the request");
  LONGLONG off = o->has_num2 && o->kind != OP_IOCTL ? o->num2 : 0;
  if (o->name2) {
    sim_tag_next_irp(o->name2);
    int i = 0;
    while (i < rs->nreqs && strcmp(rs->reqs[i].name, o->name2)) i++;
    if (i < 256) {
      rs->reqs[i].name = o->name2;
      rs->reqs[i].iosb = iosb;
      if (i == rs->nreqs) rs->nreqs++;
    }
  }
  if (o->kind == OP_READ) NtReadFile(fo, ev, apc, ctx, iosb, (ULONG)o->num, &off);
  else if (o->kind == OP_WRITE) NtWriteFile(fo, ev, apc, ctx, iosb, (ULONG)o->num, &off);
  else NtDeviceIoControlFile(fo, ev, apc, ctx, iosb, (ULONG)o->num2, (ULONG)o->in_len, (ULONG)o->num);
}

static void prog_ops(prog_t *p, const op_t *o);

static sim_port_t *rs_port(run_state_t *rs, const char *name) {
  for (int i = 0; i < rs->nports; i++)
    if (!strcmp(rs->ports[i].name, name)) return rs->ports[i].port;
  for (const port_decl_t *d = rs->sc->ports; d; d = d->next) /* created on first use */
    if (!strcmp(d->name, name) && rs->nports < 32) {
      sim_port_t *p = NtCreateIoCompletion(d->concurrency, d->name);
      rs->ports[rs->nports].name = d->name;
      rs->ports[rs->nports++].port = p;
      return p;
    }
  return NULL;
}

static void prog_op(prog_t *p, const op_t *o) {
  run_state_t *rs = p->rs;
  switch (o->kind) {
  case OP_OPEN: {
    PFILE_OBJECT fo;
    ULONG opt = (o->flags & PF_OVERLAPPED) ? 0
                : (o->flags & PF_ALERTABLE) ? FILE_SYNCHRONOUS_IO_ALERT : FILE_SYNCHRONOUS_IO_NONALERT;
    NTSTATUS st = NtCreateFile(&fo, sim_find_device(rs->S, o->name2), opt, o->name);
    if (NT_SUCCESS(st) && rs->nfiles < (int)(sizeof rs->files / sizeof rs->files[0]))
      rs->files[rs->nfiles++] = (named_file_t){o->name, fo};
    break;
  }
  case OP_READ:
  case OP_WRITE:
  case OP_IOCTL: prog_io(p, o); break;
  case OP_UWAIT: {
    PVOID objs[MAXIMUM_WAIT_OBJECTS];
    for (int i = 0; i < o->nnames; i++) objs[i] = wait_object(rs, o->names[i]);
    LONGLONG to = -(o->num2 / 100);
    NtWaitForMultipleObjects((ULONG)o->nnames, objs, (o->flags & PF_ALL) ? WaitAll : WaitAny,
                             (o->flags & PF_ALERTABLE) != 0, o->has_num2 ? &to : NULL);
    break;
  }
  case OP_SLEEP: {
    LONGLONG to = -(o->num / 100);
    NtDelayExecution((o->flags & PF_ALERTABLE) != 0, &to);
    break;
  }
  case OP_SIGNAL: KeSetEvent(rs_event(rs, o->name), 0, FALSE); break;
  case OP_RESET:
    KeClearEvent(rs_event(rs, o->name));
    sim_trace_script(0, NULL, o->text, false, "%s", o->text);
    break;
  case OP_REPEAT:
    for (int64_t i = 0; i < o->num; i++) prog_ops(p, o->body);
    break;
  case OP_CLOSE: {
    PFILE_OBJECT fo = rs_file(rs, o->name);
    if (fo) NtClose(fo);
    break;
  }
  case OP_ASSOCIATE: {
    PFILE_OBJECT fo = rs_file(rs, o->name);
    if (fo) NtSetCompletionPort(fo, rs_port(rs, o->name2), (ULONG_PTR)o->num);
    break;
  }
  case OP_GQCS: {
    ULONG_PTR key;
    PVOID ctx;
    IO_STATUS_BLOCK iosb;
    LONGLONG to = -(o->num2 / 100);
    NtRemoveIoCompletion(rs_port(rs, o->name), &key, &ctx, &iosb, o->has_num2 ? &to : NULL);
    break;
  }
  case OP_POST:
    NtSetIoCompletion(rs_port(rs, o->name), (ULONG_PTR)o->num, NULL, o->has_status ? o->status : STATUS_SUCCESS,
                      (ULONG_PTR)o->num2);
    break;
  case OP_CANCEL_IO:
  case OP_CANCEL_IO_EX: {
    PFILE_OBJECT fo = rs_file(rs, o->name);
    PIO_STATUS_BLOCK which = NULL;
    for (int i = 0; o->name2 && i < rs->nreqs; i++)
      if (!strcmp(rs->reqs[i].name, o->name2)) which = rs->reqs[i].iosb;
    if (!fo) break;
    if (o->kind == OP_CANCEL_IO) NtCancelIoFile(fo, NULL);
    else if (!o->name2 || which) NtCancelIoFileEx(fo, which);
    else sim_trace_script(0, NULL, o->text, false, "%s: request %s was never issued", o->text, o->name2);
    break;
  }
  case OP_LOCK: {
    PFILE_OBJECT fo = rs_file(rs, o->name);
    if (fo) NtLockFile(fo, o->num2, (ULONG)o->num);
    break;
  }
  case OP_CANCEL_SYNC: NtCancelSynchronousIoFile(sim_thread_by_name(rs->S, o->name)); break;
  case OP_DELAY: sim_delay((uint64_t)o->num); break;
  case OP_NOTE: sim_note("%s", o->name); break;
  default: break;
  }
}

static void prog_ops(prog_t *p, const op_t *o) {
  for (; o; o = o->next) prog_op(p, o);
}

void scr_thread_main(PVOID arg) {
  scr_thread_arg_t *a = arg;
  prog_t p = {a->rs, a->decl};
  prog_ops(&p, a->decl->body);
}
