/*
 * test_html.c - `iosim html`, the explorer page, checked in a real browser:
 * headless Chromium opens generated pages, a script added to a copy of the
 * page presses keys and clicks the timeline as a user would (the page's
 * own handlers run), and the DOM Chromium dumps afterwards shows what the
 * page displayed - the highlighted source line, the !irp view, the step,
 * the timeline cursor.  Expected steps come from the trace database of the
 * same run, never from the page.  Also: the trace's line fact, pages that
 * fetch nothing, lesson pages under 1 MB, the bad-input messages.
 *
 * Chromium is Debian's `chromium` (tests/deps.sh installs it).  Without it
 * the browser tests say so and are skipped - or fail when CI=true.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define LESSON3 "../scenarios/lessons/03-more-processing.iosim"

static int sh(const char *cmd) {
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool have_cli(void) {
  if (access("../iosim", X_OK) == 0) return true;
  fprintf(stderr, "test_html: ../iosim is not built, skipping\n");
  return false;
}

/* Chromium, or a clear note (and a failure under CI=true). */
static bool have_chromium(void) {
  if (sh("command -v chromium >/dev/null 2>&1") == 0) return true;
  const char *ci = getenv("CI");
  ck_assert_msg(!(ci && !strcmp(ci, "true")),
                "chromium is missing: the explorer's browser tests cannot run (tests/deps.sh installs it)");
  fprintf(stderr, "test_html: chromium is not installed, so the explorer page was NOT tested in a browser "
                  "(sh tests/deps.sh installs it; CI=true makes this a failure)\n");
  return false;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(s);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = '\0';
  fclose(f);
  if (len) *len = got;
  return s;
}

/* The first column of the first row as an integer (-1 if none). */
static long long one_int(const char *db, const char *sql) {
  sqlite3 *h;
  long long v = -1;
  if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return -1;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_type(st, 0) != SQLITE_NULL)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

typedef struct tmp {
  char dir[40];
  char db[96], page[96];
} tmp_t;

/* Lesson 3 recorded into a database and drawn as a page from it. */
static void lesson3(tmp_t *t) {
  snprintf(t->dir, sizeof t->dir, "/tmp/iosim-htmlXXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(t->dir));
  snprintf(t->db, sizeof t->db, "%s/t.db", t->dir);
  snprintf(t->page, sizeof t->page, "%s/run.html", t->dir);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "../iosim run " LESSON3 " --quiet --db %s >/dev/null", t->db);
  ck_assert_int_eq(sh(cmd), 0);
  snprintf(cmd, sizeof cmd, "../iosim html --db %s -o %s", t->db, t->page);
  ck_assert_int_eq(sh(cmd), 0);
}

static void tmp_end(tmp_t *t) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
  sh(cmd);
}

/* Opens a copy of `page` at `fragment` in headless Chromium with `script`
   run after the page's own (it may press keys: key('ArrowRight', shift)),
   and returns the DOM as Chromium dumps it afterwards.  The script writes
   what it saw with note('name', value) into <pre id=test-result> as
   "name=value" lines. */
static char *browse(const tmp_t *t, const char *fragment, const char *script) {
  char copy[128], cmd[1024];
  snprintf(copy, sizeof copy, "%s/probe.html", t->dir);
  size_t len;
  char *html = slurp(t->page, &len);
  ck_assert_ptr_nonnull(html);
  char *end = strstr(html, "</body>");
  ck_assert_ptr_nonnull(end);
  FILE *f = fopen(copy, "w");
  ck_assert_ptr_nonnull(f);
  fwrite(html, 1, (size_t)(end - html), f);
  fprintf(f,
          "<pre id=test-result></pre><script>\n"
          "function key(k, shift) { document.dispatchEvent(new KeyboardEvent('keydown', {key: k, shiftKey: !!shift,"
          " bubbles: true})); }\n"
          "function note(n, v) { document.getElementById('test-result').textContent += n + '=' + v + '\\n'; }\n"
          "function shown() {\n"
          "  var l = document.querySelector('#source .ln.cur, #source .ln.derived');\n"
          "  note('step', document.body.dataset.step);\n"
          "  note('line', l ? l.dataset.line + (l.classList.contains('derived') ? ' derived' : '') : 'none');\n"
          "  note('cursor', document.getElementById('cursor').dataset.step);\n"
          "  note('hash', location.hash);\n"
          "}\n"
          "%s\n</script>\n</body></html>\n",
          script);
  fclose(f);
  free(html);
  char profile[128];
  snprintf(profile, sizeof profile, "%s/profile", t->dir);
  snprintf(cmd, sizeof cmd,
           "timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=%s "
           "--window-size=1024,768 --dump-dom 'file://%s%s' 2>/dev/null",
           profile, copy, fragment);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t cap = 1 << 16, n = 0, got;
  char *out = malloc(cap);
  while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
    n += got;
    if (cap - n < 2) out = realloc(out, cap *= 2);
  }
  out[n] = '\0';
  ck_assert_int_eq(pclose(p), 0);
  char *res = strstr(out, "<pre id=\"test-result\">");
  ck_assert_msg(res != NULL, "Chromium's DOM has no test result: the page's script failed?");
  return out;
}

/* The value the probe noted as `name` the `nth` time (0-based). */
static const char *noted(const char *dom, const char *name, int nth, char *buf, size_t n) {
  const char *p = strstr(dom, "<pre id=\"test-result\">");
  char key[64];
  snprintf(key, sizeof key, "%s=", name);
  for (int i = 0; p && (p = strstr(p, key)); p += strlen(key)) {
    if (p[-1] != '\n' && p[-1] != '>') continue;
    if (i++ < nth) continue;
    p += strlen(key);
    size_t k = strcspn(p, "\n<");
    snprintf(buf, n, "%.*s", (int)k, p);
    return buf;
  }
  ck_abort_msg("the probe noted no %s #%d", name, nth);
  return NULL;
}

static void assert_noted(const char *dom, const char *name, int nth, const char *want) {
  char b[512];
  noted(dom, name, nth, b, sizeof b);
  ck_assert_msg(!strcmp(b, want), "%s #%d: the page shows '%s', expected '%s'", name, nth, b, want);
}

/* ---- the trace's line fact ---- */

START_TEST(steps_carry_their_scenario_line) {
  if (!have_cli()) return;
  tmp_t t;
  lesson3(&t);
  /* Thread statements: `open f fs0 overlapped` is line 59, `read ... as r1` 60. */
  ck_assert_int_eq(one_int(t.db, "SELECT line FROM event WHERE kind = 'syscall' ORDER BY seq LIMIT 1"), 59);
  ck_assert_int_eq(one_int(t.db, "SELECT line FROM event WHERE kind = 'irp-alloc' AND irp = 2"), 60);
  /* Operations of the scenario's own driver: mark-pending 27, copy-stack 28. */
  ck_assert_int_eq(one_int(t.db, "SELECT line FROM event WHERE kind = 'mark-pending' AND irp = 2 ORDER BY seq"), 27);
  ck_assert_int_eq(one_int(t.db, "SELECT line FROM event WHERE kind = 'copy-stack' AND irp = 2"), 28);
  /* The library volume driver called by `call-lower` (line 30) carries it. */
  ck_assert_int_eq(one_int(t.db, "SELECT min(line) FROM event e JOIN device d ON d.run_id = e.run_id AND"
                                 " d.id = e.device WHERE e.kind = 'dispatch' AND d.name = 'vol0' AND e.irp = 2"),
                   30);
  /* The completion routine's own `send read 512 ... as r2` (line 41), in a DPC. */
  ck_assert_int_eq(one_int(t.db, "SELECT line FROM event WHERE kind = 'irp-alloc' AND irp = 3"), 41);
  ck_assert_int_eq(one_int(t.db, "SELECT frame = 'dpc' FROM event WHERE kind = 'irp-alloc' AND irp = 3"), 1);
  /* The library disk driver's DPC runs no line of the scenario. */
  ck_assert_int_eq(one_int(t.db, "SELECT count(*) FROM event WHERE kind = 'dpc' AND line IS NOT NULL"), 0);
  /* The wait resumes with its own line: the thread's line followed it. */
  ck_assert_int_eq(one_int(t.db, "SELECT line FROM event WHERE kind = 'wait-done' ORDER BY seq DESC"), 61);
  tmp_end(&t);
}
END_TEST

/* ---- the page as a file ---- */

START_TEST(page_fetches_nothing) {
  if (!have_cli()) return;
  tmp_t t;
  lesson3(&t);
  char *html = slurp(t.page, NULL);
  ck_assert_ptr_nonnull(html);
  const char *fetches[] = {"<link", " src=", "src=\\\"", "url(", "@import", "fetch(", "XMLHttpRequest", "<iframe",
                           "xlink:href=\\\"http", "href=\\\"http"};
  for (size_t i = 0; i < sizeof fetches / sizeof *fetches; i++)
    ck_assert_msg(strstr(html, fetches[i]) == NULL, "the page would fetch something: '%s'", fetches[i]);
  ck_assert_ptr_nonnull(strstr(html, "<svg"));          /* the diagrams are inline */
  ck_assert_ptr_nonnull(strstr(html, "\"use strict\"")); /* and the script */
  ck_assert_ptr_nonnull(strstr(html, "STATUS_MORE_PROCESSING_REQUIRED"));
  /* From a database too, the explanations (its scenario run again). */
  ck_assert_ptr_nonnull(strstr(html, "IoCallDriver moves the IRP down one stack location"));
  free(html);
  tmp_end(&t);
}
END_TEST

/* Every lesson's page is under 1 MB, made straight from the scenario. */
START_TEST(lesson_pages_are_small) {
  if (!have_cli()) return;
  FILE *ls = popen("ls ../scenarios/lessons/*.iosim", "r");
  ck_assert_ptr_nonnull(ls);
  char path[512], cmd[1200], dir[] = "/tmp/iosim-htmlXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  int n = 0;
  while (fgets(path, sizeof path, ls)) {
    path[strcspn(path, "\n")] = '\0';
    snprintf(cmd, sizeof cmd, "../iosim html %s -o %s/p.html", path, dir);
    ck_assert_msg(sh(cmd) == 0, "iosim html %s failed", path);
    char page[64];
    snprintf(page, sizeof page, "%s/p.html", dir);
    struct stat st;
    ck_assert_int_eq(stat(page, &st), 0);
    ck_assert_msg(st.st_size < 1000000, "%s: the page is %lld bytes", path, (long long)st.st_size);
    ck_assert_msg(st.st_size > 20000, "%s: the page is only %lld bytes", path, (long long)st.st_size);
    n++;
  }
  pclose(ls);
  ck_assert_int_ge(n, 20);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  sh(cmd);
}
END_TEST

START_TEST(bad_input_is_refused) {
  if (!have_cli()) return;
  ck_assert_int_eq(sh("../iosim html " LESSON3 " >/dev/null 2>&1"), 2);                  /* no -o */
  ck_assert_int_eq(sh("../iosim html " LESSON3 " --db x.db -o /tmp/x.html >/dev/null 2>&1"), 2);
  ck_assert_int_eq(sh("../iosim html " LESSON3 " --seed x -o /tmp/x.html >/dev/null 2>&1"), 2);
  ck_assert_int_eq(sh("../iosim html --db /nonexistent.db -o /tmp/x.html >/dev/null 2>&1"), 2);
  ck_assert_int_eq(sh("../iosim html bad/scenarios/unknown-statement.iosim -o /tmp/x.html 2>&1 | "
                      "grep -q 'unknown-statement.iosim:[0-9]*:[0-9]*: '"),
                   0);
}
END_TEST

/* ---- in the browser ---- */

/* A link to a step opens the page there, with the step's source line. */
START_TEST(fragment_opens_the_step_with_its_line) {
  if (!have_cli() || !have_chromium()) return;
  tmp_t t;
  lesson3(&t);
  /* The `complete STATUS_SUCCESS` of the open's IRP: line 35. */
  long long s = one_int(t.db, "SELECT seq FROM event WHERE kind = 'complete' ORDER BY seq LIMIT 1");
  ck_assert_int_eq(one_int(t.db, "SELECT line FROM event WHERE kind = 'complete' ORDER BY seq LIMIT 1"), 35);
  char frag[32], want[32];
  snprintf(frag, sizeof frag, "#%lld", s);
  char *dom = browse(&t, frag, "shown();");
  snprintf(want, sizeof want, "%lld", s);
  assert_noted(dom, "step", 0, want);
  assert_noted(dom, "line", 0, "35");
  assert_noted(dom, "cursor", 0, want);
  free(dom);
  tmp_end(&t);
}
END_TEST

/* Right/Left, Home/End, Shift for the same IRP, n/p for a kind. */
START_TEST(keys_move_through_the_run) {
  if (!have_cli() || !have_chromium()) return;
  tmp_t t;
  lesson3(&t);
  long long last = one_int(t.db, "SELECT max(seq) FROM event");
  long long r1 = one_int(t.db, "SELECT id FROM irp WHERE tag = 'r1'");
  char sql[256];
  /* a step of r1 in the DPC, and the next step of r1 after it */
  snprintf(sql, sizeof sql, "SELECT seq FROM event WHERE kind = 'completion-routine' AND irp = %lld ORDER BY seq", r1);
  long long from = one_int(t.db, sql);
  snprintf(sql, sizeof sql, "SELECT min(seq) FROM event WHERE irp = %lld AND seq > %lld", r1, from);
  long long next_r1 = one_int(t.db, sql);
  ck_assert_int_gt(next_r1, from + 1); /* other IRPs' steps lie between */
  long long first_complete = one_int(t.db, "SELECT min(seq) FROM event WHERE kind = 'complete'");
  long long second_complete =
      one_int(t.db, "SELECT min(seq) FROM event WHERE kind = 'complete' AND seq > (SELECT min(seq) FROM event"
                    " WHERE kind = 'complete')");
  char script[1200];
  snprintf(script, sizeof script,
           "key('End'); shown(); key('Home'); shown();"
           " key('ArrowRight'); key('ArrowRight'); key('ArrowRight'); key('ArrowLeft'); shown();"
           " iosimExplorer.go(%lld - 1); shown(); key('ArrowRight', true); shown(); key('ArrowLeft', true); shown();"
           " key('Home'); key('n'); shown(); key('n'); shown(); key('p'); shown();"
           " key('+'); note('big', document.body.classList.contains('big'));",
           from);
  char *dom = browse(&t, "", script);
  char b[32];
  snprintf(b, sizeof b, "%lld", last);
  assert_noted(dom, "step", 0, b);
  assert_noted(dom, "cursor", 0, b);
  assert_noted(dom, "step", 1, "1");
  assert_noted(dom, "step", 2, "3");
  snprintf(b, sizeof b, "%lld", from);
  assert_noted(dom, "step", 3, b);
  snprintf(b, sizeof b, "%lld", next_r1);
  assert_noted(dom, "step", 4, b);
  assert_noted(dom, "cursor", 4, b);
  snprintf(b, sizeof b, "%lld", from);
  assert_noted(dom, "step", 5, b);
  snprintf(b, sizeof b, "%lld", first_complete);
  assert_noted(dom, "step", 6, b);
  snprintf(b, sizeof b, "%lld", second_complete);
  assert_noted(dom, "step", 7, b);
  snprintf(b, sizeof b, "%lld", first_complete);
  assert_noted(dom, "step", 8, b);
  assert_noted(dom, "big", 0, "true"); /* the larger-text switch */
  free(dom);
  tmp_end(&t);
}
END_TEST

/* Lesson 3's !irp of r1 once its completion routine (data-read) ran and
   returned STATUS_MORE_PROCESSING_REQUIRED; then at the end of its walk. */
START_TEST(irp_view_after_the_completion_routine) {
  if (!have_cli() || !have_chromium()) return;
  tmp_t t;
  lesson3(&t);
  long long r1 = one_int(t.db, "SELECT id FROM irp WHERE tag = 'r1'");
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT seq FROM event WHERE kind = 'walk-stopped' AND irp = %lld", r1);
  long long stopped = one_int(t.db, sql);
  snprintf(sql, sizeof sql, "SELECT seq FROM event WHERE kind = 'walk-done' AND irp = %lld", r1);
  long long done = one_int(t.db, sql);
  ck_assert_int_gt(stopped, 0);
  ck_assert_int_gt(done, stopped);
  char script[600];
  snprintf(script, sizeof script,
           "function irp() { note('irp', document.getElementById('irpview').textContent.replace(/\\n/g, '|')); }"
           " iosimExplorer.go(%lld - 1); shown(); irp();"
           " iosimExplorer.go(%lld - 1); shown(); irp();",
           stopped, done);
  char *dom = browse(&t, "", script);
  char b[4096];
  noted(dom, "irp", 0, b, sizeof b);
  ck_assert_msg(strstr(b, "(r1)") && strstr(b, "completion walk stopped") && strstr(b, "PendingReturned 1") &&
                    strstr(b, "completion routine of \\Driver\\mprfs"),
                "the !irp view after the routine: %s", b);
  noted(dom, "irp", 1, b, sizeof b);
  ck_assert_msg(strstr(b, "IoStatus STATUS_SUCCESS, Information 4096") && !strstr(b, "completion walk stopped"),
                "the !irp view at the end of the walk: %s", b);
  /* r1's diagram at its completion routine's step: that arrow lit, later ones dimmed. */
  free(dom);
  snprintf(sql, sizeof sql, "SELECT seq FROM event WHERE kind = 'completion-routine' AND irp = %lld ORDER BY seq", r1);
  stopped = one_int(t.db, sql);
  snprintf(script, sizeof script,
           "iosimExplorer.go(%lld - 1);"
           " note('lit', document.querySelectorAll('#diagram g.step.hl').length);"
           " note('litclass', (document.querySelector('#diagram g.step.hl') || {getAttribute: function () {"
           " return 'none'; }}).getAttribute('class'));"
           " note('later', document.querySelectorAll('#diagram g.step.later').length);",
           stopped);
  dom = browse(&t, "", script);
  noted(dom, "lit", 0, b, sizeof b);
  ck_assert_int_ge(atoi(b), 1);
  noted(dom, "litclass", 0, b, sizeof b);
  char want[64];
  snprintf(want, sizeof want, "s%lld", stopped);
  ck_assert_msg(strstr(b, want) != NULL, "the lit arrow is %s, not step %lld's", b, stopped);
  noted(dom, "later", 0, b, sizeof b);
  ck_assert_int_ge(atoi(b), 1);
  free(dom);
  tmp_end(&t);
}
END_TEST

/* A click on a field of the !irp view jumps to the step that set it - the
   step `iosim why` names first. */
START_TEST(click_a_field_to_jump_to_its_setter) {
  if (!have_cli() || !have_chromium()) return;
  tmp_t t;
  lesson3(&t);
  long long r1 = one_int(t.db, "SELECT id FROM irp WHERE tag = 'r1'");
  char sql[256], cmd[512];
  snprintf(sql, sizeof sql, "SELECT seq FROM event WHERE kind = 'walk-done' AND irp = %lld", r1);
  long long done = one_int(t.db, sql);
  static const struct { int f; const char *field; } cases[] = {
      {0, "Status"}, {1, "Information"}, {2, "PendingReturned"}, {3, "CurrentLocation"}};
  char script[2048] = "";
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char one[300];
    snprintf(one, sizeof one,
             "iosimExplorer.go(%lld - 1); document.querySelector('#irpview .field[data-f=\"%d\"]').click();"
             " shown(); note('why', (document.getElementById('why') || {textContent: 'none'}).textContent);",
             done, cases[i].f);
    strcat(script, one);
  }
  char *dom = browse(&t, "", script);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    snprintf(cmd, sizeof cmd, "../iosim why --db %s --irp r1 --field %s --at '#%lld' | sed -n 's/^  #\\([0-9]*\\).*/\\1/p' | head -1",
             t.db, cases[i].field, done);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char want[32] = "";
    ck_assert_ptr_nonnull(fgets(want, sizeof want, p));
    pclose(p);
    want[strcspn(want, "\n")] = '\0';
    ck_assert_int_gt(atoi(want), 0);
    char b[512];
    noted(dom, "step", (int)i, b, sizeof b);
    ck_assert_msg(!strcmp(b, want), "%s of r1 at #%lld: the page jumped to #%s, `iosim why` says #%s", cases[i].field,
                  done, b, want);
    noted(dom, "why", (int)i, b, sizeof b);
    ck_assert_msg(strstr(b, "was last set here"), "the page says: %s", b);
  }
  free(dom);
  tmp_end(&t);
}
END_TEST

/* The timeline: its cursor follows the step; a click jumps there. */
START_TEST(timeline_cursor_and_click) {
  if (!have_cli() || !have_chromium()) return;
  tmp_t t;
  lesson3(&t);
  const char *script =
      "var tl = document.getElementById('timeline'), r = tl.getBoundingClientRect();"
      " var c1 = parseFloat(document.getElementById('cursor').style.left);"
      " tl.dispatchEvent(new MouseEvent('click', {clientX: r.right - 2, clientY: r.top + 5, bubbles: true}));"
      " shown(); note('far', parseFloat(document.getElementById('cursor').style.left) > c1 + 0.8 * (r.width - 90));"
      " note('t', iosimExplorer.data.steps[iosimExplorer.data.steps.findIndex(function (s) {"
      " return s[0] === iosimExplorer.step(); })][1] / iosimExplorer.data.end_ns);"
      " tl.dispatchEvent(new MouseEvent('click', {clientX: r.left + 90 + (r.width - 90) / 2, clientY: r.top + 5,"
      " bubbles: true})); shown();"
      " note('t', iosimExplorer.data.steps[iosimExplorer.data.steps.findIndex(function (s) {"
      " return s[0] === iosimExplorer.step(); })][1] / iosimExplorer.data.end_ns);";
  char *dom = browse(&t, "#1", script);
  char b[64];
  /* a click at the right end: a step of the run's last moments */
  noted(dom, "t", 0, b, sizeof b);
  ck_assert_msg(atof(b) >= 0.98, "a click at the end jumped to time fraction %s", b);
  assert_noted(dom, "far", 0, "true");
  noted(dom, "step", 1, b, sizeof b);
  char c[64];
  noted(dom, "cursor", 1, c, sizeof c);
  ck_assert_str_eq(b, c);
  noted(dom, "t", 1, b, sizeof b);
  ck_assert_msg(atof(b) >= 0.45 && atof(b) < 0.9, "a click half-way jumped to time fraction %s", b);
  free(dom);
  tmp_end(&t);
}
END_TEST

/* What Chromium paints at 1024x768 (the README's screenshot is made the same way). */
START_TEST(screenshot_at_projector_size) {
  if (!have_cli() || !have_chromium()) return;
  tmp_t t;
  lesson3(&t);
  char cmd[600], png[128];
  snprintf(png, sizeof png, "%s/shot.png", t.dir);
  snprintf(cmd, sizeof cmd,
           "cd %s && timeout 90 chromium --headless --no-sandbox --disable-gpu --user-data-dir=%s/profile "
           "--window-size=1024,768 --screenshot=%s 'file://%s#50' >/dev/null 2>&1",
           t.dir, t.dir, png, t.page);
  ck_assert_int_eq(sh(cmd), 0);
  size_t len;
  char *p = slurp(png, &len);
  ck_assert_ptr_nonnull(p);
  ck_assert_int_gt(len, 20000);
  /* PNG: width and height big-endian at bytes 16 and 20 */
  const unsigned char *u = (const unsigned char *)p;
  ck_assert_int_eq((u[16] << 24) | (u[17] << 16) | (u[18] << 8) | u[19], 1024);
  ck_assert_int_eq((u[20] << 24) | (u[21] << 16) | (u[22] << 8) | u[23], 768);
  free(p);
  tmp_end(&t);
}
END_TEST

TEST_SUITE(html_suite)
static Suite *html_suite(void) {
  Suite *s = suite_create("html");
  TCase *t = tcase_create("explorer");
  tcase_set_timeout(t, 240);
  tcase_add_test(t, steps_carry_their_scenario_line);
  tcase_add_test(t, page_fetches_nothing);
  tcase_add_test(t, lesson_pages_are_small);
  tcase_add_test(t, bad_input_is_refused);
  tcase_add_test(t, fragment_opens_the_step_with_its_line);
  tcase_add_test(t, keys_move_through_the_run);
  tcase_add_test(t, irp_view_after_the_completion_routine);
  tcase_add_test(t, click_a_field_to_jump_to_its_setter);
  tcase_add_test(t, timeline_cursor_and_click);
  tcase_add_test(t, screenshot_at_projector_size);
  suite_add_tcase(s, t);
  return s;
}
