/*
 * pool.c - the executive's pool (kernel-facts 13.8): ExAllocatePoolWithTag
 * and its variants give driver memory accounted to its four-character tag;
 * what is still allocated at the end of a run is reported per tag
 * (sim_pool_outstanding, sim_pool_report), as `!poolused` would show a
 * leak.  The checks are Windows' own (BAD_POOL_CALLER, 0xC2): a zero-byte
 * or zero-tag request, the wrong IRQL, freeing an address that is not a
 * block, freeing twice, freeing with another tag; and Driver Verifier's
 * when freed pool still holds a timer that is set (0xC4/0x15) or a work
 * item that is queued (WORKER_INVALID).
 *
 * Blocks come from the host's allocator; the machine remembers every
 * address it handed out (freed ones too, until reused) so that a double
 * free is told from a wild one without reading freed memory.  Memory a
 * driver did not ask to be zeroed is filled with 0xCD bytes, so a driver
 * reading what it never wrote reads the same in every run (Windows leaves
 * whatever was there).
 */
#include "iosim/alloc.h"
#include "ex/ex.h"

#include <stdio.h>

#define POOL_LIMIT ((SIZE_T)256 << 20) /* the machine's pool: 256 MiB */
#define POOL_FILL 0xCD
#define BASE_POOL_TYPE_MASK 1          /* odd types are paged */
#define TAG_NONE 0x656E6F4Eu           /* 'None': ExAllocatePool's tag */

typedef struct pool_block {
  PVOID p;
  SIZE_T size;
  ULONG tag;
  POOL_TYPE type;
  bool live;
} pool_block_t;

typedef struct pool_tag {
  ULONG tag;
  uint64_t allocations, frees, bytes, blocks;
} pool_tag_t;

struct ex_pool {
  ptrmap_t index;        /* block address -> its record's index + 1 */
  pool_block_t *blocks;
  size_t nblocks, blocks_cap;
  pool_tag_t *tags;      /* in order of first use */
  size_t ntags, tags_cap;
  SIZE_T bytes;          /* allocated now */
};

static struct ex_pool *pool_state(sim_t *S) {
  if (!S->pool) S->pool = mem_calloc(S, sizeof *S->pool);
  return S->pool;
}

/* A tag as the four characters it is written with ('gaTm' reads "mTag"). */
static void tag_text(ULONG tag, char out[5]) {
  for (int i = 0; i < 4; i++) {
    char ch = (char)(tag >> (8 * i));
    out[i] = ch >= 0x20 && ch < 0x7F ? ch : '.';
  }
  out[4] = '\0';
}

static pool_tag_t *pool_tag(sim_t *S, struct ex_pool *P, ULONG tag) {
  for (size_t i = 0; i < P->ntags; i++)
    if (P->tags[i].tag == tag) return &P->tags[i];
  VEC_RESERVE(S, P->tags, P->tags_cap, P->ntags + 1);
  P->tags[P->ntags] = (pool_tag_t){.tag = tag};
  return &P->tags[P->ntags++];
}

static bool pool_paged(POOL_TYPE type) { return (type & BASE_POOL_TYPE_MASK) == PagedPool; }

static void pool_trace(sim_t *S, trc_kind_t kind, const char *routine, ULONG tag, SIZE_T size) {
  if (!trc_on(S)) return;
  char name[5];
  tag_text(tag, name);
  trc_event_t e = trc_ev(kind, NULL, NULL);
  e.service = routine;
  e.text = name; /* the tag, as the driver wrote it */
  e.count = size > INT32_MAX ? INT32_MAX : (int)size;
  /* No address in the words: a trace is the same in every run. */
  trc_send(S, &e, "%s %zu bytes, tag %s", kind == TRC_POOL_ALLOC ? "allocated" : "freed", (size_t)size, name);
}

/* The allocation itself, after the caller's own checks; NULL when the
   machine's pool is exhausted (or the request could never fit). */
static PVOID pool_alloc(sim_t *S, POOL_TYPE type, SIZE_T n, ULONG tag, bool zero, const char *routine) {
  KIRQL irql = S->cur_cpu->irql;
  if (irql > (pool_paged(type) ? APC_LEVEL : DISPATCH_LEVEL))
    bugcheck(S, BAD_POOL_CALLER, 0x08, irql, (ULONG_PTR)type, n, "%s of %s pool at IRQL %d", routine,
             pool_paged(type) ? "paged" : "nonpaged", irql);
  if (n == 0)
    bugcheck(S, BAD_POOL_CALLER, 0x00, 0, (ULONG_PTR)type, tag, "%s of zero bytes", routine);
  if (tag == 0)
    bugcheck(S, BAD_POOL_CALLER, 0x9B, (ULONG_PTR)type, n, 0, "%s with a tag of 0 (untrackable)", routine);
  ULONG base = (ULONG)type & ~(ULONG)NonPagedPoolNx;
  if (base == NonPagedPoolMustSucceed || base == NonPagedPoolCacheAlignedMustS)
    bugcheck(S, BAD_POOL_CALLER, 0x9A, (ULONG_PTR)type, n, tag, "%s of must-succeed pool (no longer supported)",
             routine);
  struct ex_pool *P = pool_state(S);
  PVOID p = n > POOL_LIMIT - P->bytes ? NULL : iosim_malloc(n);
  if (p) {
    memset(p, zero ? 0 : POOL_FILL, n);
    uintptr_t k;
    pool_block_t rec = {p, n, tag, type, true};
    if (ptrmap_get(&P->index, p, &k)) { /* an address freed before, reused by the host */
      P->blocks[k - 1] = rec;
    } else {
      VEC_RESERVE(S, P->blocks, P->blocks_cap, P->nblocks + 1);
      P->blocks[P->nblocks++] = rec;
      ptrmap_put(S, &P->index, p, P->nblocks);
    }
    pool_tag_t *t = pool_tag(S, P, tag);
    t->allocations++, t->blocks++, t->bytes += n;
    P->bytes += n;
    S->stats.bytes_live += n;
    if (S->stats.bytes_live > S->stats.bytes_peak) S->stats.bytes_peak = S->stats.bytes_live;
    pool_trace(S, TRC_POOL_ALLOC, routine, tag, n);
  }
  sched_step(S, COST_STEP);
  return p;
}

PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  return pool_alloc(ctx_sim(), PoolType, NumberOfBytes, Tag, false, "ExAllocatePoolWithTag");
}

PVOID ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  return pool_alloc(ctx_sim(), PoolType, NumberOfBytes, Tag, true, "ExAllocatePoolZero");
}

PVOID ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes) {
  return pool_alloc(ctx_sim(), PoolType, NumberOfBytes, TAG_NONE, false, "ExAllocatePool");
}

/* Quota is not charged (one process); failing raises unless the caller
   asked for NULL instead. */
PVOID ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  sim_t *S = ctx_sim();
  bool fail_null = PoolType & POOL_QUOTA_FAIL_INSTEAD_OF_RAISE;
  POOL_TYPE type = (POOL_TYPE)(PoolType & ~POOL_QUOTA_FAIL_INSTEAD_OF_RAISE);
  PVOID p = pool_alloc(S, type, NumberOfBytes, Tag, false, "ExAllocatePoolWithQuotaTag");
  if (!p && !fail_null)
    ke_raise_stop(S, STATUS_INSUFFICIENT_RESOURCES, "ExAllocatePoolWithQuotaTag of %zu bytes failed and raised",
                  (size_t)NumberOfBytes);
  return p;
}

/* Exactly one of the pool kinds; zeroed unless POOL_FLAG_UNINITIALIZED.
   iosim returns NULL for flags that name no kind or several. */
PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag) {
  sim_t *S = ctx_sim();
  POOL_FLAGS kind = Flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
  if (kind != POOL_FLAG_NON_PAGED && kind != POOL_FLAG_NON_PAGED_EXECUTE && kind != POOL_FLAG_PAGED) return NULL;
  POOL_TYPE type = kind == POOL_FLAG_PAGED ? PagedPool : kind == POOL_FLAG_NON_PAGED ? NonPagedPoolNx : NonPagedPool;
  PVOID p = pool_alloc(S, type, NumberOfBytes, Tag, !(Flags & POOL_FLAG_UNINITIALIZED), "ExAllocatePool2");
  if (!p && (Flags & POOL_FLAG_RAISE_ON_FAILURE))
    ke_raise_stop(S, STATUS_INSUFFICIENT_RESOURCES, "ExAllocatePool2 of %zu bytes failed and raised",
                  (size_t)NumberOfBytes);
  return p;
}

static void pool_free(sim_t *S, PVOID P, ULONG tag, const char *routine) {
  struct ex_pool *pool = pool_state(S);
  uintptr_t k;
  if (!P || !ptrmap_get(&pool->index, P, &k))
    bugcheck(S, BAD_POOL_CALLER, 0x46, (ULONG_PTR)P, 0, 0, "%s on an address the pool never gave out", routine);
  pool_block_t *b = &pool->blocks[k - 1];
  char name[5];
  tag_text(b->tag, name);
  if (!b->live)
    bugcheck(S, BAD_POOL_CALLER, 0x07, 0, b->tag, (ULONG_PTR)P, "%s: the block (%zu bytes, tag %s) was freed already",
             routine, (size_t)b->size, name);
  KIRQL irql = S->cur_cpu->irql;
  if (irql > (pool_paged(b->type) ? APC_LEVEL : DISPATCH_LEVEL))
    bugcheck(S, BAD_POOL_CALLER, 0x09, irql, (ULONG_PTR)b->type, (ULONG_PTR)P, "%s of %s pool at IRQL %d", routine,
             pool_paged(b->type) ? "paged" : "nonpaged", irql);
  if (tag && tag != b->tag) {
    char used[5];
    tag_text(tag, used);
    bugcheck(S, BAD_POOL_CALLER, 0x0A, (ULONG_PTR)P, b->tag, tag, "%s with tag %s: the block was allocated with tag %s",
             routine, used, name);
  }
  PKTIMER t = KiTimerInRange(S, P, b->size);
  if (t)
    ke_verifier_stop(S, 0x15, (ULONG_PTR)t, (ULONG_PTR)b->type, (ULONG_PTR)P,
                     "%s: the block (tag %s) holds a timer that is still set (KeCancelTimer first)", routine, name);
  ex_work_item_t *w = ex_work_in_range(S, P, b->size);
  if (w)
    bugcheck(S, WORKER_INVALID, 0x0, (ULONG_PTR)w, (ULONG_PTR)P, (ULONG_PTR)P + b->size,
             "%s: the block (tag %s) holds a work item that is still queued", routine, name);
  pool_tag_t *pt = pool_tag(S, pool, b->tag);
  pt->frees++, pt->blocks--, pt->bytes -= b->size;
  pool->bytes -= b->size;
  S->stats.bytes_live -= b->size;
  b->live = false;
  pool_trace(S, TRC_POOL_FREE, routine, b->tag, b->size);
  free(P);
  sched_step(S, COST_STEP);
}

void ExFreePoolWithTag(PVOID P, ULONG Tag) { pool_free(ctx_sim(), P, Tag, "ExFreePoolWithTag"); }
void ExFreePool(PVOID P) { pool_free(ctx_sim(), P, 0, "ExFreePool"); }

/* ---- the end-of-run report ---- */

size_t sim_pool_outstanding(const sim_t *S, sim_pool_tag_t *out, size_t max) {
  const struct ex_pool *P = S->pool;
  size_t n = 0;
  for (size_t i = 0; P && i < P->ntags; i++) {
    const pool_tag_t *t = &P->tags[i];
    if (!t->blocks) continue;
    if (n < max) {
      out[n] = (sim_pool_tag_t){.tag = t->tag, .allocations = t->allocations, .frees = t->frees,
                                .blocks_outstanding = t->blocks, .bytes_outstanding = t->bytes};
      tag_text(t->tag, out[n].name);
    }
    n++;
  }
  return n;
}

size_t sim_pool_report(const sim_t *S, FILE *f) {
  const struct ex_pool *P = S->pool;
  size_t leaks = sim_pool_outstanding(S, NULL, 0);
  if (!leaks) return 0;
  fprintf(f, "pool still allocated at the end of the run (leaked, by tag):\n");
  fprintf(f, "  %-4s %8s %12s %12s\n", "tag", "blocks", "bytes", "allocs/frees");
  for (size_t i = 0; i < P->ntags; i++) {
    const pool_tag_t *t = &P->tags[i];
    if (!t->blocks) continue;
    char name[5];
    tag_text(t->tag, name);
    fprintf(f, "  %-4s %8llu %12llu %6llu/%llu\n", name, (unsigned long long)t->blocks,
            (unsigned long long)t->bytes, (unsigned long long)t->allocations, (unsigned long long)t->frees);
  }
  return leaks;
}

void ex_pool_destroy(sim_t *S) {
  struct ex_pool *P = S->pool;
  if (!P) return;
  for (size_t i = 0; i < P->nblocks; i++)
    if (P->blocks[i].live) free(P->blocks[i].p);
  ptrmap_free(S, &P->index);
  mem_free(S, P->blocks, P->blocks_cap * sizeof *P->blocks);
  mem_free(S, P->tags, P->tags_cap * sizeof *P->tags);
  mem_free(S, P, sizeof *P);
  S->pool = NULL;
}
