/*
 * scn_int.h - the scenario language's model: what a parsed scenario holds
 * (machine, scripted drivers and their routines, devices, events, threads,
 * expectations) and the pieces that load, run and check it.
 */
#ifndef IOSIM_SCN_INT_H
#define IOSIM_SCN_INT_H

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iosim/scenario.h"

/* ---- an arena: everything a scenario holds is freed at once ---- */
typedef struct arena_blk arena_blk_t;
typedef struct arena {
  arena_blk_t *head;
  /* The machine whose memory budget pays for new blocks (the run's arena
     grows with every request a program makes: its buffers, its I/O status
     blocks), or NULL. */
  sim_t *charge;
} arena_t;
void *ar_alloc(arena_t *a, size_t n);
char *ar_strdup(arena_t *a, const char *s);
char *ar_strndup(arena_t *a, const char *s, size_t n);
void ar_free(arena_t *a);

/* Names by kind, for lookups in constant time (names.c). */
typedef enum { NK_DRIVER, NK_DEVICE, NK_EVENT, NK_THREAD, NK_PORT, NK_FILE, NK_IRP, NK_ROUTINE,
               NK_TAG, NK_DEVICE_ID, NK_THREAD_ID } name_kind_t;
typedef struct name_slot {
  int kind;
  const char *name; /* NULL: a free slot */
  void *value;
} name_slot_t;
typedef struct names_tab {
  name_slot_t *v;
  size_t n, cap; /* cap a power of two, at least twice n */
} names_tab_t;
void *names_get(const names_tab_t *t, int kind, const char *name);
void names_put(arena_t *a, names_tab_t *t, int kind, const char *name, void *value);
/* The key of a driver's named routine (completion, cancel): "DRIVER NAME". */
const char *names_routine_key(char *buf, size_t n, const char *driver, const char *routine);

/* Where something was written. */
typedef struct loc {
  const char *file;
  int line, col;
} loc_t;

/* ---- operations: one statement of a routine or a thread program ---- */
typedef enum {
  /* driver routines */
  OP_COPY_STACK, OP_SKIP_STACK, OP_SET_COMPLETION, OP_CALL_LOWER, OP_MARK_PENDING,
  OP_SET_STATUS, OP_COMPLETE, OP_RETURN, OP_START_IO, OP_REQUEST_DPC, OP_QUEUE,
  OP_DEQUEUE, OP_KWAIT, OP_SIGNAL, OP_CLEAR, OP_IF, OP_COUNTER, OP_DELAY, OP_SEND,
  OP_FREE_IRP, OP_COMPLETE_ORIGINAL, OP_NOTE, OP_WHILE, OP_SET_CANCEL,
  OP_RELEASE_CANCEL_LOCK, OP_UNQUEUE, OP_CSQ_INSERT, OP_CSQ_REMOVE, OP_SPLIT,
  OP_FAST_SERVE, OP_FAST_DECLINE, OP_CACHE_SETUP, OP_CACHE_FILL,
  OP_ENTER_CRITICAL, OP_LEAVE_CRITICAL, OP_ENTER_GUARDED, OP_LEAVE_GUARDED, OP_DBGPRINT, OP_FILL,
  /* thread programs */
  OP_OPEN, OP_READ, OP_WRITE, OP_IOCTL, OP_UWAIT, OP_SLEEP, OP_RESET, OP_REPEAT, OP_CLOSE,
  OP_ASSOCIATE, OP_GQCS, OP_GQCS_EX, OP_POST, OP_CLOSE_PORT, OP_CANCEL_IO, OP_CANCEL_IO_EX, OP_CANCEL_SYNC,
  OP_LOCK, OP_QUEUE_APC, OP_ALERT, OP_UNLOAD, OP_NOTIFY_MODES,
  OP_COUNT /* sizes the interpreters' tables */
} op_kind_t;

typedef enum { RET_STATUS, RET_LOWER, RET_IRP, RET_MORE, RET_CONTINUE } ret_kind_t;
typedef enum { INFO_KEEP, INFO_NUM, INFO_LENGTH } info_kind_t;

typedef enum {
  COND_PENDING_RETURNED, COND_STATUS, COND_LOWER_STATUS, COND_COUNTER, COND_CANCEL,
  COND_QUEUE_EMPTY, COND_HAS_IRP, COND_CONTEXT, COND_CANCEL_OWNED, COND_CACHED, COND_LOCKED,
  COND_DEVICE_OBJECT
} cond_kind_t;
typedef enum { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE } cmp_t;

/* a OP b, for conditions and expectations alike. */
static inline bool cmp_eval(cmp_t c, int64_t a, int64_t b) {
  switch (c) {
  case CMP_EQ: return a == b;
  case CMP_NE: return a != b;
  case CMP_LT: return a < b;
  case CMP_LE: return a <= b;
  case CMP_GT: return a > b;
  case CMP_GE: return a >= b;
  }
  return false;
}

/* `status == success` tests a class of statuses (NT_SUCCESS), not one. */
typedef enum { STC_ONE, STC_SUCCESS, STC_ERROR } status_class_t;

typedef struct cond {
  cond_kind_t kind;
  bool negate;
  cmp_t cmp;
  int64_t value;         /* the status, context or count compared with */
  status_class_t status_class;
  const char *name;      /* the queue or counter; the device (NULL: none) */
} cond_t;

typedef struct op op_t;

/* The fields of each kind of operation.  An op_t holds the one its kind
   names (the union in struct op below), so nothing is stored under another
   type and a reader sees which fields an operation has. */
typedef struct op_set_completion {
  const char *routine;
  bool on_success, on_error, on_cancel;
  int64_t context;       /* 0 unless `context N` */
} op_set_completion_t;

typedef struct op_set_cancel {
  const char *routine;   /* NULL: clear-cancel, IoSetCancelRoutine(Irp, NULL) */
} op_set_cancel_t;

/* set-status, complete, complete-original, fast-serve */
typedef struct op_status {
  bool has_status;
  bool from_lower;       /* lower-status: what the last call-lower / send returned */
  NTSTATUS status;
  info_kind_t info;
  int64_t info_bytes;    /* INFO_NUM */
  bool has_boost;
  int64_t boost;
} op_status_t;

typedef struct op_return {
  ret_kind_t how;
  NTSTATUS status;       /* RET_STATUS */
} op_return_t;

typedef struct op_start_io {
  bool has_latency;
  int64_t latency;
  bool detached;         /* the interrupt carries no IRP */
} op_start_io_t;

typedef struct op_request_dpc {
  int importance;        /* a KDPC_IMPORTANCE to set first, -1 = leave it */
  int cpu;               /* a target CPU to set first, -1 = leave it */
  int cpu_col;           /* where N was written, for the machine's CPU check */
} op_request_dpc_t;

typedef struct op_named {
  const char *name;      /* the queue (queue, dequeue, unqueue, csq-*), event (signal, clear, reset), file (close) or port (close-port) */
} op_named_t;

typedef struct op_kwait {
  const char *event;
  bool has_timeout;
  int64_t timeout;
} op_kwait_t;

typedef struct op_branch { /* if, while */
  cond_t cond;
  op_t *body, *else_body;
} op_branch_t;

typedef struct op_counter {
  const char *name;
  bool add;              /* += rather than an assignment */
  int64_t value;
} op_counter_t;

typedef struct op_send {
  UCHAR major;
  int64_t length;
  const char *to;        /* a device; NULL: the device below */
  const char *completion;
  const char *as;        /* the new IRP's name */
} op_send_t;

typedef struct op_split {
  int count;             /* associated IRPs, 1..16 */
  const char **to;       /* devices (or lower / with), dealt in turn */
  int nto;
} op_split_t;

typedef struct op_open {
  const char *file, *device;
  bool overlapped, alertable;
} op_open_t;

typedef struct op_io { /* read, write, ioctl */
  const char *file;
  int64_t length;        /* read/write length; an ioctl's output length */
  bool has_offset;
  int64_t offset;
  int64_t code, in_len;  /* ioctl */
  const char *event, *as;
  bool apc;              /* ReadFileEx: a completion routine as a user APC */
  bool no_port;          /* hEvent with its low bit set: no completion packet */
  const unsigned char *data; /* `data BYTES`: a write's bytes, an ioctl's input (NULL: zeros) */
  int64_t data_len;
} op_io_t;

typedef struct op_uwait {
  const char **objects;
  int nobjects;
  bool all, alertable, has_timeout;
  int64_t timeout;
} op_uwait_t;

typedef struct op_sleep {
  int64_t ns;
  bool alertable;
} op_sleep_t;

typedef struct op_repeat {
  int64_t count;
  op_t *body;
} op_repeat_t;

typedef struct op_associate {
  const char *file, *port;
  int64_t key;
} op_associate_t;

/* The most packets one gqcs-ex takes (the program's OVERLAPPED_ENTRY
   array): iosim's bound, not Windows'. */
#define SCN_GQCS_EX_MAX 64

typedef struct op_gqcs { /* gqcs, gqcs-ex */
  const char *port;
  bool has_timeout;
  int64_t timeout;
  int count;             /* gqcs-ex: packets at most (ulCount), 1 for gqcs */
  bool alertable;        /* gqcs-ex: fAlertable */
} op_gqcs_t;

typedef struct op_post {
  const char *port;
  int64_t key, info;
  bool has_status;
  NTSTATUS status;
} op_post_t;

typedef struct op_queue_apc { /* queue-apc THREAD [name NAME] */
  const char *thread;
  const char *name;      /* the APC's label; NULL: the default */
} op_queue_apc_t;

typedef struct op_cancel { /* cancel (CancelIoEx), cancel-io, cancel-sync */
  const char *target;    /* the file; the thread for cancel-sync */
  const char *request;   /* cancel F R: one named request */
} op_cancel_t;

typedef struct op_lock {
  const char *file;
  int64_t offset, length;
} op_lock_t;

typedef struct op_notify_modes { /* SetFileCompletionNotificationModes */
  const char *file;
  bool skip_port;        /* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS */
  bool skip_event;       /* FILE_SKIP_SET_EVENT_ON_HANDLE */
} op_notify_modes_t;

struct op {
  op_kind_t kind;
  loc_t at;
  const char *text;      /* the statement as written, for the trace */
  op_t *next;
  union {                /* by kind: */
    op_set_completion_t set_completion; /* OP_SET_COMPLETION */
    op_set_cancel_t set_cancel;         /* OP_SET_CANCEL */
    op_status_t status;                 /* OP_SET_STATUS, OP_COMPLETE, OP_COMPLETE_ORIGINAL, OP_FAST_SERVE */
    op_return_t ret;                    /* OP_RETURN */
    op_start_io_t start_io;             /* OP_START_IO */
    op_request_dpc_t request_dpc;       /* OP_REQUEST_DPC */
    op_named_t named;                   /* OP_QUEUE, OP_DEQUEUE, OP_UNQUEUE, OP_CSQ_*, OP_SIGNAL, OP_CLEAR, OP_RESET, OP_CLOSE, OP_CLOSE_PORT, OP_ALERT, OP_UNLOAD */
    op_kwait_t kwait;                   /* OP_KWAIT */
    op_branch_t branch;                 /* OP_IF, OP_WHILE */
    op_counter_t counter;               /* OP_COUNTER */
    int64_t delay_ns;                   /* OP_DELAY */
    const char *note;                   /* OP_NOTE, OP_DBGPRINT */
    op_io_t fill;                       /* OP_FILL: its data, data_len */
    op_send_t send;                     /* OP_SEND */
    op_split_t split;                   /* OP_SPLIT */
    op_open_t open;                     /* OP_OPEN */
    op_io_t io;                         /* OP_READ, OP_WRITE, OP_IOCTL */
    op_uwait_t uwait;                   /* OP_UWAIT */
    op_sleep_t sleep;                   /* OP_SLEEP */
    op_repeat_t repeat;                 /* OP_REPEAT */
    op_associate_t associate;           /* OP_ASSOCIATE */
    op_gqcs_t gqcs;                     /* OP_GQCS, OP_GQCS_EX */
    op_post_t post;                     /* OP_POST */
    op_cancel_t cancel;                 /* OP_CANCEL_IO, OP_CANCEL_IO_EX, OP_CANCEL_SYNC */
    op_queue_apc_t queue_apc;           /* OP_QUEUE_APC */
    op_lock_t lock;                     /* OP_LOCK */
    op_notify_modes_t modes;            /* OP_NOTIFY_MODES */
  };
};

typedef enum { RT_DISPATCH, RT_COMPLETION, RT_ISR, RT_DPC, RT_CANCEL, RT_FASTIO } routine_kind_t;

typedef struct driver_decl driver_decl_t;
typedef struct routine {
  routine_kind_t kind;
  char *name;
  uint32_t majors[2];    /* bitmask of IRP_MJ_* for dispatch routines */
  bool is_default;
  op_t *body;
  loc_t at;
  int index;             /* its place in its driver, 0..nroutines-1 */
  const driver_decl_t *driver;
  struct routine *next;
} routine_t;

struct driver_decl {
  char *name;
  loc_t at;
  /* A C driver (`driver NAME load "FILE"`): the shared object to load,
     compiled from FILE when it is a .c; NULL for a scripted driver. */
  char *load_path;
  char *load_src;           /* FILE as written, for messages */
  routine_t *routines;
  int nroutines;
  /* set by the checks: the first start-io, the first call down (or NULL) */
  const struct op *start_io, *call_lower;
  driver_decl_t *next;
};

typedef struct device_decl {
  char *name, *driver, *on;
  int order; /* declaration order, from 0 */
  loc_t at;
  bool has_hw;
  int64_t latency;
  int cpu;
  int irql;
  int dpc_importance;    /* KDPC_IMPORTANCE of the device's DPC, -1 = Medium (the default) */
  int dpc_cpu;           /* its target CPU, -1 = where it is queued */
  ULONG do_flags;        /* buffered-io / direct-io: DO_BUFFERED_IO, DO_DIRECT_IO */
  loc_t dpc_at;          /* where dpc-cpu was written, for the CPU check */
  char *with;            /* a second device the driver may use (split ... to with) */
  bool ufs;              /* a user-mode file system (built-in driver) */
  bool ufs_async;
  int64_t ufs_work, ufs_return, ufs_idle;
  struct device_decl *next;
} device_decl_t;

typedef struct event_decl {
  char *name;
  bool sync, signaled;
  loc_t at;
  struct event_decl *next;
} event_decl_t;

typedef struct port_decl {
  char *name;
  unsigned concurrency;
  loc_t at;
  struct port_decl *next;
} port_decl_t;

typedef struct thread_decl {
  char *name;
  loc_t at;
  op_t *body;
  struct thread_decl *next;
} thread_decl_t;

typedef struct cost_decl {
  char *name;
  uint32_t ns;
  loc_t at;
  struct cost_decl *next;
} cost_decl_t;

/* ---- expectations ---- */
typedef enum {
  EX_IRP_FIELD,      /* r1.status == X, r1.information == N, r1.pending-returned == true */
  EX_IRP_COMPLETED,  /* r1 completed / r1 not completed */
  EX_THREAD_STATE,   /* thread app finished | waiting */
  EX_BUGCHECK,       /* bugcheck CODE | no bugcheck */
  EX_OUTCOME,        /* outcome ok|stalled|bugcheck|limit */
  EX_ORDER,          /* order A < B < C */
  EX_EVENT_FIELD,    /* pattern.irql == DISPATCH ... */
  EX_COUNT,          /* count(pattern) == N */
  EX_EXISTS,         /* pattern happened / never */
  EX_FINDING         /* finding RULE [IRP] / no finding [RULE] (the verifier) */
} ex_kind_t;

typedef struct pattern {
  int kind;          /* trc_kind_t, or -1 for "any" */
  char *args[4];     /* device / irp / thread names, or "quoted detail" */
  int nargs;
  int nth;           /* 1-based occurrence, 0 = first */
  char *text;
} pattern_t;

typedef struct expect {
  ex_kind_t kind;
  loc_t at;
  char *text;
  char *subject;     /* irp / thread name */
  char *field;       /* status, information, pending-returned, irql, frame, cpu, thread */
  cmp_t cmp;
  bool negate;
  int64_t value;     /* numbers, statuses, irqls, bugcheck codes */
  bool sometimes;    /* holds in at least one seed */
  char *svalue;      /* names: frame, thread, state, outcome */
  pattern_t pats[8];
  int npats;
  struct expect *next;
} expect_t;

struct scn {
  arena_t ar;
  char *title;
  char *path;
  uint64_t hash;
  sim_config_t cfg;
  unsigned seeds;
  int explore_bound;  /* `machine explore bound K`: K; SCN_EXPLORE_NONE / SCN_EXPLORE_UNBOUNDED */
  cost_decl_t *costs;
  driver_decl_t *drivers;
  device_decl_t *devices;
  event_decl_t *events;
  port_decl_t *ports;
  thread_decl_t *threads;
  expect_t *expects;
  int nexpects;
  /* Loading stays linear: names by kind, the ends of the lists kept in
     file order, how many devices (a device's order is its index). */
  names_tab_t names;
  loc_t max_time_at, max_steps_at; /* the machine lines that set them, for the ceilings */
  cost_decl_t **costs_tail;
  device_decl_t **devices_tail;
  thread_decl_t **threads_tail;
  expect_t **expects_tail;
  int ndevices;
};

/* ---- the parser (parse.c, lex.c) ---- */
typedef struct tok {
  enum { T_WORD, T_NUM, T_STR, T_OP, T_END } t;
  char *s;          /* text (arena) */
  int col;
  int64_t n;        /* for T_NUM, scaled by its unit */
  char unit[4];     /* "", "ns", "us", "ms", "s" */
} tok_t;

typedef struct lexline {
  tok_t *v;         /* reused from line to line (room for cap tokens) */
  size_t cap;
  int n;
  int line;
  const char *file;
  char *raw;        /* the line without its comment, trimmed */
} lexline_t;

/* Token k of L, or its T_END past the last one, so lookahead never
   overruns (lex.c; TK and the expect reader's TKP are this). */
tok_t *lex_tok(const lexline_t *L, int k);

/* Tokenizes one line; false + message on a bad character or string. */
bool lex_line(arena_t *a, const char *line, int lineno, const char *file, lexline_t *out,
              scn_error_t *err);

/* Errors carry a jump back to scn_load. */

typedef struct parser {
  scn_t *sc;
  scn_error_t *err;
  jmp_buf fail;
  const char *extra_dir;
  const char *root;
  /* the standard library's folders, in search order (real paths of those
     that exist): $IOSIM_PATH's, then the installed and the source tree's */
  const char *libdirs[16];
  int nlibdirs;
  /* files being included (loop detection) and already included (once) */
  const char *stack[SCN_MAX_INCLUDE_DEPTH];
  int depth;
  int nest; /* blocks open now */
  int nthreads, nobjects;
  char **seen;
  int nseen, capseen;
} parser_t;
void perr(parser_t *p, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 5, 6)));
expect_t *parse_expect(parser_t *p, lexline_t *L);

/* ---- running (run.c, interp.c, program.c) ---- */
typedef struct run_state run_state_t;
const char *scn_major_word(UCHAR m);
int scn_major_parse(const char *w);

/* ---- checking (expect.c) ---- */
typedef struct ev_log ev_log_t;
/* The log charges what it holds to S's memory budget (sim_charge_memory). */
ev_log_t *evlog_new(const scn_t *sc, sim_t *S);
void evlog_free(ev_log_t *l);
trc_sink_t evlog_sink(ev_log_t *l);
typedef struct name_map name_map_t;
void scn_check(const scn_t *sc, sim_t *S, const ev_log_t *log, run_state_t *rs, scn_result_t *res);
uint32_t rs_irp_by_name(run_state_t *rs, const char *name);

#endif
