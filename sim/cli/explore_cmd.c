/*
 * explore_cmd.c - the command line of schedule exploration: `iosim
 * explore`, `iosim diff`, `iosim merge`, the --replay options of `iosim
 * run`, and `iosim check` on a scenario that asks to be explored
 * (`machine explore bound K`).  A thin layer over explore.h.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "iosim/explore.h"
#include "iosim/tracedb.h"

static const char *const usage_explore =
    "usage: iosim explore FILE [--bound K|none] [--no-prune] [--estimate]\n"
    "                          [--strategy dfs|random|pct] [--runs N] [--depth D] [--seed N]\n"
    "                          [--max-schedules N] [--time-limit SECONDS] [--shard I/N]\n"
    "                          [--db T.db] [--db-outcomes] [--db-failures] [--quiet]\n"
    "                          [--no-verify] [--no-minimise] [--include-dir DIR]\n"
    "\n"
    "Runs the scenario under every interleaving the search covers and checks\n"
    "its expectations over all of them: a plain `expect` must hold in every\n"
    "schedule, `expect sometimes` in at least one (docs/exploration.md).\n"
    "  --bound K         depth first, every schedule with at most K preemptions\n"
    "                    (default 2); none: every schedule\n"
    "  --no-prune        also run schedules that reach a state already explored\n"
    "  --estimate        first sample the space and print its size and time\n"
    "  --strategy S      dfs (default), random, or pct (--depth D, default 3)\n"
    "  --runs N          random and pct: how many schedules (default 1000)\n"
    "  --seed N          random and pct: the seed of the strategy\n"
    "  --max-schedules N, --time-limit SECONDS   stop there and say so\n"
    "  --shard I/N       explore part I of N of the space (merge the --db files\n"
    "                    with `iosim merge`)\n"
    "  --db T.db         record each failure's smallest schedule as a run, with\n"
    "                    its replay token\n"
    "  --db-outcomes     with --db: every outcome's representative too\n"
    "  --db-failures     with --db: also every failing schedule explored, as\n"
    "                    found (at most 1000; the output says how many more)\n"
    "  --quiet           no trace of the failures, only their tokens\n"
    "  --no-verify       findings no `expect finding` predicts do not fail\n"
    "  --no-minimise     keep each failure's first schedule as found\n"
    "Each failure prints the `iosim run` line (with its token) that replays it.\n"
    "Exit 0 all hold, 1 an expectation fails, 2 bad input, 4 a limit stopped\n"
    "the search before it covered the space, 130 Ctrl-C (after the summary).\n";

static const char *const usage_diff =
    "usage: iosim diff FILE TOKEN_A TOKEN_B [--include-dir DIR]\n"
    "       iosim diff --db T.db RUN_A RUN_B\n"
    "\n"
    "Two schedules of one scenario side by side: the first step where they\n"
    "diverge, then the steps both took but on another CPU, at another IRQL,\n"
    "in another frame or thread, or with another status, and the steps only\n"
    "one of them took.  A token is what `iosim explore` prints (`@FILE`\n"
    "reads it from a file); RUN_A and RUN_B are runs of a trace database.\n";

static const char *const usage_merge =
    "usage: iosim merge OUT.db IN.db...\n"
    "\n"
    "Appends every run of each IN.db (e.g. the databases of the shards of an\n"
    "`iosim explore`) to OUT.db, renumbered; OUT.db is created if needed.\n"
    "  -h, --help  this text\n";

static volatile sig_atomic_t xp_interrupted;
static void xp_on_sigint(int sig) {
  (void)sig;
  xp_interrupted = 1;
}

static bool parse_num(const char *s, uint64_t *v) {
  char *end;
  if (!*s || *s == '-') return false;
  unsigned long long x = strtoull(s, &end, 10);
  if (*end) return false;
  *v = x;
  return true;
}

static void print_cli_error(const scn_error_t *e) {
  if (e->line > 0) fprintf(stderr, "%s:%d:%d: %s\n", e->file, e->line, e->col, e->msg);
  else fprintf(stderr, "%s: %s\n", e->file, e->msg);
}

int cli_load_replay(const char *token, const char *file, const scn_t *sc, xp_schedule_t *out) {
  char err[700];
  int rc = file ? xp_token_read_file(file, out, err, sizeof err) : xp_token_parse(token, out, err, sizeof err);
  if (rc == 0) rc = xp_token_check(sc, out, err, sizeof err);
  if (rc != 0) fprintf(stderr, "iosim run: %s\n", err);
  return rc;
}

/* The trace of each failure's representative, after its token. */
static void print_failures(FILE *out, const scn_t *sc, const xp_report_t *r, bool quiet) {
  int k = 0;
  for (size_t i = 0; i < r->noutcomes; i++) {
    const xp_outcome_t *o = &r->outcomes[i];
    if (!o->failing) continue;
    char *tok = xp_token(&o->rep);
    fprintf(out, "\nfailure %d: %s\n  %s schedule (%u preemption%s, %" PRIu64 " steps):\n  iosim run %s --replay %s\n",
            ++k, o->text, o->minimised ? "the smallest" : "its smallest explored", (unsigned)o->rep.n, o->rep.n == 1 ? "" : "s",
            o->rep_steps, scn_path(sc), tok);
    free(tok);
    if (quiet) continue;
    fputc('\n', out);
    scn_result_t res;
    scn_error_t err;
    bool div = false;
    if (xp_run_schedule(sc, &o->rep, out, &res, &div, &err) == SIM_OK) scn_result_free(&res);
  }
}

static int explore_estimate(const scn_t *sc, const xp_opts_t *o, FILE *out) {
  xp_estimate_t e;
  scn_error_t err;
  if (xp_estimate(sc, o, 200, &e, &err) != SIM_OK) {
    print_cli_error(&err);
    return 2;
  }
  xp_print_estimate(out, &e);
  return 0;
}

int cli_explore(int argc, char **argv) {
  static const struct option opts[] = {
      {"bound", required_argument, 0, 'b'},         {"no-prune", no_argument, 0, 'P'},
      {"estimate", no_argument, 0, 'E'},            {"strategy", required_argument, 0, 'S'},
      {"runs", required_argument, 0, 'n'},          {"depth", required_argument, 0, 'D'},
      {"seed", required_argument, 0, 's'},          {"max-schedules", required_argument, 0, 'm'},
      {"time-limit", required_argument, 0, 't'},    {"shard", required_argument, 0, 'H'},
      {"db", required_argument, 0, 'd'},            {"db-outcomes", no_argument, 0, 'O'},
      {"db-failures", no_argument, 0, 'A'},
      {"quiet", no_argument, 0, 'q'},               {"no-verify", no_argument, 0, 'V'},
      {"no-minimise", no_argument, 0, 'M'},         {"include-dir", required_argument, 0, 'I'},
      {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
  xp_opts_t o;
  xp_opts_default(&o);
  const char *db = NULL, *include_dir = NULL;
  bool estimate = false, db_outcomes = false, db_failures = false, quiet = false, bound_given = false;
  uint64_t v;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "b:PES:n:D:s:m:t:H:d:OAqVMI:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'b':
      bound_given = true;
      if (!strcmp(optarg, "none")) o.bound = XP_BOUND_NONE;
      else if (parse_num(optarg, &v) && v <= 64) o.bound = (int)v;
      else {
        fprintf(stderr, "iosim explore: --bound needs a number of preemptions (0..64) or none, not '%s'\n", optarg);
        return 2;
      }
      break;
    case 'P': o.no_prune = true; break;
    case 'E': estimate = true; break;
    case 'S':
      if (!strcmp(optarg, "dfs")) o.strategy = XP_DFS;
      else if (!strcmp(optarg, "random")) o.strategy = XP_RANDOM;
      else if (!strcmp(optarg, "pct")) o.strategy = XP_PCT;
      else {
        fprintf(stderr, "iosim explore: --strategy is dfs, random or pct, not '%s'\n", optarg);
        return 2;
      }
      break;
    case 'n':
    case 'D':
    case 's':
    case 'm':
      if (!parse_num(optarg, &v) || (ch != 's' && ch != 'm' && v == 0) || (ch == 'D' && v > 17)) {
        fprintf(stderr, "iosim explore: --%s needs a %snumber, not '%s'\n",
                ch == 'n' ? "runs" : ch == 'D' ? "depth" : ch == 's' ? "seed" : "max-schedules",
                ch == 'D' ? "small (1..17) " : "", optarg);
        return 2;
      }
      if (ch == 'n') o.runs = v;
      else if (ch == 'D') o.depth = (int)v;
      else if (ch == 's') o.seed = v;
      else o.max_schedules = v;
      break;
    case 't': {
      char *end;
      double t = strtod(optarg, &end);
      if (end == optarg || *end || t <= 0) {
        fprintf(stderr, "iosim explore: --time-limit needs seconds (e.g. 10 or 0.5), not '%s'\n", optarg);
        return 2;
      }
      o.time_limit = t;
      break;
    }
    case 'H': {
      int i, n;
      char tail;
      if (sscanf(optarg, "%d/%d%c", &i, &n, &tail) != 2 || n < 1 || i < 1 || i > n || n > 100000) {
        fprintf(stderr, "iosim explore: --shard needs I/N with 1 <= I <= N (e.g. 2/8), not '%s'\n", optarg);
        return 2;
      }
      o.shard = i;
      o.nshards = n;
      break;
    }
    case 'd': db = optarg; break;
    case 'O': db_outcomes = true; break;
    case 'A': db_failures = true; break;
    case 'q': quiet = true; break;
    case 'V': o.no_verify = true; break;
    case 'M': o.no_minimise = true; break;
    case 'I': include_dir = optarg; break;
    case 'h': fputs(usage_explore, stdout); return 0;
    default: fputs(usage_explore, stderr); return 2;
    }
  }
  if (optind != argc - 1) {
    fputs(usage_explore, stderr);
    return 2;
  }
  if (o.nshards > 1 && o.strategy != XP_DFS) {
    fprintf(stderr, "iosim explore: --shard splits the depth-first search; random and pct runs split by --seed\n");
    return 2;
  }
  if ((db_outcomes || db_failures) && !db) {
    fprintf(stderr, "iosim explore: --db-outcomes and --db-failures go with --db T.db\n");
    return 2;
  }
  if (db_failures) o.keep_failures = XP_KEEP_FAILURES_MAX;
  scn_error_t err;
  scn_t *sc = scn_load(argv[optind], include_dir, &err);
  if (!sc) {
    print_cli_error(&err);
    return 2;
  }
  int guarded = scn_guard_begin(sc); /* a C driver's crash is reported */
  if (guarded >= 0) {
    scn_free(sc);
    return guarded;
  }
  /* The scenario's own bound, unless the command line gives one. */
  int sb = scn_explore_bound(sc);
  if (!bound_given && sb != SCN_EXPLORE_NONE) o.bound = sb == SCN_EXPLORE_UNBOUNDED ? XP_BOUND_NONE : sb;
  FILE *out = stdout;
  fprintf(out, "%s\n\n", scn_title(sc));
  if (o.strategy == XP_DFS && o.bound < 0)
    fprintf(out, "exploring %s: depth first, every schedule (no preemption bound)\n", scn_path(sc));
  else if (o.strategy == XP_DFS)
    fprintf(out, "exploring %s: depth first, every schedule with at most %d preemption%s\n", scn_path(sc), o.bound,
            o.bound == 1 ? "" : "s");
  else
    fprintf(out, "exploring %s: %" PRIu64 " %s schedules\n", scn_path(sc), o.runs,
            o.strategy == XP_PCT ? "PCT" : "random");
  if (estimate && explore_estimate(sc, &o, out) != 0) {
    scn_free(sc);
    return 2;
  }
  xp_interrupted = 0;
  void (*prev)(int) = signal(SIGINT, xp_on_sigint);
  o.interrupt = &xp_interrupted;
  xp_report_t r;
  int rc = xp_explore(sc, &o, &r, &err);
  signal(SIGINT, prev);
  if (rc != SIM_OK) {
    print_cli_error(&err);
    xp_report_free(&r);
    scn_free(sc);
    return 2;
  }
  xp_print_summary(out, &r);
  xp_print_coverage(out, &r);
  if (!r.complete && r.stopped_by && strcmp(r.stopped_by, "interrupted") && o.strategy == XP_DFS)
    explore_estimate(sc, &o, out);
  fprintf(out, "\noutcomes:\n");
  xp_print_outcomes(out, sc, &r);
  if (r.nexpects || r.finding_rules) {
    fprintf(out, "\nexpectations over the schedules:\n");
    xp_print_expectations(out, sc, &r, true);
  }
  print_failures(out, sc, &r, quiet);
  int status = xp_exit_status(&r);
  if (db) {
    char why[700];
    fputc('\n', out);
    if (xp_store(sc, &r, db, db_outcomes, db_failures, out, why, sizeof why) != 0) {
      fprintf(stderr, "%s\n", why);
      status = 2;
    } else if (r.failures_not_kept) {
      fprintf(out, "  %llu more failing schedule(s) not recorded (--db-failures keeps %d)\n",
              (unsigned long long)r.failures_not_kept, XP_KEEP_FAILURES_MAX);
    }
  }
  xp_report_free(&r);
  scn_free(sc);
  return status;
}

/* The `iosim check` of a scenario with `machine explore bound K`: its
   expectations over every schedule within the bound. */
int cli_check_explore(const scn_t *sc, const char *path, bool verify, int *failed_files) {
  xp_opts_t o;
  xp_opts_default(&o);
  int sb = scn_explore_bound(sc);
  o.bound = sb == SCN_EXPLORE_UNBOUNDED ? XP_BOUND_NONE : sb;
  o.no_verify = !verify;
  xp_report_t r;
  scn_error_t err;
  if (xp_explore(sc, &o, &r, &err) != SIM_OK) {
    print_cli_error(&err);
    xp_report_free(&r);
    return 2;
  }
  xp_print_expectations(stdout, sc, &r, true);
  int failed = 0;
  for (int i = 0; i < r.nexpects; i++)
    failed += r.expects[i].sometimes ? r.expects[i].held == 0 : r.expects[i].failed > 0;
  failed += r.finding_rules;
  if (!r.complete) { /* `iosim check` has no limits set: only Ctrl-C stops it */
    printf("  the search was stopped (%s) before it covered the space\n", r.stopped_by ? r.stopped_by : "?");
    failed++;
  }
  char bound[32];
  if (o.bound < 0) snprintf(bound, sizeof bound, "no bound");
  else snprintf(bound, sizeof bound, "bound %d", o.bound);
  printf("%s %s: %d expectation%s over %" PRIu64 " schedule%s (%s), %d failed\n", failed ? "FAIL" : "ok  ", path,
         r.nexpects, r.nexpects == 1 ? "" : "s", r.explored, r.explored == 1 ? "" : "s", bound, failed);
  if (failed) (*failed_files)++;
  xp_report_free(&r);
  return 0;
}

static int read_token_arg(const char *arg, xp_schedule_t *s, char *err, size_t n) {
  if (arg[0] == '@') return xp_token_read_file(arg + 1, s, err, n);
  return xp_token_parse(arg, s, err, n);
}

int cli_diff(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'}, {"include-dir", required_argument, 0, 'I'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  const char *db = NULL, *include_dir = NULL;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "d:I:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'd': db = optarg; break;
    case 'I': include_dir = optarg; break;
    case 'h': fputs(usage_diff, stdout); return 0;
    default: fputs(usage_diff, stderr); return 2;
    }
  }
  char why[700];
  if (db) {
    uint64_t a, b;
    if (argc - optind != 2 || !parse_num(argv[optind], &a) || !parse_num(argv[optind + 1], &b) || !a || !b) {
      fputs(usage_diff, stderr);
      return 2;
    }
    if (xp_diff_db(db, (int64_t)a, (int64_t)b, stdout, why, sizeof why) != 0) {
      fprintf(stderr, "iosim diff: %s\n", why);
      return 2;
    }
    return 0;
  }
  if (argc - optind != 3) {
    fputs(usage_diff, stderr);
    return 2;
  }
  scn_error_t err;
  scn_t *sc = scn_load(argv[optind], include_dir, &err);
  if (!sc) {
    print_cli_error(&err);
    return 2;
  }
  int guarded = scn_guard_begin(sc);
  if (guarded >= 0) {
    scn_free(sc);
    return guarded;
  }
  xp_schedule_t s[2] = {{0}, {0}};
  int rc = 0;
  for (int i = 0; i < 2 && rc == 0; i++) {
    rc = read_token_arg(argv[optind + 1 + i], &s[i], why, sizeof why);
    if (rc == 0) rc = xp_token_check(sc, &s[i], why, sizeof why);
    if (rc != 0) fprintf(stderr, "iosim diff: token %c: %s\n", 'A' + i, why);
  }
  if (rc == 0 && xp_diff(sc, &s[0], &s[1], stdout, &err) != SIM_OK) {
    print_cli_error(&err);
    rc = -1;
  }
  xp_schedule_free(&s[0]);
  xp_schedule_free(&s[1]);
  scn_free(sc);
  return rc ? 2 : 0;
}

int cli_merge(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs(usage_merge, stdout);
    return 0;
  }
  if (argc < 3) {
    fputs(usage_merge, stderr);
    return 2;
  }
  char why[1024];
  if (tracedb_merge(argv[1], (const char *const *)argv + 2, argc - 2, why, sizeof why) != SIM_OK) {
    fprintf(stderr, "iosim merge: %s\n", why);
    return 2;
  }
  printf("merged %d database%s into %s\n", argc - 2, argc - 2 == 1 ? "" : "s", argv[1]);
  return 0;
}
