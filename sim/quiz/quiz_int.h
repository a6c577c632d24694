/*
 * quiz_int.h - what the files of the quiz generator share: its own PRNG
 * (the exercise must not change with libc), a text builder that counts
 * lines (so a question can name the line of a generated bug), the
 * questions a topic asks, and the facts one run of the scenario left.
 */
#ifndef IOSIM_QUIZ_INT_H
#define IOSIM_QUIZ_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iosim/explore.h"
#include "iosim/quiz.h"
#include "iosim/scenario.h"

/* ---- the generator's PRNG: splitmix64, fixed forever for QUIZ_COMPAT 1 ---- */
typedef struct qz_rng {
  uint64_t s;
} qz_rng_t;
static inline uint64_t qz_next(qz_rng_t *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
/* A number in lo..hi (inclusive). */
static inline int qz_range(qz_rng_t *r, int lo, int hi) {
  return lo + (int)(qz_next(r) % (uint64_t)(hi - lo + 1));
}
static inline int qz_chance(qz_rng_t *r, int percent) { return (int)(qz_next(r) % 100) < percent; }
/* The seed of the Nth retry: a variant that was rejected is never retried
   with the same numbers. */
uint64_t qz_derive(uint64_t seed, int attempt);

/* ---- text that knows its line count ---- */
typedef struct qz_buf {
  char *s;
  size_t len, cap;
  int lines; /* complete lines so far: the next line written is lines + 1 */
} qz_buf_t;
void qz_printf(qz_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qz_vprintf(qz_buf_t *b, const char *fmt, va_list ap);
char *qz_take(qz_buf_t *b); /* the text, "" if none; the buffer is emptied */

/* ---- what a topic asks ---- */
typedef enum {
  QK_CR_ORDER,  /* the completion routines of req[0]: order, IRQL, frame, thread */
  QK_IOSB,      /* who writes req[0]'s I/O status block, when; is an APC queued */
  QK_SYSRET,    /* what ReadFile returns for req[0] */
  QK_WAIT,      /* what thr[0]'s n-th wait returns */
  QK_HANG,      /* does thr[0] hang, and why */
  QK_FINDINGS,  /* which verifier rule fires; the bug (if any) is at `line` in dev[0]
                   (or about the IRP req[0] that driver allocated) */
  QK_MPR,       /* req[0]'s walk: stopped?, completed how many times; req[1] */
  QK_PORT,      /* which worker (thr[]) gets which packet (req[]) */
  QK_CALLBACKS, /* the user-mode completion routines of req[] in thr[0] */
  QK_CANCEL,    /* the cancel of req[0]: routine, IRQL, status */
  QK_ASSOC,     /* req[0]'s associated IRPs on dev[]: order, master */
  QK_FASTIO,    /* reads 1..n: fast I/O or an IRP */
  QK_UFS,       /* req[0] on a user-mode file system: who answers, which first */
  QK_RACE       /* over every schedule within the file's bound: does cancel race
                   completion badly for req[0]; the key is a minimised replay token */
} qz_qkind_t;

#define QZ_NAMES 6
typedef struct qz_q {
  qz_qkind_t kind;
  char req[QZ_NAMES][16];
  int nreq;
  char thr[QZ_NAMES][24];
  int nthr;
  char dev[QZ_NAMES][24];
  int ndev;
  int line; /* QK_FINDINGS: the generated bug's line, 0 = no bug; QK_WAIT: the wait's */
  char stmt[64]; /* QK_WAIT: the statement of that line, as written */
  int n;    /* QK_WAIT: which wait; QK_FASTIO: how many reads; QK_FINDINGS: 1 if
               findings may come without a generated bug (a hang) */
} qz_q_t;

#define QZ_MAXQ 8
typedef struct qz_variant {
  qz_buf_t text;
  qz_q_t q[QZ_MAXQ];
  int nq;
  bool explored; /* `machine explore bound K`: checked over its schedules */
  int wline[8];  /* the lines of app's waits and sleeps, in order */
  int nwline;
} qz_variant_t;

qz_q_t *qz_ask(qz_variant_t *v, qz_qkind_t kind);
void qz_add_req(qz_q_t *q, const char *name);
void qz_add_thr(qz_q_t *q, const char *name);
void qz_add_dev(qz_q_t *q, const char *name);

/* Writes the scenario of `topic` at `level` from rng into v. */
void qz_gen_topic(qz_variant_t *v, quiz_topic_t topic, int level, uint64_t file_seed, qz_rng_t *rng);

/* ---- one run's facts ---- */
typedef struct qz_ev {
  uint64_t seq, t;
  int kind, irql, frame, cpu, stage2, count, wait_index, cancel_routine, major;
  int has_status;
  int32_t status;
  char thread[24], irp[16], dev[24], target[24], routine_dev[24];
  char text[64], service[32], object[24];
} qz_ev_t;

typedef struct qz_run {
  qz_ev_t *ev;
  size_t nev, cap;
  scn_result_t res;
  char thread_state[QZ_NAMES][16]; /* per qz_q thr[] of the question asked, filled on finish */
  /* thread states by name, for QK_HANG */
  char names[16][24];
  char states[16][16];
  int nthreads;
} qz_run_t;

/* Runs the scenario at `path` with machine seed `seed` (or, when `sched`
   is given, that schedule, as `iosim run --replay`); 0, or -1 with err. */
int qz_run(const char *path, uint64_t seed, const xp_schedule_t *sched, qz_run_t *run, char *err, size_t errn);
void qz_run_free(qz_run_t *run);

/* Computes the answer of question q from a run; returns 0, or -1 with
   `why` when the question cannot be answered unambiguously. */
int qz_answer(const qz_q_t *q, const qz_run_t *run, quiz_question_t *out, char *why, size_t whyn);
/* QK_RACE: explores `path` (the question file, `machine explore bound K`)
   and a copy of it that forbids every bad end (`scratch`), and answers
   with the minimised token of a bad schedule, replayed to be sure. */
int qz_answer_race(const qz_q_t *q, const char *path, const char *scratch, quiz_question_t *out, char *why, size_t whyn);
/* The question's words. */
char *qz_question_text(const qz_q_t *q);

#endif
