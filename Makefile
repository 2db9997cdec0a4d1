# smppbridge build.
#
#   make                 build everything into build/
#   make test            install missing deps, build, run every test normally
#                        and under ASan+UBSan, then a short fuzz run
#   make check           only the normal test run   (SANITIZE=1 for the other)
#   make fuzz            each fuzz target for FUZZ_SECONDS (default 60)
#   make bench           codec benchmark
#   make soak            10M messages with receipts through one bridge at a
#                        steady rate: RSS and Redis memory flat, nothing lost
#                        (load/soak.sh; SOAK_COUNT, SOAK_RATE, SOAK_FINAL_TTL)
#   make run             local demo stack (ports: see scripts/run-local.sh)
#   make fresh-check     the two commands above on a fresh Debian 12 root
#                        (debootstrap; needs root and a Debian mirror)
#   make clean
#
# Dependencies come from Debian's packages via scripts/install-deps.sh.

# Phase one. Every goal that builds needs the Debian packages first, and
# pkg-config can only report their flags once they are installed; a
# variable computed when make reads this file would be empty on a fresh
# machine. So the first make installs them, then runs the same goals (with
# the same variables and -j) in a sub-make that reads this file afresh.
# One rule for every goal: nothing below names `deps` as a prerequisite.
NO_DEPS_GOALS := clean fresh-check deps
GOALS := $(or $(MAKECMDGOALS),all)
ifeq ($(SMPPBRIDGE_DEPS_READY)$(filter-out $(NO_DEPS_GOALS),$(GOALS)),)
# Only goals that need no packages: fall through to phase two.
SMPPBRIDGE_DEPS_READY := none-needed
endif

ifeq ($(SMPPBRIDGE_DEPS_READY),)
.PHONY: $(GOALS) deps-then-goals
$(GOALS): deps-then-goals ; @:
deps-then-goals:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory SMPPBRIDGE_DEPS_READY=1 $(GOALS)
else
# Phase two: the packages are in place; the real build.


CC      ?= cc
FUZZCC  ?= clang
SANITIZE ?=
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZE),1)
BUILD   := build/san
OPT     := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD   := build
OPT     := -O2 -g
SANFLAGS :=
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wundef -Wstrict-prototypes \
            -Wmissing-prototypes -Wwrite-strings -Wpointer-arith \
            -Wformat=2 -Wvla -Wimplicit-fallthrough -Wcast-qual

PKGS     := libevent_core libevent_extra libevent_openssl openssl hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  := $(shell pkg-config --libs criterion libsmpp34 2>/dev/null) -lm

CPPFLAGS += -Isrc -D_POSIX_C_SOURCE=200809L
CFLAGS   += -std=c11 $(OPT) $(WARNINGS) $(SANFLAGS) $(PKG_CFLAGS) -pthread -MMD -MP
LDFLAGS  += $(SANFLAGS) -pthread

# Every src/*.c is a library module except the files holding a main().
MAIN_SRC := $(wildcard src/main.c src/smppctl.c)
LIB_SRC  := $(filter-out $(MAIN_SRC),$(wildcard src/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libsmppcore.a

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPER_SRC := $(wildcard tests/unit/helpers/*.c)
TEST_HELPER_OBJ := $(TEST_HELPER_SRC:tests/unit/helpers/%.c=$(BUILD)/obj/testhelp_%.o)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

BENCH_BIN := build/bench/bench_codec

# Tools in load/: each binary is its main file plus load/<name>_*.c; files
# named load/lib_*.c are shared by all of them.
LOAD_LIB_SRC := $(wildcard load/lib_*.c)
LOAD_LIB_OBJ := $(LOAD_LIB_SRC:load/%.c=$(BUILD)/obj/load_%.o)
SIM_SRC  := $(wildcard load/smsc_sim*.c)
LOADGEN_SRC := $(wildcard load/smpp_load*.c)
SIM_BIN  := $(BUILD)/bin/smsc-sim
LOADGEN_BIN := $(BUILD)/bin/smpp-load
TOOL_BIN := $(if $(SIM_SRC),$(SIM_BIN)) $(if $(LOADGEN_SRC),$(LOADGEN_BIN))

# The bridge and the operator's CLI: one main file each in src/.
BRIDGE_BIN := $(if $(wildcard src/main.c),$(BUILD)/bin/smppbridge)
CTL_BIN    := $(if $(wildcard src/smppctl.c),$(BUILD)/bin/smppctl)
TOOL_BIN   += $(BRIDGE_BIN) $(CTL_BIN)

.PHONY: all deps lib tools tests check test fuzz fuzz-build fuzz-smoke bench soak install run clean fresh-check

all: lib tools tests

tools: $(TOOL_BIN)

$(BUILD)/obj/load_%.o: load/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iload $(CFLAGS) -c $< -o $@

$(SIM_BIN): $(SIM_SRC:load/%.c=$(BUILD)/obj/load_%.o) $(LOAD_LIB_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $^ -o $@ $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/bin/smppbridge: $(BUILD)/obj/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $^ -o $@ $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/bin/smppctl: $(BUILD)/obj/smppctl.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $^ -o $@ $(LDFLAGS) $(PKG_LIBS)

$(LOADGEN_BIN): $(LOADGEN_SRC:load/%.c=$(BUILD)/obj/load_%.o) $(LOAD_LIB_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $^ -o $@ $(LDFLAGS) $(PKG_LIBS) -lm

deps:
	@scripts/install-deps.sh

lib: $(LIB)

tests: $(TEST_BIN)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/testhelp_%.o: tests/unit/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit/helpers $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(TEST_HELPER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit/helpers $(CFLAGS) $< $(TEST_HELPER_OBJ) \
	    $(LIB) -o $@ $(LDFLAGS) $(TEST_LIBS) $(PKG_LIBS)

# One test pass: every unit test binary, totals appended to build/results.
check: lib tools tests
	@scripts/run-tests.sh "$(if $(SANITIZE),asan+ubsan,plain)" $(TEST_BIN); \
	 u=$$?; scripts/run-integration.sh "$(if $(SANITIZE),asan+ubsan,plain)" \
	     $(BUILD)/bin; i=$$?; [ $$u -eq 0 ] && [ $$i -eq 0 ]

# Builds use every core (the deps are in place by then); the tests in
# each pass still run one after another.
test:
	@rm -f build/results
	$(MAKE) --no-print-directory -j$(JOBS) check
	$(MAKE) --no-print-directory -j$(JOBS) check SANITIZE=1
	$(MAKE) --no-print-directory -j$(JOBS) fuzz-smoke
	@scripts/test-summary.sh build/results

# Fuzz targets: clang + libFuzzer, with ASan and UBSan. The library is
# compiled once for every target, instrumented for coverage
# (fuzzer-no-link); each target is its own file linked to it.
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=address,undefined \
               -fno-sanitize-recover=all -pthread $(CPPFLAGS) $(PKG_CFLAGS)
FUZZ_OBJ := $(LIB_SRC:src/%.c=build/fuzz/obj/%.o)

build/fuzz/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZCC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJ) -o $@ $(PKG_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

fuzz-smoke: fuzz-build
	@scripts/run-fuzz.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BIN)

build/bench/%: tests/bench/%.c $(LIB_SRC) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g -pthread $(WARNINGS) $(CPPFLAGS) $(PKG_CFLAGS) $< $(LIB_SRC) \
	    -o $@ $(PKG_LIBS)

bench: $(BENCH_BIN)
	$(BENCH_BIN)

# Not part of `make test`: it runs for about 18 minutes by default.
soak: tools
	BIN=$(BUILD)/bin load/soak.sh

# Binaries and the example config, for packages and the container image
# (the list of packages they need at run time beside them);
# the systemd unit (its /usr/local paths rewritten for PREFIX) and the
# operator's docs with their Prometheus and Grafana examples.
PREFIX  ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR  ?= $(PREFIX)/share/doc/smppbridge
# runtime-packages: the Debian packages holding the libraries these
# binaries link, for `install-deps.sh --runtime` (the image's runtime stage).
install: tools
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/smppbridge $(DESTDIR)$(PREFIX)/share/smppbridge
	install -m 0755 $(TOOL_BIN) $(DESTDIR)$(PREFIX)/bin/
	scripts/runtime-deps.sh $(TOOL_BIN) >$(DESTDIR)$(PREFIX)/share/smppbridge/runtime-packages
	$(if $(wildcard conf/*.conf),install -m 0644 conf/*.conf $(DESTDIR)/etc/smppbridge/)
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	sed 's|/usr/local/|$(PREFIX)/|g' scripts/smppbridge.service >$(DESTDIR)$(UNITDIR)/smppbridge.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/smppbridge.service
	install -m 0644 $(wildcard docs/operations.md docs/prometheus.yml docs/grafana-dashboard.json) \
	    $(DESTDIR)$(DOCDIR)/

run: lib tools
	@scripts/run-local.sh

clean:
	rm -rf build

fresh-check:
	@scripts/fresh-check.sh

-include $(LIB_OBJ:.o=.d) $(LOAD_LIB_OBJ:.o=.d) $(wildcard $(BUILD)/obj/main.d $(BUILD)/obj/smppctl.d)
-include $(wildcard $(BUILD)/obj/load_*.d) $(wildcard $(BUILD)/tests/*.d)
-include $(wildcard build/fuzz/obj/*.d)

# Object files of test helpers are intermediate to make; keep them.
.SECONDARY:

endif # phase two
