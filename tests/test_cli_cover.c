/*
 * test_cli_cover.c - the command line's every refusal and every path, as a
 * user meets them: tables of {shell line, exit status, what the output must
 * say} run through the shell from tests/ (../iosim, stdout and stderr
 * together).  Each row states what iosim must do: the exact message (with
 * file:line:col for a scenario), the exit status, or a line of the output.
 * $T is a fresh temporary folder per table; rows run in order, so a row may
 * read the trace database an earlier row wrote.  Fixtures in
 * fixtures/cli-cover/.  Skipped (with a note) when ../iosim is not built,
 * as under `make asan`.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iosim/explore.h"
#include "testlib.h"

#define L2 "../scenarios/lessons/02-async-read.iosim"
#define L10 "../scenarios/lessons/10-iocp.iosim"
#define FX "fixtures/cli-cover/"
#define FC "fixtures/scenarios/explore-forgotten-cancel.iosim"
#define L16 "../scenarios/lessons/16-cancel-race.iosim"
#define GQ "fixtures/scenarios/gqcs-ex-several.iosim"
/* The "1:HASH:SEED:" head of a scenario's tokens, from its explorer's
   output; the rows add the choices. */
#define HEAD(f) "$(../iosim explore " f " --quiet --no-minimise --bound 0 | sed -n 's/.*--replay \\(1:[0-9a-f]*:[0-9]*:\\).*/\\1/p' | head -n1)"
#define TOK16 HEAD(L16)
#define TOK HEAD(FC)

typedef struct cli_case {
  const char *cmd;      /* a shell line, run from tests/ */
  int status;           /* its exit status */
  const char *says[5];  /* each must be in its output; "!TEXT": TEXT must not be */
} cli_case_t;

static bool have_cli(void) {
  if (access("../iosim", X_OK) == 0) return true;
  fprintf(stderr, "test_cli_cover: ../iosim is not built, skipping\n");
  return false;
}

/* Runs cmd (stdout and stderr together); its exit status, its output in
   *out (caller frees). */
static int capture(const char *cmd, char **out) {
  size_t len = strlen(cmd) + 32;
  char *full = malloc(len);
  snprintf(full, len, "(%s) 2>&1", cmd);
  FILE *p = popen(full, "r");
  free(full);
  ck_assert_ptr_nonnull(p);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (size_t r; (r = fread(buf + n, 1, cap - n - 1, p)) > 0;) {
    n += r;
    if (n + 1 == cap) buf = realloc(buf, cap *= 2);
  }
  buf[n] = 0;
  int st = pclose(p);
  *out = buf;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs every row (in a fresh $T); reports all the rows that do not hold,
   then fails if one did not. */
static void run_table(const char *name, const cli_case_t *t, size_t n) {
  char dir[] = "/tmp/iosim-cover.XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  setenv("T", dir, 1);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    char *out;
    int rc = capture(t[i].cmd, &out);
    bool ok = rc == t[i].status;
    for (int k = 0; k < 5 && t[i].says[k]; k++)
      ok &= t[i].says[k][0] == '!' ? strstr(out, t[i].says[k] + 1) == NULL : strstr(out, t[i].says[k]) != NULL;
    if (!ok) {
      fprintf(stderr, "%s row %zu: `%s` exited %d (want %d), output:\n%.3000s\n---\n", name, i, t[i].cmd, rc,
              t[i].status, out);
      bad++;
    }
    free(out);
  }
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  ck_assert_int_eq(system(rm), 0);
  ck_assert_msg(bad == 0, "%s: %d row(s) did not hold (above)", name, bad);
}

#define RUN_TABLE(t) run_table(#t, t, sizeof t / sizeof t[0])

/* ---- run: options, predict mode, replays, the verifier, wrapping ---- */
static const cli_case_t run_cases[] = {
    {"../iosim help", 0, {"usage: iosim COMMAND"}},
    {"../iosim -h", 0, {"usage: iosim COMMAND"}},
    {"../iosim run --seed '' " L2, 2, {"iosim run: --seed needs a number, not ''"}},
    {"../iosim run --seed -1 " L2, 2, {"iosim run: --seed needs a number, not '-1'"}},
    {"../iosim run " L2 " --blank bogus", 2, {"iosim run: --blank: 'bogus' is no column of the step table (time, cpu"}},
    {"../iosim run " L2 " --blank ''", 2, {"iosim run: --blank: no column named"}},
    {"../iosim run " L2 " --blank-after x", 2, {"iosim run: --blank-after needs a step number, not 'x'"}},
    {"../iosim run " L2 " --blank irql --quiet", 2,
     {"iosim run: --blank prints the table to fill in: not with --quiet or a replay"}},
    {"../iosim run " L2 " --blank-after 30", 0,
     {"blank irql,frame,thread,status after 30 seed 7\n", "expectations and findings: not shown in predict mode\n",
      "e.g. `#57 DISPATCH dpc app STATUS_SUCCESS`", "!expectations: "}},
    {"../iosim run " L2 " --blank time,cpu,irp,device,event,detail --seed 7", 0,
     {"blank time,cpu,irp,device,event,detail after 0 seed 7\n", "e.g. `#57 204.070us 0 2 disk0 dpc`"}},
    /* A blanked status is blanked in the detail that names it too. */
    {"../iosim run " L2 " --blank status | grep -c 'STATUS_PENDING'", 1, {"0\n"}},
    {"../iosim run " FX "bad.iosim --db /nonexistent/dir/t.db", 2,
     {"fixtures/cli-cover/bad.iosim:3:1: unknown statement 'frobnicate'", "/nonexistent/dir/t.db: "}},
    {"../iosim run " L2 " --quiet --db /nonexistent/dir/t.db", 2, {"/nonexistent/dir/t.db: ", "!outcome:"}},
    {"../iosim run " L2 " --quiet --db $T/t.db", 0, {"trace: run 1 in ", "/t.db\n"}},
    {"../iosim run " FX "race.iosim --quiet --seed 0", 1,
     {"expectations: 1 of 4 hold (2 `sometimes` lines did not, in this seed)\n",
      "  FAIL fixtures/cli-cover/race.iosim:20: expect order note(\"a done\") < note(\"b done\")"}},
    {"../iosim run " FX "race.iosim --quiet --seed 2", 0,
     {"expectations: 3 of 4 hold (1 `sometimes` line did not, in this seed)\n"}},
    /* A replayed schedule that does not fit the run. */
    {"../iosim run " FC " --quiet --replay " TOK "999", 2,
     {"iosim run: the token does not fit this run: the schedule names choice point 999 but the run had only "}},
    {"../iosim run " FC " --quiet --replay " TOK "0.50", 2,
     {"iosim run: the token does not fit this run: an option of the schedule is beyond the alternatives of its choice "
      "point"}},
    {"echo " TOK "- > $T/tok && ../iosim run " FC " --quiet --replay-file $T/tok", 0,
     {"schedule: replayed, ", "expectations: 2 of 2 hold\n"}},
    {"../iosim run " FC " --quiet --replay-file $T/none", 2, {"iosim run: ", "/none: cannot read it: "}},
    {"echo > $T/empty && ../iosim run " FC " --quiet --replay-file $T/empty", 2, {"/empty holds no token"}},
    {"echo frob > $T/frob && ../iosim run " FC " --quiet --replay-file $T/frob", 2,
     {"/frob: not an iosim replay token (they look like 1:9f3c2a0b7d1e4c55:1:29,57.2)"}},
    /* The verifier: nothing, predicted findings, then one no line predicts
       (with the bugcheck's report and the steps that led there). */
    {"../iosim run " L2 " --quiet --verify", 0, {"findings: none\n"}},
    {"../iosim run ../scenarios/bugs/irp-leaked.iosim --quiet --verify", 0,
     {"(0 not predicted by an `expect finding` line)"}},
    {"../iosim run " FC " --verify --replay " TOK "0,2", 1,
     {"*** STOP: 0x000000C9 (", "the last steps that led there:\n", "(1 not predicted by an `expect finding` line)",
      "schedule: replayed, "}},
    {"../iosim run " FX "race.iosim --quiet --replay 1:0:0:-", 2,
     {"iosim run: this token belongs to another version of the scenario"}},
    {"../iosim run " FX "none.iosim", 2, {"fixtures/cli-cover/none.iosim: "}},
    {"../iosim run " L2 " --width 10001", 2,
     {"iosim run: --width needs a number of columns (0: no wrapping), not '10001'\n"}},
    {"../iosim run " L2 " --blank irql --replay 1:0:1:-", 2, {"iosim run: --blank prints the table to fill in: not with"}},
    {"../iosim run " FX "bad.iosim --seed 3 --db $T/b.db", 2, {"fixtures/cli-cover/bad.iosim:3:1: unknown statement"}},
    {"../iosim run " L2 " --quiet -I ../scenarios --seed 7 --db $T/t.db", 0, {"trace: run 2 in ", "(seed 7)\n"}},
    /* Predict mode with --explain: a sentence under the steps shown, none
       under the blanked ones. */
    {"a=$(../iosim run " L2 " --blank-after 30 --explain | grep -c '\\\\_ ') && "
     "b=$(../iosim run " L2 " --explain --width 0 | sed '/^  #31 /q' | grep -c '\\\\_ ') && "
     "test $a -gt 0 && test $a = $b && echo same",
     0, {"same\n"}},
    {"../iosim run " L16 " --quiet --replay " TOK16 "-", 0,
     {"(2 `sometimes` lines did not, in this schedule)\n", "schedule: replayed, "}},
    /* Malformed tokens, each refused with what a token looks like. */
    {"../iosim run " FC " --replay 2:0:1:-", 2, {"iosim run: not an iosim replay token (they look like "}},
    {"../iosim run " FC " --replay 1:zz:1:-", 2, {"iosim run: malformed replay token: expected 1:HASH:SEED:CHOICES\n"}},
    {"../iosim run " FC " --replay 1:abc:1", 2, {"iosim run: malformed replay token: expected 1:HASH:SEED:CHOICES\n"}},
    {"../iosim run " FC " --replay 1:99999999999999999999:1:-", 2, {"malformed replay token: expected 1:HASH"}},
    {"../iosim run " FC " --replay 1:abc:1:5.0", 2,
     {"iosim run: malformed replay token near '': choices are INDEX or INDEX.OPTION, increasing, separated by commas\n"}},
    {"../iosim run " FC " --replay 1:abc:1:5,3", 2, {"iosim run: malformed replay token near '': choices are"}},
    {"../iosim run " FC " --replay 1:abc:1:5x", 2, {"iosim run: malformed replay token near 'x': choices are"}},
    {"../iosim run " FC " --replay 1:abc:1:,", 2, {"iosim run: malformed replay token near ',': choices are"}},
    {"../iosim run " FC " --replay 1:abc:1:99999999999", 2, {"malformed replay token near '': choices are"}},
    {"../iosim run " FC " --replay 1:abc:1:5.99999999999", 2, {"malformed replay token near '': choices are"}},
    {"../iosim run " FC " --replay ' 1:abc:1:3.2,7 '", 2,
     {"iosim run: this token belongs to another version of the scenario (its content hash is 0000000000000abc, "}},
    /* Wrapping: every line fits 60 columns, narrow or wide; $COLUMNS is
       the width when there is no terminal. */
    {"../iosim run " L2 " --explain --width 60 | awk 'NR > 1 && length > 60 {n++} END {print n + 0, \"too long\"}'", 0,
     {"0 too long\n"}},
    {"../iosim run " L2 " --explain --width 130 | awk 'NR > 1 && length > 130 {n++} END {print n + 0, \"too long\"}'", 0,
     {"0 too long\n"}},
    {"../iosim run " L2 " --width 40 | awk 'length > 40 {n++} END {print (n > 1 ? \"rows kept whole\" : \"cut\")}'", 0,
     {"rows kept whole\n"}},
    {"test \"$(COLUMNS=70 ../iosim run " L2 ")\" = \"$(../iosim run " L2 " --width 70)\" && echo same", 0,
     {"same\n"}},
    {"test \"$(COLUMNS=0 ../iosim run " L2 ")\" = \"$(../iosim run " L2 " --width 0)\" && echo same", 0,
     {"same\n"}},
};

START_TEST(run_paths) {
  if (!have_cli()) return;
  RUN_TABLE(run_cases);
}
END_TEST

/* ---- limits: the options, their units, what a run that hits one says ---- */
static const cli_case_t limit_cases[] = {
    {"../iosim run " L2 " --max-steps 0", 2, {"iosim run: --max-steps needs a number of steps, not '0'"}},
    {"../iosim run " L2 " --max-steps abc", 2, {"iosim run: --max-steps needs a number of steps, not 'abc'"}},
    {"../iosim run " L2 " --max-steps ''", 2, {"iosim run: --max-steps needs a number of steps, not ''"}},
    {"../iosim run " L2 " --max-steps -5", 2, {"not '-5'"}},
    {"../iosim run " L2 " --max-steps 5k", 2, {"not '5k'"}},
    {"../iosim run " L2 " --max-time 5parsecs", 2,
     {"iosim run: --max-time needs a simulated time (e.g. 500s, 20ms), not '5parsecs'"}},
    {"../iosim run " L2 " --max-time 0", 2, {"--max-time needs a simulated time"}},
    {"../iosim run " L2 " --max-time 99999999999999999999s", 2, {"--max-time needs a simulated time"}},
    {"../iosim run " L2 " --max-wall x", 2, {"iosim run: --max-wall needs a number of seconds (0: none), not 'x'"}},
    {"../iosim check " L2 " --max-memory 0", 2, {"iosim check: --max-memory needs a number of MiB, not '0'"}},
    {"../iosim check " L2 " --max-memory 3GB", 2, {"not '3GB'"}},
    {"../iosim check " L2 " --max-steps x", 2, {"iosim check: --max-steps needs a number of steps, not 'x'"}},
    {"../iosim run " L2 " --quiet --max-time 2s --max-steps 100000 --max-wall 30s --max-memory 64MiB", 0,
     {"outcome: ok after "}},
    {"../iosim check " L2 " --max-time 500ms --max-wall 0 --max-memory 64M --max-steps 1000000", 0, {"ok   "}},
    {"../iosim run " FX "steps.iosim --quiet", 0,
     {"iosim: limit reached: max-steps (raise it with `machine max-steps N` up to the ceiling, or --max-steps)\n"}},
    {"../iosim run " FX "time.iosim --quiet", 0,
     {"iosim: limit reached: max-time (raise it with `machine max-time T` up to the ceiling, or --max-time)\n"}},
    {"../iosim run " FX "memory.iosim --quiet --max-memory 1", 0,
     {"iosim: limit reached: max-memory (raise it with --max-memory MiB)\n"}},
    {"../iosim check " FX "wall.iosim --max-wall 1", 0,
     {"iosim: limit reached: max-wall (raise it with --max-wall SECONDS (0: none))\n"}},
    {"../iosim run " FX "ceiling.iosim --quiet", 2,
     {"fixtures/cli-cover/ceiling.iosim:4:25: limit reached: machine max-time 200000000000 ns is above the ceiling of "
      "100000000000 ns (raise the ceiling with --max-time T)\n"}},
    {"../iosim run " FX "ceiling.iosim --quiet --db $T/c.db", 2, {"fixtures/cli-cover/ceiling.iosim:4:25: limit reached"}},
    {"../iosim run " FX "ceiling.iosim --quiet --max-time 300s", 0, {"expectations: 1 of 1 hold\n"}},
    {"../iosim check " FX "ceiling.iosim", 2, {"fixtures/cli-cover/ceiling.iosim:4:25: limit reached"}},
};

START_TEST(limit_paths) {
  if (!have_cli()) return;
  RUN_TABLE(limit_cases);
}
END_TEST

/* ---- check, and its reports for graders ---- */
static const cli_case_t check_cases[] = {
    {"../iosim check --seed x " L2, 2, {"iosim check: --seed needs a number, not 'x'"}},
    {"../iosim check --width 50 " L2, 0, {"ok   ../scenarios/lessons/02-async-read.iosim: 16 expectations, 0 failed\n"}},
    {"../iosim check " FX "stall.iosim", 1,
     {"  seed 1:\nfindings: 1 (1 not predicted by an `expect finding` line)\n  FINDING deadlock: ",
      "FAIL fixtures/cli-cover/stall.iosim: 1 expectation over 2 seeds (2 checks), 0 failed; 2 findings no `expect "
      "finding` line predicts\n"}},
    {"../iosim check --seed 0 " FX "stall.iosim", 1,
     {"FAIL fixtures/cli-cover/stall.iosim: 1 expectation, 0 failed; 1 finding no `expect finding` line predicts\n"}},
    {"../iosim check --format json " FX "stall.iosim", 1,
     {"\"facts\": \"seed 0: deadlock at #", "\\nseed 1: deadlock at #"}},
    {"../iosim check --format json " FX "none.iosim", 2, {"\"error\": \"fixtures/cli-cover/none.iosim: "}},
    {"../iosim check --format gradescope " FX "settings-more.iosim", 0,
     {"  \"visibility\": \"visible\",\n", "expect outcome ok\", \"score\": 3, \"max_score\": 3",
      "expect thread a finished\", \"score\": 1, \"max_score\": 1, \"status\": \"passed\", \"visibility\": "
      "\"after_published\""}},
    {"../iosim check --format junit " FX "settings-more.iosim", 0,
     {"name=\"line 15: expect count note(&quot;x &amp; y&quot;) &gt;= 1\"",
      "<system-out>note(x &amp; y) happened 1 time</system-out>"}},
    {"../iosim check --format junit --no-verify " FX "unbounded.iosim", 0,
     {"<system-out>held in 1 of 1 schedules</system-out>", "!no finding that"}},
    {"../iosim check --format json " L16, 0,
     {"\"text\": \"expect sometimes r1.status == STATUS_CANCELLED\", \"passed\": true"}},
    {"../iosim check --bogus " L2, 2, {"usage: iosim check FILE"}},
    {"../iosim check --no-verify --seed 3 " L2, 0,
     {"ok   ../scenarios/lessons/02-async-read.iosim: 16 expectations, 0 failed\n"}},
    {"../iosim check " FX "bad.iosim " L2, 2,
     {"fixtures/cli-cover/bad.iosim:3:1: unknown statement 'frobnicate'", "ok   ../scenarios/lessons/02-async-read"}},
    {"../iosim check " FX "race.iosim", 1,
     {"  seed 0:\n  FAIL fixtures/cli-cover/race.iosim:20: expect order note(\"a done\") < note(\"b done\")\n",
      "  FAIL fixtures/cli-cover/race.iosim:21: expect sometimes thread a waiting\n      held in none of the 4 seeds\n",
      "FAIL fixtures/cli-cover/race.iosim: 4 expectations over 4 seeds (16 checks), 3 failed\n"}},
    {"../iosim check " FC, 1,
     {"FAIL fixtures/scenarios/explore-forgotten-cancel.iosim: 2 expectations over ",
      " schedules (bound 2), 4 failed\n"}},
    {"../iosim check --no-verify " FC, 1, {" schedules (bound 2), 2 failed\n"}},
    {"../iosim check --seed 1 " FC, 0, {"ok   fixtures/scenarios/explore-forgotten-cancel.iosim: 2 expectations, 0 failed"}},
    {"../iosim check " FX "ceiling-explore.iosim", 2,
     {"fixtures/cli-cover/ceiling-explore.iosim:3:25: limit reached: machine max-time"}},
    {"../iosim check " FX "unbounded.iosim", 0, {"over 1 schedule (no bound), 0 failed\n"}},
    /* --format */
    {"../iosim check --format xml " L2, 2, {"iosim check: unknown format 'xml' (gradescope, junit or json)"}},
    {"../iosim check --format gradescope " FX "race.iosim", 1,
     {"  \"visibility\": \"after_due_date\",\n", "\"score\": 0, \"max_score\": 2, \"status\": \"failed\", \"visibility\": "
      "\"hidden\"",
      "\"output\": \"iosim check: 3 of 5 tests pass, 3 of 5.5 points\"",
      "\"output\": \"held in none of the 4 seeds; seed 0: thread a is terminated\""}},
    {"../iosim check --format json " FX "settings-bad.iosim", 2,
     {"fixtures/cli-cover/settings-bad.iosim:9:1: `# weight` needs a number of points (0 or more)\n",
      "fixtures/cli-cover/settings-bad.iosim:11:1: `# visibility` is one of hidden, after_due_date, after_published, "
      "visible\n",
      "settings-bad.iosim:12:1: `# weight` needs", "settings-bad.iosim:14:1: `# weight` needs",
      "settings-bad.iosim:16:1: `# weight` needs"}},
    {"../iosim check --format json " FX "bad.iosim", 2,
     {"\"error\": \"fixtures/cli-cover/bad.iosim:3:1: unknown statement 'frobnicate'",
      "{\"line\": 0, \"text\": \"the scenario loads and runs\", \"passed\": false"}},
    {"../iosim check --format json " FX "ceiling.iosim", 2,
     {"\"error\": \"fixtures/cli-cover/ceiling.iosim:4:25: limit reached", "\"tests\": 1,\n"}},
    {"../iosim check --format junit " FX "ceiling-explore.iosim", 2,
     {"fixtures/cli-cover/ceiling-explore.iosim:3:25: limit reached",
      "<failure message=\"the scenario loads and runs\" type=\"verifier\">it did not run</failure>"}},
    {"../iosim check --format junit " FX "race.iosim " FX "bad.iosim", 2,
     {"<testsuites name=\"iosim check\" tests=\"6\" failures=\"3\" errors=\"0\">",
      "name=\"line 20: expect order note(&quot;a done&quot;) &lt; note(&quot;b done&quot;)\"",
      "unknown statement &apos;frobnicate&apos;", "<system-out>held in all 4 seeds; seed 0: the run ended: ok</system-out>"}},
    {"../iosim check --format gradescope " FC, 1,
     {"\"output\": \"in ", " schedules: double-completion cancel-routine-on-completion", "\"status\": \"failed\""}},
    {"../iosim check --format json --no-verify --seed 1 " FC, 0,
     {"\"seeds\": 1,", "\"tests\": 2,\n", "!no finding that no"}},
    {"../iosim check --format json --seed 0 ../scenarios/bugs/irp-leaked.iosim", 0, {"\"failed\": 0,"}},
    {"mkdir -p $T/scenarios/bugs && cp -r ../scenarios/lib $T/scenarios/ && "
     "grep -v '^expect' ../scenarios/bugs/irp-leaked.iosim > $T/scenarios/bugs/x.iosim && "
     "../iosim check --format json $T/scenarios/bugs/x.iosim",
     1, {"\"facts\": \"pending-not-marked r1 at #", "\\nirp-leaked r1 at #0: IRP 2 finished its completion walk"}},
};

START_TEST(check_paths) {
  if (!have_cli()) return;
  RUN_TABLE(check_cases);
}
END_TEST

/* ---- viz, export, merge, diff ---- */
static const cli_case_t db_cases[] = {
    {"../iosim run " L2 " --quiet --db $T/t.db", 0, {"trace: run 1 in "}},
    {"../iosim viz --db $T/t.db --timeline -o $T/x.svg --scale ''", 2,
     {"iosim viz: --scale needs a positive number, not ''"}},
    {"../iosim viz --db $T/t.db --timeline -o $T/x.svg --scale nan", 2,
     {"iosim viz: --scale needs a positive number, not 'nan'"}},
    {"../iosim viz --db $T/t.db --timeline -o $T/x.svg --font-size -3", 2,
     {"iosim viz: --font-size needs a positive number, not '-3'"}},
    {"../iosim viz --bogus", 2, {"usage: iosim viz"}},
    {"../iosim viz --list", 2, {"usage: iosim viz"}},
    {"../iosim viz --db $T/t.db --timeline", 2, {"usage: iosim viz"}},
    {"../iosim viz --db $T/t.db --timeline -o $T/x.dot && grep -c digraph $T/x.dot", 0, {"1\n"}},
    {"../iosim export --db $T/t.db --format perfetto", 2, {"usage: iosim export"}},
    {"../iosim export --format perfetto -o $T/x.json", 2, {"usage: iosim export"}},
    {"../iosim export --db $T/t.db -o $T/x.json", 2, {"usage: iosim export"}},
    {"../iosim export --db $T/t.db --format perfetto -o $T/x.json extra", 2, {"usage: iosim export"}},
    {"../iosim viz --db $T/t.db --run 0 --list", 2, {"iosim viz: --run needs a run number (1, 2, ...), not '0'"}},
    {"../iosim viz --db $T/t.db --list extra", 2, {"usage: iosim viz"}},
    {"../iosim viz --db $T/t.db --irp 99999999999 -o $T/x.svg", 2,
     {"iosim viz: --irp needs an IRP id (1, 2, ...) or name, not '99999999999'"}},
    {"../iosim viz --db $T/t.db --irp nosuch -o $T/x.svg", 2, {"nosuch"}},
    {"../iosim viz --db $T/t.db --irp r1 -o $T/x.dot", 0, {""}},
    {"../iosim viz --db $T/t.db --list", 0, {"r1"}},
    {"../iosim viz --db $T/t.db --irp 2 -o $T/i.dot && grep -c digraph $T/i.dot", 0, {"1\n"}},
    {"../iosim export --db $T/t.db --run x --format perfetto -o $T/x.json", 2,
     {"iosim export: --run needs a run number (1, 2, ...), not 'x'"}},
    {"../iosim export --bogus", 2, {"usage: iosim export"}},
    {"../iosim export --db $T/none.db --format perfetto -o $T/x.json", 2, {"none.db"}},
    {"../iosim export --db $T/t.db --format perfetto -o $T/x.json && head -c 1 $T/x.json", 0, {"{"}},
    {"../iosim merge $T/m.db", 2, {"usage: iosim merge OUT.db IN.db..."}},
    {"../iosim merge -h", 0, {"usage: iosim merge"}},
    {"../iosim merge $T/m.db $T/none.db", 2, {"iosim merge: "}},
    {"../iosim merge $T/m.db $T/t.db", 0, {"merged 1 database into "}},
    {"../iosim merge $T/m.db $T/t.db $T/t.db", 0, {"merged 2 databases into "}},
    /* diff of two runs of a database */
    {"../iosim diff --bogus", 2, {"usage: iosim diff"}},
    {"../iosim diff --db $T/t.db 1", 2, {"usage: iosim diff"}},
    {"../iosim diff --db $T/t.db 1 x", 2, {"usage: iosim diff"}},
    {"../iosim diff --db $T/t.db 0 1", 2, {"usage: iosim diff"}},
    {"../iosim diff --db $T/t.db 1 0", 2, {"usage: iosim diff"}},
    {"../iosim merge --help", 0, {"usage: iosim merge"}},
    {"../iosim diff --db $T/t.db 1 9", 2, {"iosim diff: ", "no run 9 in the database"}},
    {"../iosim diff --db $T/m.db 1 3", 0, {"the two schedules ran the same ", " steps: they do not diverge\n"}},
    {"../iosim diff --db $T/none.db 1 2", 2, {"iosim diff: ", "none.db: "}},
    {"echo not a database > $T/junk.db && ../iosim diff --db $T/junk.db 1 2", 2,
     {"iosim diff: ", "junk.db: not an iosim trace database: "}},
    {"../iosim explore " FC " --quiet --db $T/x.db --db-outcomes", 1, {"failure 1:", "  run 1 in ", ": failure 1:"}},
    {"../iosim diff --db $T/x.db 1 2", 0, {"first divergence after ", "steps both took, done differently", "steps only A took ("}},
    {"../iosim diff --db $T/x.db 2 1", 0, {"first divergence after "}},
    /* diff of two tokens */
    {"../iosim diff " FC " x", 2, {"usage: iosim diff"}},
    {"../iosim diff -I ../scenarios " FX "bad.iosim a b", 2, {"fixtures/cli-cover/bad.iosim:3:1: unknown statement"}},
    {"../iosim diff " FC " nonsense x", 2, {"iosim diff: token A: not an iosim replay token"}},
    {"../iosim diff " FC " @$T/none x", 2, {"iosim diff: token A: ", "/none: cannot read it: "}},
    {"../iosim diff " FC " " TOK "- 1:0:1:-", 2, {"iosim diff: token B: this token belongs to another version"}},
    {"../iosim diff " FC " " TOK "- " TOK "-", 0, {"they do not diverge\n"}},
    {"echo " TOK "0,2 > $T/a && ../iosim diff " FC " @$T/a " TOK "-", 0,
     {"A: 1:", ", bugcheck 0xC9 DRIVER_VERIFIER_IOMANAGER_VIOLATION)\n", "first divergence after ", "steps only B took ("}},
    {"../iosim diff " FC " " TOK "- " TOK "0", 0, {"first divergence after "}},
    /* a thousand steps each, and ports by name */
    {"../iosim diff " FX "many.iosim " HEAD(FX "many.iosim") "- " HEAD(FX "many.iosim") "-", 0,
     {" steps, limit reached)\n", " steps: they do not diverge\n"}},
    {"../iosim diff " GQ " " HEAD(GQ) "- " HEAD(GQ) "-", 0, {"steps: they do not diverge\n"}},
    {"h=$(../iosim run " FX "ceiling.iosim --replay 1:0:0:- 2>&1 | sed -n \"s/.*'s is \\([0-9a-f]*\\)).*/\\1/p\") && "
     "../iosim diff " FX "ceiling.iosim 1:$h:0:- 1:$h:0:-",
     2, {"fixtures/cli-cover/ceiling.iosim:4:25: limit reached"}},
};

START_TEST(db_paths) {
  if (!have_cli()) return;
  RUN_TABLE(db_cases);
}
END_TEST

/* ---- explore ---- */
static const cli_case_t explore_cases[] = {
    {"../iosim explore --bound 65 " FC, 2,
     {"iosim explore: --bound needs a number of preemptions (0..64) or none, not '65'"}},
    {"../iosim explore --bound x " FC, 2, {"not 'x'"}},
    {"../iosim explore --strategy dfsx " FC, 2, {"iosim explore: --strategy is dfs, random or pct, not 'dfsx'"}},
    {"../iosim explore --runs 0 " FC, 2, {"iosim explore: --runs needs a number, not '0'"}},
    {"../iosim explore --depth 18 " FC, 2, {"iosim explore: --depth needs a small (1..17) number, not '18'"}},
    {"../iosim explore --depth 0 " FC, 2, {"--depth needs a small (1..17) number, not '0'"}},
    {"../iosim explore --seed x " FC, 2, {"iosim explore: --seed needs a number, not 'x'"}},
    {"../iosim explore --max-schedules -1 " FC, 2, {"iosim explore: --max-schedules needs a number, not '-1'"}},
    {"../iosim explore --max-schedules '' " FC, 2, {"--max-schedules needs a number, not ''"}},
    {"../iosim explore --time-limit 0 " FC, 2, {"iosim explore: --time-limit needs seconds (e.g. 10 or 0.5), not '0'"}},
    {"../iosim explore --time-limit 1s " FC, 2, {"--time-limit needs seconds (e.g. 10 or 0.5), not '1s'"}},
    {"../iosim explore --time-limit x " FC, 2, {"not 'x'"}},
    {"../iosim explore --shard 3/2 " FC, 2, {"iosim explore: --shard needs I/N with 1 <= I <= N (e.g. 2/8), not '3/2'"}},
    {"../iosim explore --shard 1/2x " FC, 2, {"not '1/2x'"}},
    {"../iosim explore --shard 0/2 " FC, 2, {"not '0/2'"}},
    {"../iosim explore --shard 1/0 " FC, 2, {"not '1/0'"}},
    {"../iosim explore --shard 1/100001 " FC, 2, {"not '1/100001'"}},
    {"../iosim explore --shard 1/2 --strategy random " FC, 2,
     {"iosim explore: --shard splits the depth-first search; random and pct runs split by --seed"}},
    {"../iosim explore --db-outcomes " FC, 2, {"iosim explore: --db-outcomes and --db-failures go with --db T.db"}},
    {"../iosim explore --db-failures " FC, 2, {"--db-outcomes and --db-failures go with --db T.db"}},
    {"../iosim explore --bogus " FC, 2, {"usage: iosim explore FILE"}},
    {"../iosim explore", 2, {"usage: iosim explore FILE"}},
    {"../iosim explore " FX "bad.iosim", 2, {"fixtures/cli-cover/bad.iosim:3:1: unknown statement"}},
    {"../iosim explore " FX "ceiling.iosim", 2, {"fixtures/cli-cover/ceiling.iosim:4:25: limit reached"}},
    {"../iosim explore --estimate " FX "ceiling.iosim", 2, {"fixtures/cli-cover/ceiling.iosim:4:25: limit reached"}},
    {"../iosim explore " FC " --bound none --max-schedules 3 --quiet", 4,
     {"exploring fixtures/scenarios/explore-forgotten-cancel.iosim: depth first, every schedule (no preemption bound)\n",
      "incomplete: stopped by max-schedules after 3 schedules; the space was not covered\n", "estimate: about "}},
    {"../iosim explore " FC " --bound 1 --estimate --quiet --no-prune", 1,
     {"depth first, every schedule with at most 1 preemption\n", "estimate: about ",
      "covered: every schedule with at most 1 preemption (not the ones with more)\n", "!equivalent to one explored were skipped"}},
    {"../iosim explore " FC " --shard 1/2 --quiet", 1,
     {"shard 1 of 2: covered: every schedule with at most 2 preemptions (not the ones with more); schedules equivalent "
      "to one explored were skipped, in this shard's part of the space\n"}},
    {"../iosim explore " FC " --shard 2/2 --bound none --max-schedules 2 --quiet", 4,
     {"shard 2 of 2: incomplete: stopped by max-schedules after 2 schedules; the shard was not covered\n"}},
    {"../iosim explore " FC " --max-schedules 2 --quiet", 4, {"the space was not covered (bound 2)\n"}},
    {"../iosim explore " FC " --quiet --db $T/x.db --db-outcomes --db-failures", 1,
     {"  run 1 in ", ": failure 1:", ": outcome 1:", ": failing-schedule 1:"}},
    {"../iosim explore " FC " --quiet --db /nonexistent/d.db", 2, {"/nonexistent/d.db: "}},
    {"../iosim explore " FC " --strategy pct --runs 10 --depth 2 --seed 5 --quiet --no-minimise --time-limit 60", 1,
     {"exploring fixtures/scenarios/explore-forgotten-cancel.iosim: 10 PCT schedules\n", " explored (PCT)",
      "covered: 10 PCT schedules of depth 2 - a sample; each finds a given bug of depth 2 with probability at least "
      "1/(n*k^(d-1)) = 1/(",
      "smallest explored ("}},
    {"../iosim explore " FC " --strategy pct --runs 5 --depth 17 --quiet", 1, {"5 PCT schedules of depth 17"}},
    {"../iosim explore " FC " --strategy random --runs 10 --seed 3 --no-verify", 1,
     {"exploring fixtures/scenarios/explore-forgotten-cancel.iosim: 10 random schedules\n",
      "covered: 10 random schedules - a sample, not every schedule\n", "\nfailure 1: ", "  the smallest schedule ("}},
    {"../iosim explore " FX "time.iosim", 0, {"outcomes: 1 distinct, expectations: 0 failed in 0 schedules", "!expectations over the schedules"}},
    {"../iosim explore " FX "race.iosim --bound 1", 1,
     {" and 1 `sometimes` line held in none",
      "  FAIL fixtures/cli-cover/race.iosim:21: expect sometimes thread a waiting\n      held in none of the ",
      "  PASS fixtures/cli-cover/race.iosim:22: expect outcome ok\n      held in all "}},
    {"../iosim explore " FX "race.iosim --bound 1 --max-schedules 1", 4,
     {"  OPEN fixtures/cli-cover/race.iosim:21: expect sometimes thread a waiting\n      held in none of the 1 "
      "schedules explored before the search stopped\n"}},
    {"../iosim explore " FC " --strategy random --runs 50 --max-schedules 3 --quiet", 1,
     {"incomplete: stopped by max-schedules after 3 schedules; the space was not covered\n", "!estimate:"}},
    {"../iosim explore " FC " --strategy dfs --bound 0 --quiet", 0, {"covered: every schedule with at most 0 preemptions"}},
    {"../iosim explore " FX "none.iosim", 2, {"fixtures/cli-cover/none.iosim: "}},
    {"../iosim explore " FX "ceiling.iosim --shard 1/2", 2, {"fixtures/cli-cover/ceiling.iosim:4:25: limit reached"}},
    {"../iosim explore " FX "ceiling.iosim --strategy pct", 2, {"fixtures/cli-cover/ceiling.iosim:4:25: limit reached"}},
    {"../iosim explore " FX "long-race.iosim --bound 1 --max-schedules 2 --quiet -I ../scenarios", 4,
     {"incomplete: stopped by max-schedules after 2 schedules; the space was not covered (bound 1)\n"}},
    {"../iosim explore " GQ " --quiet --bound 1", 0,
     {"ok; packets w<-packet w<-packet w<-packet w<-packet w<-packet w<-packet\n"}},
    {"../iosim explore " FX "many.iosim --quiet", 1, {"  FAIL 1 schedule : limit reached; findings irp-never-completed irp\n"}},
    {"../iosim explore " FX "unbounded.iosim --shard 2/2 --estimate", 0,
     {"estimate: about 1 schedules (plus or minus 0), ", "schedules: 0 explored (0 pruned as equivalent)",
      "shard 2 of 2: covered: every schedule (no preemption bound); schedules equivalent to one explored were skipped, "
      "in this shard's part of the space\n"}},
    {"../iosim explore " FX "unbounded.iosim --shard 1/2", 0, {"schedules: 1 explored (0 pruned as equivalent)"}},
    {"../iosim explore " FX "unbounded.iosim --strategy pct --runs 2", 0,
     {"covered: 2 PCT schedules of depth 3 - a sample; each finds a given bug of depth 3 with probability at least "
      "1/(n*k^(d-1)) = 1/(0*1^2)\n"}},
    {"../iosim explore " FC " --shard 3/100 --quiet", 0, {"shard 3 of 100: covered: "}},
    {"../iosim explore " FC " --strategy pct --runs 5 --quiet --db $T/pct.db", 1, {"  run 1 in ", ": failure "}},
    {"../iosim explore " FC " --strategy random --runs 5 --quiet --db $T/random.db --db-outcomes", 1,
     {"  run 1 in ", ": outcome "}},
    {"../iosim explore " FX "unbounded.iosim", 0, {"depth first, every schedule (no preemption bound)"}},
    {"../iosim explore " FX "stall.iosim --bound 1 --quiet", 1,
     {" schedules: stalled; finding deadlock; waiting: a\n", "findings: 1 rule in "}},
    {"../iosim explore " L10 " --bound 1 --quiet", 1,
     {"; packets w2<-r1 w2<-r2\n", "; packets w2<-r1 w2<-r2; fails line 49\n"}},
};

START_TEST(explore_paths) {
  if (!have_cli()) return;
  RUN_TABLE(explore_cases);
}
END_TEST

/* ---- the views of a recorded run, and `iosim step` ---- */
static const cli_case_t view_cases[] = {
    {"../iosim run " L2 " --quiet --db $T/t.db", 0, {"trace: run 1 in "}},
    {"../iosim run " L10 " --quiet --db $T/p.db", 0, {"trace: run 1 in "}},
    {"../iosim irp --db $T/t.db --irp 1 --run 0", 2, {"iosim irp: --run needs a run number (1, 2, ...), not '0'"}},
    {"../iosim irp --db $T/t.db", 2, {"usage: iosim irp"}},
    {"../iosim irp --db $T/t.db --irp r1 extra", 2, {"usage: iosim irp"}},
    {"../iosim irp --bogus", 2, {"usage: iosim irp"}},
    {"../iosim irp --help", 0, {"usage: iosim irp"}},
    {"../iosim irp --db $T/t.db --irp r1 --at '#99999'", 2, {"iosim irp: "}},
    {"../iosim irp --db $T/t.db --irp nosuch", 2, {"/t.db: "}},
    {"../iosim irp --db $T/t.db --irp 9", 2, {""}},
    {"../iosim irp --db $T/t.db --irp r1 --at 1.5", 2, {"(a bare number could mean either)"}},
    {"../iosim irp --db $T/t.db --irp r1 --at 1.5parsecs", 2, {"not '1.5parsecs'\n"}},
    {"../iosim irp --irp r1", 2, {"usage: iosim irp"}},
    {"../iosim devstack --db $T/t.db --device nosuch", 2, {"/t.db: "}},
    {"../iosim devstack --db $T/t.db --device disk0", 0, {"disk0"}},
    {"../iosim devstack --db $T/t.db --run x", 2, {"iosim devstack: --run needs a run number"}},
    {"../iosim port --db $T/p.db --port nosuch", 2, {"/p.db: "}},
    {"../iosim port --db $T/p.db", 0, {""}},
    {"../iosim thread --db $T/t.db --thread nosuch", 2, {"/t.db: "}},
    {"../iosim thread --db $T/t.db --bogus", 2, {"usage: iosim thread"}},
    {"../iosim dpcs --db $T/t.db --bogus", 2, {"usage: iosim dpcs"}},
    {"../iosim irpfind --db $T/t.db --bogus", 2, {"usage: iosim irpfind"}},
    {"../iosim irpfind --db $T/none.db", 2, {"none.db"}},
    {"../iosim dpcs --db $T/t.db --at '#5'", 0, {""}},
    /* why */
    {"../iosim why --db $T/t.db --irp r1", 2, {"usage: iosim why"}},
    {"../iosim why --db $T/t.db --field PendingReturned", 2, {"usage: iosim why"}},
    {"../iosim why --db $T/t.db --irp r1 --event done --field Cancel", 2, {"usage: iosim why"}},
    {"../iosim why --db $T/t.db --thread app extra", 2, {"usage: iosim why"}},
    {"../iosim why --bogus", 2, {"usage: iosim why"}},
    {"../iosim why --help", 0, {"usage: iosim why"}},
    {"../iosim why --db $T/t.db --run x --thread app", 2, {"iosim why: --run needs a run number"}},
    {"../iosim why --db $T/t.db --irp r1 --field Bogus", 2,
     {"iosim why: unknown field 'Bogus' (IoStatus.Status, IoStatus.Information, PendingReturned, CurrentLocation, "
      "Cancel, loc[N].Control)"}},
    {"../iosim why --db $T/t.db --irp r1 --field IoStatus.Status --at '#1'", 2,
     {"iosim why: IRP r1 does not exist yet at step #1\n"}},
    {"../iosim why --db $T/t.db --irp r1 --field 'loc[9].Control'", 2,
     {"iosim why: IRP r1 has 3 stack locations, so no loc[9]\n"}},
    {"../iosim why --db $T/t.db --irp r1 --field 'loc[2].Control'", 0, {""}},
    {"../iosim why --db $T/t.db --irp nosuch --field Cancel", 2, {"/t.db: "}},
    {"../iosim why --db $T/t.db --event done", 0, {"done"}},
    {"../iosim why --db $T/t.db --event nosuch", 2, {"/t.db: "}},
    {"../iosim why --db $T/t.db --thread app", 0, {"app"}},
    {"../iosim why --db $T/none.db --thread app", 2, {"none.db"}},
    /* step */
    {"../iosim step --seed x " L2, 2, {"iosim step: --seed needs a number, not 'x'"}},
    {"../iosim step --seed '' " L2, 2, {"iosim step: --seed needs a number, not ''"}},
    {"../iosim step --bogus " L2, 2, {"usage: iosim step"}},
    {"../iosim step --help", 0, {"usage: iosim step"}},
    {"../iosim step " L2 " --run 1", 2, {"usage: iosim step"}},
    {"../iosim step", 2, {"usage: iosim step"}},
    {"../iosim step --db $T/t.db " L2, 2, {"usage: iosim step"}},
    {"../iosim step " L2 " " L2, 2, {"usage: iosim step"}},
    {"../iosim step --db $T/t.db --run 0", 2, {"iosim step: --run needs a run number"}},
    {"../iosim step --db $T/t.db a b", 2, {"usage: iosim step"}},
    {"../iosim step " L2 " --at '#3'", 2, {"usage: iosim step"}},
    {"../iosim step " FX "bad.iosim", 2, {"fixtures/cli-cover/bad.iosim:3:1: unknown statement"}},
    {"../iosim step --db $T/none.db < /dev/null", 2, {"none.db"}},
    {"printf 'n\\nb\\nb 100\\nb\\nn 3\\nj 5\\nj #7\\nj 1.5\\nj\\nirp\\nirp r1\\nirp nosuch\\ncpu\\nthread\\n"
     "thread app\\nthread nosuch\\nport\\nport nosuch\\ndevstack\\ndevstack disk0\\ndevstack nosuch\\nall\\nirpfind\\n"
     "why\\nwhy r1\\nwhy r1 IoStatus.Status\\nwhy nosuch Cancel\\nwhy r1 Bogus\\nhelp\\nfrob\\nj 1s\\nn\\nnext\\n"
     "back\\nn 0\\nh\\n?\\njump 3\\ncpus\\ndpcs\\nquit\\nn\\n' | "
     "../iosim step " L2 " --seed 7 --include-dir ../scenarios",
     0,
     {"../scenarios/lessons/02-async-read.iosim: run 1, ", "(before the first step)\n",
      "(the end of the run: step #", "unknown command 'frob' (help lists them)\n"}},
    {"printf 'j\\nirp\\nwhy r1\\nwhy r1 Bogus\\nj 1.5\\n' | ../iosim step " L2, 0,
     {"jump needs a step: j 48\n", "irp needs an IRP: irp r1\n", "why needs an IRP and a field: why r1 IoStatus.Status\n",
      "unknown field 'Bogus'\n"}},
    {"printf 'irp nosuch\\nthread nosuch\\nport nosuch\\ndevstack nosuch\\nwhy nosuch Cancel\\nhelp\\n' | "
     "../iosim step --db $T/t.db --at '#5'",
     0, {"/t.db: run 1, ", "n [K] next, b [K] back"}},
};

START_TEST(view_paths) {
  if (!have_cli()) return;
  RUN_TABLE(view_cases);
}
END_TEST

/* ---- cc, html, quiz ---- */
static const cli_case_t misc_cases[] = {
    {"../iosim cc -o", 2, {"iosim cc: -o needs a file name\n"}},
    {"../iosim cc --bogus", 2, {"iosim cc: unknown option '--bogus'\nusage: iosim cc"}},
    {"../iosim cc x.txt -o y.so", 2, {"iosim cc: 'x.txt' is not a C source (.c)\n"}},
    {"../iosim cc .c -o y.so", 2, {"iosim cc: '.c' is not a C source (.c)\n"}},
    {"../iosim cc a.c", 2, {"usage: iosim cc"}},
    {"../iosim cc -o a.so", 2, {"usage: iosim cc"}},
    {"../iosim cc a.c -o a.dll", 2, {"iosim cc: the output is a shared object: name it FILE.so, not 'a.dll'\n"}},
    {"../iosim cc a.c -o .so", 2, {"name it FILE.so, not '.so'"}},
    {"../iosim cc -h", 0, {"usage: iosim cc"}},
    {"../iosim cc --cflags", 0, {" -std=gnu11 -fshort-wchar -Wno-multichar -Wno-unknown-pragmas\n"}},
    {"printf 'int x = ;\\n' > $T/broken.c && ../iosim cc $T/broken.c -o $T/b.so -DX -I $T -D Y=1 -O0 -g && echo built", 2,
     {"iosim cc: ", "!built"}},
    {"ls $T", 0, {"broken.c\n", "!b.so"}},
    /* html */
    {"../iosim html --seed x " L2 " -o $T/h.html", 2, {"iosim html: --seed needs a number, not 'x'"}},
    {"../iosim html --db $T/t.db --run 0 -o $T/h.html", 2, {"iosim html: --run needs a run number (1, 2, ...), not '0'"}},
    {"../iosim html --bogus", 2, {"usage: iosim html"}},
    {"../iosim html --seed '' " L2 " -o $T/h.html", 2, {"iosim html: --seed needs a number, not ''"}},
    {"../iosim html --db $T/t.db --run -1 -o $T/h.html", 2, {"iosim html: --run needs a run number (1, 2, ...), not '-1'"}},
    {"../iosim html --db $T/t.db --run 9999999999999999999 -o $T/h.html", 2,
     {"iosim html: --run needs a run number (1, 2, ...), not '9999999999999999999'"}},
    {"../iosim html --db $T/t.db --replay 1:0:1:- -o $T/h.html", 2, {"usage: iosim html"}},
    {"../iosim html " L2 " " L2 " -o $T/h.html", 2, {"usage: iosim html"}},
    {"../iosim html " L2 " --db $T/t.db -o $T/h.html", 2, {"usage: iosim html"}},
    {"../iosim html " L2, 2, {"usage: iosim html"}},
    {"../iosim html " L2 " --seed 1 --replay 1:0:1:- -o $T/h.html", 2,
     {"iosim html: a replay token carries its seed; --seed does not go with it\n"}},
    {"../iosim html --db $T/t.db --seed 1 -o $T/h.html", 2, {"usage: iosim html"}},
    {"../iosim html --run 1 " L2 " -o $T/h.html", 2, {"usage: iosim html"}},
    {"../iosim html " FX "bad.iosim -o $T/h.html", 2, {"fixtures/cli-cover/bad.iosim:3:1: unknown statement"}},
    {"../iosim html " FC " --replay nonsense -o $T/h.html", 2, {"iosim run: not an iosim replay token"}},
    {"../iosim html " FC " -I ../scenarios --replay " TOK "999 -o $T/h.html", 2,
     {"iosim html: the token does not fit this run: the schedule names choice point 999 but the run had only "}},
    {"../iosim html " FC " --replay " TOK "0,2 -o $T/h.html && grep -c 'DRIVER_VERIFIER_IOMANAGER_VIOLATION' $T/h.html",
     0, {""}},
    {"../iosim html " FX "ceiling.iosim -o $T/h.html", 2, {"fixtures/cli-cover/ceiling.iosim:4:25: limit reached"}},
    {"../iosim html " L2 " -o /nonexistent/dir/h.html", 2, {"/nonexistent/dir/h.html"}},
    {"../iosim run " L2 " --quiet --db $T/t.db", 0, {"trace: run 1 in "}},
    {"../iosim html --db $T/t.db -o $T/h2.html && test -s $T/h2.html && echo written", 0, {"written\n"}},
    {"../iosim html --db $T/none.db -o $T/h3.html", 2, {"none.db"}},
    /* The recorded scenario gone or changed: the page is written without
       the explanations a run of it would give. */
    {"cp " FX "time.iosim $T/s.iosim && ../iosim run $T/s.iosim --quiet --db $T/s.db && cp " FX "ceiling.iosim "
     "$T/s.iosim && ../iosim html --db $T/s.db -o $T/s1.html && test -s $T/s1.html && echo written",
     0, {"/s.iosim:4:25: limit reached", "written\n"}},
    {"cp " FX "steps.iosim $T/s.iosim && ../iosim html --db $T/s.db -o $T/s2.html && test -s $T/s2.html && echo written", 0,
     {"written\n"}},
    {"rm $T/s.iosim && ../iosim html --db $T/s.db -o $T/s3.html && test -s $T/s3.html && echo written", 0,
     {"written\n"}},
    /* grade: the answer file's `blank` line, the printed table filled in */
    {"../iosim grade " L2, 2, {"usage: iosim grade FILE ANSWERS"}},
    {"../iosim grade --bogus " L2 " $T/a", 2, {"usage: iosim grade FILE ANSWERS"}},
    {"../iosim grade --help", 0, {"usage: iosim grade FILE ANSWERS"}},
    {"../iosim grade --blank bogus " L2 " $T/a", 2, {"iosim grade: --blank: 'bogus' is no column of the step table"}},
    {"../iosim grade --seed x " L2 " $T/a", 2, {"iosim grade: --seed needs a number, not 'x'"}},
    {"../iosim grade --blank-after 5x " L2 " $T/a", 2, {"iosim grade: --blank-after needs a number, not '5x'"}},
    {"../iosim grade " L2 " $T/none", 2, {"/none: cannot read the answers\n"}},
    {"printf '#31 PASSIVE\\n' > $T/a1 && ../iosim grade " L2 " $T/a1", 2,
     {"/a1:1:1: no `blank` line says which cells were blanked: copy the one `iosim run --blank` printed, or give "
      "--blank\n"}},
    {"printf 'blank\\n' > $T/a2 && ../iosim grade " L2 " $T/a2", 2,
     {"/a2:1:1: the blank line names the columns blanked: blank irql,thread after 30 seed 7\n"}},
    {"printf 'blank irql during 5\\n' > $T/a3 && ../iosim grade " L2 " $T/a3", 2,
     {"/a3:1:12: 'during': the blank line goes on with `after N` and `seed S`\n"}},
    {"printf 'blank irql after\\n' > $T/a4 && ../iosim grade " L2 " $T/a4", 2,
     {"/a4:1:12: 'after': the blank line goes on with `after N` and `seed S`\n"}},
    {"printf 'blank irql after x1\\n' > $T/a5 && ../iosim grade " L2 " $T/a5", 2,
     {"/a5:1:18: 'x1' is not a number\n"}},
    {"printf 'blank irql after 60\\n' > $T/a6 && ../iosim grade " L2 " $T/a6", 1,
     {"  #61    no answer irql APC\n", "; 0 of 8 rows right, 8 not answered\n"}},
    {"../iosim grade -I ../scenarios --seed 7 " L2 " $T/a6", 1, {"; 0 of 8 rows right, 8 not answered\n"}},
    {"../iosim grade --blank-after 3 fixtures/cli-cover/none.iosim $T/a6", 2, {"fixtures/cli-cover/none.iosim: "}},
    {"../iosim grade --blank-after 0 " FX "ceiling.iosim $T/a6", 2, {"fixtures/cli-cover/ceiling.iosim:4:25: limit reached"}},
    {"../iosim run " L2 " --blank-after 30 > $T/sheet && sed 's/?/X/g' $T/sheet > $T/t1 && ../iosim grade " L2 " $T/t1",
     1, {"grading ", "/t1: blank irql,frame,thread,status after 30 seed 7\n", "(not X)", " - why: "}},
    /* a row wrapped under its detail goes on in the next line */
    {"sed -e 's/?/X/g' -e 's/^\\(  #33 .*\\) \\(transfer takes\\)/\\1\\n                         \\2/' $T/sheet > $T/t2 && "
     "grep -c '^                         transfer takes' $T/t2 && ../iosim grade " L2 " $T/t2",
     1, {"1\n", "  #33    wrong"}},
    {"sed -e 's/?/X/g' -e 's/ hw-start / hw-begin /' $T/sheet > $T/t3 && ../iosim grade " L2 " $T/t3", 2,
     {"/t3:", ": 'hw-begin' where the run has 'hw-start' (was the table printed with another seed?)\n"}},
    {"sed -e 's/?/X/g' -e 's/^\\(  #33 .*\\)$/\\1 extra/' $T/sheet > $T/t4 && ../iosim grade " L2 " $T/t4", 2,
     {": step #33: this line has 14 words, the row as printed 13 (one value per ?, or the whole row; a table printed "
      "with --width wraps rows: print it with --width 0)\n"}},
    {"sed -e 's/(?,/(X/' -e 's/?/X/g' $T/sheet > $T/t5 && ../iosim grade " L2 " $T/t5", 2,
     {": 'IoCompleteRequest(X' does not fill in 'IoCompleteRequest(?,'\n"}},
    /* quiz */
    {"../iosim quiz --seed x", 2, {"iosim quiz: --seed wants a number, not 'x'"}},
    {"../iosim quiz --seed 99999999999999999999999", 2, {"--seed wants a number"}},
    {"../iosim quiz --seed 1 --topic nosuch", 2, {"iosim quiz: unknown topic 'nosuch' ("}},
    {"../iosim quiz --seed 1 --level 0", 2, {"iosim quiz: --level is "}},
    {"../iosim quiz --seed 1 --level x", 2, {"iosim quiz: --level is "}},
    {"../iosim quiz --seed 1 --format xml", 2, {"iosim quiz: --format is text, json or prairielearn\n"}},
    {"../iosim quiz --seed 1 extra", 2, {"usage: iosim quiz"}},
    {"../iosim quiz --bogus", 2, {"usage: iosim quiz"}},
    {"../iosim quiz --seed 1 -o /nonexistent/dir", 2, {"iosim quiz: "}},
    {"mkdir -p $T/q2/quiz-1.iosim && ../iosim quiz --seed 1 -o $T/q2", 2, {"iosim quiz: cannot write ", "/q2/quiz-1.iosim\n"}},
    {"../iosim quiz --seed -1", 2, {"iosim quiz: --seed wants a number, not '-1'"}},
    {"../iosim quiz --seed 1 --format json", 0, {"{"}},
    {"../iosim quiz --seed 1 --format prairielearn", 0, {"\"params\""}},
    {"mkdir $T/q && ../iosim quiz --seed 1 --answers -o $T/q && ls $T/q", 0, {"-answers.iosim\n"}},
    {"TMPDIR= ../iosim quiz --seed 2", 0, {""}},
};

START_TEST(misc_paths) {
  if (!have_cli()) return;
  RUN_TABLE(misc_cases);
}
END_TEST


/* ---- the explorer through its C interface: what the printers say of a
   report, and the strategies at the edges of their options ---- */

/* What `print` writes for r, as text (caller frees). */
static char *printed(void (*print)(FILE *, const xp_report_t *), const xp_report_t *r) {
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  ck_assert_ptr_nonnull(m);
  print(m, r);
  fclose(m);
  return text;
}

static void says(const char *text, const char *want) {
  ck_assert_msg(strstr(text, want) != NULL, "wanted \"%s\" in:\n%s", want, text);
}

START_TEST(report_printers_say_what_the_report_holds) {
  /* A sharded search stopped by Ctrl-C, PCT's and random's coverage, too
     many outcomes to list, several `sometimes` lines that never held. */
  xp_report_t r = {.strategy = XP_DFS, .bound = 2, .explored = 1234567, .pruned = 3, .nshards = 4, .shard = 2,
                   .stopped_by = "interrupted", .sometimes_never = 2, .finding_rules = 1, .finding_schedules = 1,
                   .other_outcomes = 5, .seconds = 0};
  char *t = printed(xp_print_coverage, &r);
  ck_assert_str_eq(t, "shard 2 of 4: incomplete: stopped by Ctrl-C after 1,234,567 schedules; the shard was not "
                      "covered (bound 2)\n");
  free(t);
  t = printed(xp_print_summary, &r);
  says(t, "schedules: 1,234,567 explored (0 beyond the bound, 3 pruned as equivalent), outcomes: 1 distinct");
  says(t, " and 2 `sometimes` lines held in none, findings: 1 rule in 1 schedule, ");
  says(t, "time 0.00 s (0 schedules/s)\n");
  free(t);
  r.stopped_by = "time-limit";
  r.strategy = XP_RANDOM;
  r.nshards = 0;
  t = printed(xp_print_coverage, &r);
  ck_assert_str_eq(t, "incomplete: stopped by time-limit after 1,234,567 schedules; the space was not covered\n");
  free(t);
  r.stopped_by = NULL;
  r.seconds = 2;
  t = printed(xp_print_summary, &r);
  says(t, "explored (random), ");
  says(t, "(617,285 schedules/s)\n");
  free(t);
  r.strategy = XP_DFS;
  r.bound = 1;
  r.pruning = false;
  t = printed(xp_print_coverage, &r);
  ck_assert_str_eq(t, "covered: every schedule with at most 1 preemption (not the ones with more)\n");
  free(t);
  r.bound = XP_BOUND_NONE;
  t = printed(xp_print_summary, &r);
  says(t, "explored (3 pruned as equivalent)");
  free(t);
}
END_TEST

START_TEST(outcomes_and_expectations_print_their_counts) {
  scn_error_t err;
  scn_t *sc = scn_load(FC, NULL, &err);
  ck_assert_ptr_nonnull(sc);
  char ta[] = "expect a", tb[] = "expect sometimes b", tc[] = "expect c", td[] = "expect d";
  xp_expect_t e[4] = {{.line = 7, .text = ta, .held = 2, .failed = 1, .first_failure = 9},
                      {.line = 8, .text = tb, .sometimes = true, .failed = 3},
                      {.line = 9, .text = tc, .held = 3, .first_failure = -1},
                      {.line = 10, .text = td, .failed = 2, .first_failure = -1}};
  xp_report_t r = {.strategy = XP_DFS, .complete = true, .expects = e, .nexpects = 4, .other_outcomes = 1234};
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  xp_print_outcomes(m, sc, &r);
  xp_print_expectations(m, sc, &r, false);
  fclose(m);
  /* An outcome index past the table names no token; passing lines are
     left out when not verbose; a complete search fails a `sometimes`
     line that never held (an incomplete one leaves it OPEN). */
  says(text, "  ...  1,234 schedules ended in other outcomes (too many distinct to list)\n");
  says(text, ":7: expect a\n      failed in 1 of 3 schedules\n");
  says(text, "  FAIL fixtures/scenarios/explore-forgotten-cancel.iosim:8: expect sometimes b\n      held in none of the 3 "
             "schedules\n");
  ck_assert_ptr_null(strstr(text, "expect c"));
  says(text, ":10: expect d\n      failed in 2 of 2 schedules\n");
  free(text);
  xp_estimate_t est = {.schedules = 1234.4, .plus_minus = 10.6, .seconds = 0.25, .samples = 200};
  m = open_memstream(&text, &len);
  xp_print_estimate(m, &est);
  fclose(m);
  ck_assert_str_eq(text, "estimate: about 1,234 schedules (plus or minus 11), about 0.2 seconds, before pruning (200 "
                         "samples)\n");
  free(text);
  scn_free(sc);
}
END_TEST

START_TEST(strategies_at_the_edges_of_their_options) {
  scn_error_t err;
  scn_t *sc = scn_load(FC, NULL, &err);
  ck_assert_ptr_nonnull(sc);
  xp_opts_t o;
  xp_report_t r;
  /* Ctrl-C before the first schedule: nothing explored, and it says so. */
  static volatile sig_atomic_t stop = 1;
  xp_opts_default(&o);
  o.interrupt = &stop;
  ck_assert_int_eq(xp_explore(sc, &o, &r, &err), SIM_OK);
  ck_assert_str_eq(r.stopped_by, "interrupted");
  ck_assert_uint_eq(r.explored, 0);
  ck_assert(!r.complete);
  ck_assert_int_eq(xp_exit_status(&r), 130);
  xp_report_free(&r);
  o.strategy = XP_RANDOM;
  ck_assert_int_eq(xp_explore(sc, &o, &r, &err), SIM_OK);
  ck_assert_str_eq(r.stopped_by, "interrupted");
  xp_report_free(&r);
  /* PCT with depth 0 (no change point) and beyond 17 (16 at most), its
     seed taken from the scenario's. */
  for (int depth = 0; depth <= 40; depth += 40) {
    xp_opts_default(&o);
    o.strategy = XP_PCT;
    o.depth = depth;
    o.runs = 4;
    ck_assert_int_eq(xp_explore(sc, &o, &r, &err), SIM_OK);
    ck_assert_uint_eq(r.explored, 4);
    ck_assert(r.complete);
    ck_assert_int_eq(r.pct_depth, depth);
    xp_report_free(&r);
  }
  /* Only the first failing schedule kept; the others counted. */
  xp_opts_default(&o);
  o.keep_failures = 1;
  o.no_minimise = true;
  ck_assert_int_eq(xp_explore(sc, &o, &r, &err), SIM_OK);
  ck_assert_uint_eq(r.nfailures, 1);
  ck_assert_uint_eq(r.failures_not_kept, r.failing - 1);
  ck_assert_uint_gt(r.failures_not_kept, 0);
  xp_report_free(&r);
  /* A token names the option where it is not 1; one that names a choice
     point the run never reaches does not fit it. */
  uint32_t at[] = {3, 9999}, opt[] = {1, 2};
  xp_schedule_t s = {.at = at, .opt = opt, .n = 2, .cap = 2, .hash = scn_hash(sc), .seed = 1};
  char *tok = xp_token(&s), want[64];
  snprintf(want, sizeof want, "1:%016llx:1:3,9999.2", (unsigned long long)scn_hash(sc));
  ck_assert_str_eq(tok, want);
  free(tok);
  scn_result_t res;
  bool diverged = false;
  ck_assert_int_eq(xp_run_schedule(sc, &s, NULL, &res, &diverged, &err), SIM_OK);
  ck_assert(diverged);
  scn_result_free(&res);
  s.n = 1;
  ck_assert_int_eq(xp_run_schedule(sc, &s, NULL, &res, NULL, &err), SIM_OK);
  ck_assert_int_eq(res.outcome, SIM_RUN_BUGCHECK); /* 3: the preemption that forgets the cancel routine */
  scn_result_free(&res);
  /* The estimate of a random search samples without a bound. */
  xp_opts_default(&o);
  o.strategy = XP_RANDOM;
  o.seed = 9;
  xp_estimate_t e;
  ck_assert_int_eq(xp_estimate(sc, &o, 20, &e, NULL), SIM_OK);
  ck_assert_uint_eq(e.samples, 20);
  ck_assert(e.schedules >= 1);
  scn_free(sc);
}
END_TEST

/* ---- Ctrl-C: a run writing its trace stops, says where the steps are,
   and exits 130 (a second apart, so it lands mid-run; --max-wall bounds
   the run should it be missed) ---- */
static const cli_case_t signal_cases[] = {
    {"../iosim run " FX "wall.iosim --quiet --max-wall 20 --db $T/w.db & pid=$!; sleep 1; kill -INT $pid; wait $pid", 130,
     {"interrupted: run 1 in ", "/w.db holds the steps up to the interruption\n"}},
};

START_TEST(ctrl_c_paths) {
  if (!have_cli()) return;
  RUN_TABLE(signal_cases);
}
END_TEST

TEST_SUITE(cli_cover_signals_suite)
static Suite *cli_cover_signals_suite(void) {
  Suite *s = suite_create("cli_cover_signals");
  TCase *tc = tcase_create("signals");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, ctrl_c_paths);
  suite_add_tcase(s, tc);
  return s;
}

TEST_SUITE(cli_cover_explore_suite)
static Suite *cli_cover_explore_suite(void) {
  Suite *s = suite_create("cli_cover_explore");
  TCase *tc = tcase_create("explore");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, report_printers_say_what_the_report_holds);
  tcase_add_test(tc, outcomes_and_expectations_print_their_counts);
  tcase_add_test(tc, strategies_at_the_edges_of_their_options);
  suite_add_tcase(s, tc);
  return s;
}

TEST_SUITE(cli_cover_suite)
static Suite *cli_cover_suite(void) {
  Suite *s = suite_create("cli_cover");
  TCase *tc = tcase_create("cli");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, run_paths);
  tcase_add_test(tc, limit_paths);
  tcase_add_test(tc, check_paths);
  tcase_add_test(tc, db_paths);
  tcase_add_test(tc, explore_paths);
  tcase_add_test(tc, view_paths);
  tcase_add_test(tc, misc_paths);
  suite_add_tcase(s, tc);
  return s;
}
