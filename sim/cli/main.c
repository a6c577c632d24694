/*
 * main.c - the command line: `iosim run`, `iosim check`, and the commands
 * that read a trace database.  A thin layer over scenario.h and tracedb.h.
 * Exit status: 0 all good, 1 an expectation failed, 2 bad input.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "iosim/alloc.h"
#include "cli.h"
#include "iosim/scenario.h"
#include "iosim/tracedb.h"
#include "iosim/viz.h"

static const char *const usage_main =
    "usage: iosim COMMAND [options]\n"
    "\n"
    "  run FILE     run a scenario and print its trace\n"
    "  check FILE.. run scenarios and print only their expectations\n"
    "  irp          show an IRP from a trace database as WinDbg's !irp would\n"
    "  viz          draw an IRP's flow, or the machine's timeline (SVG, PNG, PDF)\n"
    "  export       write a trace as Chrome / Perfetto trace-event JSON\n"
    "  explore FILE run a scenario under every interleaving up to a bound\n"
    "  diff         two schedules of a scenario side by side\n"
    "  grade FILE ANSWERS  check the cells a student filled in (run --blank)\n"
    "  merge        combine trace databases (e.g. of explore shards)\n"
    "  cc           build a WDM driver's C source for the simulated machine\n"
    "  devstack, thread, dpcs, irpfind, port, why, step\n"
    "               the machine at any step of a trace (!devstack, !thread...)\n"
    "  html FILE    a page that steps through a run in a browser\n"
    "  quiz         a generated exercise: a scenario, questions, answers\n"
    "\n"
    "`iosim COMMAND --help` describes each command, `man iosim` all of them.\n"
    "Exit status: 0 ok, 1 an expectation failed, 2 bad input.\n";

static const char *const usage_run =
    "usage: iosim run FILE [--seed N] [--explain] [--quiet] [--db TRACE.db]\n"
    "                      [--include-dir DIR] [--verify] [--width N]\n"
    "                      [--replay TOKEN | --replay-file F] [--max-steps N]\n"
    "                      [--max-time T] [--max-wall S] [--max-memory M]\n"
    "                      [--blank COLS] [--blank-after N]\n"
    "\n"
    "Runs the scenario and prints its trace as a table (step number, time,\n"
    "CPU, IRQL, frame, thread, IRP, device, event), the outcome with what\n"
    "was left at the end (IRPs still allocated, threads still waiting), then\n"
    "the expectations.\n"
    "  --verify         then the verifier's findings (docs/verifier.md);\n"
    "                   exit 1 on one no `expect finding` line predicts\n"
    "  --seed N         override the scenario's seed\n"
    "  --explain        a sentence under each step saying why it happened\n"
    "  --quiet          no trace, only expectations and the outcome\n"
    "  --db FILE        also write the run into a SQLite trace database\n"
    "  --include-dir D  allow includes from D (outside the scenario tree);\n"
    "                   `include <disk.iosim>` reads the standard library\n"
    "                   ($IOSIM_PATH, then the installed one)\n"
    "  --width N        wrap long lines to N columns (default: the terminal's\n"
    "                   width, or $COLUMNS; 0: never)\n"
    "  --replay TOKEN   the schedule `iosim explore` printed (--replay-file F:\n"
    "                   the token in a file); refused if the scenario changed\n"
    "  --blank COLS     predict mode: those cells as `?` (time, cpu, irql, frame,\n"
    "                   thread, irp, device, event, status, detail; comma-separated),\n"
    "                   no expectations, rows never wrapped; `iosim grade`\n"
    "                   checks the answers\n"
    "  --blank-after N  blank only the steps after step N (alone: irql, frame,\n"
    "                   thread and status)\n"
    "  --max-steps N, --max-time T   raise the ceilings a `machine` line may\n"
    "                   not exceed (100,000,000 steps, 100s)\n"
    "  --max-wall S     stop the run after S seconds of real time (600; 0: none)\n"
    "  --max-memory M   stop the run when it holds M MiB (1024)\n";

static const char *const usage_check =
    "usage: iosim check FILE... [--seed N] [--include-dir DIR] [--no-verify]\n"
    "                           [--width N] [--format gradescope|junit|json]\n"
    "                           [--max-steps N] [--max-time T] [--max-wall S]\n"
    "                           [--max-memory M]\n"
    "\n"
    "Runs each scenario (every seed it asks for with `machine seeds N`, or\n"
    "every schedule within the bound of `machine explore bound K`)\n"
    "and prints each expectation as PASS or FAIL with the trace facts that\n"
    "decided it.  The verifier watches every run: a finding (a broken I/O\n"
    "rule, docs/verifier.md) that no `expect finding` line predicts is\n"
    "printed and fails the file; --no-verify ignores findings.  A seed that\n"
    "fails also shows what was left at the end (IRPs, waiting threads).\n"
    "  --format F  write the results for a grader instead: gradescope\n"
    "              (results.json), junit (JUnit XML) or json; one test per\n"
    "              expect line, `# weight N` and `# visibility V` comments on\n"
    "              or above it (docs/teaching.md)\n"
    "--max-steps, --max-time, --max-wall, --max-memory: as for `iosim run`.\n"
    "Exit 0 when all hold, 1 when one fails, 2 on bad input.\n";

typedef struct cli {
  bool explain, quiet, has_seed;
  bool verify; /* print the verifier's findings; unpredicted ones fail */
  int width;   /* wrap output lines to this many columns; 0: do not */
  uint64_t seed;
  const char *db;
  const char *include_dir;
  FILE *out;
  tracedb_hooks_t dbh; /* when --db */
  xp_replay_t *replay; /* --replay */
  cli_blank_t blank;   /* --blank, --blank-after: predict mode */
  cli_limits_t lim;    /* --max-steps, --max-time, --max-wall, --max-memory */
} cli_t;

/* Set by SIGINT; the trace database sink finishes the run as
   "interrupted" when it sees it.  The handler's only shared state. */
static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static const char *const usage_viz =
    "usage: iosim viz --db TRACE.db [--run N] --irp K -o OUT.svg|.png|.pdf|.dot\n"
    "       iosim viz --db TRACE.db [--run N] --timeline -o OUT.svg|.png|.pdf|.dot\n"
    "       iosim viz --db TRACE.db [--run N] --list\n"
    "\n"
    "Draws a picture of run N (default: the last run that ran) with Graphviz.\n"
    "  --irp K       the flow of IRP K (a number, or the scenario's name for\n"
    "                it, e.g. r1): the issuing thread, the device stack, the\n"
    "                hardware; numbered arrows down (IoCallDriver), back\n"
    "                (dispatch returns, STATUS_PENDING in orange) and up (the\n"
    "                completion walk with its routines), pending marks,\n"
    "                STATUS_MORE_PROCESSING_REQUIRED stops, sub-requests\n"
    "  --timeline    one lane per CPU and per thread, frames (thread, ISR,\n"
    "                DPC, APC, idle) along time, ISR -> DPC -> APC arrows;\n"
    "                long runs are summarised, and the picture says so\n"
    "  --list        list the run's IRPs (id, name, major function, issuer)\n"
    "  -o FILE       the picture; its extension picks the format\n"
    "  --scale F     the whole picture F times its natural size (0.25 to 4)\n"
    "  --font-size P the smallest text P points high (default 12, 8 to 48);\n"
    "                the picture grows with its content and its text, and\n"
    "                refuses labels under 8 points (font size x scale)\n"
    "docs/diagrams.md explains how to read the pictures.\n";

static const char *const usage_export =
    "usage: iosim export --db TRACE.db [--run N] --format perfetto -o OUT.json\n"
    "\n"
    "Writes run N (default: the last run that ran) as Chrome / Perfetto\n"
    "trace-event JSON, which opens in ui.perfetto.dev and chrome://tracing:\n"
    "one track per CPU with a slice per frame (thread, ISR, DPC, APC, idle)\n"
    "and the steps of each IRP's journey inside, its IRQL and DPC queue as\n"
    "counters; per thread a track of where it ran and one of its system\n"
    "calls and waits, its APC queue; live IRPs and completion-port queues;\n"
    "each IRP as a flow arrow from IoCallDriver to its completion.\n"
    "`perfetto` is the only format.\n";

static void print_error(const scn_error_t *e) {
  if (e->line > 0) fprintf(stderr, "%s:%d:%d: %s\n", e->file, e->line, e->col, e->msg);
  else fprintf(stderr, "%s: %s\n", e->file, e->msg);
}

static bool parse_u64(const char *s, uint64_t *v) {
  char *end;
  if (!*s || *s == '-') return false;
  unsigned long long x = strtoull(s, &end, 0);
  if (*end) return false;
  *v = x;
  return true;
}

/* ---- lines that fit the terminal ---- */

/* The columns to wrap to: --width, else the terminal's, else $COLUMNS;
   0 (no wrapping) when writing to a file or a pipe without them. */
static int out_width(int asked, FILE *f) {
  if (asked >= 0) return asked;
  struct winsize ws;
  if (isatty(fileno(f)) && ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char *cols = getenv("COLUMNS");
  int n = cols ? atoi(cols) : 0;
  return n > 0 ? n : 0;
}

/* The trace table's detail column (the console sink's header). */
#define DETAIL_COL 87

/* Writes one line (without its newline), broken at spaces to `width`
   columns.  A table row ("  #31 ...") is broken in its detail column when
   the line is wide enough for it, its continuation under the detail (or,
   on a narrow terminal, under the explanations); an explanation's
   continuation goes under its text, any other line's four columns in. */
static void put_line(FILE *f, const char *s, size_t n, int width) {
  size_t lead = 0;
  while (lead < n && s[lead] == ' ') lead++;
  bool row = lead <= 4 && lead < n && s[lead] == '#';
  bool explain = lead + 2 < n && s[lead] == '\\' && s[lead + 1] == '_';
  size_t w = width > 0 ? (size_t)width : 0;
  bool wide = w >= DETAIL_COL + 30;
  size_t indent = row ? (wide ? DETAIL_COL : 25) : explain ? lead + 3 : lead + 4;
  if (!w || n <= w || indent + 20 > w) {
    fprintf(f, "%.*s\n", (int)n, s);
    return;
  }
  size_t first = 0; /* no break before this column: the table's columns */
  if (row && w > DETAIL_COL + 8) first = DETAIL_COL;
  size_t pos = 0, col0 = 0; /* col0: where this piece starts on its line */
  while (n - pos + col0 > w) {
    size_t room = w - col0, cut = 0;
    for (size_t i = room; i > 0; i--)
      if (s[pos + i] == ' ' && pos + i > first) {
        cut = i;
        break;
      }
    if (!cut) cut = room; /* one word longer than the line: cut it */
    fprintf(f, "%.*s\n%*s", (int)cut, s + pos, (int)indent, "");
    pos += cut;
    while (pos < n && s[pos] == ' ') pos++;
    col0 = indent;
  }
  fprintf(f, "%.*s\n", (int)(n - pos), s + pos);
}

static void put_wrapped(FILE *f, const char *text, size_t len, int width) {
  while (len) {
    const char *nl = memchr(text, '\n', len);
    size_t n = nl ? (size_t)(nl - text) : len;
    put_line(f, text, n, width);
    n += nl != NULL;
    text += n;
    len -= n;
  }
}

/* The console table, with --explain's sentence under each row, each step
   written into a buffer first and then wrapped to the terminal. */
typedef struct table_sink {
  sim_t *S;
  cli_blank_t blank;
  trc_sink_t table; /* the console sink, writing into mem */
  FILE *mem, *out;
  char *buf;
  size_t len;
  bool explain;
  int width;
} table_sink_t;

static void table_event(void *ud, const trc_event_t *ev) {
  table_sink_t *x = ud;
  x->table.event(x->table.ud, ev);
  if (x->explain && !pr_blanked(&x->blank, ev->seq)) {
    char b[400];
    scn_explain(x->S, ev, b, sizeof b);
    if (b[0]) fprintf(x->mem, "%21s \\_ %s\n", "", b);
  }
  fflush(x->mem);
  put_wrapped(x->out, x->buf, x->len, x->width);
  fseeko(x->mem, 0, SEEK_SET);
}

static void table_close(void *ud) {
  table_sink_t *x = ud;
  if (x->table.close) x->table.close(x->table.ud);
  fclose(x->mem);
  free(x->buf);
  free(x);
}

static void on_start(void *ud, sim_t *S) {
  cli_t *c = ud;
  if (c->dbh.db) tracedb_on_start(&c->dbh, S);
  if (c->replay) xp_replay_install(c->replay, S);
  if (c->quiet) return;
  table_sink_t *x = iosim_calloc(1, sizeof *x);
  x->mem = open_memstream(&x->buf, &x->len);
  if (!x->mem) iosim_oom(BUFSIZ); /* the C library's own allocation */
  x->S = S;
  x->out = c->out;
  x->explain = c->explain;
  x->width = c->width;
  x->blank = c->blank;
  x->table = c->blank.cols ? pr_blank_sink(S, x->mem, &c->blank) : sim_console_sink(S, x->mem);
  trc_sink_t t = {.event = table_event, .close = table_close, .ud = x};
  sim_add_sink(S, &t);
}

static void on_finish(void *ud, sim_t *S, const scn_result_t *r) {
  cli_t *c = ud;
  if (c->dbh.db) tracedb_on_finish(&c->dbh, S, r);
  if (r->outcome == SIM_RUN_BUGCHECK) {
    fputc('\n', c->out);
    sim_bugcheck_report(S, c->out);
    if (r->last_steps && r->last_steps[0]) fprintf(c->out, "    the last steps that led there:\n%s", r->last_steps);
  }
}

/* The verifier's findings; returns how many no `expect finding` predicts. */
static int print_findings(FILE *f, const scn_result_t *r, bool all) {
  int shown = 0;
  for (int i = 0; i < r->finding_total; i++) {
    if (!all && r->findings[i].predicted) continue;
    if (!shown++) fprintf(f, "findings: %d (%d not predicted by an `expect finding` line)\n", r->finding_total,
                          r->finding_unexpected);
    vrf_print_finding(&r->findings[i], f);
  }
  return r->finding_unexpected;
}

static int print_expectations(FILE *f, const scn_t *sc, const scn_result_t *r, bool verbose, int width) {
  if (r->expect_total == 0) return 0;
  for (int i = 0; i < r->expect_total; i++) {
    const scn_expect_result_t *e = &r->expects[i];
    /* A `sometimes` line that does not hold in this seed is no failure:
       it must hold in one of the seeds. */
    if (!verbose && (e->passed || e->sometimes)) continue;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) iosim_oom(BUFSIZ);
    fprintf(m, "  %s %s:%d: %s\n      %s\n", e->passed ? "PASS" : e->sometimes ? "not this seed" : "FAIL", scn_path(sc),
            e->line, e->text, e->facts);
    fclose(m);
    put_wrapped(f, text, len, width);
    free(text);
  }
  return r->expect_failed;
}

/* A scenario that does not load still leaves a complete run row saying
   "bad input" (and why) in the trace database, if one was asked for. */
static void record_bad_input(const char *path, const char *scenario, uint64_t seed, const scn_error_t *e) {
  char dberr[512], msg[1200];
  tracedb_t *db = tracedb_open(path, dberr, sizeof dberr);
  if (!db) {
    fprintf(stderr, "%s: %s\n", path, dberr);
    return;
  }
  snprintf(msg, sizeof msg, "%s:%d:%d: %s", e->file, e->line, e->col, e->msg);
  if (tracedb_record_run(db, scenario, 0, seed, TRACEDB_OUTCOME_BAD_INPUT, msg) != 0)
    fprintf(stderr, "%s: %s\n", path, tracedb_errmsg(db));
  tracedb_close(db);
}

/* --width: a number of columns, 0 for none. */
static bool parse_width(const char *cmd, const char *arg, int *width) {
  uint64_t w;
  if (parse_u64(arg, &w) && w <= 10000) {
    *width = (int)w;
    return true;
  }
  fprintf(stderr, "iosim %s: --width needs a number of columns (0: no wrapping), not '%s'\n", cmd, arg);
  return false;
}

static int cmd_run(int argc, char **argv) {
  cli_t c = {.out = stdout, .width = -1};
  static const struct option opts[] = {{"seed", required_argument, 0, 's'}, {"explain", no_argument, 0, 'e'},
                                       {"quiet", no_argument, 0, 'q'},      {"db", required_argument, 0, 'd'},
                                       {"include-dir", required_argument, 0, 'I'}, {"help", no_argument, 0, 'h'},
                                       {"verify", no_argument, 0, 'v'}, {"width", required_argument, 0, 'w'},
                                       {"replay", required_argument, 0, 'R'},
                                       {"replay-file", required_argument, 0, 'F'},
                                       {"blank", required_argument, 0, 'B'},
                                       {"blank-after", required_argument, 0, 'A'}, CLI_LIMIT_OPTIONS,
                                       {0, 0, 0, 0}};
  const char *replay = NULL, *replay_file = NULL;
  bool blank_after = false;
  char berr[300];
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "s:eqd:I:hvw:", opts, NULL)) != -1) {
    switch (ch) {
    case 'w':
      if (!parse_width("run", optarg, &c.width)) return 2;
      break;
    case 's':
      if (!parse_u64(optarg, &c.seed)) {
        fprintf(stderr, "iosim run: --seed needs a number, not '%s'\n", optarg);
        return 2;
      }
      c.has_seed = true;
      break;
    case 'e': c.explain = true; break;
    case 'v': c.verify = true; break;
    case 'q': c.quiet = true; break;
    case 'd': c.db = optarg; break;
    case 'I': c.include_dir = optarg; break;
    case 'R': replay = optarg; break;
    case 'F': replay_file = optarg; break;
    case 'B':
      if (pr_parse_cols(optarg, &c.blank.cols, berr, sizeof berr) != 0) {
        fprintf(stderr, "iosim run: --blank: %s\n", berr);
        return 2;
      }
      break;
    case 'A':
      if (!parse_u64(optarg, &c.blank.after)) {
        fprintf(stderr, "iosim run: --blank-after needs a step number, not '%s'\n", optarg);
        return 2;
      }
      blank_after = true;
      break;
    case 'h': fputs(usage_run, stdout); return 0;
    default: {
      int k = cli_limit_option(ch, optarg, "run", &c.lim);
      if (k < 0) return 2;
      if (k > 0) {
        c.lim.has_wall |= ch == CLI_OPT_MAX_WALL;
        break;
      }
      fputs(usage_run, stderr);
      return 2;
    }
    }
  }
  if (optind != argc - 1 || (replay && replay_file)) {
    fputs(usage_run, stderr);
    return 2;
  }
  if (blank_after && !c.blank.cols)
    c.blank.cols = 1u << PR_IRQL | 1u << PR_FRAME | 1u << PR_THREAD | 1u << PR_STATUS;
  if (c.blank.cols && (c.quiet || replay || replay_file)) {
    fprintf(stderr, "iosim run: --blank prints the table to fill in: not with --quiet or a replay\n");
    return 2;
  }
  c.width = c.blank.cols ? 0 : out_width(c.width, c.out); /* a sheet to fill in: rows stay whole */
  scn_error_t err;
  scn_t *sc = scn_load(argv[optind], c.include_dir, &err);
  if (!sc) {
    print_error(&err);
    if (c.db) record_bad_input(c.db, argv[optind], c.has_seed ? c.seed : 0, &err);
    return 2;
  }
  /* A C driver's fault kills a child process, not iosim: reported. */
  int guarded = scn_guard_begin(sc);
  if (guarded >= 0) {
    scn_free(sc);
    return guarded;
  }
  if (replay || replay_file) {
    xp_schedule_t s = {0};
    if (c.has_seed || cli_load_replay(replay, replay_file, sc, &s) != 0) {
      if (c.has_seed) fprintf(stderr, "iosim run: a replay token carries its seed; --seed does not go with it\n");
      xp_schedule_free(&s);
      scn_free(sc);
      return 2;
    }
    c.replay = xp_replay_new(&s);
    c.has_seed = true;
    c.seed = s.seed;
    xp_schedule_free(&s);
  }
  if (c.db) {
    char dberr[512];
    c.dbh.db = tracedb_open(c.db, dberr, sizeof dberr);
    if (!c.dbh.db) {
      fprintf(stderr, "%s: %s\n", c.db, dberr);
      xp_replay_free(c.replay);
      scn_free(sc);
      return 2;
    }
    c.dbh.scenario_path = scn_path(sc);
    c.dbh.text_hash = scn_hash(sc);
    c.dbh.seed = c.has_seed ? c.seed : scn_seed(sc);
    signal(SIGINT, on_sigint);
    tracedb_watch_interrupt(c.dbh.db, &interrupted);
  }
  fprintf(c.out, "%s\n\n", scn_title(sc));
  if (c.blank.cols) pr_print_intro(c.out, &c.blank, c.has_seed ? c.seed : scn_seed(sc));
  scn_run_opts_t o = {.has_seed = c.has_seed, .seed = c.seed, .on_start = on_start, .on_finish = on_finish, .ud = &c};
  cli_limits_apply(&c.lim, &o);
  scn_result_t r;
  if (scn_run(sc, &o, &r, &err) != 0) {
    print_error(&err);
    if (c.dbh.db) tracedb_hooks_fail(&c.dbh, TRACEDB_OUTCOME_BAD_INPUT, err.msg);
    tracedb_close(c.dbh.db);
    xp_replay_free(c.replay);
    scn_free(sc);
    return 2;
  }
  if (c.dbh.db && tracedb_interrupted(c.dbh.db)) {
    fprintf(stderr, "interrupted: run %lld in %s holds the steps up to the interruption\n",
            (long long)tracedb_run_id(c.dbh.db), c.db);
    tracedb_close(c.dbh.db);
    xp_replay_free(c.replay);
    scn_result_free(&r);
    scn_free(sc);
    return 130;
  }
  if (c.dbh.db) {
    int db_rc = c.dbh.rc;
    if (db_rc != 0) fprintf(stderr, "%s: %s\n", c.db, c.dbh.err);
    else fprintf(c.out, "trace: run %lld in %s\n", (long long)tracedb_run_id(c.dbh.db), c.db);
    tracedb_close(c.dbh.db);
    if (db_rc != 0) {
      xp_replay_free(c.replay);
      scn_result_free(&r);
      scn_free(sc);
      return 2;
    }
  }
  fprintf(c.out, "\noutcome: %s after %llu ns (seed %llu)\n", sim_outcome_name(r.outcome),
          (unsigned long long)r.end_ns, (unsigned long long)r.seed);
  cli_limit_report(&r);
  bool replayed = c.replay != NULL;
  if (c.replay) {
    char why[200];
    if (xp_replay_diverged(c.replay, why, sizeof why)) {
      fprintf(stderr, "iosim run: the token does not fit this run: %s\n", why);
      xp_replay_free(c.replay);
      scn_result_free(&r);
      scn_free(sc);
      return 2;
    }
    fprintf(c.out, "schedule: replayed, %llu choice points\n", (unsigned long long)xp_replay_points(c.replay));
    xp_replay_free(c.replay);
    c.replay = NULL;
  }
  if (c.blank.cols) { /* they would give answers away */
    fprintf(c.out, "expectations and findings: not shown in predict mode\n");
    scn_result_free(&r);
    scn_free(sc);
    return 0;
  }
  fputs(r.account, c.out);
  if (r.expect_total) {
    int held = 0, sometimes = 0;
    for (int i = 0; i < r.expect_total; i++) {
      held += r.expects[i].passed;
      sometimes += r.expects[i].sometimes && !r.expects[i].passed;
    }
    fprintf(c.out, "expectations: %d of %d hold", held, r.expect_total);
    if (sometimes)
      fprintf(c.out, " (%d `sometimes` line%s did not, in this %s)", sometimes, sometimes == 1 ? "" : "s",
              replayed ? "schedule" : "seed");
    fputc('\n', c.out);
    print_expectations(c.out, sc, &r, true, c.width);
  }
  int rc = r.expect_failed ? 1 : 0;
  if (c.verify) {
    if (r.finding_total == 0) fprintf(c.out, "findings: none\n");
    else fputc('\n', c.out);
    if (print_findings(c.out, &r, true)) rc = 1;
  }
  scn_result_free(&r);
  scn_free(sc);
  return rc;
}

static int check_loaded(scn_t *sc, const char *path, const cli_t *c, int *failed_files);

static int check_file(const char *path, const cli_t *c, int *failed_files) {
  scn_error_t err;
  scn_t *sc = scn_load(path, c->include_dir, &err);
  if (!sc) {
    print_error(&err);
    return 2;
  }
  /* A C driver's fault kills a child process, not iosim: the child checks
     the file and tells how it went by its exit status. */
  int guarded = scn_guard_begin(sc);
  if (guarded >= 0) {
    scn_free(sc);
    if (guarded == 1) (*failed_files)++;
    return guarded == 1 ? 0 : guarded;
  }
  bool child = scn_guard_is_child();
  int before = *failed_files;
  int rc = check_loaded(sc, path, c, failed_files);
  if (child) {
    fflush(stdout);
    _exit(rc ? rc : *failed_files > before ? 1 : 0);
  }
  return rc;
}

static int check_loaded(scn_t *sc, const char *path, const cli_t *c, int *failed_files) {
  scn_error_t err;
  if (!c->has_seed && scn_explore_bound(sc) != SCN_EXPLORE_NONE) { /* over its schedules */
    int rc = cli_check_explore(sc, path, c->verify, failed_files);
    scn_free(sc);
    return rc;
  }
  unsigned seeds = c->has_seed ? 1 : scn_seed_count(sc);
  uint64_t base = c->has_seed ? c->seed : scn_seed(sc);
  /* Counted apart, so the summary adds up: expectation lines, their checks
     (one per line and seed) that failed, unpredicted findings. */
  int failed = 0, lines = 0, never = 0, findings = 0;
  bool *seen = NULL;
  const scn_result_t *last = NULL;
  scn_result_t keep = {0};
  bool progress = seeds > 1 && isatty(fileno(stderr)); /* on a terminal only: logs stay clean */
  for (unsigned i = 0; i < seeds; i++) {
    if (progress) fprintf(stderr, "\r%s: seed %u of %u", path, i + 1, seeds);
    scn_run_opts_t o = {.has_seed = true, .seed = base + i};
    cli_limits_apply(&c->lim, &o);
    scn_result_t r;
    if (scn_run(sc, &o, &r, &err) != 0) {
      print_error(&err);
      scn_free(sc);
      return 2;
    }
    lines = r.expect_total;
    if (!seen) seen = iosim_calloc((size_t)r.expect_total + 1, sizeof *seen);
    if (r.outcome == SIM_RUN_LIMIT) cli_limit_report(&r);
    never = scn_sometimes_merge(&r, seen);
    if (r.expect_failed || (seeds == 1)) {
      if (seeds > 1) printf("  seed %llu:\n", (unsigned long long)r.seed);
      print_expectations(stdout, sc, &r, seeds == 1, c->width);
    }
    failed += r.expect_failed;
    if (c->verify && r.finding_unexpected) {
      if (seeds > 1) printf("  seed %llu:\n", (unsigned long long)r.seed);
      print_findings(stdout, &r, false);
      findings += r.finding_unexpected;
    }
    /* What was left at the end, where it helps to see why a seed failed. */
    if (r.expect_failed || (c->verify && r.finding_unexpected)) fputs(r.account, stdout);
    scn_result_free(&keep);
    keep = r;
    last = &keep;
  }
  if (progress) fprintf(stderr, "\r%*s\r", (int)strlen(path) + 30, "");
  if (never && last) /* `sometimes` lines that held in no seed */
    for (int i = 0; i < last->expect_total; i++)
      if (last->expects[i].sometimes && !seen[i])
        printf("  FAIL %s:%d: %s\n      held in none of the %u seeds\n", scn_path(sc), last->expects[i].line,
               last->expects[i].text, seeds);
  failed += never;
  scn_result_free(&keep);
  free(seen);
  bool bad = failed || findings;
  printf("%s %s: %d expectation%s", bad ? "FAIL" : "ok  ", path, lines, lines == 1 ? "" : "s");
  if (seeds > 1) printf(" over %u seeds (%d checks)", seeds, lines * (int)seeds);
  printf(", %d failed", failed);
  if (findings) printf("; %d finding%s no `expect finding` line predicts", findings, findings == 1 ? "" : "s");
  putchar('\n');
  if (bad) (*failed_files)++;
  scn_free(sc);
  return 0;
}

static int cmd_check(int argc, char **argv) {
  cli_t c = {.out = stdout, .verify = true, .width = -1};
  static const struct option opts[] = {{"seed", required_argument, 0, 's'}, {"include-dir", required_argument, 0, 'I'},
                                       {"help", no_argument, 0, 'h'}, {"no-verify", no_argument, 0, 'n'},
                                       {"width", required_argument, 0, 'w'},
                                       {"format", required_argument, 0, 'f'}, CLI_LIMIT_OPTIONS,
                                       {0, 0, 0, 0}};
  const char *format = NULL;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "s:I:hnw:", opts, NULL)) != -1) {
    switch (ch) {
    case 'f': format = optarg; break;
    case 'w':
      if (!parse_width("check", optarg, &c.width)) return 2;
      break;
    case 'n': c.verify = false; break;
    case 's':
      if (!parse_u64(optarg, &c.seed)) {
        fprintf(stderr, "iosim check: --seed needs a number, not '%s'\n", optarg);
        return 2;
      }
      c.has_seed = true;
      break;
    case 'I': c.include_dir = optarg; break;
    case 'h': fputs(usage_check, stdout); return 0;
    default: {
      int k = cli_limit_option(ch, optarg, "check", &c.lim);
      if (k < 0) return 2;
      if (k > 0) {
        c.lim.has_wall |= ch == CLI_OPT_MAX_WALL;
        break;
      }
      fputs(usage_check, stderr);
      return 2;
    }
    }
  }
  if (optind >= argc) {
    fputs(usage_check, stderr);
    return 2;
  }
  if (format) {
    cli_check_opts_t o = {.has_seed = c.has_seed, .verify = c.verify, .seed = c.seed, .include_dir = c.include_dir,
                          .format = format};
    return cli_check_report(argv + optind, argc - optind, &o);
  }
  c.width = out_width(c.width, stdout);
  int failed_files = 0, bad = 0;
  for (int i = optind; i < argc; i++)
    if (check_file(argv[i], &c, &failed_files) == 2) bad = 1;
  if (bad) return 2;
  return failed_files ? 1 : 0;
}

/* --run, shared by irp, viz and export; false (message printed) on bad input. */
static bool parse_run(const char *cmd, const char *arg, uint64_t *run) {
  if (parse_u64(arg, run) && *run > 0) return true;
  fprintf(stderr, "iosim %s: --run needs a run number (1, 2, ...), not '%s'\n", cmd, arg);
  return false;
}

static bool parse_double(const char *s, double *v) {
  char *end;
  if (!*s) return false;
  double x = strtod(s, &end);
  if (*end || x != x) return false;
  *v = x;
  return true;
}

static int cmd_viz(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},   {"run", required_argument, 0, 'r'},
                                       {"irp", required_argument, 0, 'i'},  {"timeline", no_argument, 0, 't'},
                                       {"list", no_argument, 0, 'l'},       {"output", required_argument, 0, 'o'},
                                       {"scale", required_argument, 0, 's'}, {"font-size", required_argument, 0, 'f'},
                                       {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
  const char *db = NULL, *irp = NULL, *out = NULL;
  uint64_t run = 0;
  bool timeline = false, list = false;
  viz_style_t style = {0};
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "d:r:i:tlo:s:f:h", opts, NULL)) != -1) {
    switch (ch) {
    case 's':
    case 'f':
      if (!parse_double(optarg, ch == 's' ? &style.scale : &style.font_size) ||
          (ch == 's' ? style.scale : style.font_size) <= 0) {
        fprintf(stderr, "iosim viz: --%s needs a positive number, not '%s'\n", ch == 's' ? "scale" : "font-size",
                optarg);
        return 2;
      }
      break;
    case 'd': db = optarg; break;
    case 'r':
      if (!parse_run("viz", optarg, &run)) return 2;
      break;
    case 'i': irp = optarg; break;
    case 't': timeline = true; break;
    case 'l': list = true; break;
    case 'o': out = optarg; break;
    case 'h': fputs(usage_viz, stdout); return 0;
    default: fputs(usage_viz, stderr); return 2;
    }
  }
  int what = (irp != NULL) + timeline + list;
  if (!db || what != 1 || (!list && !out) || (list && out) || optind != argc) {
    if (db && what > 1) fputs("iosim viz: choose one of --irp, --timeline and --list\n\n", stderr);
    fputs(usage_viz, stderr);
    return 2;
  }
  char err[768];
  if (viz_style_check(&style, err, sizeof err) != VIZ_OK) {
    fprintf(stderr, "iosim viz: %s\n", err + strlen("iosim: "));
    return 2;
  }
  int rc;
  if (list) {
    rc = viz_list_irps(db, (int64_t)run, stdout, err, sizeof err);
  } else if (timeline) {
    rc = viz_timeline(db, (int64_t)run, out, &style, err, sizeof err);
  } else {
    uint64_t id = 0;
    uint32_t k = 0;
    /* A number is an IRP id; anything else is the scenario's name for it. */
    if (parse_u64(irp, &id)) {
      if (id == 0 || id > UINT32_MAX) {
        fprintf(stderr, "iosim viz: --irp needs an IRP id (1, 2, ...) or name, not '%s'\n", irp);
        return 2;
      }
      k = (uint32_t)id;
      rc = VIZ_OK;
    } else {
      rc = viz_find_irp(db, (int64_t)run, irp, &k, err, sizeof err);
    }
    if (rc == VIZ_OK) rc = viz_irp(db, (int64_t)run, k, out, &style, err, sizeof err);
  }
  if (rc != VIZ_OK) fprintf(stderr, "%s\n", err);
  return rc == VIZ_OK ? 0 : 2;
}

static int cmd_export(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},     {"run", required_argument, 0, 'r'},
                                       {"format", required_argument, 0, 'f'}, {"output", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
  const char *db = NULL, *format = NULL, *out = NULL;
  uint64_t run = 0;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "d:r:f:o:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'd': db = optarg; break;
    case 'r':
      if (!parse_run("export", optarg, &run)) return 2;
      break;
    case 'f': format = optarg; break;
    case 'o': out = optarg; break;
    case 'h': fputs(usage_export, stdout); return 0;
    default: fputs(usage_export, stderr); return 2;
    }
  }
  if (!db || !format || !out || optind != argc) {
    fputs(usage_export, stderr);
    return 2;
  }
  if (strcmp(format, "perfetto") != 0) {
    fprintf(stderr,
            "iosim export: unknown format '%s' (the one there is: perfetto, the trace-event JSON that"
            " ui.perfetto.dev and chrome://tracing both open)\n",
            format);
    return 2;
  }
  char err[768];
  int rc = viz_export_perfetto(db, (int64_t)run, out, err, sizeof err);
  if (rc != VIZ_OK) fprintf(stderr, "%s\n", err);
  return rc == VIZ_OK ? 0 : 2;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage_main, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    fputs(usage_main, stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version")) {
    printf("iosim %s\n", IOSIM_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "check")) return cmd_check(argc - 1, argv + 1);
  if (!strcmp(cmd, "irp")) return cli_irp(argc - 1, argv + 1);
  if (!strcmp(cmd, "viz")) return cmd_viz(argc - 1, argv + 1);
  if (!strcmp(cmd, "export")) return cmd_export(argc - 1, argv + 1);
  if (!strcmp(cmd, "explore")) return cli_explore(argc - 1, argv + 1);
  if (!strcmp(cmd, "quiz")) return cli_quiz(argc - 1, argv + 1);
  if (!strcmp(cmd, "diff")) return cli_diff(argc - 1, argv + 1);
  if (!strcmp(cmd, "merge")) return cli_merge(argc - 1, argv + 1);
  if (!strcmp(cmd, "cc")) return cli_cc(argc - 1, argv + 1);
  if (!strcmp(cmd, "grade")) return cli_grade(argc - 1, argv + 1);
  if (!strcmp(cmd, "devstack")) return cli_devstack(argc - 1, argv + 1);
  if (!strcmp(cmd, "thread")) return cli_thread(argc - 1, argv + 1);
  if (!strcmp(cmd, "dpcs")) return cli_dpcs(argc - 1, argv + 1);
  if (!strcmp(cmd, "irpfind")) return cli_irpfind(argc - 1, argv + 1);
  if (!strcmp(cmd, "port")) return cli_port(argc - 1, argv + 1);
  if (!strcmp(cmd, "why")) return cli_why(argc - 1, argv + 1);
  if (!strcmp(cmd, "step")) return cli_step(argc - 1, argv + 1);
  if (!strcmp(cmd, "html")) return cli_html(argc - 1, argv + 1);
  fprintf(stderr, "iosim: unknown command '%s'\n\n%s", cmd, usage_main);
  return 2;
}
