/*
 * cdrv_guard.c - a C driver's crash is reported, not suffered.  A driver
 * loaded from a shared object runs in iosim's own process, so a real
 * fault in it (a NULL dereference in a student's dispatch routine) would
 * kill iosim with nothing said.  A scenario that loads one is therefore
 * run in a child process: the child records, in memory it shares with the
 * parent, the last trace steps as it goes and, from its fault handler,
 * the signal, the faulting address and the routine it was in; the parent
 * waits and, if the child died by a signal, prints that as an error
 * naming the driver.  Nothing of this runs for scripted scenarios.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "run_int.h"

#define RING_STEPS 12
#define RING_LINE 200
#define RING_DRIVERS 16

typedef struct crash_ring {
  volatile sig_atomic_t sig;
  uintptr_t addr;            /* the faulting address (si_addr) */
  char where[320];           /* symbol+offset (file) of the faulting instruction */
  char where_file[256];      /* the object it belongs to, to name the driver */
  uintptr_t where_off;       /* the faulting instruction as an offset in that file */
  char caller[320];          /* when that is iosim: the nearest driver frame below it */
  char caller_file[256];
  uintptr_t caller_off;      /* its return address, as an offset in its file */
  uint64_t steps;            /* steps recorded so far */
  /* The last steps as the trace gave them, copied, not formatted: the
     parent formats them if the child dies (formatting every step would
     cost more than running it). */
  struct ring_step {
    uint64_t seq, t_ns;
    int cpu, irql, kind;
    char thread[24];
    char detail[RING_LINE - 64];
  } lines[RING_STEPS];
  int ndrivers;
  char drv_name[RING_DRIVERS][64];
  char drv_file[RING_DRIVERS][256];
} crash_ring_t;

/* The child's record: set once after fork, read by its fault handler,
   which can reach nothing else.  The one piece of process state here. */
static crash_ring_t *crash_ring;

bool scn_crash_recording(void) { return crash_ring != NULL; }
bool scn_guard_is_child(void) { return crash_ring != NULL; }

void scn_crash_note_driver(const char *name, const char *file) {
  crash_ring_t *r = crash_ring;
  if (!r || r->ndrivers == RING_DRIVERS) return;
  snprintf(r->drv_name[r->ndrivers], sizeof r->drv_name[0], "%s", name);
  snprintf(r->drv_file[r->ndrivers], sizeof r->drv_file[0], "%s", file);
  r->ndrivers++;
}

/* Copies at most n - 1 bytes of s and a NUL. */
static void copy_text(char *dst, const char *s, size_t n) {
  const char *end = memchr(s, 0, n - 1);
  size_t k = end ? (size_t)(end - s) : n - 1;
  memcpy(dst, s, k);
  dst[k] = 0;
}

static void ring_event(void *ud, const trc_event_t *ev) {
  crash_ring_t *r = crash_ring;
  if (!r) return;
  sim_t *S = ud;
  struct ring_step *l = &r->lines[r->steps % RING_STEPS];
  l->seq = ev->seq;
  l->t_ns = ev->t_ns;
  l->cpu = ev->cpu;
  l->irql = ev->irql;
  l->kind = (int)ev->kind;
  copy_text(l->thread, ev->thread ? sim_thread_name(S, ev->thread) : "-", sizeof l->thread);
  copy_text(l->detail, ev->detail, sizeof l->detail);
  r->steps++;
}

trc_sink_t scn_crash_sink(sim_t *S) { return (trc_sink_t){.event = ring_event, .ud = S}; }

static void on_fault(int sig, siginfo_t *si, void *uc_) {
  crash_ring_t *r = crash_ring;
  if (r && !r->sig) {
    r->sig = sig;
    r->addr = (uintptr_t)si->si_addr;
    void *pc = NULL;
    ucontext_t *uc = uc_;
#if defined(__x86_64__)
    pc = (void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    pc = (void *)uc->uc_mcontext.pc;
#else
    (void)uc;
#endif
    Dl_info di;
    if (pc && dladdr(pc, &di) && di.dli_fname) {
      if (di.dli_sname)
        snprintf(r->where, sizeof r->where, "%s+0x%lx", di.dli_sname, (unsigned long)((char *)pc - (char *)di.dli_saddr));
      else
        snprintf(r->where, sizeof r->where, "%p", pc);
      snprintf(r->where_file, sizeof r->where_file, "%s", di.dli_fname);
      r->where_off = (uintptr_t)((char *)pc - (char *)di.dli_fbase);
    }
    /* A fault inside iosim (a routine given a NULL MDL, a freed IRP) is a
       driver's doing: the nearest frame of a driver's code names it. */
    void *frames[48];
    int nf = backtrace(frames, 48);
    for (int i = 0; i < nf; i++) {
      Dl_info fi;
      if (!dladdr(frames[i], &fi) || !fi.dli_fname) continue;
      bool drv = false;
      for (int k = 0; k < r->ndrivers; k++) drv |= !strcmp(fi.dli_fname, r->drv_file[k]);
      if (!drv || !strcmp(fi.dli_fname, r->where_file)) continue;
      if (fi.dli_sname)
        snprintf(r->caller, sizeof r->caller, "%s+0x%lx", fi.dli_sname,
                 (unsigned long)((char *)frames[i] - (char *)fi.dli_saddr));
      else
        snprintf(r->caller, sizeof r->caller, "%p", frames[i]);
      snprintf(r->caller_file, sizeof r->caller_file, "%s", fi.dli_fname);
      r->caller_off = (uintptr_t)((char *)frames[i] - (char *)fi.dli_fbase);
      break;
    }
  }
  /* The parent reads the record; the exit status says "by a signal"
     too, for a shell that looks (128 + the signal, as shells report it). */
  _exit(128 + sig);
}

static const char *sig_words(int sig) {
  switch (sig) {
  case SIGSEGV: return "SIGSEGV, an invalid memory access";
  case SIGBUS: return "SIGBUS, a misaligned or unmapped access";
  case SIGFPE: return "SIGFPE, an arithmetic fault (a division by zero?)";
  case SIGILL: return "SIGILL, an illegal instruction";
  case SIGABRT: return "SIGABRT, an abort (the C library found its heap corrupted?)";
  default: return strsignal(sig);
  }
}

/* The driver the fault happened in, by the file of the faulting code; if
   it was in iosim itself, the only C driver when there is one. */
static const char *crashed_driver(const crash_ring_t *r) {
  for (int i = 0; i < r->ndrivers; i++)
    if (r->where_file[0] && !strcmp(r->where_file, r->drv_file[i])) return r->drv_name[i];
  for (int i = 0; i < r->ndrivers; i++)
    if (r->caller_file[0] && !strcmp(r->caller_file, r->drv_file[i])) return r->drv_name[i];
  return r->ndrivers == 1 ? r->drv_name[0] : NULL;
}

/* The source line of an offset in a driver's file, as addr2line (binutils)
   finds it in the debugging information `iosim cc` compiles in; false if
   it cannot say. */
static bool source_line(const char *file, uintptr_t off, char *out, size_t n) {
  if (strchr(file, '\'') || strchr(file, '\n')) return false;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "addr2line -e '%s' 0x%lx 2>/dev/null", file, (unsigned long)off);
  FILE *p = popen(cmd, "r");
  if (!p) return false;
  bool ok = fgets(out, (int)n, p) != NULL;
  pclose(p);
  if (!ok || out[0] == '?') return false;
  out[strcspn(out, "\n")] = 0;
  char *d = strstr(out, " (discriminator");
  if (d) *d = 0;
  return true;
}

static void report(const crash_ring_t *r, int sig, const char *path) {
  bool in_driver = false;
  for (int i = 0; i < r->ndrivers; i++) in_driver |= r->where_file[0] && !strcmp(r->where_file, r->drv_file[i]);
  const char *drv = crashed_driver(r);
  fflush(stdout);
  if (drv) fprintf(stderr, "%s: driver %s crashed the simulator's process: %s", path, drv, sig_words(sig));
  else fprintf(stderr, "%s: a C driver crashed the simulator's process: %s", path, sig_words(sig));
  if (r->sig && (sig == SIGSEGV || sig == SIGBUS)) fprintf(stderr, " at address 0x%lx", (unsigned long)r->addr);
  fputc('\n', stderr);
  char line[512];
  if (r->where[0] && in_driver && source_line(r->where_file, r->where_off, line, sizeof line))
    fprintf(stderr, "  in %s, %s\n", r->where, line);
  else if (r->where[0])
    fprintf(stderr, "  in %s (%s)%s\n", r->where, r->where_file,
            in_driver ? "" : ": inside iosim, with what a driver passed it");
  if (!in_driver && r->caller[0]) {
    if (source_line(r->caller_file, r->caller_off - 1, line, sizeof line))
      fprintf(stderr, "  called from %s, %s\n", r->caller, line);
    else
      fprintf(stderr, "  called from %s (%s)\n", r->caller, r->caller_file);
  }
  if (r->steps) {
    uint64_t first = r->steps > RING_STEPS ? r->steps - RING_STEPS : 0;
    fprintf(stderr, "  the last steps before it:\n");
    for (uint64_t i = first; i < r->steps; i++) {
      const struct ring_step *l = &r->lines[i % RING_STEPS];
      char irql[16];
      fprintf(stderr, "    #%-5llu %10.1fus  cpu%-2d %-8s %-12.12s %-22s %s\n", (unsigned long long)l->seq,
              (double)l->t_ns / 1000.0, l->cpu, trc_irql_name(l->irql, irql), l->thread,
              trc_kind_name((trc_kind_t)l->kind), l->detail);
    }
  } else {
    fprintf(stderr, "  before the simulated machine took its first step\n");
  }
  fprintf(stderr, "  (scenarios with C drivers run in a child process so that a crash is reported; docs/c-drivers.md)\n");
}

int scn_guard_begin(const scn_t *sc) {
  if (!scn_loads_c_drivers(sc)) return -1;
  crash_ring_t *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED) return -1; /* run unguarded rather than not at all */
  memset(r, 0, sizeof *r);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    munmap(r, sizeof *r);
    return -1;
  }
  if (pid == 0) {
    crash_ring = r;
    /* The fault may be a stack overflow on a coroutine stack: handle it on
       a stack of its own. */
    static char alt[64 * 1024];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
    /* backtrace() loads its unwinder on first use: not in the handler. */
    void *warm[2];
    backtrace(warm, 2);
    /* What the run printed up to a crash is seen. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return -1;
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) {
      st = 2 << 8;
      break;
    }
  int rc;
  if (r->sig) { /* the child's handler recorded the fault and left */
    report(r, r->sig, scn_path(sc));
    rc = 2;
  } else if (WIFEXITED(st)) {
    rc = WEXITSTATUS(st);
  } else if (WTERMSIG(st) == SIGPIPE || WTERMSIG(st) == SIGINT || WTERMSIG(st) == SIGTERM ||
             WTERMSIG(st) == SIGHUP || WTERMSIG(st) == SIGKILL) {
    /* Not the driver: the reader went away (| head), Ctrl-C, kill.  The
       parent ends the way the child did, as a single process would. */
    munmap(r, sizeof *r);
    fflush(stdout);
    signal(WTERMSIG(st), SIG_DFL);
    raise(WTERMSIG(st));
    return 128 + WTERMSIG(st);
  } else {
    report(r, WTERMSIG(st), scn_path(sc));
    rc = 2;
  }
  munmap(r, sizeof *r);
  return rc;
}
