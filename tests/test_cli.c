/*
 * test_cli.c - the command line as a user meets it: a scenario that does
 * not load leaves a "bad input" run in the trace database (and exit 2),
 * which never becomes the default run of a reader; a good run is recorded
 * with its outcome; `iosim irp` reads it back (by number or by name, at a
 * time with its unit); the trace table numbers its steps and wraps to the
 * width asked; readers leave no -wal / -shm files; `check` adds up; an
 * unknown export format is refused; the end-of-run account is printed after
 * the outcome.  Skipped (with a note) when ../iosim
 * is not built, as under `make asan`.
 */
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string.h>

#include "testlib.h"

static int run(const char *cmd) {
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct text {
  char s[1024];
} text_t;

/* The first column of the first row, as text ("" if none). */
static text_t one_text(const char *db, const char *sql) {
  text_t t = {""};
  char *buf = t.s;
  sqlite3 *h;
  if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return t;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_text(st, 0))
    snprintf(buf, sizeof t.s, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return t;
}

static bool have_cli(void) {
  if (access("../iosim", X_OK) == 0) return true;
  fprintf(stderr, "test_cli: ../iosim is not built, skipping\n");
  return false;
}

START_TEST(bad_input_is_recorded) {
  if (!have_cli()) return;
  char dir[] = "/tmp/iosim-cliXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char db[256], cmd[512];
  snprintf(db, sizeof db, "%s/t.db", dir);
  snprintf(cmd, sizeof cmd, "../iosim run bad/scenarios/unknown-statement.iosim --db %s >/dev/null 2>&1", db);
  ck_assert_int_eq(run(cmd), 2);
  ck_assert_str_eq(one_text(db, "SELECT outcome FROM run WHERE id = 1").s, "bad input");
  ck_assert_ptr_nonnull(strstr(one_text(db, "SELECT message FROM run WHERE id = 1").s, "unknown statement 'devise'"));
  ck_assert_str_eq(one_text(db, "SELECT count(*) FROM event").s, "0");
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(run(cmd), 0);
}
END_TEST

START_TEST(good_run_then_irp) {
  if (!have_cli()) return;
  char dir[] = "/tmp/iosim-cliXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char db[256], cmd[512];
  snprintf(db, sizeof db, "%s/t.db", dir);
  snprintf(cmd, sizeof cmd, "../iosim run ../scenarios/lessons/02-async-read.iosim --quiet --db %s >/dev/null", db);
  ck_assert_int_eq(run(cmd), 0);
  ck_assert_int_eq(run(cmd), 0); /* a second run in the same file */
  ck_assert_str_eq(one_text(db, "SELECT count(*) FROM run WHERE outcome = 'ok'").s, "2");
  snprintf(cmd, sizeof cmd, "../iosim irp --db %s --run 2 --irp 2 --at 204us | grep -q '^>'", db);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "../iosim irp --db %s --run 9 --irp 2 >/dev/null 2>&1", db);
  ck_assert_int_eq(run(cmd), 2);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(run(cmd), 0);
}
END_TEST

/* What was left at the end: `run` prints it after the outcome; `check`
   prints it for a seed that fails (here: findings nobody predicted, with
   --no-verify off), and not for a file whose expectations all hold. */
START_TEST(account_is_printed) {
  if (!have_cli()) return;
  char dir[] = "/tmp/iosim-cliXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char out[64], cmd[2048];
  snprintf(out, sizeof out, "%s/out.txt", dir);
  snprintf(cmd, sizeof cmd, "../iosim run ../scenarios/bugs/irp-leaked.iosim --quiet > %s", out);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd,
           "grep -A1 '^outcome: limit reached' %s | grep -q '^at the end: 2 IRPs still allocated, 1 thread still waiting$'"
           " && grep -q '^  IRP 2 (r1) of app: completed (step #[0-9]*) with PendingReturned=0 and no stage 2 queued:"
           " lost \\[irp-leaked\\]$' %s && grep -q '^  thread app sleeps' %s", out, out, out);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "../iosim check ../scenarios/bugs/irp-leaked.iosim > %s", out);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "grep -q '^at the end:' %s", out);
  ck_assert_int_eq(run(cmd), 1);
  /* Without its expect lines the same scenario fails, and shows the account. */
  snprintf(cmd, sizeof cmd, "grep -v '^expect' ../scenarios/bugs/irp-leaked.iosim > %s/scenarios/bugs/x.iosim", dir);
  char mk[512];
  snprintf(mk, sizeof mk, "mkdir -p %s/scenarios/lib %s/scenarios/bugs && cp ../scenarios/lib/disk.iosim %s/scenarios/lib/",
           dir, dir, dir);
  ck_assert_int_eq(run(mk), 0);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "../iosim check %s/scenarios/bugs/x.iosim > %s", dir, out);
  ck_assert_int_eq(run(cmd), 1);
  snprintf(cmd, sizeof cmd, "grep -q '^at the end: 2 IRPs still allocated' %s && grep -q '^FAIL .*0 failed; 4 findings no .expect finding. line predicts$' %s", out, out);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(run(cmd), 0);
}
END_TEST

/* Runs `cmd` (stderr joined to stdout), returns its exit status and its
   output in *out (caller frees). */
static int capture(const char *cmd, char **out) {
  char full[1600];
  snprintf(full, sizeof full, "%s 2>&1", cmd);
  FILE *p = popen(full, "r");
  ck_assert_ptr_nonnull(p);
  size_t cap = 4096, n = 0;
  char *s = malloc(cap);
  size_t got;
  while ((got = fread(s + n, 1, cap - n - 1, p)) > 0) {
    n += got;
    if (cap - n < 2) s = realloc(s, cap *= 2);
  }
  s[n] = '\0';
  int st = pclose(p);
  *out = s;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct tmp {
  char dir[32];
  char db[96];
} tmp_t;

static void tmp_begin(tmp_t *t) {
  snprintf(t->dir, sizeof t->dir, "/tmp/iosim-cliXXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(t->dir));
  snprintf(t->db, sizeof t->db, "%s/t.db", t->dir);
}

static void tmp_end(const tmp_t *t) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
  ck_assert_int_eq(run(cmd), 0);
}

static const char lesson2[] = "../scenarios/lessons/02-async-read.iosim";

/* The table numbers its steps as findings and `order` facts name them, and
   --width wraps every line, --explain's sentences included. */
START_TEST(table_has_step_numbers_and_wraps) {
  if (!have_cli()) return;
  char cmd[512], *out;
  snprintf(cmd, sizeof cmd, "../iosim run %s --explain --width 0", lesson2);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_ptr_nonnull(strstr(out, "\n step           time cpu"));
  /* The order fact names dispatch(disk0, r1) "at #31": row #31 is that step. */
  const char *fact = strstr(out, "dispatch(disk0, r1) at #");
  ck_assert_ptr_nonnull(fact);
  int n = atoi(fact + strlen("dispatch(disk0, r1) at #"));
  char row[32], num[16];
  snprintf(num, sizeof num, "#%d", n);
  snprintf(row, sizeof row, "\n%5s ", num);
  const char *r = strstr(out, row);
  ck_assert_msg(r != NULL, "no row %s", row + 1);
  const char *eol = strchr(r + 1, '\n');
  ck_assert_ptr_nonnull(strstr(r, "disk0"));
  ck_assert_msg(strstr(r, "dispatch ") && strstr(r, "dispatch ") < eol, "row #%d is not disk0's dispatch", n);
  /* Without wrapping, --explain's lines run long; with --width 100 none does. */
  size_t longest = 0, cur = 0;
  for (const char *p = out; *p; p++) cur = *p == '\n' ? (longest = cur > longest ? cur : longest, 0) : cur + 1;
  ck_assert_uint_gt(longest, 150);
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim run %s --explain --width 100", lesson2);
  ck_assert_int_eq(capture(cmd, &out), 0);
  longest = cur = 0;
  for (const char *p = out; *p; p++) cur = *p == '\n' ? (longest = cur > longest ? cur : longest, 0) : cur + 1;
  ck_assert_uint_le(longest, 100);
  /* Nothing lost by the wrapping: every explanation still starts, and ends. */
  ck_assert_ptr_nonnull(strstr(out, "\\_ IoCallDriver moves the IRP down"));
  ck_assert_ptr_nonnull(strstr(out, "expectations: "));
  free(out);
}
END_TEST

/* `iosim irp` takes the scenario's name for an IRP, as `viz` does, and a
   time only with its unit. */
START_TEST(irp_by_name_and_time_units) {
  if (!have_cli()) return;
  tmp_t t;
  tmp_begin(&t);
  char cmd[512], *a, *b;
  snprintf(cmd, sizeof cmd, "../iosim run %s --quiet --db %s", lesson2, t.db);
  ck_assert_int_eq(capture(cmd, &a), 0);
  free(a);
  snprintf(cmd, sizeof cmd, "../iosim irp --db %s --irp r1 --at 204.6us", t.db);
  ck_assert_int_eq(capture(cmd, &a), 0);
  snprintf(cmd, sizeof cmd, "../iosim irp --db %s --irp 2 --at 204600ns", t.db);
  ck_assert_int_eq(capture(cmd, &b), 0);
  ck_assert_str_eq(a, b);
  ck_assert_ptr_nonnull(strstr(a, "IRP 2 (r1) of run 1, as of 204."));
  free(a);
  free(b);
  snprintf(cmd, sizeof cmd, "../iosim irp --db %s --irp r1 --at 204.6", t.db);
  ck_assert_int_eq(capture(cmd, &a), 2);
  ck_assert_msg(strstr(a, "with its unit") && strstr(a, "204.6us"), "%s", a);
  free(a);
  snprintf(cmd, sizeof cmd, "../iosim irp --db %s --irp nope", t.db);
  ck_assert_int_eq(capture(cmd, &a), 2);
  ck_assert_msg(strstr(a, "no IRP named 'nope'") != NULL, "%s", a);
  free(a);
  tmp_end(&t);
}
END_TEST

/* Reading a trace (irp, viz, export) leaves nothing beside it, and a file
   that is not a trace is refused without talk of writing. */
START_TEST(readers_leave_no_files) {
  if (!have_cli()) return;
  tmp_t t;
  tmp_begin(&t);
  char cmd[1400], *out;
  snprintf(cmd, sizeof cmd,
           "../iosim run %s --quiet --db %s && ../iosim irp --db %s --irp r1 >/dev/null &&"
           " ../iosim viz --db %s --irp r1 -o %s/a.svg && ../iosim viz --db %s --list >/dev/null &&"
           " ../iosim export --db %s --format perfetto -o %s/a.json && ls %s",
           lesson2, t.db, t.db, t.db, t.dir, t.db, t.db, t.dir, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_msg(strstr(out, "t.db\n") && !strstr(out, "-wal") && !strstr(out, "-shm"), "left: %s", out);
  free(out);
  snprintf(cmd, sizeof cmd, "sqlite3 %s/other.db 'CREATE TABLE grades(student TEXT, mark INTEGER)' &&"
                            " ../iosim irp --db %s/other.db --irp 1", t.dir, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_msg(strstr(out, "not an iosim trace") && !strstr(out, "refusing to write"), "%s", out);
  free(out);
  tmp_end(&t);
}
END_TEST

/* A scenario that does not load leaves a "bad input" run; readers skip it
   by default and refuse it, exit 2, when asked for it. */
START_TEST(bad_input_run_is_never_the_default) {
  if (!have_cli()) return;
  tmp_t t;
  tmp_begin(&t);
  char cmd[512], *out;
  snprintf(cmd, sizeof cmd, "../iosim run bad/scenarios/unknown-statement.iosim --db %s", t.db);
  ck_assert_int_eq(capture(cmd, &out), 2);
  free(out);
  /* Only a bad-input run: nothing to show, and no file written. */
  snprintf(cmd, sizeof cmd, "../iosim export --db %s --format perfetto -o %s/e.json", t.db, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_msg(strstr(out, "no run that ran") && strstr(out, "unknown statement 'devise'"), "%s", out);
  free(out);
  snprintf(cmd, sizeof cmd, "%s/e.json", t.dir);
  ck_assert_int_ne(access(cmd, F_OK), 0);
  /* A good run, then another bad one: the good one is the default. */
  snprintf(cmd, sizeof cmd, "../iosim run %s --quiet --db %s && ../iosim run bad/scenarios/unknown-statement.iosim"
                            " --db %s", lesson2, t.db, t.db);
  ck_assert_int_eq(capture(cmd, &out), 2);
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim viz --db %s --irp r1 -o %s/a.svg && ../iosim irp --db %s --irp r1", t.db,
           t.dir, t.db);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_ptr_nonnull(strstr(out, "of run 2,"));
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim export --db %s --run 3 --format perfetto -o %s/e.json", t.db, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_msg(strstr(out, "run 3 has no steps") && strstr(out, "bad input"), "%s", out);
  free(out);
  tmp_end(&t);
}
END_TEST

/* `check` adds up: expectations that failed and findings nobody predicted
   are counted apart; a finding with no IRP or step names none. */
START_TEST(check_summary_adds_up) {
  if (!have_cli()) return;
  tmp_t t;
  tmp_begin(&t);
  char cmd[1400], *out;
  /* pending-not-marked without its `expect finding` lines, and one expectation made false. */
  snprintf(cmd, sizeof cmd,
           "sed '/expect finding/d; s/expect thread app waiting/expect thread app finished/'"
           " ../scenarios/bugs/pending-not-marked.iosim > %s/b.iosim && ../iosim check %s/b.iosim"
           " --include-dir ../scenarios/lib",
           t.dir, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 1);
  ck_assert_msg(strstr(out, "b.iosim: 2 expectations, 1 failed; 3 findings no `expect finding` line predicts\n"),
                "%s", out);
  free(out);
  ck_assert_int_eq(capture("../iosim check ../scenarios/bugs/deadlock.iosim", &out), 0);
  ck_assert_msg(strstr(out, "first: deadlock at the end of the run:") && !strstr(out, "IRP 0") &&
                    !strstr(out, "step #0"), "%s", out);
  ck_assert_ptr_nonnull(strstr(out, "deadlock.iosim: 3 expectations, 0 failed\n"));
  free(out);
  tmp_end(&t);
}
END_TEST

/* Formats: an unknown export format is refused; pictures refuse labels too
   small to read and draw PDF. */
START_TEST(formats_and_sizes) {
  if (!have_cli()) return;
  tmp_t t;
  tmp_begin(&t);
  char cmd[512], *out;
  snprintf(cmd, sizeof cmd, "../iosim run %s --quiet --db %s", lesson2, t.db);
  ck_assert_int_eq(capture(cmd, &out), 0);
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim export --db %s --format chrome -o %s/e.json", t.db, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_msg(strstr(out, "unknown format 'chrome'") != NULL, "%s", out);
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim viz --db %s --irp r1 --scale 0.5 -o %s/a.svg", t.db, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_msg(strstr(out, "6.0 points") && strstr(out, "cannot read"), "%s", out);
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim viz --db %s --irp r1 --scale 0.5 --font-size 16 -o %s/a.pdf && head -c 5 %s/a.pdf",
           t.db, t.dir, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_str_eq(out, "%PDF-");
  free(out);
  tmp_end(&t);
}
END_TEST

/* `include <NAME>` finds the standard drivers from any folder, after the
   folders of IOSIM_PATH; a library file includes its neighbours. */
START_TEST(library_includes_from_anywhere) {
  if (!have_cli()) return;
  tmp_t t;
  tmp_begin(&t);
  char cmd[1400], *out;
  /* (cd changes the folder: the binary by its absolute path) */
  char here[512];
  ck_assert_ptr_nonnull(getcwd(here, sizeof here));
  snprintf(cmd, sizeof cmd,
           "cd %s && printf '%%s\\n' 'scenario \"mine\"' 'include <disk.iosim>' 'include <volume.iosim>'"
           " 'include <fsd.iosim>' 'device disk0 driver disk latency 50us' 'device vol0 driver volume on disk0'"
           " 'device fs0 driver fsd on vol0' 'thread app' '  open f fs0' '  read f 4096 as r1' 'end'"
           " 'expect r1.status == STATUS_SUCCESS' > mine.iosim && %s/../iosim check mine.iosim",
           t.dir, here);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_msg(strstr(out, "ok   mine.iosim: 1 expectation, 0 failed") != NULL, "%s", out);
  free(out);
  /* IOSIM_PATH first: its broken disk.iosim is the one read. */
  snprintf(cmd, sizeof cmd,
           "mkdir %s/mylib && printf 'driver disk\\n  bogus\\nend\\n' > %s/mylib/disk.iosim &&"
           " cd %s && IOSIM_PATH=/nonexistent:%s/mylib %s/../iosim check mine.iosim",
           t.dir, t.dir, t.dir, t.dir, here);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_msg(strstr(out, "/mylib/disk.iosim:2:") != NULL, "%s", out);
  free(out);
  /* A library file of one's own that includes its neighbour. */
  snprintf(cmd, sizeof cmd,
           "cd %s && printf 'include \"inner.iosim\"\\n' > mylib/outer.iosim &&"
           " printf 'driver mine\\n  dispatch default\\n    complete STATUS_SUCCESS\\n    return STATUS_SUCCESS\\n"
           "  end\\nend\\n' > mylib/inner.iosim &&"
           " printf 'scenario \"own\"\\ninclude <outer.iosim>\\ndevice d0 driver mine\\nthread app\\n  open f d0\\n"
           "  read f 16 as r1\\nend\\nexpect r1.status == STATUS_SUCCESS\\n' > own.iosim &&"
           " IOSIM_PATH=%s/mylib %s/../iosim check own.iosim",
           t.dir, t.dir, here);
  ck_assert_int_eq(capture(cmd, &out), 0);
  free(out);
  /* A name no folder has: the folders searched are listed. */
  snprintf(cmd, sizeof cmd, "cd %s && printf 'scenario \"x\"\\ninclude <dsk.iosim>\\n' > bad.iosim &&"
                            " IOSIM_PATH=%s/mylib %s/../iosim check bad.iosim", t.dir, t.dir, here);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_msg(strstr(out, "bad.iosim:2:9: cannot include <dsk.iosim>: no such file in the standard library") &&
                    strstr(out, "/mylib, "),
                "%s", out);
  free(out);
  tmp_end(&t);
}
END_TEST

/* `make install` (staged with DESTDIR) puts the binary, the library beside
   it, the lessons, the manual page, bash completion, the headers and
   iosim.pc in place; the installed iosim runs an installed lesson and the
   installed headers compile a driver. */
START_TEST(install_is_complete) {
  if (!have_cli()) return;
  tmp_t t;
  tmp_begin(&t);
  char cmd[1400], *out;
  /* -o iosim: install the ../iosim under test as it is (make coverage puts
     its own build there); never rebuild it from build/. */
  snprintf(cmd, sizeof cmd, "make -s -C .. -o iosim install DESTDIR=%s PREFIX=/usr >/dev/null && cd %s/usr && ls bin"
                            " share/iosim/lib share/man/man1 share/bash-completion/completions", t.dir, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  const char *want[] = {"iosim\n", "disk.iosim", "fsd.iosim", "volume.iosim", "iosim.1"};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) ck_assert_msg(strstr(out, want[i]), "%s not installed", want[i]);
  free(out);
  snprintf(cmd, sizeof cmd, "cd / && env -u IOSIM_PATH %s/usr/bin/iosim check %s/usr/share/iosim/lessons/02-async-read.iosim",
           t.dir, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  free(out);
  snprintf(cmd, sizeof cmd, "MANWIDTH=80 man -l %s/usr/share/man/man1/iosim.1 | grep -c 'include <disk.iosim>'", t.dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  free(out);
  /* A driver compiles out of the tree against the installed WDK headers,
     with the flags of the installed iosim.pc (the source's folder is not
     on the path: only its own header, beside it, is found). */
  char src[PATH_MAX], ccmd[PATH_MAX + 2048];
  ck_assert_ptr_nonnull(realpath("drivers-c/synth.c", src));
  snprintf(ccmd, sizeof ccmd,
           "cd / && cc $(pkg-config --define-variable=prefix=%s/usr --cflags %s/usr/lib/pkgconfig/iosim.pc) "
           "-Wall -Werror -c %s -o %s/synth.o && echo compiled",
           t.dir, t.dir, src, t.dir);
  ck_assert_int_eq(capture(ccmd, &out), 0);
  ck_assert_str_eq(out, "compiled\n");
  free(out);
  /* The installed iosim builds a driver with `iosim cc` from its own
     headers, and runs the installed lesson whose RAM disk is C source. */
  snprintf(ccmd, sizeof ccmd,
           "cd / && %s/usr/bin/iosim cc %s/usr/share/iosim/lib/drivers/ramdisk.c -o %s/ramdisk.so && echo built && "
           "XDG_CACHE_HOME=%s/cache %s/usr/bin/iosim check %s/usr/share/iosim/lessons/26-c-driver.iosim | tail -1",
           t.dir, t.dir, t.dir, t.dir, t.dir, t.dir);
  ck_assert_int_eq(capture(ccmd, &out), 0);
  ck_assert_msg(strstr(out, "built\n") && strstr(out, "0 failed"), "%s", out);
  free(out);
  snprintf(cmd, sizeof cmd, "rm -rf %s/cache %s/ramdisk.so", t.dir, t.dir);
  ck_assert_int_eq(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "make -s -C .. uninstall DESTDIR=%s PREFIX=/usr && find %s/usr -type f", t.dir, t.dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_str_eq(out, "");
  free(out);
  tmp_end(&t);
}
END_TEST

/* Every option each command's --help lists is in the manual page and in
   the bash completion of that command, and the page renders cleanly. */
START_TEST(manual_and_completion_cover_every_option) {
  if (!have_cli()) return;
  static const char *const cmds[] = {"run",     "check",   "explore", "diff", "merge", "irp",  "viz",  "export",
                                     "grade",   "cc",      "devstack", "thread", "dpcs", "irpfind", "port", "why",
                                     "step",    "html",    "quiz"};
  char cmd[600], *help, *man, *comp;
  man = NULL;
  ck_assert_int_eq(capture("cat ../docs/iosim.1", &man), 0);
  ck_assert_int_eq(capture("cat ../docs/iosim.bash-completion", &comp), 0);
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
    snprintf(cmd, sizeof cmd, "../iosim %s --help", cmds[i]);
    ck_assert_int_eq(capture(cmd, &help), 0);
    /* The completion's option list for this command: its "CMD) opts=..." line. */
    char key[32];
    snprintf(key, sizeof key, "    %s) opts=\"", cmds[i]);
    const char *line = strstr(comp, key);
    ck_assert_msg(line != NULL, "no completion for %s", cmds[i]);
    const char *eol = strchr(line, '\n');
    for (const char *p = help; (p = strstr(p, "--")); p += 2) {
      char opt[32], troff[64];
      size_t n = 2;
      while (p[n] && (p[n] == '-' || (p[n] >= 'a' && p[n] <= 'z'))) n++;
      if (n == 2 || n >= sizeof opt) continue;
      snprintf(opt, sizeof opt, "%.*s", (int)n, p);
      /* troff writes each '-' of an option as "\-". */
      size_t k = 0;
      for (size_t j = 0; j < n && k + 3 < sizeof troff; j++) {
        if (opt[j] == '-') troff[k++] = '\\';
        troff[k++] = opt[j];
      }
      troff[k] = '\0';
      ck_assert_msg(strstr(man, troff) != NULL, "iosim %s %s is not in docs/iosim.1", cmds[i], opt);
      char spaced[40];
      snprintf(spaced, sizeof spaced, "%s ", opt);
      const char *hit = strstr(line, spaced);
      if (!hit || hit > eol) {
        snprintf(spaced, sizeof spaced, "%s\"", opt);
        hit = strstr(line, spaced);
      }
      ck_assert_msg(hit && hit < eol, "iosim %s %s is not completed", cmds[i], opt);
    }
    free(help);
  }
  free(man);
  free(comp);
  /* The page renders without a warning, and names the version. */
  ck_assert_int_eq(capture("groff -man -ww -z -Tutf8 ../docs/iosim.1", &man), 0);
  ck_assert_str_eq(man, "");
  free(man);
  ck_assert_int_eq(capture("../iosim --version", &help), 0);
  help[strcspn(help, "\n")] = '\0';
  snprintf(cmd, sizeof cmd, "grep -q '^.TH IOSIM 1 \"\" \"%s\"' ../docs/iosim.1", help);
  ck_assert_msg(run(cmd) == 0, "docs/iosim.1 does not name %s", help);
  free(help);
  /* The completion works: options of a command, then the formats. */
  ck_assert_int_eq(capture("bash -c 'shopt -s extglob; . ../docs/iosim.bash-completion; COMP_WORDS=(iosim viz --fo);"
                           " COMP_CWORD=2; _iosim; echo \"${COMPREPLY[*]}\"; COMP_WORDS=(iosim export --format \"\");"
                           " COMP_CWORD=3; _iosim; echo \"${COMPREPLY[*]}\"'",
                           &comp),
                   0);
  ck_assert_str_eq(comp, "--font-size\nperfetto\n");
  free(comp);
}
END_TEST

/* The README's sample is what this iosim prints (`make` rewrites it). */
START_TEST(readme_sample_is_current) {
  if (!have_cli()) return;
  char *out;
  int rc = capture("cd .. && sh docs/make-readme-sample.sh ./iosim README.md --check", &out);
  ck_assert_msg(rc == 0, "%s", out);
  free(out);
  ck_assert_int_eq(capture("grep -c '^  #[0-9][0-9]  ' ../README.md", &out), 0);
  ck_assert_int_ge(atoi(out), 6); /* the rows of the sample, numbered */
  free(out);
}
END_TEST

/* tests/deps.sh installs quietly: apt's chatter ("E: Can not write log"
   where /dev/pts is missing) is shown only when apt fails.  Run against a
   stand-in dpkg-query (one package missing), id (root) and apt-get. */
START_TEST(deps_script_is_quiet) {
  tmp_t t;
  tmp_begin(&t);
  char cmd[1400], here[512], *out;
  ck_assert_ptr_nonnull(getcwd(here, sizeof here));
  snprintf(cmd, sizeof cmd,
           "cd %s && printf '#!/bin/sh\\n[ \"$3\" = librsvg2-bin ] || echo install ok installed\\n' > dpkg-query &&"
           " printf '#!/bin/sh\\necho 0\\n' > id &&"
           " printf '#!/bin/sh\\necho Reading package lists...\\necho \"E: Can not write log (Is /dev/pts mounted?)\" >&2\\n"
           "[ -e fail ] && [ \"$1\" = install ] && { echo E: Unable to locate package \"$4\" >&2; exit 100; }\\nexit 0\\n'"
           " > apt-get && chmod +x dpkg-query id apt-get",
           t.dir);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "cd %s && PATH=%s:$PATH sh %s/../tests/deps.sh", t.dir, t.dir, here);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_str_eq(out, "installing: librsvg2-bin\n");
  free(out);
  snprintf(cmd, sizeof cmd, "cd %s && touch fail && PATH=%s:$PATH sh %s/../tests/deps.sh", t.dir, t.dir, here);
  ck_assert_int_eq(capture(cmd, &out), 1);
  ck_assert_msg(strstr(out, "Unable to locate package") && strstr(out, "apt-get failed"), "%s", out);
  free(out);
  tmp_end(&t);
}
END_TEST

TEST_SUITE(suite_cli)
static Suite *suite_cli(void) {
  Suite *s = suite_create("cli");
  TCase *tc = tcase_create("command line");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, bad_input_is_recorded);
  tcase_add_test(tc, good_run_then_irp);
  tcase_add_test(tc, account_is_printed);
  tcase_add_test(tc, table_has_step_numbers_and_wraps);
  tcase_add_test(tc, irp_by_name_and_time_units);
  tcase_add_test(tc, readers_leave_no_files);
  tcase_add_test(tc, bad_input_run_is_never_the_default);
  tcase_add_test(tc, check_summary_adds_up);
  tcase_add_test(tc, formats_and_sizes);
  tcase_add_test(tc, library_includes_from_anywhere);
  tcase_add_test(tc, install_is_complete);
  tcase_add_test(tc, manual_and_completion_cover_every_option);
  tcase_add_test(tc, readme_sample_is_current);
  tcase_add_test(tc, deps_script_is_quiet);
  suite_add_tcase(s, tc);
  return s;
}
