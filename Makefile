# iosim - an educational simulator of the Windows I/O manager.
#   make            build ./iosim
#   make test       build and run every test (Check suites + every scenario),
#                   and the layering check (make check-layers)
#   make asan       the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make demo       run the asynchronous-read lesson with its explanation
#   make bench      benchmarks (figures, not tests)
#   make install    iosim, its standard library of drivers, the manual page,
#                   bash completion, the headers (the WDK ones for C drivers
#                   under include/iosim/wdk) and iosim.pc under $(PREFIX)
#                   (default /usr/local; DESTDIR for staging); make uninstall
#                   removes them
#   make explore    long schedule explorations of the race lessons
#   make samples-test  Microsoft's WDM samples, fetched at a pinned commit,
#                   compiled unmodified and run (make samples fetches them)
#   make fuzz       the libFuzzer harnesses of tests/fuzz, FUZZ_SECONDS each
#   make valgrind   every scenario under memcheck (zero errors, zero leaks)
#   make coverage   line and branch coverage per folder (gcovr)

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
# Where `make install` puts the standard library (scenarios/lib), which
# `include <disk.iosim>` searches after $$IOSIM_PATH; the build's own
# scenarios/lib is searched too, so ./iosim works from the tree.
LIBDIR   = $(PREFIX)/share/iosim/lib
SAN     ?=
OPT     ?= -O2
PKG_CONFIG ?= pkg-config

WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wundef -Wwrite-strings
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -Iinclude -MMD -MP
ifneq ($(SAN),)
CFLAGS  += -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SAN)
endif

# Resolved when a recipe needs them, so `make deps` can install first.
DB_CFLAGS   = $(shell $(PKG_CONFIG) --cflags sqlite3)
DB_LIBS     = $(shell $(PKG_CONFIG) --libs sqlite3)
GV_CFLAGS   = $(shell $(PKG_CONFIG) --cflags libgvc libcgraph)
GV_LIBS     = $(shell $(PKG_CONFIG) --libs libgvc libcgraph)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check zlib)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check zlib)

# The engine, laid out by Windows component (docs/architecture.md).
ENGINE_DIRS = core ke hal io cc fsrtl ex ps ob
ENGINE_SRC = $(foreach d,$(ENGINE_DIRS),$(wildcard sim/$(d)/*.c))
# Built on the engine's public API only: trace sinks, the verifier, the
# user-mode file system, the scenario language, the trace database, the
# schedule explorer, the quiz generator.
SCN_SRC    = $(wildcard sim/sinks/*.c sim/verify/*.c sim/ufs/*.c sim/scn/*.c sim/db/*.c sim/explore/*.c \
             sim/quiz/*.c)
VIZ_SRC    = $(wildcard viz/*.c)
TEST_SRC   = $(wildcard tests/*.c)
# The fuzz harnesses (tests/fuzz, docs/fuzzing.md) are in the test binary
# too: it replays tests/fuzz/regress through them.
TEST_SRC  += $(wildcard tests/fuzz/fz_*.c)
# C drivers written as Windows drivers are: built with the driver-facing
# headers (include/wdk) and 16-bit wide characters, as `iosim cc` builds them.
# Each exports DriverEntry; the test build renames it NAME_DriverEntry
# (-DDriverEntry=...) so that all of them link into one test binary.
TEST_DRV_SRC = $(wildcard tests/drivers-c/*.c)
WDK_CFLAGS = -std=gnu11 -fshort-wchar -Wall -Wextra -Werror -Wno-multichar -Wno-unknown-pragmas \
             -Iinclude/wdk -Iinclude -MMD -MP -g $(OPT)

ENGINE_OBJ = $(ENGINE_SRC:%.c=$(BUILD)/%.o)
SCN_OBJ    = $(SCN_SRC:%.c=$(BUILD)/%.o)
VIZ_OBJ    = $(VIZ_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ   = $(TEST_SRC:%.c=$(BUILD)/%.o) $(TEST_DRV_SRC:%.c=$(BUILD)/%.o)
LIB        = $(BUILD)/libiosim.a

.PHONY: all test asan demo bench deps clean diagrams readme check-layers install uninstall explore samples samples-test \
        quiz-check test-oom fuzz fuzz-build valgrind coverage

all: iosim diagrams readme

iosim: $(BUILD)/iosim
	cp $< $@

$(LIB): $(ENGINE_OBJ) $(SCN_OBJ) $(VIZ_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

CLI_OBJ    = $(patsubst %.c,$(BUILD)/%.o,$(wildcard sim/cli/*.c))
# C drivers loaded at run time (`driver NAME load`) call the kernel
# routines of the executable: every engine object is linked in, and its
# symbols are exported (-rdynamic).
EXPORT_LIB = -rdynamic -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive
$(BUILD)/iosim: $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(EXPORT_LIB) $(GV_LIBS) $(DB_LIBS) -lm -ldl

$(BUILD)/viz/%.o: viz/%.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(CFLAGS) $(GV_CFLAGS) $(DB_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(CFLAGS) $(CHECK_CFLAGS) -Isim -c -o $@ $<

$(BUILD)/tests/fuzz/%.o: CFLAGS += -DFZ_SRCDIR='"$(CURDIR)"'
$(BUILD)/sim/scn/parse.o: CFLAGS += -DIOSIM_LIBDIR='"$(LIBDIR)"' -DIOSIM_SRC_LIBDIR='"$(CURDIR)/scenarios/lib"'
$(BUILD)/sim/scn/cdrv_build.o: CFLAGS += -DIOSIM_INCDIR='"$(PREFIX)/include"' -DIOSIM_SRC_INCDIR='"$(CURDIR)/include"'

$(ENGINE_OBJ): $(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(CFLAGS) -Isim -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(CFLAGS) $(DB_CFLAGS) -c -o $@ $<

$(BUILD)/tests/drivers-c/%.o: tests/drivers-c/%.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(WDK_CFLAGS) -DDriverEntry=$*_DriverEntry $(if $(SAN),-fsanitize=$(SAN) -fno-sanitize-recover=all) -c -o $@ $<

$(BUILD)/iosim-tests: $(TEST_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(EXPORT_LIB) $(CHECK_LIBS) $(GV_LIBS) $(DB_LIBS) -lm -ldl

# Each lesson's IRP diagram and timeline, drawn from a fresh run of it, and
# its explorer page (docs/explorer/NN-name.html, `iosim html`).
DIAGRAM_DEPS = $(wildcard scenarios/lessons/*.iosim scenarios/lib/*.iosim) viz/make-lesson-diagrams.sh
docs/diagrams/.stamp: $(BUILD)/iosim $(DIAGRAM_DEPS)
	sh viz/make-lesson-diagrams.sh ./$(BUILD)/iosim docs/diagrams && touch $@
diagrams: docs/diagrams/.stamp

# The README's "What you see" sample, from the iosim just built.
README_DEPS = scenarios/lessons/02-async-read.iosim $(wildcard scenarios/lib/*.iosim) docs/make-readme-sample.sh
$(BUILD)/readme.stamp: $(BUILD)/iosim $(README_DEPS) README.md
	sh docs/make-readme-sample.sh ./$(BUILD)/iosim README.md && touch $@
readme: $(BUILD)/readme.stamp

deps:
	@sh tests/deps.sh

# The README's embedding example must keep building and running.
$(BUILD)/embed: docs/examples/embed.c $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(DB_LIBS) -lm

# The dependency rule (docs/architecture.md), on the built objects.
check-layers: $(LIB)
	sh tests/layering.sh $(BUILD)

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/iosim-tests $(BUILD)/embed iosim readme
	@$(MAKE) --no-print-directory check-layers
	./$(BUILD)/embed > /dev/null
	cd tests && ../$(BUILD)/iosim-tests
	@if [ "$$CI" = true ]; then sh tests/fuzz/smoke.sh 60; fi

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=address,undefined OPT=-O1 build-asan/iosim-tests
	cd tests && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ../build-asan/iosim-tests

demo: deps
	@$(MAKE) --no-print-directory iosim
	./iosim run scenarios/lessons/02-async-read.iosim --explain --db demo.db
	./iosim viz --db demo.db --irp r1 -o demo-irp.svg
	@echo "the IRP's journey as a picture: demo-irp.svg (see docs/diagrams.md)"

$(BUILD)/tests/bench/%.o: tests/bench/%.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(CFLAGS) $(DB_CFLAGS) -Isim -c -o $@ $<

BENCH_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/bench/*.c))
$(BUILD)/iosim-bench: $(BENCH_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(BENCH_OBJ) $(EXPORT_LIB) $(GV_LIBS) $(DB_LIBS) -lm -ldl

# Its own build folder: the benchmark build compiles the invariant checks
# out (-DNDEBUG), and must not reuse the test build's objects.
bench: deps
	@$(MAKE) --no-print-directory OPT="-O2 -DNDEBUG" BUILD=build-bench build-bench/iosim-bench
	@$(MAKE) --no-print-directory iosim
	./build-bench/iosim-bench

# The binary, the standard drivers (for `include <disk.iosim>`), the
# lessons (they include ../lib/...), the manual page, bash completion.
install: iosim
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/share/iosim/lessons \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 iosim $(DESTDIR)$(PREFIX)/bin/iosim
	install -m 644 scenarios/lib/*.iosim $(DESTDIR)$(LIBDIR)
	install -d $(DESTDIR)$(LIBDIR)/drivers
	install -m 644 scenarios/lib/drivers/*.c $(DESTDIR)$(LIBDIR)/drivers
	install -m 644 scenarios/lessons/*.iosim $(DESTDIR)$(PREFIX)/share/iosim/lessons
	install -m 644 docs/iosim.1 $(DESTDIR)$(PREFIX)/share/man/man1/iosim.1
	install -m 644 docs/iosim.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/iosim
	install -d $(DESTDIR)$(PREFIX)/include/iosim/wdk $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/iosim/*.h $(DESTDIR)$(PREFIX)/include/iosim
	install -m 644 include/wdk/*.h $(DESTDIR)$(PREFIX)/include/iosim/wdk
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell sed -n 's/^\#define IOSIM_VERSION "\(.*\)"/\1/p' include/iosim/sim.h)|' \
	  docs/iosim.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/iosim.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/iosim $(DESTDIR)$(PREFIX)/share/man/man1/iosim.1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/iosim
	rm -rf $(DESTDIR)$(PREFIX)/share/iosim $(DESTDIR)$(PREFIX)/include/iosim
	rm -f $(DESTDIR)$(PREFIX)/lib/pkgconfig/iosim.pc

# Microsoft's driver samples, unmodified, on the simulated machine
# (docs/c-drivers.md): fetched at a pinned commit (network needed once),
# then run by the scenarios of tests/samples/.  The test suite runs them
# too when they have been fetched.
samples:
	@sh tests/samples/fetch.sh build/samples
samples-test: iosim samples
	./iosim check --include-dir build/samples tests/samples/*.iosim

# The longer searches (docs/exploration.md); the test suite runs short ones.
explore: deps
	@$(MAKE) --no-print-directory iosim
	@$(MAKE) --no-print-directory OPT="-O2 -DNDEBUG" BUILD=build-bench build-bench/iosim-bench
	@for f in 13-usermode-fs-race 16-cancel-race 17-cancel-race-forgotten; do \
	  echo "== $$f, bound 4"; ./iosim explore scenarios/lessons/$$f.iosim --bound 4 --quiet --estimate | grep -E '^(estimate|schedules|covered|  (ok  |FAIL) )'; \
	done
	@echo "== 16-cancel-race, 100,000 random schedules"; ./iosim explore scenarios/lessons/16-cancel-race.iosim --strategy random --runs 100000 --quiet | grep -E '^(schedules|covered|  (ok  |FAIL) )' || true
	@echo "== 17-cancel-race-forgotten, 20,000 PCT schedules of depth 3"; ./iosim explore scenarios/lessons/17-cancel-race-forgotten.iosim --strategy pct --runs 20000 --quiet | grep -E '^(schedules|covered|  (ok  |FAIL) )' || true
	./build-bench/iosim-bench --explore

# 1,000 seeds per quiz topic (make test runs 1,000 spread over the topics).
quiz-check: deps
	@$(MAKE) --no-print-directory $(BUILD)/iosim-tests iosim
	cd tests && QUIZ_SEEDS_PER_TOPIC=1000 CK_RUN_SUITE=quiz ../$(BUILD)/iosim-tests

# Out of memory is an error, never a crash (docs/reliability.md): an
# AddressSanitizer build with fault injection (IOSIM_FAIL_ALLOC=N fails the
# Nth allocation) runs lessons and bug scenarios with every allocation
# failing in turn, and requires "out of memory", exit 2 and no leak.
# OOM_STRIDE=K tries every Kth allocation only (the suite's smoke uses it).
OOM_SCENARIOS ?= scenarios/lessons/01-sync-read.iosim scenarios/lessons/02-async-read.iosim \
                 scenarios/lessons/10-iocp.iosim scenarios/bugs/double-completion.iosim \
                 scenarios/bugs/irp-leaked.iosim
OOM_STRIDE ?= 1
test-oom: deps
	@$(MAKE) --no-print-directory BUILD=build-oom SAN=address OPT="-O1 -DIOSIM_FAULT_INJECTION" build-oom/iosim
	sh tests/oom.sh build-oom/iosim $(OOM_STRIDE) $(OOM_SCENARIOS)

# Fuzzing (docs/fuzzing.md): one libFuzzer binary per harness of
# tests/fuzz, built with clang under ASan + UBSan in build-fuzz.
# make fuzz FUZZ_SECONDS=N runs each for N seconds (one job, niced),
# growing tests/fuzz/corpus/TARGET and keeping it minimised.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS  = scenario tracedb token replay
FUZZ_OBJ      = $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/fuzz/fz_*.c))
FUZZ_FLAGS    = BUILD=build-fuzz CC=clang SAN=address,undefined OPT="-O1 -fsanitize=fuzzer-no-link"
$(BUILD)/fuzz-%: tests/fuzz/libfuzzer.c $(FUZZ_OBJ) $(LIB)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -fsanitize=fuzzer -DFZ_TARGET_$(shell echo $* | tr a-z A-Z) \
	  -o $@ $(filter %.c %.o %.a,$^) \
	  $(LDFLAGS) -fsanitize=fuzzer $(GV_LIBS) $(DB_LIBS) -lm
fuzz-build:
	@sh tests/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_FLAGS) $(FUZZ_TARGETS:%=build-fuzz/fuzz-%)
# `make test` with CI=true also runs a 60 s smoke run (tests/fuzz/smoke.sh),
# skipped with a note when there is no clang with libFuzzer.
fuzz: fuzz-build
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Memcheck over every scenario (tests/valgrind.sh): zero errors, zero
# leaks.  -DIOSIM_VALGRIND registers the coroutine stacks with Valgrind.
valgrind:
	@sh tests/deps.sh tools
	@$(MAKE) --no-print-directory BUILD=build-vg OPT="-O1 -DIOSIM_VALGRIND" build-vg/iosim
	sh tests/valgrind.sh build-vg

# Line and branch coverage per folder (tests/coverage.sh, gcovr) of the
# whole test suite, the CLI included: the suite runs ../iosim, so the
# covered build stands in for it during the run and is put back after.
coverage:
	@sh tests/deps.sh tools
	@$(MAKE) --no-print-directory BUILD=build-cov OPT="-O0 --coverage -DIOSIM_FAULT_INJECTION" LDFLAGS=--coverage \
	  build-cov/iosim-tests build-cov/iosim
	sh tests/coverage.sh build-cov

clean:
	rm -rf build build-asan build-bench build-oom build-fuzz build-vg build-cov iosim

-include $(shell find build build-asan build-bench build-oom build-fuzz build-vg build-cov -name '*.d' 2>/dev/null)

# The explorer page's script and style, compiled into `iosim html` as C
# strings (viz/html/embed.sh): the pages it writes fetch nothing.
HTML_ASSETS = viz/html/explorer.css viz/html/explorer.js
$(BUILD)/viz/viz_html_assets.h: $(HTML_ASSETS) viz/html/embed.sh
	@mkdir -p $(dir $@)
	sh viz/html/embed.sh $@ $(HTML_ASSETS)
$(BUILD)/viz/html.o: $(BUILD)/viz/viz_html_assets.h
$(BUILD)/viz/html.o: CFLAGS += -I$(BUILD)/viz
