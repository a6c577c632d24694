/*
 * ctx.c - coroutines: every simulated thread and every CPU's idle loop runs
 * on its own stack, so driver code can block at PASSIVE_LEVEL exactly as real
 * code does.  On x86-64 a register switch (no system call, ~20 ns); elsewhere
 * ucontext.  ASan is told about every switch (fiber annotations).
 *
 * Stacks are mmap'd with a guard below them (core.h): the I/O manager and
 * the dispatcher check the room left (ke_check_stack, bugcheck 0x7F), and
 * the guard catches what slips between two checks; a SIGSEGV handler turns
 * that fault into a clear report and SIM_EXIT_STACK_OVERFLOW (sim.h).
 *
 * Built with -DIOSIM_VALGRIND (make valgrind), every stack is registered
 * with Valgrind while a coroutine owns it: memcheck then reads a switch as
 * a change of stack, not as a frame of 100 GiB pushed or popped, and
 * reports nothing for it (docs/fuzzing.md).
 */
#include "iosim/alloc.h"
#include "core/core.h"
#include "ke/ke.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef IOSIM_VALGRIND
#include <valgrind/valgrind.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CTX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CTX_ASAN 1
#endif
#endif

#ifdef CTX_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old, size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
/* LeakSanitizer scans the host thread's stack only: what a simulated
   thread's locals hold (when the process exits from iosim_oom, say) is
   found through the coroutine stacks, registered as root regions. */
void __lsan_register_root_region(const void *p, size_t size);
void __lsan_unregister_root_region(const void *p, size_t size);
#endif

#if defined(__x86_64__) && !defined(IOSIM_UCONTEXT)
/* ctx__swap(save, to): pushes the callee-saved registers, stores the stack
   pointer in *save, loads `to` and pops the same registers from there. */
void ctx__swap(void **save, void *to);
void ctx__trampoline(void);
__asm__(".text\n"
        ".globl ctx__swap\n"
        ".type ctx__swap,@function\n"
        "ctx__swap:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size ctx__swap,.-ctx__swap\n"
        ".globl ctx__trampoline\n"
        ".type ctx__trampoline,@function\n"
        "ctx__trampoline:\n"
        "  movq %r13, %rdi\n"
        "  callq *%r12\n"
        "  ud2\n"
        ".size ctx__trampoline,.-ctx__trampoline\n"
        ".section .note.GNU-stack,\"\",@progbits\n"
        ".text\n");

static void ctx_prepare(ctx_t *c, void (*entry)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)c->stack + c->size) & ~(uintptr_t)15;
  void **sp = (void **)(top - 56);
  sp[0] = 0;                          /* r15 */
  sp[1] = 0;                          /* r14 */
  sp[2] = arg;                        /* r13: the argument */
  sp[3] = (void *)entry;              /* r12: the entry point */
  sp[4] = 0;                          /* rbx */
  sp[5] = 0;                          /* rbp */
  sp[6] = (void *)ctx__trampoline;    /* return address */
  c->sp = sp;
}

static void ctx_raw_switch(ctx_t *from, ctx_t *to) { ctx__swap(&from->sp, to->sp); }

#else
#include <ucontext.h>
/* Portable fallback: sp points at a ucontext_t stored in the stack header area. */
typedef struct {
  ucontext_t uc;
} ctx_uc_t;

static void ctx_prepare(ctx_t *c, void (*entry)(void *), void *arg) {
  ctx_uc_t *u = iosim_malloc(sizeof *u);
  getcontext(&u->uc);
  u->uc.uc_stack.ss_sp = (char *)c->stack + c->floor;
  u->uc.uc_stack.ss_size = c->size - c->floor;
  u->uc.uc_link = NULL;
  makecontext(&u->uc, (void (*)(void))entry, 1, arg);
  c->sp = u;
}

static void ctx_raw_switch(ctx_t *from, ctx_t *to) {
  if (!from->sp) {
    from->sp = iosim_malloc(sizeof(ctx_uc_t));
  }
  swapcontext(&((ctx_uc_t *)from->sp)->uc, &((ctx_uc_t *)to->sp)->uc);
}
#endif

/* Every coroutine starts here: tell ASan the switch has landed, then run. */
static void ctx_entry(void *arg) {
  ctx_t *c = arg;
#ifdef CTX_ASAN
  __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
  c->entry(c->arg);
  abort(); /* entries end by switching away for good */
}

/* ---- the guard's backstop: a SIGSEGV handler ---- */

/* The exception to "no global mutable state": a signal disposition belongs
   to the process, not to a machine, so the handler and what it chains to
   are process-wide.  Both statics below are written exactly once, under
   pthread_once, before any coroutine stack exists, and only read after;
   the handler itself keeps no state.  Every machine in the process shares
   them and none can observe another through them. */
static pthread_once_t ctx_segv_once = PTHREAD_ONCE_INIT;
static struct sigaction ctx_segv_prev; /* the disposition we replaced */

/* Who owned the stack at `base`: a thread's name or a CPU's idle loop.
   Reads the machine as it stood when the fault struck; nothing is changed. */
static const ctx_t *ctx_owner(const sim_t *S, uintptr_t base, char *buf, size_t n) {
  for (const LIST_ENTRY *e = S->threads.Flink; e && e != &S->threads; e = e->Flink) {
    const KTHREAD *t = CONTAINING_RECORD(e, KTHREAD, all_link);
    if ((uintptr_t)t->ctx.stack == base) {
      snprintf(buf, n, "simulated thread '%s' (thread %u)", t->name, t->id);
      return &t->ctx;
    }
  }
  for (int i = 0; i < S->ncpu; i++)
    if ((uintptr_t)S->cpu[i].idle_ctx.stack == base) {
      snprintf(buf, n, "CPU %d's idle loop (in a DPC, ISR or completion routine)", i);
      return &S->cpu[i].idle_ctx;
    }
  snprintf(buf, n, "a simulated thread");
  return NULL;
}

/* Runs on the alternate signal stack (the faulting stack has no room).
   A fault inside a coroutine's header page or guard is a simulated kernel
   stack overflow: report it in one paragraph and exit.  Anything else is
   not ours: hand it to the previous disposition (ASan's report, or the
   default crash).  snprintf is not on POSIX's async-signal-safe list, but
   the process ends here and the faulting code held no stdio lock while it
   pushed a frame; write and _exit are safe. */
static void ctx_segv(int sig, siginfo_t *si, void *uc) {
  uintptr_t a = (uintptr_t)si->si_addr;
  uintptr_t base = a & ~(uintptr_t)(CTX_STACK_SIZE - 1);
  unsigned char resident;
  /* mincore only asks whether the page is mapped: the masked address of a
     stray pointer may be unmapped, and reading it here would fault again. */
  if (base && mincore((void *)base, (size_t)sysconf(_SC_PAGESIZE), &resident) == 0) {
    const ctx_stack_hdr_t *h = (const ctx_stack_hdr_t *)base;
    if (h->magic == CTX_MAGIC && a - base < h->floor) {
      char who[128], msg[768];
      const ctx_t *c = ctx_owner(*h->S, base, who, sizeof who);
      int len = snprintf(msg, sizeof msg,
                         "iosim: *** STOP: 0x0000007F (0x8, 0, 0, 0) UNEXPECTED_KERNEL_MODE_TRAP (0x7F) "
                         "double fault: the kernel stack of %s overflowed - it ran into the guard "
                         "page below its %zu KiB stack at %zu nested IoCallDriver calls, between two "
                         "of the simulator's stack checks (a driver recursing, or a large local "
                         "buffer, without passing through IoCallDriver, a completion routine, a DPC, "
                         "an APC or an ISR).  The simulator cannot continue this run; "
                         "exit status %d.\n",
                         who, CTX_STACK_SIZE / 1024, c ? (size_t)c->calls : (size_t)0,
                         SIM_EXIT_STACK_OVERFLOW);
      if (len > 0) {
        size_t n = (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1;
        ssize_t w = write(STDERR_FILENO, msg, n);
        (void)w;
      }
      _exit(SIM_EXIT_STACK_OVERFLOW);
    }
  }
  if (ctx_segv_prev.sa_flags & SA_SIGINFO) {
    if (ctx_segv_prev.sa_sigaction) ctx_segv_prev.sa_sigaction(sig, si, uc);
    return;
  }
  if (ctx_segv_prev.sa_handler != SIG_DFL && ctx_segv_prev.sa_handler != SIG_IGN) {
    ctx_segv_prev.sa_handler(sig);
    return;
  }
  /* Default: restore it and return; the faulting instruction runs again
     and the process dies of SIGSEGV exactly as without us. */
  signal(sig, SIG_DFL);
}

static void ctx_segv_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = ctx_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &ctx_segv_prev);
}

/* The handler needs a stack of its own on every host thread that runs a
   machine (the one that overflowed is full).  Alternate stacks are per
   thread, so this is per-thread state the kernel keeps, not ours: a thread
   that already has one (ASan gives every thread one) keeps it; otherwise
   one is mapped and stays for the thread's life (mmap'd, so LeakSanitizer
   does not count it). */
static void ctx_altstack(void) {
  stack_t cur;
  if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return;
  size_t n = (size_t)64 * 1024;
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return; /* no backstop; the proactive check remains */
  stack_t ss = {.ss_sp = p, .ss_size = n, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) munmap(p, n);
}

static size_t ctx_page(void) {
  long pg = sysconf(_SC_PAGESIZE);
  return pg > 0 ? (size_t)pg : 4096;
}

/* CTX_STACK_SIZE bytes aligned to their size: map twice as much and give
   back the unaligned ends. */
static void *ctx_map_aligned(void) {
  size_t sz = CTX_STACK_SIZE;
  char *p = mmap(NULL, 2 * sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  uintptr_t start = ((uintptr_t)p + sz - 1) & ~(uintptr_t)(sz - 1);
  size_t head = start - (uintptr_t)p, tail = sz - head;
  if (head) munmap(p, head);
  if (tail) munmap((char *)start + sz, tail);
  return (void *)start;
}

/* Stacks kept between machines (sim.h): each still mapped, its guard in
   place and its header page read-only. */
#define CTX_CACHE_MAX 64
struct sim_stack_cache {
  void *stack[CTX_CACHE_MAX];
  sim_t **cell[CTX_CACHE_MAX];
  int n;
};

sim_stack_cache_t *sim_stack_cache_new(void) { return iosim_calloc(1, sizeof(sim_stack_cache_t)); }

void sim_stack_cache_free(sim_stack_cache_t *k) {
  if (!k) return;
  while (k->n) {
    k->n--;
    munmap(k->stack[k->n], CTX_STACK_SIZE);
    free(k->cell[k->n]);
  }
  free(k);
}

int ctx_init(sim_t *S, ctx_t *c, void (*entry)(void *), void *arg) {
  memset(c, 0, sizeof *c);
  c->size = CTX_STACK_SIZE;
  size_t pg = ctx_page();
  size_t guard = (CTX_GUARD_SIZE + pg - 1) / pg * pg;
  sim_stack_cache_t *k = S->cfg.stacks;
  /* A cached stack keeps its guard and its read-only header: only the
     machine cell it points to changes hands. */
  bool reused = k && k->n > 0;
  if (reused) {
    k->n--;
    c->stack = k->stack[k->n];
    c->cell = k->cell[k->n];
    *c->cell = S;
  } else {
    c->stack = ctx_map_aligned();
    if (!c->stack) return SIM_EINVAL;
    c->cell = iosim_malloc(sizeof *c->cell);
    *c->cell = S;
  }
#ifdef CTX_ASAN
  /* A stopped machine's coroutines never unwind, so ASan's shadow of their
     frames stays poisoned after munmap (or in a cached stack); a new stack
     at the same address would inherit those redzones.  Start clean. */
  __asan_unpoison_memory_region(c->stack, CTX_STACK_SIZE);
#endif
  c->floor = pg + guard;
  c->low_water = (uintptr_t)c->stack + c->floor + CTX_STACK_MARGIN;
  if (!reused) {
    ctx_stack_hdr_t *h = c->stack;
    h->magic = CTX_MAGIC;
    h->S = c->cell;
    h->floor = c->floor;
    /* The header page becomes read-only, the guard inaccessible: an
       overflow faults in the guard, and nothing can overwrite the header. */
    if (mprotect(c->stack, pg, PROT_READ) != 0 ||
        mprotect((char *)c->stack + pg, guard, PROT_NONE) != 0) {
      munmap(c->stack, c->size);
      free(c->cell);
      c->stack = NULL;
      c->cell = NULL;
      return SIM_EINVAL;
    }
  }
#ifdef IOSIM_VALGRIND
  c->vg_stack = VALGRIND_STACK_REGISTER((char *)c->stack + c->floor, (char *)c->stack + c->size);
#endif
  c->entry = entry;
  c->arg = arg;
  c->asan_bottom = (char *)c->stack + c->floor;
  c->asan_size = c->size - c->floor;
#ifdef CTX_ASAN
  __lsan_register_root_region(c->asan_bottom, c->asan_size);
#endif
  ctx_prepare(c, ctx_entry, c);
  return SIM_OK;
}

/* Called by sim_run on the host thread that will run the machine. */
void ctx_init_main(ctx_t *c) {
  memset(c, 0, sizeof *c);
  pthread_once(&ctx_segv_once, ctx_segv_install);
  ctx_altstack();
#ifdef CTX_ASAN
  pthread_attr_t a;
  void *addr;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    if (pthread_attr_getstack(&a, &addr, &size) == 0) {
      c->asan_bottom = addr;
      c->asan_size = size;
    }
    pthread_attr_destroy(&a);
  }
#endif
}

void ctx_free(sim_t *S, ctx_t *c) {
#if !(defined(__x86_64__) && !defined(IOSIM_UCONTEXT))
  free(c->sp);
#endif
#ifdef CTX_ASAN
  if (c->stack) __lsan_unregister_root_region(c->asan_bottom, c->asan_size);
#endif
#ifdef IOSIM_VALGRIND
  if (c->stack) VALGRIND_STACK_DEREGISTER(c->vg_stack);
#endif
  sim_stack_cache_t *k = S ? S->cfg.stacks : NULL;
  if (c->stack && k && k->n < CTX_CACHE_MAX) {
    k->stack[k->n] = c->stack;
    k->cell[k->n++] = c->cell;
  } else if (c->stack) {
    munmap(c->stack, c->size);
    free(c->cell);
  }
  c->cell = NULL;
  c->stack = NULL;
  c->sp = NULL;
}

void ctx_switch(ctx_t *from, ctx_t *to) {
#ifdef CTX_ASAN
  __sanitizer_start_switch_fiber(&from->asan_fake, to->asan_bottom, to->asan_size);
#endif
  ctx_raw_switch(from, to);
#ifdef CTX_ASAN
  __sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
}

/* The stack pointer of the caller (always inlined, so it is the caller's). */
static inline __attribute__((always_inline)) uintptr_t ctx_sp(void) {
  uintptr_t sp;
#if defined(__x86_64__)
  __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
  __asm__ volatile("mov %0, sp" : "=r"(sp));
#else
  volatile char probe;
  sp = (uintptr_t)&probe;
#endif
  return sp;
}

sim_t *ctx_sim(void) {
  uintptr_t sp = ctx_sp();
  ctx_stack_hdr_t *h = (ctx_stack_hdr_t *)(sp & ~(uintptr_t)(CTX_STACK_SIZE - 1));
  if (h->magic != CTX_MAGIC) {
    fprintf(stderr, "iosim: a kernel routine was called outside a simulated "
                    "CPU (call it from a driver or a simulated thread)\n");
    abort();
  }
  return *h->S;
}

sim_t *ctx_sim_if_any(void) {
  uintptr_t sp = ctx_sp();
  uintptr_t base = sp & ~(uintptr_t)(CTX_STACK_SIZE - 1);
  unsigned char resident;
  /* On the host's stack the masked address may be unmapped: ask first. */
  if (mincore((void *)base, (size_t)sysconf(_SC_PAGESIZE), &resident) != 0) return NULL;
  const ctx_stack_hdr_t *h = (const ctx_stack_hdr_t *)base;
  return h->magic == CTX_MAGIC && h->S ? *h->S : NULL;
}

size_t ctx_stack_left(const ctx_t *c) {
  if (!c || !c->stack) return SIZE_MAX;
  uintptr_t sp = ctx_sp();
  uintptr_t lo = (uintptr_t)c->stack + c->floor, hi = (uintptr_t)c->stack + c->size;
  if (sp < (uintptr_t)c->stack || sp >= hi) return SIZE_MAX; /* not on c's stack */
  return sp > lo ? sp - lo : 0;
}
