/*
 * bench_explore.c - the figures of schedule exploration for `make bench`
 * (docs/exploration.md): schedules per second on the 2-CPU cancel-race
 * lesson, the bound-2 time of each race lesson, and memory after 1,000
 * and after 100,000 schedules (each in a child process, so its peak RSS
 * is its own).
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "iosim/explore.h"

static double secs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static scn_t *load(const char *path) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  if (!sc) fprintf(stderr, "%s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
  return sc;
}

/* Peak RSS (KiB) of a child exploring `runs` random schedules of `path`. */
static long rss_after(const char *path, uint64_t runs) {
  pid_t pid = fork();
  if (pid == 0) {
    scn_t *sc = load(path);
    if (!sc) _exit(2);
    xp_opts_t o;
    xp_opts_default(&o);
    o.strategy = XP_RANDOM;
    o.runs = runs;
    o.no_minimise = true;
    xp_report_t r;
    scn_error_t err;
    int rc = xp_explore(sc, &o, &r, &err);
    xp_report_free(&r);
    scn_free(sc);
    _exit(rc == SIM_OK ? 0 : 3);
  }
  int status;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ru.ru_maxrss : -1;
}

void explore_figures(void) {
  static const char *const race[] = {"scenarios/lessons/13-usermode-fs-race.iosim",
                                     "scenarios/lessons/16-cancel-race.iosim",
                                     "scenarios/lessons/17-cancel-race-forgotten.iosim"};
  const char *l16 = race[1];
  scn_t *sc = load(l16);
  if (!sc) return;
  /* Throughput: bound-2 searches of lesson 16 back to back for a second. */
  uint64_t n = 0;
  double t0 = secs(), t = 0;
  while ((t = secs() - t0) < 1.0) {
    xp_opts_t o;
    xp_opts_default(&o);
    xp_report_t r;
    scn_error_t err;
    if (xp_explore(sc, &o, &r, &err) != SIM_OK) break;
    n += r.explored + r.pruned;
    xp_report_free(&r);
  }
  scn_free(sc);
  double rate = t > 0 ? (double)n / t : 0;
  bench_figure("explore: schedules/s (lesson 16)", rate, "sched/s", ">= 20,000", rate >= 20000);
  for (size_t i = 0; i < sizeof race / sizeof race[0]; i++) {
    sc = load(race[i]);
    if (!sc) continue;
    xp_opts_t o;
    xp_opts_default(&o);
    xp_report_t r;
    scn_error_t err;
    double s0 = secs();
    int rc = xp_explore(sc, &o, &r, &err);
    double ms = (secs() - s0) * 1000.0;
    char name[64];
    const char *base = strrchr(race[i], '/') + 1;
    snprintf(name, sizeof name, "explore bound 2: %.2s (%llu sched)", base, (unsigned long long)r.explored);
    bench_figure(name, ms, "ms", "< 1000 ms", rc == SIM_OK && r.complete && ms < 1000);
    xp_report_free(&r);
    scn_free(sc);
  }
  long k1 = rss_after(l16, 1000), k100 = rss_after(l16, 100000);
  if (k1 > 0 && k100 > 0) {
    bench_figure("explore: peak RSS, 1k schedules", (double)k1 / 1024.0, "MB", "", -1);
    bench_figure("explore: peak RSS, 100k schedules", (double)k100 / 1024.0, "MB", "", -1);
    bench_figure("explore: RSS 100k / 1k schedules", (double)k100 / (double)k1, "x", "<= 1.10",
                 (double)k100 / (double)k1 <= 1.10);
  }
}
