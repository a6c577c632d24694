/*
 * program.c - thread programs: what a simulated application does, one
 * statement at a time, through the system services (NtCreateFile,
 * NtReadFile, waits) exactly as a Win32 program would reach them; one
 * function per statement, reached through a table indexed by its kind.
 */
#include "iosim/vec.h"
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
  KEVENT *ev = rs_event(rs, name);
  if (ev) return ev;
  PFILE_OBJECT fo = rs_file(rs, name);
  if (fo) return &fo->Event;
  return sim_thread_by_name(rs->S, name);
}

static sim_port_t *rs_port(run_state_t *rs, const char *name) {
  return names_get(&rs->names, NK_PORT, name); /* names are checked at load */
}

static void prog_ops(prog_t *p, const op_t *o);

/* ---- one function per statement ---- */

typedef void prog_fn(prog_t *p, const op_t *o);

static void pr_open(prog_t *p, const op_t *o) {
  run_state_t *rs = p->rs;
  const op_open_t *op = &o->open;
  PFILE_OBJECT fo;
  ULONG opt = op->overlapped ? 0 : op->alertable ? FILE_SYNCHRONOUS_IO_ALERT : FILE_SYNCHRONOUS_IO_NONALERT;
  NTSTATUS st = NtCreateFile(&fo, sim_find_device(rs->S, op->device), opt, op->file);
  if (!NT_SUCCESS(st)) return;
  if (!IOSIM_VEC_RESERVE(rs->files, rs->files_cap, rs->nfiles + 1)) abort(); /* out of memory */
  rs->files[rs->nfiles++] = (named_file_t){op->file, fo};
}

/* The largest buffer a scenario's program allocates for one request. */
#define SCN_BUFFER_MAX (1u << 20)

/* `len` bytes of the program's memory, zeroed, starting with `io`'s data
   if given; NULL for 0 bytes or more than SCN_BUFFER_MAX. */
static unsigned char *user_buffer(run_state_t *rs, int64_t len, const op_io_t *io) {
  if (len <= 0 || len > (int64_t)SCN_BUFFER_MAX) return NULL;
  unsigned char *b = ar_alloc(&rs->ar, (size_t)len);
  memset(b, 0, (size_t)len);
  if (io && io->data) memcpy(b, io->data, (size_t)(io->data_len < len ? io->data_len : len));
  return b;
}

/* read, write, ioctl */
static void pr_io(prog_t *p, const op_t *o) {
  run_state_t *rs = p->rs;
  const op_io_t *io = &o->io;
  PFILE_OBJECT fo = rs_file(rs, io->file);
  if (!fo) {
    sim_trace_script(0, NULL, o->text, false, "%s: skipped, file %s is not open", o->text, io->file);
    return;
  }
  IO_STATUS_BLOCK *iosb = ar_alloc(&rs->ar, sizeof *iosb);
  iosb->Status = STATUS_PENDING;
  KEVENT *ev = io->event ? rs_event(rs, io->event) : NULL;
  IO_APC_ROUTINE *apc = io->apc ? scr_user_apc : NULL;
  /* ApcContext: the callback's argument for ReadFileEx, else the
     OVERLAPPED - which a port packet carries unless hEvent's low bit is set.
     Only ever read back as a name. */
  PVOID ctx = io->no_port ? NULL : (PVOID)(io->as ? io->as : "the request");
  LONGLONG off = io->has_offset ? io->offset : 0;
  /* The program's buffers, in its own memory (the run's arena): zeros, or
     the scenario's bytes.  Past SCN_BUFFER_MAX the request is length-only
     (a NULL buffer: nothing copied or locked, kernel-facts 14.4). */
  unsigned char *buf = user_buffer(rs, io->length, o->kind == OP_WRITE ? io : NULL);
  unsigned char *in = o->kind == OP_IOCTL ? user_buffer(rs, io->in_len, io) : NULL;
  if (io->as) {
    sim_tag_next_irp(io->as);
    size_t i = rs_req(rs, io->as);
    if (i) i--;
    else {
      if (!IOSIM_VEC_RESERVE(rs->reqs, rs->reqs_cap, rs->nreqs + 1)) abort(); /* out of memory */
      i = rs->nreqs++;
      names_put(&rs->ar, &rs->names, NK_IRP, io->as, (void *)(uintptr_t)(i + 1));
    }
    rs->reqs[i].name = io->as;
    rs->reqs[i].iosb = iosb;
    rs->reqs[i].buf = buf;
    rs->reqs[i].len = buf ? (size_t)io->length : 0;
  }
  if (o->kind == OP_READ) NtReadFile(fo, ev, apc, ctx, iosb, buf, (ULONG)io->length, &off);
  else if (o->kind == OP_WRITE) NtWriteFile(fo, ev, apc, ctx, iosb, buf, (ULONG)io->length, &off);
  else NtDeviceIoControlFile(fo, ev, apc, ctx, iosb, (ULONG)io->code, in, (ULONG)io->in_len, buf, (ULONG)io->length);
}

static void pr_wait(prog_t *p, const op_t *o) {
  const op_uwait_t *w = &o->uwait;
  /* Beyond MAXIMUM_WAIT_OBJECTS the service refuses before it reads any
     object, so the first 64 are all it needs. */
  PVOID objs[MAXIMUM_WAIT_OBJECTS];
  for (int i = 0; i < w->nobjects && i < MAXIMUM_WAIT_OBJECTS; i++) {
    /* Names are checked at load, so only a file not open yet is missing;
       as WaitForMultipleObjects fails at once on a bad handle, skip it. */
    objs[i] = wait_object(p->rs, w->objects[i]);
    if (!objs[i]) {
      sim_trace_script(0, NULL, o->text, false, "%s: skipped, file %s is not open", o->text, w->objects[i]);
      return;
    }
  }
  LONGLONG to = -(w->timeout / 100);
  NtWaitForMultipleObjects((ULONG)w->nobjects, objs, w->all ? WaitAll : WaitAny, w->alertable,
                           w->has_timeout ? &to : NULL);
}

static void pr_sleep(prog_t *p, const op_t *o) {
  (void)p;
  LONGLONG to = -(o->sleep.ns / 100);
  NtDelayExecution(o->sleep.alertable, &to);
}

static void pr_signal(prog_t *p, const op_t *o) { KeSetEvent(rs_event(p->rs, o->named.name), 0, FALSE); }

static void pr_reset(prog_t *p, const op_t *o) {
  KeClearEvent(rs_event(p->rs, o->named.name));
  sim_trace_script(0, NULL, o->text, false, "%s", o->text);
}

static void pr_repeat(prog_t *p, const op_t *o) {
  for (int64_t i = 0; i < o->repeat.count; i++) {
    uint64_t before = sim_progress(p->rs->S);
    prog_ops(p, o->repeat.body);
    /* An iteration in which the machine did nothing (an empty body, or
       blocks nested with nothing in them) does nothing the next time
       either, and costs no step for max-steps to count: 32 nested
       `repeat 2` around nothing kept iosim busy for hours (found by the
       scenario fuzzer). */
    if (sim_progress(p->rs->S) == before) break;
  }
}

static void pr_close(prog_t *p, const op_t *o) {
  PFILE_OBJECT fo = rs_file(p->rs, o->named.name);
  if (fo) NtClose(fo);
}

static void pr_associate(prog_t *p, const op_t *o) {
  const op_associate_t *a = &o->associate;
  PFILE_OBJECT fo = rs_file(p->rs, a->file);
  if (fo) NtSetCompletionPort(fo, rs_port(p->rs, a->port), (ULONG_PTR)a->key);
}

static void pr_notify_modes(prog_t *p, const op_t *o) {
  const op_notify_modes_t *m = &o->modes;
  PFILE_OBJECT fo = rs_file(p->rs, m->file);
  if (!fo) {
    sim_trace_script(0, NULL, o->text, false, "%s: skipped, file %s is not open", o->text, m->file);
    return;
  }
  NtSetCompletionNotificationModes(fo, (UCHAR)((m->skip_port ? FILE_SKIP_COMPLETION_PORT_ON_SUCCESS : 0) |
                                                 (m->skip_event ? FILE_SKIP_SET_EVENT_ON_HANDLE : 0)));
}

static void pr_gqcs(prog_t *p, const op_t *o) {
  ULONG_PTR key;
  PVOID ctx;
  IO_STATUS_BLOCK iosb;
  LONGLONG to = -(o->gqcs.timeout / 100);
  NtRemoveIoCompletion(rs_port(p->rs, o->gqcs.port), &key, &ctx, &iosb, o->gqcs.has_timeout ? &to : NULL);
}

/* GetQueuedCompletionStatusEx: what it returns is in the trace (the
   port-dequeued rows and the syscall-return); the entries are dropped. */
static void pr_gqcs_ex(prog_t *p, const op_t *o) {
  const op_gqcs_t *g = &o->gqcs;
  FILE_IO_COMPLETION_INFORMATION info[SCN_GQCS_EX_MAX]; /* count is 1..SCN_GQCS_EX_MAX (load) */
  ULONG removed;
  LONGLONG to = -(g->timeout / 100);
  NtRemoveIoCompletionEx(rs_port(p->rs, g->port), info, (ULONG)g->count, &removed, g->has_timeout ? &to : NULL,
                         g->alertable);
}

static void pr_close_port(prog_t *p, const op_t *o) { sim_port_close(rs_port(p->rs, o->named.name)); }

static void pr_post(prog_t *p, const op_t *o) {
  const op_post_t *po = &o->post;
  NtSetIoCompletion(rs_port(p->rs, po->port), (ULONG_PTR)po->key, NULL, po->has_status ? po->status : STATUS_SUCCESS,
                    (ULONG_PTR)po->info);
}

/* cancel-io (CancelIo) and cancel (CancelIoEx, of one named request or all) */
static void pr_cancel(prog_t *p, const op_t *o) {
  run_state_t *rs = p->rs;
  const op_cancel_t *c = &o->cancel;
  PFILE_OBJECT fo = rs_file(rs, c->target);
  PIO_STATUS_BLOCK which = NULL;
  size_t req = rs_req(rs, c->request);
  if (req) which = rs->reqs[req - 1].iosb;
  if (!fo) return;
  if (o->kind == OP_CANCEL_IO) NtCancelIoFile(fo, NULL);
  else if (!c->request || which) NtCancelIoFileEx(fo, which);
  else sim_trace_script(0, NULL, o->text, false, "%s: request %s was never issued", o->text, c->request);
}

static void pr_lock(prog_t *p, const op_t *o) {
  PFILE_OBJECT fo = rs_file(p->rs, o->lock.file);
  if (fo) NtLockFile(fo, o->lock.offset, (ULONG)o->lock.length);
}

static void pr_cancel_sync(prog_t *p, const op_t *o) {
  NtCancelSynchronousIoFile(sim_thread_by_name(p->rs->S, o->cancel.target));
}

/* The routine a `queue-apc` runs in the target thread, in user mode. */
static void scr_queued_apc(PVOID name, PVOID thread, PVOID unused) {
  (void)unused;
  sim_note("user APC %s runs in %s", (const char *)name, (const char *)thread);
}

static void pr_queue_apc(prog_t *p, const op_t *o) {
  const op_queue_apc_t *q = &o->queue_apc;
  PKTHREAD t = sim_thread_by_name(p->rs->S, q->thread);
  const char *name = q->name ? q->name : "QueueUserAPC routine";
  NtQueueApcThread(t, scr_queued_apc, (PVOID)name, (PVOID)q->thread, NULL, name);
}

/* `sc stop DRIVER`: NtUnloadDriver with the driver's service key. */
static void pr_unload(prog_t *p, const op_t *o) {
  (void)p;
  static const char prefix[] = "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\";
  WCHAR key[256];
  size_t k = 0;
  for (const char *s = prefix; *s && k < 255; s++) key[k++] = (WCHAR)(unsigned char)*s;
  for (const char *s = o->named.name; *s && k < 255; s++) key[k++] = (WCHAR)(unsigned char)*s;
  UNICODE_STRING u = {.Length = (USHORT)(k * sizeof(WCHAR)), .MaximumLength = (USHORT)(k * sizeof(WCHAR)), .Buffer = key};
  NtUnloadDriver(&u);
}

static void pr_alert(prog_t *p, const op_t *o) { NtAlertThread(sim_thread_by_name(p->rs->S, o->named.name)); }

static void pr_delay(prog_t *p, const op_t *o) {
  (void)p;
  sim_delay((uint64_t)o->delay_ns);
}

static void pr_note(prog_t *p, const op_t *o) {
  (void)p;
  sim_note("%s", o->note);
}

/* Driver operations never reach a program: their slots stay NULL. */
static prog_fn *const prog_table[OP_COUNT] = {
    [OP_OPEN] = pr_open,
    [OP_READ] = pr_io,
    [OP_WRITE] = pr_io,
    [OP_IOCTL] = pr_io,
    [OP_UWAIT] = pr_wait,
    [OP_SLEEP] = pr_sleep,
    [OP_SIGNAL] = pr_signal,
    [OP_RESET] = pr_reset,
    [OP_REPEAT] = pr_repeat,
    [OP_CLOSE] = pr_close,
    [OP_ASSOCIATE] = pr_associate,
    [OP_NOTIFY_MODES] = pr_notify_modes,
    [OP_GQCS] = pr_gqcs,
    [OP_GQCS_EX] = pr_gqcs_ex,
    [OP_POST] = pr_post,
    [OP_CLOSE_PORT] = pr_close_port,
    [OP_CANCEL_IO] = pr_cancel,
    [OP_CANCEL_IO_EX] = pr_cancel,
    [OP_LOCK] = pr_lock,
    [OP_CANCEL_SYNC] = pr_cancel_sync,
    [OP_QUEUE_APC] = pr_queue_apc,
    [OP_ALERT] = pr_alert,
    [OP_UNLOAD] = pr_unload,
    [OP_DELAY] = pr_delay,
    [OP_NOTE] = pr_note,
};

/* A statement of the scenario's own file stamps its line on the steps it
   causes (trc_event_t.line); the line of a `repeat` is back after its body. */
static void prog_ops(prog_t *p, const op_t *o) {
  int prev = -1;
  for (; o; o = o->next) {
    if (o->at.file && !strcmp(o->at.file, scn_path(p->rs->sc))) {
      int was = sim_set_source_line(o->at.line);
      if (prev < 0) prev = was;
    }
    if (prog_table[o->kind]) prog_table[o->kind](p, o);
  }
  if (prev >= 0) sim_set_source_line(prev);
}

void scr_thread_main(PVOID arg) {
  const scr_thread_arg_t *a = arg;
  prog_t p = {a->rs, a->decl};
  prog_ops(&p, a->decl->body);
}
