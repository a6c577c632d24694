/*
 * libfuzzer.c - the libFuzzer entry points of one fuzz target, chosen when
 * compiling: -DFZ_TARGET_SCENARIO, -DFZ_TARGET_TRACEDB, -DFZ_TARGET_TOKEN or
 * -DFZ_TARGET_REPLAY
 * (`make fuzz` builds one binary per target with clang,
 * -fsanitize=fuzzer,address,undefined).  The harnesses themselves are in
 * fz_*.c, shared with the regression replay of the ordinary test suite.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#if defined(FZ_TARGET_SCENARIO)
  return fz_scenario_one(data, size);
#elif defined(FZ_TARGET_TRACEDB)
  return fz_tracedb_one(data, size);
#elif defined(FZ_TARGET_TOKEN)
  return fz_token_one(data, size);
#elif defined(FZ_TARGET_REPLAY)
  return fz_replay_one(data, size);
#else
#error "define FZ_TARGET_SCENARIO, FZ_TARGET_TRACEDB, FZ_TARGET_TOKEN or FZ_TARGET_REPLAY"
#endif
}

/* What Graphviz and the font libraries under it keep for the life of the
   process (caches, plugin tables): not ours, as in tests/test_viz.c, whose
   list this is.  Leaks of iosim's own graphs (libcgraph) are still seen. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libgvc.so\nleak:libfontconfig.so\nleak:libpango\nleak:libcairo.so\nleak:libglib-2.0.so\n"
         "leak:libgobject-2.0.so\nleak:libharfbuzz\nleak:libgvplugin_pango\n";
}

#if defined(FZ_TARGET_SCENARIO)
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned int seed);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned int seed) {
  return fz_scenario_mutate(data, size, max, seed, LLVMFuzzerMutate);
}
#endif
