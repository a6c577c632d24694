/*
 * fuzz.h - the fuzz harnesses' entry points (docs/fuzzing.md).  Each target
 * takes one input and returns 0; a bug shows as a crash, a sanitizer report
 * or an abort.  The same functions serve libFuzzer (tests/fuzz/libfuzzer.c,
 * clang) and the regression replay in the ordinary test suite
 * (tests/test_fuzz_regress.c, any compiler), so every kept input runs
 * through exactly the code that found it.
 */
#ifndef IOSIM_FUZZ_H
#define IOSIM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* A scenario file: loaded, then run once with a cap on steps so no input
   runs long, every step explained and printed to a null stream. */
int fz_scenario_one(const uint8_t *data, size_t n);
/* A trace database: a valid one built once, changed cell by cell as the
   input says (or the input's bytes as the whole file), then read by the
   code behind `iosim irp`, `viz` and `export`. */
int fz_tracedb_one(const uint8_t *data, size_t n);
/* A replay token (sim/explore/token.c), as --replay's text or, ending in a
   new line, as a --replay-file: parsed; when it parses, printed back (must
   round-trip).  fz_replay_one also replays it over a race lesson. */
int fz_token_one(const uint8_t *data, size_t n);
int fz_replay_one(const uint8_t *data, size_t n);

/* libFuzzer's own mutator, as LLVMFuzzerMutate: changes data[0..size) in
   place, returns the new size (at most max). */
typedef size_t fz_mutate_fn(uint8_t *data, size_t size, size_t max);
/* The scenario target's structure-aware mutator: line-level edits (copy,
   drop, move lines), statements from the language's words, blocks wrapped
   in `repeat` / `if` many levels deep, device stacks made taller; byte
   edits through `fallback` otherwise. */
size_t fz_scenario_mutate(uint8_t *data, size_t size, size_t max, unsigned seed, fz_mutate_fn *fallback);

/* ---- shared by the harnesses (fz_common.c) ---- */
/* The source tree (compiled in: FZ_SRCDIR), for scenarios/lib and lessons. */
const char *fz_srcdir(void);
/* A private folder for this process, removed at exit; "" on failure. */
const char *fz_tmpdir(void);
/* Writes n bytes to path; false on failure. */
int fz_write_file(const char *path, const void *data, size_t n);

#endif
