/*
 * test_viz.c - the pictures and the export (include/iosim/viz.h), checked
 * from the files they write: lessons are run into a trace database in a
 * temporary folder, then the SVG of the asynchronous-read lesson must be
 * well-formed XML naming every device, every arrow's label and the pending
 * marks; the PNG must be a PNG at most 1024 pixels wide; the Perfetto JSON
 * must parse and have exactly one slice per frame (one per ISR, DPC and APC
 * step, tiling each CPU's time); a 100,000-step run must give a timeline
 * that says it was summarised; bad input gets a message and leaves no file.
 * Runs with the current directory at tests/.
 */
#include <ctype.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "iosim/scenario.h"
#include "iosim/tracedb.h"
#include "iosim/viz.h"
#include "fixture.h"
#include "testlib.h"
#include "typed_steps.h"

/* Graphviz 2.43 leaks inside its HTML-label parser and its plugin
   configuration (libgvc's own allocator, whose callers LeakSanitizer's fast
   unwinder cannot see), and fontconfig / pango / glib keep caches for the
   life of the process; none of it is ours to free.  Leaks of our own graphs
   (libcgraph) and of viz/ are still reported.
   Graphviz 2.43 also has its pango plugin remember a font name from the
   previous context (freed with it), which AddressSanitizer reports when one
   process lays out a second picture: so each test below draws at most one
   picture (Check runs every test in its own process). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libgvc.so\nleak:libfontconfig.so\nleak:libpango\nleak:libcairo.so\nleak:libglib-2.0.so\n"
         "leak:libgobject-2.0.so\nleak:libharfbuzz\nleak:libgvplugin_pango\n";
}

/* ---- a temporary folder with a trace in it ---- */

typedef struct fixture {
  char dir[64];
  char db[128];
} fixture_t;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static void fixture_end(fixture_t *fx) { nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS); }

static void path_in(const fixture_t *fx, const char *name, char *out, size_t n) {
  snprintf(out, n, "%s/%s", fx->dir, name);
}

/* Runs scenario `path` (seed from the file) into fx->db. */
static void record(fixture_t *fx, const char *path, const char *extra_dir) { tfix_record(fx->db, path, extra_dir); }

static void fixture_begin(fixture_t *fx, const char *lesson) {
  snprintf(fx->dir, sizeof fx->dir, "/tmp/iosim-viz-XXXXXX");
  ck_assert(mkdtemp(fx->dir) != NULL);
  path_in(fx, "trace.db", fx->db, sizeof fx->db);
  if (lesson) {
    char p[256];
    snprintf(p, sizeof p, "../scenarios/lessons/%s.iosim", lesson);
    record(fx, p, NULL);
  }
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  ck_assert(s != NULL);
  ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  if (len) *len = (size_t)n;
  return s;
}

static int64_t query_int(const char *db, const char *sql) {
  sqlite3 *h = NULL;
  ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(h));
  ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

/* ---- XML well-formedness: tags nest and match, attributes are quoted,
   entities are complete ---- */

static const char *xml_entity(const char *p) {
  /* p at '&'; returns past ';' or NULL. */
  p++;
  if (*p == '#') {
    p++;
    if (*p == 'x') {
      p++;
      if (!isxdigit((unsigned char)*p)) return NULL;
      while (isxdigit((unsigned char)*p)) p++;
    } else {
      if (!isdigit((unsigned char)*p)) return NULL;
      while (isdigit((unsigned char)*p)) p++;
    }
  } else {
    if (!isalpha((unsigned char)*p)) return NULL;
    while (isalnum((unsigned char)*p)) p++;
  }
  return *p == ';' ? p + 1 : NULL;
}

static bool xml_well_formed(const char *s, char *why, size_t n) {
  char stack[64][48];
  int depth = 0, roots = 0;
  const char *p = s;
  while (*p) {
    if (*p == '&') {
      if (!(p = xml_entity(p))) return snprintf(why, n, "bad entity"), false;
      continue;
    }
    if (*p != '<') {
      p++;
      continue;
    }
    if (!strncmp(p, "<?", 2)) {
      if (!(p = strstr(p, "?>"))) return snprintf(why, n, "unclosed <?"), false;
      p += 2;
    } else if (!strncmp(p, "<!--", 4)) {
      if (!(p = strstr(p + 4, "-->"))) return snprintf(why, n, "unclosed comment"), false;
      p += 3;
    } else if (!strncmp(p, "<!", 2)) {
      if (!(p = strchr(p, '>'))) return snprintf(why, n, "unclosed <!"), false;
      p++;
    } else if (p[1] == '/') {
      p += 2;
      size_t l = strcspn(p, " \t\r\n>");
      if (!depth || strlen(stack[depth - 1]) != l || strncmp(stack[depth - 1], p, l))
        return snprintf(why, n, "</%.*s> does not close <%s>", (int)l, p, depth ? stack[depth - 1] : "nothing"), false;
      depth--;
      p += l;
      while (isspace((unsigned char)*p)) p++;
      if (*p++ != '>') return snprintf(why, n, "bad end tag"), false;
    } else {
      p++;
      size_t l = strcspn(p, " \t\r\n/>");
      if (!l || l >= sizeof stack[0]) return snprintf(why, n, "bad tag name"), false;
      char name[48];
      snprintf(name, sizeof name, "%.*s", (int)l, p);
      p += l;
      for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (*p == '>' || (*p == '/' && p[1] == '>')) break;
        size_t al = strcspn(p, " \t\r\n=/>");
        if (!al) return snprintf(why, n, "bad attribute in <%s>", name), false;
        p += al;
        if (*p++ != '=') return snprintf(why, n, "attribute without value in <%s>", name), false;
        char q = *p++;
        if (q != '"' && q != '\'') return snprintf(why, n, "unquoted attribute in <%s>", name), false;
        while (*p && *p != q) {
          if (*p == '<') return snprintf(why, n, "'<' in an attribute of <%s>", name), false;
          if (*p == '&') {
            if (!(p = xml_entity(p))) return snprintf(why, n, "bad entity in <%s>", name), false;
          } else {
            p++;
          }
        }
        if (*p++ != q) return snprintf(why, n, "unclosed attribute in <%s>", name), false;
      }
      if (*p == '/') {
        p += 2;
        if (!depth) roots++;
      } else {
        p++;
        if (!depth) roots++;
        if (depth == 64) return snprintf(why, n, "too deep"), false;
        snprintf(stack[depth++], sizeof stack[0], "%s", name);
      }
    }
  }
  if (depth) return snprintf(why, n, "<%s> never closed", stack[depth - 1]), false;
  if (roots != 1) return snprintf(why, n, "%d root elements", roots), false;
  return true;
}

static char *read_svg(const char *path) {
  char *s = slurp(path, NULL);
  char why[128];
  ck_assert_msg(xml_well_formed(s, why, sizeof why), "%s is not well-formed XML: %s", path, why);
  ck_assert_msg(strstr(s, "<svg") != NULL, "%s is not SVG", path);
  return s;
}

static void assert_has(const char *text, const char *what, const char *where) {
  ck_assert_msg(strstr(text, what) != NULL, "%s does not show '%s'", where, what);
}

static int count_of(const char *text, const char *what) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, what)); p += strlen(what)) n++;
  return n;
}

/* ---- what an independent renderer makes of an SVG ---- */

/* librsvg's rsvg-convert (Debian: librsvg2-bin, which tests/deps.sh
   installs) draws the SVG into a PNG, decoded below with zlib: browsers,
   GitHub and rsvg all cut an SVG at its viewBox, so a drawing larger than
   its canvas loses its edges there.  Graphviz pads every picture with a
   white margin, so the outermost pixels of a picture that holds all its
   drawing are white (or transparent). */
typedef struct image {
  uint32_t w, h;
  unsigned char *rgba; /* w * h * 4 */
} image_t;

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* 8-bit RGB or RGBA, not interlaced: what rsvg-convert and cairo write. */
static void png_decode(const unsigned char *p, size_t n, image_t *im) {
  ck_assert_msg(n > 33 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8), "not a PNG");
  unsigned char *z = NULL;
  size_t zn = 0;
  int bpp = 0;
  for (size_t at = 8; at + 12 <= n;) {
    uint32_t len = be32(p + at);
    const unsigned char *type = p + at + 4, *data = p + at + 8;
    ck_assert_msg(at + 12 + len <= n, "a PNG chunk runs past the end");
    if (!memcmp(type, "IHDR", 4)) {
      im->w = be32(data);
      im->h = be32(data + 4);
      ck_assert_msg(data[8] == 8 && (data[9] == 2 || data[9] == 6) && data[12] == 0,
                    "PNG depth %d colour type %d interlace %d: not decoded here", data[8], data[9], data[12]);
      bpp = data[9] == 6 ? 4 : 3;
    } else if (!memcmp(type, "IDAT", 4)) {
      z = realloc(z, zn + len);
      memcpy(z + zn, data, len);
      zn += len;
    }
    at += 12 + len;
  }
  ck_assert(bpp && im->w && im->h);
  size_t stride = (size_t)im->w * (size_t)bpp;
  uLongf rawn = (uLongf)((stride + 1) * im->h);
  unsigned char *raw = malloc(rawn);
  ck_assert_int_eq(uncompress(raw, &rawn, z, (uLong)zn), Z_OK);
  ck_assert_uint_eq(rawn, (stride + 1) * im->h);
  im->rgba = malloc((size_t)im->w * im->h * 4);
  unsigned char *prev = calloc(stride, 1), *cur = malloc(stride);
  for (uint32_t y = 0; y < im->h; y++) {
    const unsigned char *row = raw + y * (stride + 1);
    int f = row[0];
    for (size_t i = 0; i < stride; i++) {
      int a = i >= (size_t)bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= (size_t)bpp ? prev[i - bpp] : 0;
      int x = row[1 + i];
      switch (f) {
      case 0: break;
      case 1: x += a; break;
      case 2: x += b; break;
      case 3: x += (a + b) / 2; break;
      case 4: x += paeth(a, b, c); break;
      default: ck_abort_msg("PNG filter %d", f);
      }
      cur[i] = (unsigned char)x;
    }
    for (uint32_t x = 0; x < im->w; x++) {
      unsigned char *o = im->rgba + ((size_t)y * im->w + x) * 4;
      memcpy(o, cur + (size_t)x * bpp, 3);
      o[3] = bpp == 4 ? cur[(size_t)x * bpp + 3] : 255;
    }
    memcpy(prev, cur, stride);
  }
  free(prev);
  free(cur);
  free(raw);
  free(z);
}

/* A pixel with nothing drawn on it: transparent, or the white background. */
static bool blank(const image_t *im, uint32_t x, uint32_t y) {
  const unsigned char *p = im->rgba + ((size_t)y * im->w + x) * 4;
  return p[3] < 16 || (p[0] >= 240 && p[1] >= 240 && p[2] >= 240);
}

/* The SVG's size in points and its viewBox's size; 1 unit is 1 point in
   every picture here (Graphviz draws SVG at 72 to the inch). */
static void svg_canvas(const char *svg, double *w, double *h, double *vw, double *vh) {
  const char *p = strstr(svg, "<svg");
  ck_assert_ptr_nonnull(p);
  const char *a = strstr(p, " width=\""), *b = strstr(p, " height=\""), *v = strstr(p, " viewBox=\"");
  ck_assert_msg(a && b && v, "the SVG has no width, height or viewBox");
  double x0, y0;
  ck_assert_int_eq(sscanf(a, " width=\"%lfpt\"", w), 1);
  ck_assert_int_eq(sscanf(b, " height=\"%lfpt\"", h), 1);
  ck_assert_int_eq(sscanf(v, " viewBox=\"%lf %lf %lf %lf\"", &x0, &y0, vw, vh), 4);
}

/* Draws `svg` with rsvg-convert and checks that nothing of the drawing
   lies outside its canvas: the size it declares is its viewBox's, and the
   outermost pixels rsvg drew are blank. */
static void assert_uncropped(const char *svg_path, const char *png_path) {
  char *svg = slurp(svg_path, NULL);
  double w, h, vw, vh;
  svg_canvas(svg, &w, &h, &vw, &vh);
  free(svg);
  ck_assert_msg(w > 10 && h > 10 && fabs(w - vw) <= 1 && fabs(h - vh) <= 1,
                "%s: %gpt x %gpt but its viewBox is %g x %g: the viewers scale or crop it", svg_path, w, h, vw, vh);
  ck_assert_msg(system("command -v rsvg-convert >/dev/null 2>&1") == 0,
                "rsvg-convert is missing: install librsvg2-bin (sh tests/deps.sh does)");
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rsvg-convert '%s' -o '%s'", svg_path, png_path);
  ck_assert_msg(system(cmd) == 0, "rsvg-convert could not draw %s", svg_path);
  size_t n;
  unsigned char *png = (unsigned char *)slurp(png_path, &n);
  image_t im = {0};
  png_decode(png, n, &im);
  free(png);
  /* rsvg draws 96 pixels to the inch: a point is 4/3 of a pixel. */
  ck_assert_msg(fabs(im.w - w * 4 / 3) <= 2 && fabs(im.h - h * 4 / 3) <= 2, "%s drawn %ux%u for %gpt x %gpt",
                svg_path, im.w, im.h, w, h);
  const uint32_t edge = 3; /* pixels; Graphviz's pad is 14 points (19 pixels) and more */
  for (uint32_t y = 0; y < im.h; y++)
    for (uint32_t x = 0; x < im.w; x++) {
      if (x >= edge && x < im.w - edge && y >= edge && y < im.h - edge) {
        x = im.w - edge - 1; /* skip the inside of the row */
        continue;
      }
      ck_assert_msg(blank(&im, x, y), "%s is cropped: rsvg-convert draws something at the edge, pixel (%u, %u) of %ux%u",
                    svg_path, x, y, im.w, im.h);
    }
  /* And something was drawn at all. */
  size_t inked = 0;
  for (uint32_t y = 0; y < im.h; y += 2)
    for (uint32_t x = 0; x < im.w; x += 2) inked += !blank(&im, x, y);
  ck_assert_msg(inked > 100, "%s: rsvg-convert drew nothing", svg_path);
  free(im.rgba);
}

/* ---- the IRP flow ---- */

START_TEST(irp_svg_of_the_async_read) {
  fixture_t fx;
  fixture_begin(&fx, "02-async-read");
  char out[160], err[512];
  path_in(&fx, "irp.svg", out, sizeof out);
  uint32_t irp = 0;
  ck_assert_int_eq(viz_find_irp(fx.db, 0, "r1", &irp, err, sizeof err), VIZ_OK);
  ck_assert_int_eq(viz_irp(fx.db, 0, irp, out, NULL, err, sizeof err), VIZ_OK);
  char *svg = read_svg(out);
  /* Every device, with its driver and stack location; the thread; the hardware. */
  const char *devices[] = {"fs0", "vol0", "disk0", "\\Driver\\fsd", "\\Driver\\volume", "\\Driver\\disk",
                           "stack location", "thread app", "hardware of disk0"};
  for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) assert_has(svg, devices[i], "the IRP picture");
  /* Every arrow's label: the calls, the returns, the hardware, the walk, stage 2. */
  const char *labels[] = {"IoCallDriver(", "returns", "STATUS_PENDING", "starts the device", "interrupt: ISR",
                          "the ISR queues a DPC", "IoCompleteRequest", "completion routine",
                          "routine returned", "walk done", "special kernel APC", "stage 2", "IoStatus",
                          "DISPATCH_LEVEL", "PASSIVE_LEVEL", "APC_LEVEL", "DIRQL5", "CPU 0"};
  for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) assert_has(svg, labels[i], "the IRP picture");
  ck_assert_int_eq(count_of(svg, "IoCallDriver("), 3);
  ck_assert_int_eq(count_of(svg, "STATUS_PENDING"), 5); /* three returns, the system call, the legend */
  /* The time of every step the arrows stand for, as the console prints it. */
  sqlite3 *h = NULL;
  ck_assert_int_eq(sqlite3_open_v2(fx.db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT t_ns, kind FROM event WHERE irp = ?1 AND kind IN ('call-driver',"
                                         " 'dispatch-return', 'hw-start', 'isr', 'dpc', 'complete',"
                                         " 'completion-routine', 'apc', 'stage2')", -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_int64(st, 1, irp);
  int steps = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    int64_t t = sqlite3_column_int64(st, 0);
    char want[48];
    snprintf(want, sizeof want, "%lld.%03lld us", (long long)(t / 1000), (long long)(t % 1000));
    ck_assert_msg(strstr(svg, want) != NULL, "no label with the time of %s (%s)", sqlite3_column_text(st, 1), want);
    steps++;
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  ck_assert_int_ge(steps, 12);
  /* Numbered arrows 1..11, the pending marks of disk0 (dispatch) and fs0 (its routine), the legend. */
  for (int i = 1; i <= 11; i++) {
    char num[32];
    snprintf(num, sizeof num, ">%d</text>", i);
    ck_assert_msg(strstr(svg, num) != NULL, "no arrow numbered %d", i);
  }
  ck_assert_int_eq(count_of(svg, ">PENDING</text>"), 2 + 1); /* two marks and the legend */
  assert_has(svg, "IoMarkIrpPending in dispatch", "the IRP picture");
  assert_has(svg, "IoMarkIrpPending in its completion routine", "the IRP picture");
  assert_has(svg, "How to read it", "the IRP picture");
  /* Typed facts of the steps, once the engine fills them (typed_steps.h
     checks them meanwhile; test_tracedb.c says more). */
  if (query_int(fx.db, "SELECT count(*) FROM event WHERE kind = 'irp-alloc' AND stack_size > 0") > 0) {
    assert_has(svg, "PendingReturned=1", "the IRP picture");
    assert_has(svg, "invoke on success, error, cancel", "the IRP picture");
    assert_has(svg, "NtReadFile", "the IRP picture");
  }
  free(svg);
  fixture_end(&fx);
}
END_TEST

/* ---- pictures from typed facts only ---- */

/* The synthetic steps of typed_steps.h as runs 1 (with their details) and
   2 (every detail "x"), with their machine rows. */
static void typed_fixture(fixture_t *fx) {
  fixture_begin(fx, NULL);
  char e[512];
  tracedb_t *db = tracedb_open(fx->db, e, sizeof e);
  ck_assert_msg(db != NULL, "%s", e);
  ck_assert_int_eq(typed_steps_record(db, NULL), 1);
  ck_assert_int_eq(typed_steps_record(db, "x"), 2);
  tracedb_close(db);
  ck_assert_int_eq(typed_steps_machine(fx->db, 1, 1), 0);
  ck_assert_int_eq(typed_steps_machine(fx->db, 2, 1), 0);
}

/* The flow of IRP 2 of both runs as Graphviz source (each drawn in its own
   process: see the note on Graphviz at the top).  Identical but for the run
   number in the title: no label comes from a detail. */
START_TEST(irp_flow_from_typed_facts_only) {
  fixture_t fx;
  typed_fixture(&fx);
  char out1[160], out2[160], err[512];
  path_in(&fx, "run1.dot", out1, sizeof out1);
  path_in(&fx, "run2.dot", out2, sizeof out2);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) _exit(viz_irp(fx.db, 1, 2, out1, NULL, err, sizeof err) == VIZ_OK ? 0 : 1);
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  ck_assert_msg(viz_irp(fx.db, 2, 2, out2, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  char *a = slurp(out1, NULL), *b = slurp(out2, NULL);
  char *p = strstr(b, "run 2 of");
  ck_assert_ptr_nonnull(p);
  p[4] = '1';
  ck_assert_str_eq(a, b);
  /* (So no detail shows: run 1's are the engine's prose, run 2's all "x".)
     The labels are built from the typed facts: */
  const char *labels[] = {"PendingReturned=1", "invoke on success, error, cancel", "NtReadFile",
                          "IoStatus = STATUS_SUCCESS, Information 4096", "starts the device at offset 0",
                          "special kernel APC", "IoMarkIrpPending in its completion routine"};
  for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) assert_has(a, labels[i], "the typed flow");
  free(a);
  free(b);
  fixture_end(&fx);
}
END_TEST

/* The Perfetto export names a system call by its service, and is the same
   for both runs but for the run number. */
START_TEST(perfetto_from_typed_facts_only) {
  fixture_t fx;
  typed_fixture(&fx);
  char out1[160], out2[160], err[512];
  path_in(&fx, "run1.json", out1, sizeof out1);
  path_in(&fx, "run2.json", out2, sizeof out2);
  ck_assert_msg(viz_export_perfetto(fx.db, 1, out1, err, sizeof err) == VIZ_OK, "%s", err);
  ck_assert_msg(viz_export_perfetto(fx.db, 2, out2, err, sizeof err) == VIZ_OK, "%s", err);
  char *a = slurp(out1, NULL), *b = slurp(out2, NULL);
  assert_has(a, "\"cat\":\"syscall\",\"name\":\"NtReadFile\"", "the export");
  char *p = strstr(b, "\"run\":\"2\"");
  ck_assert_ptr_nonnull(p);
  p[7] = '1';
  ck_assert_str_eq(a, b);
  free(a);
  free(b);
  fixture_end(&fx);
}
END_TEST

/* PNG: the signature, IEND last, and the picture's natural size at 96
   pixels to the inch (the SVG's points times 4/3): nothing squeezes it to a
   width, so its 12-point labels are 16 pixels high. */
START_TEST(irp_png_renders) {
  fixture_t fx;
  fixture_begin(&fx, "02-async-read");
  char out[160], svg_out[160], err[512];
  path_in(&fx, "irp.png", out, sizeof out);
  path_in(&fx, "irp.svg", svg_out, sizeof svg_out);
  pid_t pid = fork(); /* one picture per process: see the note on Graphviz at the top */
  ck_assert_int_ge(pid, 0);
  if (pid == 0) _exit(viz_irp(fx.db, 0, 2, svg_out, NULL, err, sizeof err) == VIZ_OK ? 0 : 1);
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  ck_assert_int_eq(viz_irp(fx.db, 0, 2, out, NULL, err, sizeof err), VIZ_OK);
  size_t n;
  unsigned char *p = (unsigned char *)slurp(out, &n);
  ck_assert_uint_gt(n, 1000);
  ck_assert(!memcmp(p, "\x89PNG\r\n\x1a\n", 8));
  ck_assert(!memcmp(p + 12, "IHDR", 4));
  uint32_t w = be32(p + 16), hgt = be32(p + 20);
  ck_assert(!memcmp(p + n - 8, "IEND", 4));
  char *svg = slurp(svg_out, NULL);
  double sw, sh, vw, vh;
  svg_canvas(svg, &sw, &sh, &vw, &vh);
  ck_assert_msg(fabs(w - sw * 4 / 3) <= 2 && fabs(hgt - sh * 4 / 3) <= 2, "PNG %ux%u, SVG %gpt x %gpt", w, hgt, sw,
                sh);
  ck_assert_uint_gt(w, 1024); /* lesson 2's flow is wider than a squeezed projector picture was */
  free(svg);
  free(p);
  fixture_end(&fx);
}
END_TEST

/* Every picture's SVG holds its whole drawing, as rsvg-convert sees it:
   flows narrow and wide (lesson 3's sub-flow), timelines, and pictures
   scaled down, up and drawn with a larger font. */
static const struct canvas_case {
  const char *lesson, *irp; /* irp NULL: the timeline */
  viz_style_t style;
} canvas_cases[] = {
    {"02-async-read", "r1", {0, 0}},       {"03-more-processing", "r1", {0, 0}},
    {"04-pending-propagation", "rc", {0, 0}}, {"02-async-read", NULL, {0, 0}},
    {"06-two-cpus", NULL, {0, 0}},         {"02-async-read", "r1", {0.75, 0}},
    {"03-more-processing", "r1", {2, 16}}, {"06-two-cpus", NULL, {0.8, 14}},
};

START_TEST(svg_canvas_holds_the_drawing) {
  const struct canvas_case *k = &canvas_cases[_i];
  fixture_t fx;
  fixture_begin(&fx, k->lesson);
  char out[160], png[160], err[512];
  path_in(&fx, "pic.svg", out, sizeof out);
  path_in(&fx, "pic.png", png, sizeof png);
  if (k->irp) {
    uint32_t irp = 0;
    ck_assert_int_eq(viz_find_irp(fx.db, 0, k->irp, &irp, err, sizeof err), VIZ_OK);
    ck_assert_msg(viz_irp(fx.db, 0, irp, out, &k->style, err, sizeof err) == VIZ_OK, "%s", err);
  } else {
    ck_assert_msg(viz_timeline(fx.db, 0, out, &k->style, err, sizeof err) == VIZ_OK, "%s", err);
  }
  assert_uncropped(out, png);
  /* Graphviz cuts a label into one <text> per font change; its spaces must
     stay ("fs0 returns", not "fs0returns"). */
  char *svg = slurp(out, NULL);
  assert_has(svg, "<svg xml:space=\"preserve\"", "the SVG");
  if (k->irp) assert_has(svg, "> returns <", "the SVG");
  free(svg);
  fixture_end(&fx);
}
END_TEST

/* The pictures in docs/diagrams (the README's among them), as committed. */
START_TEST(committed_diagrams_are_not_cropped) {
  char dir[] = "/tmp/iosim-docsvg-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  FILE *ls = popen("ls ../docs/diagrams/*.svg", "r");
  ck_assert_ptr_nonnull(ls);
  char line[512], png[600];
  int n = 0;
  while (fgets(line, sizeof line, ls)) {
    line[strcspn(line, "\n")] = '\0';
    snprintf(png, sizeof png, "%s/%d.png", dir, n++);
    assert_uncropped(line, png);
    remove(png);
  }
  pclose(ls);
  rmdir(dir);
  ck_assert_int_ge(n, 2);
}
END_TEST

/* PDF through Graphviz's cairo device: a one-page PDF whose page holds the
   picture (the SVG's size, plus the device's half-inch margin). */
START_TEST(irp_pdf_renders) {
  fixture_t fx;
  fixture_begin(&fx, "03-more-processing");
  char out[160], svg_out[160], err[512];
  path_in(&fx, "irp.pdf", out, sizeof out);
  path_in(&fx, "irp.svg", svg_out, sizeof svg_out);
  pid_t pid = fork(); /* one picture per process */
  ck_assert_int_ge(pid, 0);
  if (pid == 0) _exit(viz_irp(fx.db, 0, 2, svg_out, NULL, err, sizeof err) == VIZ_OK ? 0 : 1);
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  ck_assert_msg(viz_irp(fx.db, 0, 2, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  size_t n;
  char *pdf = slurp(out, &n);
  ck_assert(n > 1000 && !memcmp(pdf, "%PDF-", 5));
  const char *box = NULL;
  for (size_t i = 0; i + 9 < n && !box; i++)
    if (!memcmp(pdf + i, "/MediaBox", 9)) box = pdf + i;
  ck_assert_ptr_nonnull(box);
  double x0, y0, pw, ph, sw, sh, vw, vh;
  ck_assert_int_eq(sscanf(box, "/MediaBox [ %lf %lf %lf %lf ]", &x0, &y0, &pw, &ph), 4);
  char *svg = slurp(svg_out, NULL);
  svg_canvas(svg, &sw, &sh, &vw, &vh);
  ck_assert_msg(pw >= sw && ph >= sh && pw <= sw + 80 && ph <= sh + 80, "PDF page %gx%g, picture %gx%g", pw, ph, sw,
                sh);
  free(svg);
  free(pdf);
  fixture_end(&fx);
}
END_TEST

/* A driver that finishes its reads in a DPC it requests itself, with no
   hardware: the DPC is a line in its box, and no "hardware of" box appears. */
START_TEST(dpc_without_hardware_draws_no_hardware) {
  fixture_t fx;
  fixture_begin(&fx, NULL);
  char lib[PATH_MAX], scn[160];
  ck_assert(realpath("../scenarios/lib", lib) != NULL);
  path_in(&fx, "dpc-only.iosim", scn, sizeof scn);
  FILE *f = fopen(scn, "w");
  ck_assert(f != NULL);
  fprintf(f,
          "scenario \"a filter that finishes reads in its own DPC\"\n"
          "include \"%s/null.iosim\"\n"
          "driver later\n"
          "  dispatch read\n    mark-pending\n    request-dpc\n    return STATUS_PENDING\n  end\n"
          "  dispatch default\n    complete STATUS_SUCCESS\n    return STATUS_SUCCESS\n  end\n"
          "  dpc\n    complete STATUS_SUCCESS info length\n  end\n"
          "end\n"
          "device null0 driver null\ndevice flt0 driver later on null0\n"
          "thread app\n  open f flt0\n  read f 512 as r1\nend\n"
          "expect dpc(flt0).irql == DISPATCH_LEVEL\n",
          lib);
  fclose(f);
  record(&fx, scn, lib);
  char out[160], err[512];
  path_in(&fx, "irp.svg", out, sizeof out);
  uint32_t irp = 0;
  ck_assert_int_eq(viz_find_irp(fx.db, 0, "r1", &irp, err, sizeof err), VIZ_OK);
  ck_assert_msg(viz_irp(fx.db, 0, irp, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  char *svg = read_svg(out);
  ck_assert_ptr_null(strstr(svg, "hardware of"));
  ck_assert_ptr_null(strstr(svg, "interrupt: ISR"));
  assert_has(svg, "requests its DPC", "the DPC-only flow");
  assert_has(svg, "its DPC runs", "the DPC-only flow");
  free(svg);
  fixture_end(&fx);
}
END_TEST

/* Lesson 3: the stop, the re-completion, the driver's own IRP as a sub-flow. */
START_TEST(irp_stop_and_subflow) {
  fixture_t fx;
  fixture_begin(&fx, "03-more-processing");
  char out[160], err[512];
  path_in(&fx, "irp.svg", out, sizeof out);
  uint32_t irp = 0;
  ck_assert_int_eq(viz_find_irp(fx.db, 0, "r1", &irp, err, sizeof err), VIZ_OK);
  ck_assert_int_eq(viz_irp(fx.db, 0, irp, out, NULL, err, sizeof err), VIZ_OK);
  char *svg = read_svg(out);
  ck_assert_int_eq(count_of(svg, ">STOP</text>"), 2 + 1); /* r1's walk, r2's walk, the legend */
  assert_has(svg, "STATUS_MORE_PROCESSING_REQUIRED", "lesson 3");
  assert_has(svg, "owns IRP 2 again", "lesson 3");
  assert_has(svg, "completes it again", "lesson 3");
  assert_has(svg, "allocates IRP 3 (r2)", "lesson 3");
  assert_has(svg, "sends its own IRP", "lesson 3");
  assert_has(svg, "[r2]", "lesson 3");
  free(svg);
  fixture_end(&fx);
}
END_TEST

/* Every lesson's main IRP draws (the .dot source is Graphviz text), and so
   does its timeline. */
static const char *const lessons[] = {"01-sync-read", "02-async-read", "03-more-processing",
                                      "04-pending-propagation", "05-forward-sync", "06-two-cpus"};

START_TEST(every_lesson_draws_its_irp) {
  fixture_t fx;
  fixture_begin(&fx, lessons[_i]);
  char out[160], err[512];
  path_in(&fx, "irp.dot", out, sizeof out);
  uint32_t irp = 0;
  const char *tag = _i == 3 ? "rc" : "r1";
  ck_assert_int_eq(viz_find_irp(fx.db, 0, tag, &irp, err, sizeof err), VIZ_OK);
  ck_assert_msg(viz_irp(fx.db, 0, irp, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  char *dot = slurp(out, NULL);
  ck_assert(!strncmp(dot, "digraph irp {", 13));
  free(dot);
  fixture_end(&fx);
}
END_TEST

START_TEST(every_lesson_draws_its_timeline) {
  fixture_t fx;
  fixture_begin(&fx, lessons[_i]);
  char out[160], err[512];
  path_in(&fx, "timeline.svg", out, sizeof out);
  ck_assert_msg(viz_timeline(fx.db, 0, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  free(read_svg(out));
  fixture_end(&fx);
}
END_TEST

/* ---- the timeline ---- */

START_TEST(timeline_of_the_async_read) {
  fixture_t fx;
  fixture_begin(&fx, "02-async-read");
  char out[160], err[512];
  path_in(&fx, "machine.svg", out, sizeof out);
  ck_assert_int_eq(viz_timeline(fx.db, 0, out, NULL, err, sizeof err), VIZ_OK);
  char *svg = read_svg(out);
  const char *want[] = {"CPU 0", "CPU 1", "thread app", ">ISR</text>", ">DPC</text>", ">APC app</text>", ">idle</text>",
                        "waiting", "ISR queued this DPC", "not to scale"};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) assert_has(svg, want[i], "the timeline");
  int64_t end = query_int(fx.db, "SELECT end_ns FROM run");
  char end_tick[48];
  snprintf(end_tick, sizeof end_tick, ">%lld.%03lld us</text>", (long long)(end / 1000), (long long)(end % 1000));
  assert_has(svg, end_tick, "the timeline's axis");
  ck_assert_ptr_null(strstr(svg, "summarised"));
  free(svg);
  fixture_end(&fx);
}
END_TEST

START_TEST(timeline_png_renders) {
  fixture_t fx;
  fixture_begin(&fx, "06-two-cpus");
  char out[160], err[512];
  path_in(&fx, "machine.png", out, sizeof out);
  ck_assert_msg(viz_timeline(fx.db, 0, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  size_t n;
  char *p = slurp(out, &n);
  ck_assert(n > 1000 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8) && !memcmp(p + n - 8, "IEND", 4));
  free(p);
  fixture_end(&fx);
}
END_TEST

/* 100,000 steps and more: summarised, and the picture says so. */
START_TEST(timeline_of_a_huge_trace_is_summarised) {
  fixture_t fx;
  fixture_begin(&fx, NULL);
  char lib[PATH_MAX], scn[160];
  ck_assert(realpath("../scenarios/lib", lib) != NULL);
  path_in(&fx, "many-reads.iosim", scn, sizeof scn);
  FILE *f = fopen(scn, "w");
  ck_assert(f != NULL);
  fprintf(f,
          "scenario \"Many asynchronous reads\"\n"
          "machine cpus 2 seed 1\n"
          "include \"%s/disk.iosim\"\ninclude \"%s/volume.iosim\"\ninclude \"%s/fsd.iosim\"\n"
          "device disk0 driver disk latency 3us cpu 0 irql 5\n"
          "device vol0 driver volume on disk0\ndevice fs0 driver fsd on vol0\n"
          "event done\n"
          "thread app\n  open f fs0 overlapped\n  repeat 2600\n    read f 512 event done\n    wait done\n  end\nend\n",
          lib, lib, lib);
  fclose(f);
  record(&fx, scn, lib);
  ck_assert_int_ge(query_int(fx.db, "SELECT count(*) FROM event"), 100000);
  char out[160], err[512];
  path_in(&fx, "machine.svg", out, sizeof out);
  ck_assert_msg(viz_timeline(fx.db, 0, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  char *svg = read_svg(out);
  assert_has(svg, "summarised: ", "the huge timeline");
  assert_has(svg, " frames merged into ", "the huge timeline");
  free(svg);
  fixture_end(&fx);
}
END_TEST

/* ---- a small JSON reader, enough to check the export ---- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype_t;

typedef struct jval {
  jtype_t t;
  double num;
  char *str; /* J_STR */
  char *key; /* as an object member */
  struct jval *kid;
  size_t nkid;
} jval_t;

typedef struct jp {
  const char *p;
  bool bad;
} jp_t;

static void jws(jp_t *j) {
  while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t') j->p++;
}

static char *jstring(jp_t *j) {
  if (*j->p != '"') {
    j->bad = true;
    return NULL;
  }
  j->p++;
  size_t cap = 16, n = 0;
  char *s = malloc(cap);
  while (*j->p && *j->p != '"') {
    char c = *j->p++;
    if (c == '\\') {
      c = *j->p++;
      if (c == 'u') {
        for (int i = 0; i < 4; i++)
          if (!isxdigit((unsigned char)*j->p++)) j->bad = true;
        c = '?';
      } else if (!strchr("\"\\/bfnrt", c)) {
        j->bad = true;
      }
    } else if ((unsigned char)c < 0x20) {
      j->bad = true;
    }
    if (n + 2 > cap) s = realloc(s, cap *= 2);
    s[n++] = c;
  }
  if (*j->p != '"') j->bad = true;
  else j->p++;
  s[n] = '\0';
  return s;
}

static void jparse(jp_t *j, jval_t *v, int depth);

static void jadd(jp_t *j, jval_t *v, char *key, int depth) {
  v->kid = realloc(v->kid, (v->nkid + 1) * sizeof *v->kid);
  jval_t *k = &v->kid[v->nkid++];
  memset(k, 0, sizeof *k);
  k->key = key;
  jparse(j, k, depth + 1);
}

static void jparse(jp_t *j, jval_t *v, int depth) {
  jws(j);
  if (depth > 32) {
    j->bad = true;
    return;
  }
  char c = *j->p;
  if (c == '{' || c == '[') {
    v->t = c == '{' ? J_OBJ : J_ARR;
    j->p++;
    jws(j);
    if (*j->p == (c == '{' ? '}' : ']')) {
      j->p++;
      return;
    }
    for (;;) {
      char *key = NULL;
      if (c == '{') {
        jws(j);
        key = jstring(j);
        jws(j);
        if (*j->p++ != ':') j->bad = true;
      }
      jadd(j, v, key, depth);
      jws(j);
      if (*j->p == ',') {
        j->p++;
        continue;
      }
      if (*j->p++ != (c == '{' ? '}' : ']')) j->bad = true;
      return;
    }
  } else if (c == '"') {
    v->t = J_STR;
    v->str = jstring(j);
  } else if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4)) {
    v->t = c == 't' ? J_BOOL : J_NULL;
    j->p += 4;
  } else if (!strncmp(j->p, "false", 5)) {
    v->t = J_BOOL;
    j->p += 5;
  } else {
    char *end;
    v->t = J_NUM;
    v->num = strtod(j->p, &end);
    if (end == j->p) j->bad = true;
    j->p = end;
  }
  if (j->bad && !*j->p) return;
}

static void jfree(jval_t *v) {
  for (size_t i = 0; i < v->nkid; i++) jfree(&v->kid[i]);
  free(v->kid);
  free(v->str);
  free(v->key);
}

static const jval_t *jget(const jval_t *o, const char *key) {
  if (o->t != J_OBJ) return NULL;
  for (size_t i = 0; i < o->nkid; i++)
    if (!strcmp(o->kid[i].key, key)) return &o->kid[i];
  return NULL;
}

static const char *jstr(const jval_t *o, const char *key) {
  const jval_t *v = jget(o, key);
  return v && v->t == J_STR ? v->str : "";
}

static int64_t jns(const jval_t *o, const char *key) {
  const jval_t *v = jget(o, key);
  ck_assert_msg(v && v->t == J_NUM, "no number '%s'", key);
  return (int64_t)(v->num * 1000.0 + (v->num >= 0 ? 0.5 : -0.5)); /* microseconds to ns */
}

typedef struct slice {
  int64_t ts, dur;
  int tid;
} slice_t;

static int cmp_slice(const void *a, const void *b) {
  const slice_t *x = a, *y = b;
  if (x->tid != y->tid) return x->tid - y->tid;
  return (x->ts > y->ts) - (x->ts < y->ts);
}

/* ---- a validator of the trace-event format ---- */

/* What ui.perfetto.dev and chrome://tracing require of the JSON
   (docs.google.com "Trace Event Format", perfetto.dev "other formats"),
   and what the export promises besides:
   - an object with a "traceEvents" array of objects, each with a "ph" the
     export uses: X (complete slice), M (metadata), C (counter), s/t/f
     (flow), i (instant);
   - X: a name, a category, numeric pid, tid, ts >= 0 and dur >= 0;
   - the X slices of one track (pid, tid) nest: one that starts inside
     another ends inside it too;
   - M: process_name / thread_name with a string "name", process_ or
     thread_sort_index with a numeric "sort_index"; every track with a slice
     and every process has a name;
   - C: a name, pid, ts and args that are all numbers;
   - flows: per id one "s" first and one "f" last, times never going back,
     each point inside a slice of its own track (what it binds to). */
typedef struct tslice {
  double pid, tid, ts, end;
} tslice_t;

static int cmp_tslice(const void *a, const void *b) {
  const tslice_t *x = a, *y = b;
  if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
  if (x->tid != y->tid) return x->tid < y->tid ? -1 : 1;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  return (x->end < y->end) - (x->end > y->end); /* the longer, enclosing one first */
}

static double jnum(const jval_t *o, const char *key, bool *ok) {
  const jval_t *v = jget(o, key);
  if (!v || v->t != J_NUM) {
    *ok = false;
    return 0;
  }
  return v->num;
}

/* Times are microseconds with three decimals: compare in nanoseconds. */
static int64_t us_ns(double us) { return (int64_t)(us * 1000.0 + (us >= 0 ? 0.5 : -0.5)); }

static bool trace_events_valid(const jval_t *root, char *why, size_t wn) {
  const jval_t *evs = jget(root, "traceEvents");
  if (root->t != J_OBJ || !evs || evs->t != J_ARR) return snprintf(why, wn, "no traceEvents array"), false;
  tslice_t *sl = calloc(evs->nkid + 1, sizeof *sl);
  size_t ns = 0;
  bool good = true;
  /* Named processes and tracks: pid and tid pairs (tid -1: the process). */
  double (*named)[2] = calloc(evs->nkid + 1, sizeof *named);
  size_t nnamed = 0;
  for (size_t i = 0; i < evs->nkid && good; i++) {
    const jval_t *e = &evs->kid[i];
    const char *ph = jstr(e, "ph");
    bool ok = e->t == J_OBJ;
    if (!ok) {
      snprintf(why, wn, "event %zu is not an object", i);
      good = false;
      break;
    }
    double pid = jnum(e, "pid", &ok);
    if (!strcmp(ph, "X")) {
      double tid = jnum(e, "tid", &ok), ts = jnum(e, "ts", &ok), dur = jnum(e, "dur", &ok);
      ok = ok && *jstr(e, "name") && *jstr(e, "cat") && ts >= 0 && dur >= 0;
      sl[ns++] = (tslice_t){pid, tid, ts, ts + dur};
    } else if (!strcmp(ph, "M")) {
      const char *name = jstr(e, "name");
      const jval_t *args = jget(e, "args");
      bool thread = !strncmp(name, "thread_", 7);
      double tid = thread ? jnum(e, "tid", &ok) : -1;
      if (!strcmp(name, "process_name") || !strcmp(name, "thread_name")) {
        ok = ok && args && *jstr(args, "name");
        named[nnamed][0] = pid, named[nnamed][1] = tid, nnamed++;
      } else if (!strcmp(name, "process_sort_index") || !strcmp(name, "thread_sort_index")) {
        ok = ok && args && jget(args, "sort_index") && jget(args, "sort_index")->t == J_NUM;
      } else {
        ok = false;
      }
    } else if (!strcmp(ph, "C")) {
      const jval_t *args = jget(e, "args");
      (void)jnum(e, "ts", &ok);
      ok = ok && *jstr(e, "name") && args && args->t == J_OBJ && args->nkid > 0;
      for (size_t k = 0; ok && k < args->nkid; k++) ok = args->kid[k].t == J_NUM;
    } else if (!strcmp(ph, "s") || !strcmp(ph, "t") || !strcmp(ph, "f")) {
      (void)jnum(e, "tid", &ok), (void)jnum(e, "ts", &ok), (void)jnum(e, "id", &ok);
      ok = ok && *jstr(e, "name") && *jstr(e, "cat");
    } else if (!strcmp(ph, "i")) {
      const char *sc = jstr(e, "s");
      (void)jnum(e, "tid", &ok), (void)jnum(e, "ts", &ok);
      ok = ok && *jstr(e, "name") && (!*sc || !strcmp(sc, "g") || !strcmp(sc, "p") || !strcmp(sc, "t"));
    } else {
      ok = false;
    }
    if (!ok) {
      snprintf(why, wn, "event %zu (ph '%s', name '%s') is not a valid trace event", i, ph, jstr(e, "name"));
      good = false;
    }
  }
  /* Slices nest on each track. */
  qsort(sl, ns, sizeof *sl, cmp_tslice);
  int64_t open[64];
  int depth = 0;
  for (size_t i = 0; i < ns && good; i++) {
    if (i == 0 || sl[i].pid != sl[i - 1].pid || sl[i].tid != sl[i - 1].tid) depth = 0;
    int64_t t0 = us_ns(sl[i].ts), t1 = us_ns(sl[i].end);
    while (depth && open[depth - 1] <= t0) depth--;
    if (depth && open[depth - 1] < t1) {
      snprintf(why, wn, "track (%g, %g): the slice at %.3f us ends at %.3f us, after the slice it starts in",
               sl[i].pid, sl[i].tid, sl[i].ts, sl[i].end);
      good = false;
    }
    if (depth < 64) open[depth++] = t1;
    /* Every track with slices is named, and so is its process. */
    bool tn = false, pn = false;
    for (size_t k = 0; k < nnamed; k++) {
      tn |= named[k][0] == sl[i].pid && named[k][1] == sl[i].tid;
      pn |= named[k][0] == sl[i].pid && named[k][1] == -1;
    }
    if (good && (!tn || !pn)) {
      snprintf(why, wn, "track (%g, %g) has slices but no %s name", sl[i].pid, sl[i].tid, tn ? "process" : "thread");
      good = false;
    }
  }
  /* Flows: s first, f last, forward in time, each point bound to a slice of its track. */
  for (size_t i = 0; i < evs->nkid && good; i++) {
    const jval_t *e = &evs->kid[i];
    const char *ph = jstr(e, "ph");
    if (strcmp(ph, "s") != 0) continue;
    bool ok = true;
    double id = jnum(e, "id", &ok), last = -1;
    int starts = 0, finishes = 0;
    for (size_t k = 0; k < evs->nkid && good; k++) {
      const jval_t *f = &evs->kid[k];
      const char *fph = jstr(f, "ph");
      if ((strcmp(fph, "s") && strcmp(fph, "t") && strcmp(fph, "f")) || jnum(f, "id", &ok) != id) continue;
      double ts = jnum(f, "ts", &ok), pid = jnum(f, "pid", &ok), tid = jnum(f, "tid", &ok);
      if (finishes || (fph[0] == 's' ? starts++ : !starts) || ts < last) {
        snprintf(why, wn, "flow %g: points out of order", id);
        good = false;
      }
      finishes += fph[0] == 'f';
      last = ts;
      bool bound = false;
      for (size_t j = 0; j < ns && !bound; j++)
        bound = sl[j].pid == pid && sl[j].tid == tid && us_ns(sl[j].ts) <= us_ns(ts) && us_ns(ts) <= us_ns(sl[j].end);
      if (good && !bound) {
        snprintf(why, wn, "flow %g: the point at %.3f us is in no slice of track (%g, %g)", id, ts, pid, tid);
        good = false;
      }
    }
    if (good && (starts != 1 || finishes != 1)) {
      snprintf(why, wn, "flow %g: %d starts, %d finishes", id, starts, finishes);
      good = false;
    }
  }
  free(named);
  free(sl);
  return good;
}

/* The export of `db`'s last run, parsed and validated. */
static char *export_valid(fixture_t *fx, const char *what, jval_t *root) {
  char out[160], err[512], why[256];
  path_in(fx, "trace.json", out, sizeof out);
  ck_assert_msg(viz_export_perfetto(fx->db, 0, out, err, sizeof err) == VIZ_OK, "%s", err);
  char *text = slurp(out, NULL);
  jp_t j = {.p = text};
  memset(root, 0, sizeof *root);
  jparse(&j, root, 0);
  jws(&j);
  ck_assert_msg(!j.bad && !*j.p, "%s does not parse as JSON (near byte %ld)", out, (long)(j.p - text));
  ck_assert_msg(trace_events_valid(root, why, sizeof why), "the export of %s: %s", what, why);
  return text;
}

/* The validator catches what it should: slices that straddle on one track
   (what every thread track had in 15 of 19 lessons), a flow point in no
   slice, a counter that is not a number, an unnamed track. */
START_TEST(trace_event_validator_rejects) {
  static const char *const bad[] = {
      "{\"traceEvents\":[{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"p\"}},"
      "{\"ph\":\"M\",\"pid\":1,\"tid\":1,\"name\":\"thread_name\",\"args\":{\"name\":\"t\"}},"
      "{\"ph\":\"X\",\"cat\":\"a\",\"name\":\"running\",\"pid\":1,\"tid\":1,\"ts\":0,\"dur\":4},"
      "{\"ph\":\"X\",\"cat\":\"a\",\"name\":\"waiting\",\"pid\":1,\"tid\":1,\"ts\":3.75,\"dur\":200}]}",
      "{\"traceEvents\":[{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"p\"}},"
      "{\"ph\":\"M\",\"pid\":1,\"tid\":1,\"name\":\"thread_name\",\"args\":{\"name\":\"t\"}},"
      "{\"ph\":\"X\",\"cat\":\"a\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":0,\"dur\":4},"
      "{\"ph\":\"s\",\"cat\":\"irp\",\"name\":\"f\",\"id\":1,\"pid\":1,\"tid\":1,\"ts\":1},"
      "{\"ph\":\"f\",\"cat\":\"irp\",\"name\":\"f\",\"id\":1,\"pid\":1,\"tid\":1,\"ts\":9}]}",
      "{\"traceEvents\":[{\"ph\":\"C\",\"pid\":1,\"name\":\"IRQL\",\"ts\":0,\"args\":{\"CPU 0\":\"high\"}}]}",
      "{\"traceEvents\":[{\"ph\":\"X\",\"cat\":\"a\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":0,\"dur\":4}]}",
      "{\"traceEvents\":[{\"ph\":\"B\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":0}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    jp_t j = {.p = bad[i]};
    jval_t root = {0};
    jparse(&j, &root, 0);
    ck_assert_msg(!j.bad, "case %zu does not parse", i);
    char why[256];
    ck_assert_msg(!trace_events_valid(&root, why, sizeof why), "case %zu passed the validator", i);
    jfree(&root);
  }
}
END_TEST

/* Every lesson's export is valid: its thread tracks nest (the waits inside
   the system calls, on their own track beside where the thread ran). */
START_TEST(perfetto_every_lesson_is_valid) {
  FILE *ls = popen("ls ../scenarios/lessons/*.iosim", "r");
  ck_assert_ptr_nonnull(ls);
  char line[256];
  int n = 0;
  while (fgets(line, sizeof line, ls)) {
    line[strcspn(line, "\n")] = '\0';
    fixture_t fx;
    fixture_begin(&fx, NULL);
    record(&fx, line, NULL);
    jval_t root;
    free(export_valid(&fx, line, &root));
    jfree(&root);
    fixture_end(&fx);
    n++;
  }
  pclose(ls);
  ck_assert_int_ge(n, 19);
}
END_TEST

/* What Perfetto users expect in lesson 2's export: names, counters, and the
   read's flow from IoCallDriver through the completion routine to the APC. */
START_TEST(perfetto_counters_flows_and_names) {
  fixture_t fx;
  fixture_begin(&fx, "02-async-read");
  jval_t root;
  char *text = export_valid(&fx, "lesson 2", &root);
  const jval_t *evs = jget(&root, "traceEvents");
  bool irql_dirql = false, irql_passive = false, dpc_one = false, apc_one = false, live_zero_at_end = false;
  bool app_process = false, on_cpu = false, calls = false;
  int64_t live = -1;
  const char *first = NULL, *last = NULL;
  int points = 0;
  bool saw_routine = false;
  for (size_t i = 0; i < evs->nkid; i++) {
    const jval_t *e = &evs->kid[i];
    const char *ph = jstr(e, "ph"), *name = jstr(e, "name");
    const jval_t *args = jget(e, "args");
    if (!strcmp(ph, "C") && !strcmp(name, "CPU 0")) {
      double v = jget(args, "IRQL")->num;
      irql_dirql |= v == 5;
      irql_passive |= v == 0;
    }
    if (!strcmp(ph, "C") && !strcmp(name, "CPU 0 DPC queue")) dpc_one |= jget(args, "depth")->num == 1;
    if (!strcmp(ph, "C") && !strcmp(name, "APC queue")) apc_one |= jget(args, "depth")->num == 1;
    if (!strcmp(ph, "C") && !strcmp(name, "live IRPs")) live = (int64_t)jget(args, "count")->num;
    if (!strcmp(ph, "M") && !strcmp(name, "process_name")) app_process |= !strcmp(jstr(args, "name"), "thread app");
    if (!strcmp(ph, "M") && !strcmp(name, "thread_name")) {
      on_cpu |= !strcmp(jstr(args, "name"), "on CPU");
      calls |= !strcmp(jstr(args, "name"), "calls and waits");
    }
    if (strchr("stf", ph[0]) && !ph[1] && !strcmp(name, "IRP 2 (r1) IRP_MJ_READ")) {
      const char *step = jstr(jget(e, "args"), "step");
      if (!first) first = step;
      last = step;
      saw_routine |= !strcmp(step, "completion-routine");
      points++;
    }
  }
  live_zero_at_end = live == 0;
  ck_assert(irql_dirql && irql_passive);
  ck_assert(dpc_one && apc_one);
  ck_assert_msg(live_zero_at_end, "live IRPs end at %lld", (long long)live);
  ck_assert(app_process && on_cpu && calls);
  ck_assert_str_eq(first, "call-driver");
  ck_assert_msg(!strcmp(last, "stage2") || !strcmp(last, "apc"), "the flow ends at %s", last);
  ck_assert(saw_routine);
  ck_assert_int_ge(points, 12);
  assert_has(text, "\"name\":\"NtReadFile\"", "the export");
  assert_has(text, "\"name\":\"waiting\"", "the export");
  free(text);
  jfree(&root);
  fixture_end(&fx);
}
END_TEST

/* Lesson 10's completion port is a counter of queued packets. */
START_TEST(perfetto_port_counter) {
  fixture_t fx;
  fixture_begin(&fx, "10-iocp");
  jval_t root;
  char *text = export_valid(&fx, "lesson 10", &root);
  assert_has(text, "{\"ph\":\"C\",\"pid\":2,\"name\":\"port ", "the export");
  assert_has(text, "\"args\":{\"queued\":", "the export");
  free(text);
  jfree(&root);
  fixture_end(&fx);
}
END_TEST

static void check_perfetto(const char *lesson) {
  fixture_t fx;
  fixture_begin(&fx, lesson);
  char out[160], err[512];
  path_in(&fx, "trace.json", out, sizeof out);
  ck_assert_msg(viz_export_perfetto(fx.db, 0, out, err, sizeof err) == VIZ_OK, "%s", err);
  char *text = slurp(out, NULL);
  jp_t j = {.p = text};
  jval_t root = {0};
  jparse(&j, &root, 0);
  jws(&j);
  ck_assert_msg(!j.bad && !*j.p, "%s does not parse as JSON (near byte %ld)", out, (long)(j.p - text));
  const jval_t *evs = jget(&root, "traceEvents");
  ck_assert(evs && evs->t == J_ARR);
  int64_t end_ns = query_int(fx.db, "SELECT end_ns FROM run");
  int64_t isr = query_int(fx.db, "SELECT count(*) FROM event WHERE kind = 'isr'");
  int64_t dpc = query_int(fx.db, "SELECT count(*) FROM event WHERE kind = 'dpc'");
  int64_t apc = query_int(fx.db, "SELECT count(*) FROM event WHERE kind = 'apc'");
  int64_t cpus_used = query_int(fx.db, "SELECT count(DISTINCT cpu) FROM event WHERE cpu IS NOT NULL");
  slice_t *sl = calloc(evs->nkid + 1, sizeof *sl);
  size_t ns = 0;
  int64_t n_isr = 0, n_dpc = 0, n_apc = 0, flows_s = 0, flows_f = 0, thread_names = 0;
  for (size_t i = 0; i < evs->nkid; i++) {
    const jval_t *e = &evs->kid[i];
    const char *ph = jstr(e, "ph");
    if (!strcmp(ph, "M") && !strcmp(jstr(e, "name"), "thread_name")) thread_names++;
    if (!strcmp(ph, "s")) flows_s++;
    if (!strcmp(ph, "f")) flows_f++;
    if (strcmp(ph, "X") != 0 || strcmp(jstr(e, "cat"), "frame") != 0) continue;
    const jval_t *args = jget(e, "args");
    const char *frame = args ? jstr(args, "frame") : "";
    n_isr += !strcmp(frame, "ISR");
    n_dpc += !strcmp(frame, "DPC");
    n_apc += !strcmp(frame, "APC");
    ck_assert_int_eq(jget(e, "pid")->num, 1);
    sl[ns++] = (slice_t){.ts = jns(e, "ts"), .dur = jns(e, "dur"), .tid = (int)jget(e, "tid")->num};
  }
  /* One slice per ISR, DPC and APC that ran... */
  ck_assert_int_eq(n_isr, isr);
  ck_assert_int_eq(n_dpc, dpc);
  ck_assert_int_eq(n_apc, apc);
  /* ...and the slices of each CPU tile its time to the end of the run:
     no overlap, no gap, so every frame is one slice and no more. */
  qsort(sl, ns, sizeof *sl, cmp_slice);
  int64_t tracks = 0;
  for (size_t i = 0; i < ns; i++) {
    ck_assert_int_ge(sl[i].dur, 0);
    bool last = i + 1 == ns || sl[i + 1].tid != sl[i].tid;
    if (i == 0 || sl[i - 1].tid != sl[i].tid) tracks++;
    if (!last) ck_assert_msg(sl[i].ts + sl[i].dur == sl[i + 1].ts, "CPU track %d: a gap or overlap at %lld ns",
                             sl[i].tid, (long long)(sl[i].ts + sl[i].dur));
    else ck_assert_int_eq(sl[i].ts + sl[i].dur, end_ns);
  }
  ck_assert_int_eq(tracks, cpus_used);
  const jval_t *other = jget(&root, "otherData");
  ck_assert(other != NULL);
  ck_assert_int_eq(atoll(jstr(other, "frames")), (long long)ns);
  ck_assert_int_ge(thread_names, 2);        /* CPUs and threads are named tracks */
  ck_assert_int_ge(flows_s, 1);             /* IRPs as flows */
  ck_assert_int_eq(flows_s, flows_f);
  free(sl);
  jfree(&root);
  free(text);
  fixture_end(&fx);
}

START_TEST(perfetto_one_slice_per_frame) {
  static const char *const with_irps[] = {"02-async-read", "03-more-processing", "04-pending-propagation",
                                          "06-two-cpus"};
  check_perfetto(with_irps[_i]);
}
END_TEST

/* ---- bad input: a message, and no file ---- */

START_TEST(bad_input_is_reported) {
  fixture_t fx;
  fixture_begin(&fx, "01-sync-read");
  char out[160], err[512];
  path_in(&fx, "irp.gif", out, sizeof out);
  ck_assert_int_eq(viz_irp(fx.db, 0, 2, out, NULL, err, sizeof err), VIZ_EINVAL);
  ck_assert_msg(strstr(err, "unknown picture format '.gif'") != NULL, "%s", err);
  ck_assert_int_ne(access(out, F_OK), 0);

  path_in(&fx, "irp.svg", out, sizeof out);
  ck_assert_int_eq(viz_irp(fx.db, 0, 99, out, NULL, err, sizeof err), VIZ_EINVAL);
  ck_assert_msg(strstr(err, "has no IRP 99") != NULL && !strncmp(err, fx.db, strlen(fx.db)), "%s", err);
  ck_assert_int_eq(viz_irp(fx.db, 7, 2, out, NULL, err, sizeof err), VIZ_EINVAL);
  ck_assert_msg(strstr(err, "no run 7") != NULL, "%s", err);
  uint32_t k;
  ck_assert_int_eq(viz_find_irp(fx.db, 0, "nope", &k, err, sizeof err), VIZ_EINVAL);
  ck_assert_msg(strstr(err, "no IRP named 'nope'") != NULL, "%s", err);
  ck_assert_int_ne(access(out, F_OK), 0);

  /* A file that is not a trace. */
  char junk[160];
  path_in(&fx, "junk.db", junk, sizeof junk);
  FILE *f = fopen(junk, "w");
  fputs("not a database at all, just some text that is long enough to be a header", f);
  fclose(f);
  ck_assert_int_eq(viz_timeline(junk, 0, out, NULL, err, sizeof err), VIZ_EINVAL);
  ck_assert_msg(strstr(err, "not an iosim trace") != NULL, "%s", err);
  ck_assert_int_eq(viz_export_perfetto(fx.db, 0, out, err, sizeof err), VIZ_EINVAL); /* .svg is not JSON */
  ck_assert_int_ne(access(out, F_OK), 0);

  /* An existing picture is replaced whole, or left as it was. */
  f = fopen(out, "w");
  fputs("old", f);
  fclose(f);
  ck_assert_int_eq(viz_irp(fx.db, 0, 99, out, NULL, err, sizeof err), VIZ_EINVAL);
  char *old = slurp(out, NULL);
  ck_assert_str_eq(old, "old");
  free(old);
  ck_assert_int_eq(viz_irp(fx.db, 0, 2, out, NULL, err, sizeof err), VIZ_OK);
  free(read_svg(out));

  /* A folder that does not exist. */
  path_in(&fx, "no/such/dir/irp.svg", out, sizeof out);
  ck_assert_int_eq(viz_irp(fx.db, 0, 2, out, NULL, err, sizeof err), VIZ_EIO);
  ck_assert_msg(strstr(err, "cannot write") != NULL, "%s", err);
  /* Nothing but what the test made is left in the folder (no temporary files). */
  ck_assert_int_eq(query_int(fx.db, "SELECT count(*) FROM run"), 1);
  fixture_end(&fx);
}
END_TEST

START_TEST(list_irps) {
  fixture_t fx;
  fixture_begin(&fx, "03-more-processing");
  char out[160], err[512];
  path_in(&fx, "list.txt", out, sizeof out);
  FILE *f = fopen(out, "w");
  ck_assert_int_eq(viz_list_irps(fx.db, 0, f, err, sizeof err), VIZ_OK);
  fclose(f);
  char *text = slurp(out, NULL);
  assert_has(text, "2 r1 IRP_MJ_READ thread app", "the list");
  assert_has(text, "3 r2 IRP_MJ_READ driver", "the list");
  free(text);
  fixture_end(&fx);
}
END_TEST

TEST_SUITE(viz_suite)
static Suite *viz_suite(void) {
  Suite *s = suite_create("viz");
  TCase *t = tcase_create("pictures");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, irp_svg_of_the_async_read);
  tcase_add_test(t, irp_png_renders);
  tcase_add_test(t, irp_stop_and_subflow);
  tcase_add_test(t, irp_flow_from_typed_facts_only);
  tcase_add_test(t, perfetto_from_typed_facts_only);
  tcase_add_loop_test(t, every_lesson_draws_its_irp, 0, 6);
  tcase_add_loop_test(t, every_lesson_draws_its_timeline, 0, 6);
  tcase_add_test(t, timeline_png_renders);
  tcase_add_test(t, timeline_of_the_async_read);
  tcase_add_test(t, timeline_of_a_huge_trace_is_summarised);
  tcase_add_loop_test(t, perfetto_one_slice_per_frame, 0, 4);
  tcase_add_test(t, trace_event_validator_rejects);
  tcase_add_test(t, perfetto_every_lesson_is_valid);
  tcase_add_test(t, perfetto_counters_flows_and_names);
  tcase_add_test(t, perfetto_port_counter);
  tcase_add_test(t, bad_input_is_reported);
  tcase_add_test(t, list_irps);
  tcase_add_loop_test(t, svg_canvas_holds_the_drawing, 0, (int)(sizeof canvas_cases / sizeof *canvas_cases));
  tcase_add_test(t, committed_diagrams_are_not_cropped);
  tcase_add_test(t, dpc_without_hardware_draws_no_hardware);
  tcase_add_test(t, irp_pdf_renders);
  suite_add_tcase(s, t);
  return s;
}
