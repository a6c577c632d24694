/*
 * test_hostile.c - hostile scenarios end in a clear "limit reached" or an
 * error, never in a crash, a hang or unbounded memory (issue 19 item 2,
 * docs/reliability.md): deep block nesting and includes are refused at
 * load; a FIFO named as a scenario or an include is refused without being
 * opened for reading; a delay past max-time stops at max-time; `machine`
 * values above the ceilings are refused unless the caller raises them; the
 * wall-clock and memory limits stop a run with outcome limit and name it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iosim/scenario.h"
#include "testlib.h"

/* A scenario file under a fresh temporary folder; the path in buf. */
static const char *write_scenario(char *buf, size_t n, const char *name, const char *text) {
  char dir[] = "/tmp/iosim-hostile-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(buf, n, "%s/%s", dir, name);
  FILE *f = fopen(buf, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  return buf;
}

static void remove_scenario(const char *path) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s", path);
  unlink(path);
  *strrchr(dir, '/') = 0;
  rmdir(dir);
}

/* Loads `text`; NULL and the message in *err when refused. */
static scn_t *load_text(const char *text, scn_error_t *err) {
  char path[512];
  write_scenario(path, sizeof path, "s.iosim", text);
  scn_t *sc = scn_load(path, NULL, err);
  remove_scenario(path);
  return sc;
}

/* `n` nested repeat blocks in a thread. */
static char *nested_repeats(int n) {
  size_t cap = 64 + (size_t)n * 16;
  char *s = malloc(cap);
  ck_assert_ptr_nonnull(s);
  size_t k = (size_t)snprintf(s, cap, "scenario \"deep\"\nthread app\n");
  for (int i = 0; i < n; i++) k += (size_t)snprintf(s + k, cap - k, "repeat 1\n");
  k += (size_t)snprintf(s + k, cap - k, "sleep 1us\n");
  for (int i = 0; i < n; i++) k += (size_t)snprintf(s + k, cap - k, "end\n");
  snprintf(s + k, cap - k, "end\n");
  return s;
}

START_TEST(nesting_at_the_limit_loads_and_runs) {
  char *text = nested_repeats(SCN_MAX_NESTING - 1); /* the thread's block is one level */
  scn_error_t err;
  scn_t *sc = load_text(text, &err);
  ck_assert_msg(sc != NULL, "%d levels refused: %s", SCN_MAX_NESTING, err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), SIM_OK);
  ck_assert_int_eq(r.outcome, SIM_RUN_OK);
  scn_result_free(&r);
  scn_free(sc);
  free(text);
}
END_TEST

/* 570 KB of nested blocks overflowed the parser's stack; 5,000 levels a
   simulated thread's.  Both are refused at load with the limit named. */
START_TEST(deep_nesting_is_refused_at_load) {
  static const int depths[] = {SCN_MAX_NESTING, 5000, 60000};
  for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
    char *text = nested_repeats(depths[i]);
    scn_error_t err;
    scn_t *sc = load_text(text, &err);
    ck_assert_msg(sc == NULL, "%d nested blocks loaded", depths[i]);
    ck_assert_msg(strstr(err.msg, "limit reached") && strstr(err.msg, "SCN_MAX_NESTING"), "%s", err.msg);
    free(text);
  }
}
END_TEST

START_TEST(deep_ifs_in_a_dispatch_routine_are_refused) {
  size_t cap = 64 * 1024;
  char *s = malloc(cap);
  ck_assert_ptr_nonnull(s);
  size_t k = (size_t)snprintf(s, cap, "scenario \"ifs\"\ndriver d\n  dispatch read\n");
  for (int i = 0; i < 1000; i++) k += (size_t)snprintf(s + k, cap - k, "if cancel\n");
  for (int i = 0; i < 1000; i++) k += (size_t)snprintf(s + k, cap - k, "end\n");
  snprintf(s + k, cap - k, "return STATUS_SUCCESS\n  end\nend\ndevice d0 driver d\nthread app\n  open f d0\nend\n");
  scn_error_t err;
  ck_assert_ptr_null(load_text(s, &err));
  ck_assert_msg(strstr(err.msg, "limit reached"), "%s", err.msg);
  free(s);
}
END_TEST

/* A FIFO blocks open() until a writer comes: the loader must look first. */
START_TEST(fifo_scenario_and_include_are_refused) {
  char dir[] = "/tmp/iosim-fifo-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char fifo[600], top[600];
  snprintf(fifo, sizeof fifo, "%s/pipe.iosim", dir);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  scn_error_t err;
  alarm(20); /* a hang fails the test instead of stalling the suite */
  ck_assert_ptr_null(scn_load(fifo, NULL, &err));
  ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
  snprintf(top, sizeof top, "%s/top.iosim", dir);
  FILE *f = fopen(top, "w");
  ck_assert_ptr_nonnull(f);
  fputs("scenario \"t\"\ninclude \"pipe.iosim\"\nthread app\n  sleep 1us\nend\n", f);
  fclose(f);
  ck_assert_ptr_null(scn_load(top, NULL, &err));
  ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
  alarm(0);
  unlink(fifo);
  unlink(top);
  rmdir(dir);
}
END_TEST

/* delay 1001s under a 10 s limit ended at 1001 s. */
START_TEST(delay_past_max_time_stops_at_the_limit) {
  scn_error_t err;
  scn_t *sc = load_text("scenario \"d\"\nmachine max-time 10s\nthread app\n  delay 1001s\nend\n", &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), SIM_OK);
  ck_assert_int_eq(r.outcome, SIM_RUN_LIMIT);
  ck_assert_uint_eq(r.end_ns, 10ull * 1000 * 1000 * 1000);
  ck_assert_str_eq(r.limit, "max-time");
  scn_result_free(&r);
  scn_free(sc);
}
END_TEST

START_TEST(machine_values_above_the_ceilings_need_the_flag) {
  scn_error_t err;
  scn_t *sc = load_text("scenario \"c\"\nmachine max-steps 1000000000000 max-time 500s\nthread app\n  sleep 1us\nend\n",
                        &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  scn_result_t r;
  ck_assert_int_ne(scn_run(sc, NULL, &r, &err), SIM_OK);
  ck_assert_msg(strstr(err.msg, "limit reached") && strstr(err.msg, "--max-steps"), "%s", err.msg);
  ck_assert_int_eq(err.line, 2);
  scn_run_opts_t o = {.ceil_steps = 1000000000000ull};
  ck_assert_int_ne(scn_run(sc, &o, &r, &err), SIM_OK);
  ck_assert_msg(strstr(err.msg, "--max-time"), "%s", err.msg);
  o.ceil_time_ns = 500ull * 1000 * 1000 * 1000;
  ck_assert_int_eq(scn_run(sc, &o, &r, &err), SIM_OK);
  ck_assert_int_eq(r.outcome, SIM_RUN_OK);
  scn_result_free(&r);
  scn_free(sc);
}
END_TEST

/* A run that would go on for minutes of real time stops at --max-wall. */
START_TEST(wall_clock_limit_stops_a_long_run) {
  scn_error_t err;
  scn_t *sc = load_text("scenario \"w\"\nmachine max-time 100s max-steps 100000000\nthread app\n"
                        "  repeat 100000000\n    delay 1us\n  end\nend\n",
                        &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  scn_run_opts_t o = {.max_wall_ms = 200};
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, &o, &r, &err), SIM_OK);
  ck_assert_int_eq(r.outcome, SIM_RUN_LIMIT);
  ck_assert_str_eq(r.limit, "max-wall");
  scn_result_free(&r);
  scn_free(sc);
}
END_TEST

/* The engine's own memory is counted; over the budget the run stops. */
START_TEST(memory_budget_stops_a_run) {
  size_t cap = 1 << 20;
  char *s = malloc(cap);
  ck_assert_ptr_nonnull(s);
  size_t k = (size_t)snprintf(s, cap, "scenario \"m\"\n");
  for (int i = 0; i < 2000; i++) k += (size_t)snprintf(s + k, cap - k, "thread t%d\n  sleep 1ms\nend\n", i);
  scn_error_t err;
  scn_t *sc = load_text(s, &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  scn_run_opts_t o = {.max_memory = 256 * 1024};
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, &o, &r, &err), SIM_OK);
  ck_assert_int_eq(r.outcome, SIM_RUN_LIMIT);
  ck_assert_str_eq(r.limit, "max-memory");
  scn_result_free(&r);
  o.max_memory = 0; /* the default budget: the same run ends normally */
  ck_assert_int_eq(scn_run(sc, &o, &r, &err), SIM_OK);
  ck_assert_int_eq(r.outcome, SIM_RUN_OK);
  ck_assert_ptr_null(r.limit);
  scn_result_free(&r);
  scn_free(sc);
  free(s);
}
END_TEST

/* What a run keeps outside the machine counts too: the expectations' log
   of every dispatch and completion, the program's buffers, the verifier's
   table.  A loop of a million reads with a tiny machine stops at a 32 MiB
   budget after a few thousand reads; it grew to gigabytes before. */
static void count_irps(void *ud, sim_t *S, const scn_result_t *r) {
  (void)r;
  *(uint32_t *)ud = sim_irp_count(S);
}

START_TEST(kept_steps_and_buffers_count_in_the_budget) {
  const char *text = "scenario \"kept\"\n"
                     "driver ram\n  dispatch default\n    complete STATUS_SUCCESS\n    return STATUS_SUCCESS\n  end\nend\n"
                     "device ram0 driver ram\n"
                     "thread app\n  open f ram0 synchronous\n  repeat 1000000\n    read f 4096\n  end\nend\n"
                     "expect order dispatch(ram0) < completion(ram0)\n";
  scn_error_t err;
  scn_t *sc = load_text(text, &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  uint32_t irps = 0;
  scn_run_opts_t o = {.max_memory = 32u << 20, .on_finish = count_irps, .ud = &irps};
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, &o, &r, &err), SIM_OK);
  ck_assert_int_eq(r.outcome, SIM_RUN_LIMIT);
  ck_assert_str_eq(r.limit, "max-memory");
  /* 4 KiB of buffer alone per read: the budget holds under 8,200 reads. */
  ck_assert_uint_gt(irps, 1000);
  ck_assert_uint_lt(irps, 8200);
  scn_result_free(&r);
  scn_free(sc);
}
END_TEST

/* Many declarations load in linear time: 20,000 devices and threads with
   as many expectations (quadratic loading took minutes at this size). */
START_TEST(many_declarations_load_quickly) {
  size_t cap = 8u << 20;
  char *s = malloc(cap);
  ck_assert_ptr_nonnull(s);
  size_t k = (size_t)snprintf(s, cap, "scenario \"many\"\ndriver d\n  dispatch create close\n    complete STATUS_SUCCESS\n"
                                      "    return STATUS_SUCCESS\n  end\nend\n");
  for (int i = 0; i < 20000; i++)
    k += (size_t)snprintf(s + k, cap - k, "device d%d driver d\nevent e%d\nthread t%d\n  signal e%d\nend\n"
                                          "expect thread t%d finished\n", i, i, i, i, i);
  scn_error_t err;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  scn_t *sc = load_text(s, &err);
  clock_gettime(CLOCK_MONOTONIC, &b);
  ck_assert_msg(sc != NULL, "%s:%d: %s", err.file, err.line, err.msg);
  double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  ck_assert_msg(secs < 5, "loading 20,000 devices and threads took %.1f s", secs);
  scn_free(sc);
  free(s);
}
END_TEST

/* A run stopped at a limit in the middle of a completion-port hand-off
   (a packet given to a waiting thread that never runs again) leaked the
   packet: the port now keeps every packet until it is freed.  Every step
   count up to the end of lesson 10 is a stop point; under `make asan`,
   LeakSanitizer checks nothing is left. */
START_TEST(port_packets_freed_whatever_step_the_run_stops_at) {
  char path[512];
  snprintf(path, sizeof path, "%s", "../scenarios/lessons/10-iocp.iosim");
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), SIM_OK);
  ck_assert_int_eq(r.outcome, SIM_RUN_OK);
  scn_result_free(&r);
  scn_free(sc);
  /* The same text with a step limit, every limit from 1 to past its end. */
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  static char text[16384];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  char *lib = strstr(text, "include \"../lib/disk.iosim\"");
  ck_assert_ptr_nonnull(lib);
  memcpy(lib, "include <disk.iosim>        ", 28); /* the copy lives elsewhere */
  int stopped = 0;
  for (int steps = 1; steps < 120; steps++) {
    char *t = malloc(n + 64);
    ck_assert_ptr_nonnull(t);
    snprintf(t, n + 64, "%s\nmachine max-steps %d\n", text, steps);
    sc = load_text(t, &err);
    ck_assert_msg(sc != NULL, "%s", err.msg);
    ck_assert_int_eq(scn_run(sc, NULL, &r, &err), SIM_OK);
    stopped += r.outcome == SIM_RUN_LIMIT;
    scn_result_free(&r);
    scn_free(sc);
    free(t);
  }
  ck_assert_int_ge(stopped, 50); /* the lesson ends after about 64 steps */
}
END_TEST

/* The smoke of `make test-oom` in the suite: real out of memory, not an
   injected one - the address space limited so that the simulated
   threads' stacks cannot all be mapped - ends in "out of memory" and exit
   status 2, not in a crash. */
START_TEST(out_of_address_space_is_an_error) {
  if (access("../iosim", X_OK) != 0) {
    fprintf(stderr, "test_hostile: ../iosim is not built, skipping\n");
    return;
  }
  char path[512];
  size_t cap = 1 << 20;
  char *s = malloc(cap);
  ck_assert_ptr_nonnull(s);
  size_t k = (size_t)snprintf(s, cap, "scenario \"big\"\n");
  for (int i = 0; i < 4000; i++) k += (size_t)snprintf(s + k, cap - k, "thread t%d\n  sleep 1ms\nend\n", i);
  write_scenario(path, sizeof path, "big.iosim", s);
  free(s);
  char err[600];
  snprintf(err, sizeof err, "%s.err", path);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    struct rlimit rl = {256u << 20, 256u << 20}; /* 4,000 stacks of 256 KiB need 1 GiB */
    setrlimit(RLIMIT_AS, &rl);
    int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    int nul = open("/dev/null", O_WRONLY);
    dup2(nul, 1);
    execl("../iosim", "iosim", "check", path, (char *)NULL);
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  FILE *f = fopen(err, "r");
  ck_assert_ptr_nonnull(f);
  char line[300] = "";
  if (!fgets(line, sizeof line, f)) line[0] = 0;
  fclose(f);
  unlink(err);
  remove_scenario(path);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d: %s", st, line);
  ck_assert_msg(strstr(line, "out of memory"), "%s", line);
}
END_TEST

TEST_SUITE(hostile_suite)
static Suite *hostile_suite(void) {
  Suite *s = suite_create("hostile");
  TCase *tc = tcase_create("hostile");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, nesting_at_the_limit_loads_and_runs);
  tcase_add_test(tc, deep_nesting_is_refused_at_load);
  tcase_add_test(tc, deep_ifs_in_a_dispatch_routine_are_refused);
  tcase_add_test(tc, fifo_scenario_and_include_are_refused);
  tcase_add_test(tc, delay_past_max_time_stops_at_the_limit);
  tcase_add_test(tc, machine_values_above_the_ceilings_need_the_flag);
  tcase_add_test(tc, wall_clock_limit_stops_a_long_run);
  tcase_add_test(tc, memory_budget_stops_a_run);
  tcase_add_test(tc, kept_steps_and_buffers_count_in_the_budget);
  tcase_add_test(tc, many_declarations_load_quickly);
  tcase_add_test(tc, port_packets_freed_whatever_step_the_run_stops_at);
  tcase_add_test(tc, out_of_address_space_is_an_error);
  suite_add_tcase(s, tc);
  return s;
}
