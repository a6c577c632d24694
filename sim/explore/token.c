/*
 * token.c - replay tokens, and replaying one in an ordinary run.
 *
 * A token is "1:HASH:SEED:CHOICES": format version 1, the scenario's
 * content hash (scn_hash, 16 hex digits: the file and everything it
 * includes), the machine's seed, and the choice points where the schedule
 * did not take the default, as a comma-separated list of "INDEX" (option 1)
 * or "INDEX.OPTION", INDEX counting the run's choice points from 0; "-"
 * when there is none.  Every other choice point takes option 0.
 * Example: 1:9f3c2a0b7d1e4c55:1:29,57.2
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "explore_int.h"

char *xp_token(const xp_schedule_t *s) {
  size_t cap = 64 + s->n * 24;
  char *t = xp_xalloc(cap);
  size_t w = (size_t)snprintf(t, cap, "1:%016" PRIx64 ":%" PRIu64 ":", s->hash, s->seed);
  if (!s->n) {
    snprintf(t + w, cap - w, "-");
    return t;
  }
  for (size_t i = 0; i < s->n; i++) {
    if (s->opt[i] == 1) w += (size_t)snprintf(t + w, cap - w, "%s%" PRIu32, i ? "," : "", s->at[i]);
    else w += (size_t)snprintf(t + w, cap - w, "%s%" PRIu32 ".%" PRIu32, i ? "," : "", s->at[i], s->opt[i]);
  }
  return t;
}

static bool read_u64(const char **p, int base, uint64_t *v) {
  if (!isxdigit((unsigned char)**p)) return false;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(*p, &end, base);
  if (errno || end == *p) return false;
  *p = end;
  *v = x;
  return true;
}

int xp_token_parse(const char *text, xp_schedule_t *out, char *err, size_t errlen) {
  xp_schedule_t s = {0};
  const char *p = text;
  while (isspace((unsigned char)*p)) p++;
  uint64_t ver, v;
  if (!read_u64(&p, 10, &ver) || *p != ':' || ver != 1) {
    snprintf(err, errlen, "not an iosim replay token (they look like 1:9f3c2a0b7d1e4c55:1:29,57.2)");
    return -1;
  }
  p++;
  if (!read_u64(&p, 16, &s.hash) || *p++ != ':' || !read_u64(&p, 10, &s.seed) || *p++ != ':') {
    snprintf(err, errlen, "malformed replay token: expected 1:HASH:SEED:CHOICES");
    return -1;
  }
  if (*p == '-') {
    p++;
  } else {
    int64_t last = -1;
    for (;;) {
      uint64_t at, opt = 1;
      if (!read_u64(&p, 10, &at) || at > UINT32_MAX) goto bad;
      if (*p == '.') {
        p++;
        if (!read_u64(&p, 10, &opt) || opt == 0 || opt > UINT32_MAX) goto bad;
      }
      if ((int64_t)at <= last) goto bad;
      last = (int64_t)at;
      xp_schedule_push(&s, (uint32_t)at, (uint32_t)opt);
      if (*p != ',') break;
      p++;
    }
  }
  while (isspace((unsigned char)*p)) p++;
  if (*p) goto bad;
  (void)v;
  xp_schedule_free(out);
  *out = s;
  return 0;
bad:
  snprintf(err, errlen, "malformed replay token near '%.20s': choices are INDEX or INDEX.OPTION, increasing, "
           "separated by commas", p);
  xp_schedule_free(&s);
  return -1;
}

int xp_token_check(const scn_t *sc, const xp_schedule_t *s, char *err, size_t errlen) {
  if (s->hash == scn_hash(sc)) return 0;
  snprintf(err, errlen, "this token belongs to another version of the scenario (its content hash is %016" PRIx64
           ", %s's is %016" PRIx64 "): the file or one it includes was edited since; explore it again for a new "
           "token", s->hash, scn_path(sc), scn_hash(sc));
  return -1;
}

int xp_token_read_file(const char *path, xp_schedule_t *out, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: cannot read it: %s", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int rc = -1;
  snprintf(err, errlen, "%s holds no token", path);
  while ((len = getline(&line, &cap, f)) >= 0) {
    const char *p = line;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) continue;
    char why[400];
    rc = xp_token_parse(p, out, why, sizeof why);
    if (rc != 0) snprintf(err, errlen, "%s: %s", path, why);
    break;
  }
  free(line);
  fclose(f);
  return rc;
}

/* ---- replaying a schedule in an ordinary run ---- */
struct xp_replay {
  xp_run_t run;
  xp_schedule_t s;
};

xp_replay_t *xp_replay_new(const xp_schedule_t *s) {
  xp_replay_t *rp = xp_xalloc(sizeof *rp);
  xp_run_init(&rp->run);
  xp_schedule_copy(&rp->s, s);
  rp->run.sparse = &rp->s;
  rp->run.policy = XP_POL_DEFAULT;
  xp_run_reset(&rp->run);
  return rp;
}

void xp_replay_install(xp_replay_t *rp, sim_t *S) { xp_run_on_start(&rp->run, S); }

bool xp_replay_diverged(const xp_replay_t *rp, char *why, size_t n) {
  bool past = rp->s.n && rp->s.at[rp->s.n - 1] >= rp->run.n;
  if (!rp->run.diverged && !past) return false;
  if (past)
    snprintf(why, n, "the schedule names choice point %" PRIu32 " but the run had only %zu", rp->s.at[rp->s.n - 1],
             rp->run.n);
  else snprintf(why, n, "an option of the schedule is beyond the alternatives of its choice point");
  return true;
}

uint64_t xp_replay_points(const xp_replay_t *rp) { return rp->run.n; }

void xp_replay_free(xp_replay_t *rp) {
  if (!rp) return;
  xp_schedule_free(&rp->s);
  xp_run_free(&rp->run);
  free(rp);
}

typedef struct show {
  xp_replay_t *rp;
  FILE *out;
} show_t;

static void show_start(void *ud, sim_t *S) {
  show_t *s = ud;
  if (s->out) {
    trc_sink_t t = sim_console_sink(S, s->out);
    sim_add_sink(S, &t);
  }
  xp_replay_install(s->rp, S);
}

int xp_run_schedule(const scn_t *sc, const xp_schedule_t *s, FILE *out, scn_result_t *res, bool *diverged,
                    scn_error_t *err) {
  show_t sh = {.rp = xp_replay_new(s), .out = out};
  scn_run_opts_t o = {.on_start = show_start, .ud = &sh};
  int rc = scn_run(sc, &o, res, err);
  char why[160];
  if (diverged) *diverged = rc == SIM_OK && xp_replay_diverged(sh.rp, why, sizeof why);
  xp_replay_free(sh.rp);
  return rc;
}
