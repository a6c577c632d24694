/*
 * step_cmd.c - `iosim step`: a terminal step-through of a run, forwards
 * and backwards, line by line (no curses): each move prints the step, and
 * commands show an IRP (!irp), the CPUs, a thread, the ports, the live
 * IRPs, a device stack, or why a field holds its value.  A scenario file
 * is first run into a temporary trace database.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *const usage =
    "usage: iosim step FILE.iosim [--seed N] [--include-dir DIR]\n"
    "       iosim step --db TRACE.db [--run N] [--at #STEP|TIME]\n"
    "\n"
    "Steps through a run in the terminal, forwards and backwards.  Commands\n"
    "(one a line; `help` lists them):\n"
    "  n [K]  next step (or K steps; an empty line is `n`)   b [K]  back\n"
    "  j N    jump to step N (#N, or a time with its unit)\n"
    "  irp K  the IRP as !irp shows it   cpu  CPUs, frames, DPC queues\n"
    "  thread [T]  threads   port [P]  ports   irpfind   devstack [D]\n"
    "  all    all of it (CPUs, threads, ports, every live IRP)\n"
    "  why K FIELD   where an IRP's field came from   q  quit\n"
    "  --seed N         the scenario's seed instead of its own\n"
    "  --include-dir D  allow includes from D, as for `iosim run`\n";

static const char *const help_text =
    "n [K] next, b [K] back, j N jump (N, #N or 204.6us), irp K, cpu, thread [T], port [P],\n"
    "irpfind, devstack [D], all, why K FIELD (IoStatus.Status, IoStatus.Information, PendingReturned,\n"
    "CurrentLocation, Cancel, loc[N].Control), q quit\n";

static void show_step(cli_view_t *v) {
  const trc_event_t *e = mst_run_event(v->r, mst_step(v->m));
  mst_print_step(v->m, stdout);
  /* The step's prose, marked as such ("  | "): for people, and easy to
     tell from the facts above it. */
  if (e && e->detail && *e->detail) printf("  | %s\n", e->detail);
}

/* One command; false to quit. */
static bool command(cli_view_t *v, char *line) {
  char *w = strtok(line, " \t\n");
  char *a1 = w ? strtok(NULL, " \t\n") : NULL;
  char *a2 = a1 ? strtok(NULL, " \t\n") : NULL;
  char err[1024];
  uint32_t id = 0;
  if (!w || !strcmp(w, "n") || !strcmp(w, "next") || !strcmp(w, "b") || !strcmp(w, "back")) {
    bool back = w && w[0] == 'b';
    long k = a1 ? strtol(a1, NULL, 10) : 1;
    if (k < 1) k = 1;
    uint64_t at = mst_step(v->m);
    uint64_t to = back ? (at > (uint64_t)k ? at - (uint64_t)k : 0) : at + (uint64_t)k;
    if (!back && at >= mst_run_steps(v->r)) printf("(the end of the run: step #%llu)\n", (unsigned long long)at);
    else if (back && at == 0) printf("(before the first step)\n");
    mst_seek(v->m, to);
    show_step(v);
  } else if (!strcmp(w, "q") || !strcmp(w, "quit")) {
    return false;
  } else if (!strcmp(w, "help") || !strcmp(w, "h") || !strcmp(w, "?")) {
    fputs(help_text, stdout);
  } else if (!strcmp(w, "j") || !strcmp(w, "jump")) {
    uint64_t to = 0;
    char buf[64];
    if (a1 && a1[0] != '#' && strspn(a1, "0123456789") == strlen(a1)) snprintf(buf, sizeof buf, "#%s", a1);
    else snprintf(buf, sizeof buf, "%s", a1 ? a1 : "");
    if (!a1 || mst_parse_at(v->r, buf, &to, err, sizeof err) != 0) printf("%s\n", a1 ? err : "jump needs a step: j 48");
    else {
      mst_seek(v->m, to);
      show_step(v);
    }
  } else if (!strcmp(w, "irp")) {
    if (!a1) printf("irp needs an IRP: irp r1\n");
    else if (mst_find(v->r, MST_IRP, a1, &id, err, sizeof err) != 0) printf("%s\n", err);
    else mst_print_irp(v->m, id, stdout);
  } else if (!strcmp(w, "cpu") || !strcmp(w, "cpus") || !strcmp(w, "dpcs")) {
    mst_print_cpus(v->m, stdout);
  } else if (!strcmp(w, "thread")) {
    if (a1 && mst_find(v->r, MST_THREAD, a1, &id, err, sizeof err) != 0) printf("%s\n", err);
    else mst_print_thread(v->m, id, stdout);
  } else if (!strcmp(w, "port")) {
    if (a1 && mst_find(v->r, MST_PORT, a1, &id, err, sizeof err) != 0) printf("%s\n", err);
    else mst_print_port(v->m, id, stdout);
  } else if (!strcmp(w, "devstack")) {
    if (a1 && mst_find(v->r, MST_DEVICE, a1, &id, err, sizeof err) != 0) printf("%s\n", err);
    else mst_print_devstack(v->m, id, stdout);
  } else if (!strcmp(w, "all")) {
    mst_print_machine(v->m, stdout);
  } else if (!strcmp(w, "irpfind")) {
    mst_print_irpfind(v->m, stdout);
  } else if (!strcmp(w, "why")) {
    mst_field_t f;
    int loc;
    if (!a1 || !a2) printf("why needs an IRP and a field: why r1 IoStatus.Status\n");
    else if (mst_find(v->r, MST_IRP, a1, &id, err, sizeof err) != 0) printf("%s\n", err);
    else if (mst_field_parse(a2, &f, &loc) != 0) printf("unknown field '%s'\n", a2);
    else mst_why(v->m, f, id, loc, stdout);
  } else {
    printf("unknown command '%s' (help lists them)\n", w);
  }
  return true;
}

int cli_step(int argc, char **argv) {
  static const struct option opts[] = {CLI_VIEW_OPTS, {"seed", required_argument, 0, 's'},
                                       {"include-dir", required_argument, 0, 'I'}, {0, 0, 0, 0}};
  cli_view_t v = {.cmd = "step", .usage = usage};
  const char *include_dir = NULL;
  bool has_seed = false;
  uint64_t seed = 0;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, CLI_VIEW_SHORT "s:I:", opts, NULL)) != -1) {
    if (ch == 'h') {
      fputs(usage, stdout);
      return 0;
    }
    if (ch == 's') {
      char *end;
      seed = strtoull(optarg, &end, 0);
      if (!*optarg || *end || *optarg == '-') {
        fprintf(stderr, "iosim step: --seed needs a number, not '%s'\n", optarg);
        return 2;
      }
      has_seed = true;
      continue;
    }
    if (ch == 'I') {
      include_dir = optarg;
      continue;
    }
    int k = cli_view_opt(&v, ch, optarg);
    if (k < 0) return 2;
    if (k == 0) {
      fputs(usage, stderr);
      return 2;
    }
  }
  const char *file = optind == argc - 1 ? argv[optind] : NULL;
  if ((file != NULL) == (v.db_path != NULL) || optind < argc - 1 || (file && (v.run || v.at))) {
    fputs(usage, stderr);
    return 2;
  }
  char dir[] = "/tmp/iosim-step.XXXXXX", path[64] = "";
  if (file) {
    char err[1024];
    if (!mkdtemp(dir)) {
      perror("iosim step: a temporary folder");
      return 2;
    }
    snprintf(path, sizeof path, "%s/trace.db", dir);
    tracedb_t *db = tracedb_open(path, err, sizeof err);
    int64_t run = db ? mst_record_scenario(db, file, include_dir, has_seed, seed, err, sizeof err) : -1;
    tracedb_close(db);
    if (run < 0) {
      fprintf(stderr, "%s\n", err);
      unlink(path);
      rmdir(dir);
      return 2;
    }
    v.db_path = path;
    v.run = (uint64_t)run;
  }
  int rc = cli_view_open(&v);
  if (rc == 0) {
    if (!v.at) mst_seek(v.m, 0);
    printf("%s: run %lld, %llu steps; `help` lists the commands\n", file ? file : v.db_path, (long long)mst_run_id(v.r),
           (unsigned long long)mst_run_steps(v.r));
    show_step(&v);
    char line[512];
    for (;;) {
      printf("step> ");
      fflush(stdout);
      if (!fgets(line, sizeof line, stdin)) break;
      if (!command(&v, line)) break;
    }
    putchar('\n');
    cli_view_close(&v);
  }
  if (file) {
    unlink(path);
    rmdir(dir);
  }
  return rc;
}
