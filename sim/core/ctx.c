/*
 * ctx.c - coroutines: every simulated thread and every CPU's idle loop runs
 * on its own stack, so driver code can block at PASSIVE_LEVEL exactly as real
 * code does.  On x86-64 a register switch (no system call, ~20 ns); elsewhere
 * ucontext.  ASan is told about every switch (fiber annotations).
 */
#include "core/core.h"

#include <pthread.h>
#include <stdio.h>

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
  ctx_uc_t *u = malloc(sizeof *u);
  if (!u) abort();
  getcontext(&u->uc);
  u->uc.uc_stack.ss_sp = (char *)c->stack + sizeof(ctx_stack_hdr_t);
  u->uc.uc_stack.ss_size = c->size - sizeof(ctx_stack_hdr_t);
  u->uc.uc_link = NULL;
  makecontext(&u->uc, (void (*)(void))entry, 1, arg);
  c->sp = u;
}

static void ctx_raw_switch(ctx_t *from, ctx_t *to) {
  if (!from->sp) {
    from->sp = malloc(sizeof(ctx_uc_t));
    if (!from->sp) abort();
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

int ctx_init(sim_t *S, ctx_t *c, void (*entry)(void *), void *arg) {
  memset(c, 0, sizeof *c);
  c->size = CTX_STACK_SIZE;
  c->stack = aligned_alloc(CTX_STACK_SIZE, CTX_STACK_SIZE);
  if (!c->stack) return SIM_EINVAL;
  ctx_stack_hdr_t *h = c->stack;
  h->magic = CTX_MAGIC;
  h->S = S;
  c->entry = entry;
  c->arg = arg;
  c->asan_bottom = c->stack;
  c->asan_size = c->size;
  ctx_prepare(c, ctx_entry, c);
  return SIM_OK;
}

void ctx_init_main(ctx_t *c) {
  memset(c, 0, sizeof *c);
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
  (void)S;
#if !(defined(__x86_64__) && !defined(IOSIM_UCONTEXT))
  free(c->sp);
#endif
  free(c->stack);
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

sim_t *ctx_sim(void) {
  uintptr_t sp;
#if defined(__x86_64__)
  __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
  __asm__ volatile("mov %0, sp" : "=r"(sp));
#else
  volatile char probe;
  sp = (uintptr_t)&probe;
#endif
  ctx_stack_hdr_t *h = (ctx_stack_hdr_t *)(sp & ~(uintptr_t)(CTX_STACK_SIZE - 1));
  if (h->magic != CTX_MAGIC) {
    fprintf(stderr, "iosim: a kernel routine was called outside a simulated "
                    "CPU (call it from a driver or a simulated thread)\n");
    abort();
  }
  return h->S;
}
