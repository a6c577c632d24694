/*
 * test_ports.c - I/O completion ports and the user-mode file system
 * (kernel-facts 7.4, 5.3-5.4, 8.7, 10.1-10.4): FIFO packets, LIFO release of
 * waiting threads, the concurrency limit, a worker blocking elsewhere,
 * timeouts, thread-agnostic port-bound I/O, and the response-before-pending
 * race completing the IRP exactly once.
 */
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "iosim/scenario.h"
#include "testlib.h"

typedef struct ptest {
  sim_port_t *port;
  ULONG concurrency;
  /* what each worker took, in order: worker index per packet key */
  int taker[8];
  int ntaken;
  NTSTATUS last_status[4];
  ULONG queued_seen;     /* packets queued while a worker ran */
  KEVENT block;          /* a worker can block on this */
  bool block_worker0;
  uint64_t post_at_ns;
  int posts;
} ptest_t;

typedef struct warg {
  ptest_t *t;
  int index;
  int takes;
  uint64_t start_ns;
  uint64_t work_ns;
} warg_t;

static void worker(PVOID arg) {
  warg_t *w = arg;
  ptest_t *t = w->t;
  LONGLONG start = -(LONGLONG)(w->start_ns / 100);
  NtDelayExecution(FALSE, &start);
  for (int i = 0; i < w->takes; i++) {
    ULONG_PTR key;
    PVOID ctx;
    IO_STATUS_BLOCK iosb;
    LONGLONG to = -10000; /* 1 ms */
    NTSTATUS st = NtRemoveIoCompletion(t->port, &key, &ctx, &iosb, &to);
    t->last_status[w->index] = st;
    if (st != STATUS_SUCCESS) return;
    t->taker[key] = w->index;
    t->ntaken++;
    if (w->index == 0 && t->block_worker0) { /* blocks elsewhere: frees its slot */
      KeWaitForSingleObject(&t->block, UserRequest, UserMode, FALSE, NULL);
    }
    sim_delay(w->work_ns);
    t->queued_seen = sim_port_queued(t->port) > t->queued_seen ? sim_port_queued(t->port) : t->queued_seen;
  }
}

/* Creates the port, then posts `posts` packets (keys 0..) after a while. */
static void poster(PVOID arg) {
  ptest_t *t = arg;
  LONGLONG at = -(LONGLONG)(t->post_at_ns / 100);
  NtDelayExecution(FALSE, &at);
  for (int k = 0; k < t->posts; k++) NtSetIoCompletion(t->port, (ULONG_PTR)k, NULL, STATUS_SUCCESS, 0);
  if (t->block_worker0) {
    sim_delay(200000);
    KeSetEvent(&t->block, 0, FALSE);
  }
}

static void make_port(PVOID arg) {
  ptest_t *t = arg;
  t->port = NtCreateIoCompletion(t->concurrency, "P");
  poster(t);
}

static sim_t *port_machine(ptest_t *t, warg_t *w, int nworkers, tlog_t *log) {
  sim_t *S = tsim_new(2, log);
  KeInitializeEvent(&t->block, NotificationEvent, FALSE);
  sim_thread_create(S, "poster", make_port, t);
  static const char *const names[] = {"w0", "w1", "w2", "w3"};
  for (int i = 0; i < nworkers; i++) {
    w[i].t = t;
    w[i].index = i;
    w[i].start_ns = 10000 + (uint64_t)i * 5000; /* w0 waits first */
    sim_thread_create(S, names[i], worker, &w[i]);
  }
  return S;
}

/* kernel-facts 7.4: waiting threads are released last-in first-out. */
START_TEST(waiters_released_lifo) {
  ptest_t t = {.concurrency = 1, .post_at_ns = 100000, .posts = 1};
  warg_t w[2] = {{.takes = 1}, {.takes = 1}};
  sim_t *S = port_machine(&t, w, 2, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.ntaken, 1);
  ck_assert_int_eq(t.taker[0], 1); /* w1 began waiting last */
  ck_assert_int_eq(t.last_status[0], STATUS_TIMEOUT);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 7.4: with concurrency 1 the second packet stays queued while a
   worker runs; the running worker takes it without blocking. */
START_TEST(concurrency_limit_keeps_packets_queued) {
  ptest_t t = {.concurrency = 1, .post_at_ns = 100000, .posts = 2};
  warg_t w[2] = {{.takes = 2, .work_ns = 50000}, {.takes = 2, .work_ns = 50000}};
  sim_t *S = port_machine(&t, w, 2, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.ntaken, 2);
  ck_assert_int_eq(t.taker[0], 1);
  ck_assert_int_eq(t.taker[1], 1); /* w0 never ran: the slot was taken */
  ck_assert_uint_eq(t.queued_seen, 1);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 7.4: a running worker that blocks elsewhere lets a waiter go. */
START_TEST(blocking_worker_releases_another) {
  ptest_t t = {.concurrency = 1, .post_at_ns = 100000, .posts = 2, .block_worker0 = true};
  warg_t w[2] = {{.takes = 1, .start_ns = 0}, {.takes = 1}};
  sim_t *S = port_machine(&t, w, 2, NULL);
  w[0].start_ns = 20000; /* w0 waits last: it takes the first packet, then blocks */
  w[1].start_ns = 10000;
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.ntaken, 2);
  ck_assert_int_eq(t.taker[0], 0);
  ck_assert_int_eq(t.taker[1], 1); /* released while w0 was blocked */
  sim_destroy(S);
}
END_TEST

/* ---- port-bound I/O ---- */

typedef struct iot {
  tdisk_t disk;
  sim_port_t *port;
  IO_STATUS_BLOCK iosb;
  NTSTATUS read_status, gqcs_status;
  uint32_t writer_thread;     /* who wrote the IOSB: the dequeuer */
  bool issuer_done_before;    /* the issuer had exited when the packet came */
  PKTHREAD issuer;
  ULONG_PTR key;
  int packets;
} iot_t;

static void issuer(PVOID arg) {
  iot_t *t = arg;
  PFILE_OBJECT f;
  t->port = NtCreateIoCompletion(1, "P");
  NtCreateFile(&f, t->disk.dev, 0, "f");
  NtSetCompletionPort(f, t->port, 5);
  LONGLONG off = 0;
  t->read_status = NtReadFile(f, NULL, NULL, &t->iosb /* the OVERLAPPED */, &t->iosb, NULL, 512, &off);
  /* returns at once and exits: thread-agnostic I/O is not cancelled */
}

static void dequeuer(PVOID arg) {
  iot_t *t = arg;
  LONGLONG later = -50; /* 5 us: the issuer creates the port first */
  NtDelayExecution(FALSE, &later);
  PVOID ctx;
  IO_STATUS_BLOCK got;
  LONGLONG to = -20000;
  for (;;) {
    NTSTATUS st = NtRemoveIoCompletion(t->port, &t->key, &ctx, &got, &to);
    if (st != STATUS_SUCCESS) break;
    t->packets++;
    t->gqcs_status = got.Status;
    t->issuer_done_before = sim_thread_finished(t->issuer);
    t->writer_thread = sim_thread_id(KeGetCurrentThread());
  }
}

static sim_t *io_machine(iot_t *t, tdisk_mode_t mode, NTSTATUS st, tlog_t *log) {
  sim_t *S = tsim_new(2, log);
  t->disk = (tdisk_t){.mode = mode, .status = st, .info = 512, .latency_ns = 100000};
  sim_load_driver(S, "disk", tdisk_entry, &t->disk);
  sim_thread_create(S, "dequeuer", dequeuer, t);
  t->issuer = sim_thread_create(S, "issuer", issuer, t);
  return S;
}

/* kernel-facts 8.7 (Vista+): no APC to the issuer, which may exit first; the
   dequeuing thread writes the I/O status block. */
START_TEST(port_bound_io_is_thread_agnostic) {
  iot_t t = {0};
  tlog_t log = {0};
  sim_t *S = io_machine(&t, TDISK_PEND, STATUS_SUCCESS, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.read_status, STATUS_PENDING);
  ck_assert_int_eq(t.packets, 1);
  ck_assert_uint_eq(t.key, 5);
  ck_assert(t.issuer_done_before);
  ck_assert_int_eq(t.iosb.Status, STATUS_SUCCESS);
  ck_assert_uint_eq(t.iosb.Information, 512);
  int w = tlog_find_x(&log, TRC_IOSB_WRITTEN, 0, "dequeuing thread", 0);
  ck_assert_int_ge(w, 0);
  ck_assert_uint_eq(log.v[w].thread, t.writer_thread);
  ck_assert_int_eq(tlog_count(&log, TRC_APC_RUN), 0);
  int q = tlog_find(&log, TRC_PORT_QUEUED, 0);
  ck_assert_int_eq(log.v[q].frame, TRC_FRAME_DPC);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 5.4: an overlapped request that succeeds at once still queues
   a packet. */
START_TEST(synchronous_success_still_queues_a_packet) {
  iot_t t = {0};
  sim_t *S = io_machine(&t, TDISK_COMPLETE, STATUS_SUCCESS, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.read_status, STATUS_SUCCESS);
  ck_assert_int_eq(t.packets, 1);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 5.3: a synchronous error queues no packet, writes no IOSB. */
START_TEST(synchronous_error_queues_nothing) {
  iot_t t = {0};
  t.iosb.Status = 0x1234;
  sim_t *S = io_machine(&t, TDISK_COMPLETE, STATUS_IO_DEVICE_ERROR, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.read_status, STATUS_IO_DEVICE_ERROR);
  ck_assert_int_eq(t.packets, 0);
  ck_assert_int_eq(t.iosb.Status, 0x1234);
  sim_destroy(S);
}
END_TEST

/* ---- the user-mode file system race (kernel-facts 10.4) ---- */

static int count_kind(const char *text, const char *kind) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, kind)); p++) n++;
  return n;
}

static void add_tlog(void *ud, sim_t *S) {
  trc_sink_t s = tlog_sink(ud);
  sim_add_sink(S, &s);
}

START_TEST(usermode_fs_completes_once_in_both_orders) {
  scn_error_t err;
  scn_t *sc = scn_load("../scenarios/lessons/13-usermode-fs-race.iosim", NULL, &err);
  ck_assert_ptr_nonnull(sc);
  int response_first = 0, pending_first = 0;
  for (uint64_t seed = 1; seed <= 30; seed++) {
    tlog_t log = {0};
    scn_run_opts_t o = {.has_seed = true, .seed = seed, .on_start = add_tlog, .ud = &log};
    scn_result_t r;
    ck_assert_int_eq(scn_run(sc, &o, &r, &err), 0);
    int rsp = tlog_find(&log, TRC_UFS_RESPONSE, 0), pend = tlog_find(&log, TRC_UFS_PENDING, 0);
    ck_assert_int_ge(rsp, 0);
    ck_assert_int_ge(pend, 0);
    if (rsp < pend) response_first++;
    else pending_first++;
    uint32_t irp = log.v[rsp].irp;
    ck_assert_int_eq(tlog_count_x(&log, TRC_COMPLETE, irp, NULL), 1);
    ck_assert_int_eq(tlog_count_x(&log, TRC_UFS_DROPPED, irp, NULL), 0); /* no response was lost */
    ck_assert_int_eq(tlog_count_x(&log, TRC_UFS_RESPONSE, irp, NULL), 1);
    char *text = tlog_text(&log);
    ck_assert_int_eq(count_kind(text, "IRP 2 freed"), 1);
    free(text);
    scn_result_free(&r);
    tlog_free(&log);
  }
  ck_assert_int_gt(response_first, 0);
  ck_assert_int_gt(pending_first, 0);
  scn_free(sc);
}
END_TEST

TEST_SUITE(suite_ports)
static Suite *suite_ports(void) {
  Suite *s = suite_create("ports");
  TCase *tc = tcase_create("completion ports");
  tcase_add_test(tc, waiters_released_lifo);
  tcase_add_test(tc, concurrency_limit_keeps_packets_queued);
  tcase_add_test(tc, blocking_worker_releases_another);
  tcase_add_test(tc, port_bound_io_is_thread_agnostic);
  tcase_add_test(tc, synchronous_success_still_queues_a_packet);
  tcase_add_test(tc, synchronous_error_queues_nothing);
  suite_add_tcase(s, tc);
  TCase *tu = tcase_create("user-mode file system");
  tcase_set_timeout(tu, 60);
  tcase_add_test(tu, usermode_fs_completes_once_in_both_orders);
  suite_add_tcase(s, tu);
  return s;
}
