# ringo — build, test, examples, perf, install, sanitizer builds.
#
#   make                    build/libringo.a and build/libringo.so
#   make test               build and run the cmocka suites
#   make test SANITIZE=address,undefined   (or SANITIZE=thread)
#   make valgrind           run the suites under valgrind memcheck
#   make sweep              the long cancellation sweep (tests/test_cancel_sweep)
#   make fuzz SECONDS=60    each libFuzzer target (tests/fuzz/) for N s (needs clang)
#   make demo               the main job: echo server under load beside baselines
#   make tour               the seeds' examples in C, on real time
#   make examples           build/examples/...
#   make perf               build/perf/...
#   make man                build/man: the man pages (tools/mkman, from the headers)
#   make check-man          every exported function has a page, every page a function
#   make perf-report        every comparison, tables and charts in
#                           build/perf-report/index.md (QUICK=1: 2-3 min)
#   make install PREFIX=/usr/local DESTDIR=
#   make tls                build/libringo_tls.a and .so (OpenSSL 3; also built
#                           by all/test/install whenever libssl-dev is there)

VERSION_MAJOR := $(shell sed -n 's/^\#define RINGO_VERSION_MAJOR \([0-9]*\)/\1/p' include/ringo.h)
VERSION_MINOR := $(shell sed -n 's/^\#define RINGO_VERSION_MINOR \([0-9]*\)/\1/p' include/ringo.h)
VERSION_PATCH := $(shell sed -n 's/^\#define RINGO_VERSION_PATCH \([0-9]*\)/\1/p' include/ringo.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
CXX ?= c++
ARCH ?= $(shell uname -m)

# Each sanitizer build gets its own tree so objects never mix.
ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build/san-$(subst $(comma),-,$(SANITIZE))
endif
comma := ,

CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-fPIC -D_GNU_SOURCE -Iinclude -Iruntime -MMD -MP
CXXFLAGS ?= -O2 -g
override CXXFLAGS += -Wall -Wextra -Iinclude
LDLIBS := -luring -lpthread

ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

RUNTIME_SRCS := $(wildcard runtime/*.c)
ARCH_SRCS := $(wildcard runtime/arch/$(ARCH)/*.S)
RUNTIME_OBJS := $(RUNTIME_SRCS:%.c=$(BUILD)/%.o) $(ARCH_SRCS:%.S=$(BUILD)/%.o)

TEST_SRCS := $(filter-out tests/test_tls%.c,$(wildcard tests/test_*.c))
TEST_SUPPORT := $(filter-out tests/test_%.c,$(wildcard tests/*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)

TOUR_SRCS := $(wildcard examples/tour/*.c)
TOUR_BINS := $(TOUR_SRCS:examples/%.c=$(BUILD)/examples/%)
# Parts of examples (no main of their own): compiled once, linked into the
# examples that use them and into the tests that test them (see below).
EXAMPLE_UNITS := examples/http_parse.c examples/resp_parse.c examples/kv_store.c examples/stop_signals.c
EXAMPLE_UNIT_OBJS := $(EXAMPLE_UNITS:examples/%.c=$(BUILD)/examples/units/%.o)
EXAMPLE_SRCS := $(filter-out $(EXAMPLE_UNITS) examples/tls_%.c,$(wildcard examples/*.c))
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

PERF_SRCS := $(wildcard perf/*.c)
PERF_BINS := $(PERF_SRCS:perf/%.c=$(BUILD)/perf/%)
PERF_CXX_SRCS := $(wildcard perf/*.cc)
PERF_CXX_BINS := $(PERF_CXX_SRCS:perf/%.cc=$(BUILD)/perf/%)

LIB := $(BUILD)/libringo.a
SOLIB := $(BUILD)/libringo.so

.PHONY: all lib test examples perf perf-report install install-tls uninstall clean valgrind demo tour \
	check-headers check-layers sweep man check-man FORCE fuzz fuzz-build
all: lib

lib: $(LIB) $(SOLIB)

$(LIB): $(RUNTIME_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(SOLIB): $(RUNTIME_OBJS)
	$(CC) -shared -Wl,-soname,libringo.so.$(VERSION_MAJOR) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/runtime/%.o: runtime/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/runtime/arch/%.o: runtime/arch/%.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# ---- tests ---------------------------------------------------------------
$(BUILD)/tests/support/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

TEST_SUPPORT_OBJS := $(TEST_SUPPORT:tests/%.c=$(BUILD)/tests/support/%.o)
# Not intermediate: keep the support objects between runs.
.SECONDARY: $(TEST_SUPPORT_OBJS)

$(BUILD)/tests/%: tests/%.c $(TEST_SUPPORT_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Iexamples $(LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) \
		$(filter $(EXAMPLE_UNIT_OBJS),$^) $(LIB) -lcmocka $(LDLIBS)

# The example units a suite tests directly.
$(BUILD)/tests/test_http_parse: $(BUILD)/examples/units/http_parse.o
$(BUILD)/tests/test_resp_parse: $(BUILD)/examples/units/resp_parse.o

# The cancellation sweep: its harness and scenario tables (tests/sweep/)
# are linked into test_cancel_sweep only. The TLS scenarios (sc_tls.c)
# only where libringo_tls is built (see the TLS section).
SWEEP_SRCS := $(filter-out tests/sweep/sc_tls.c,$(wildcard tests/sweep/*.c))
SWEEP_OBJS := $(SWEEP_SRCS:tests/%.c=$(BUILD)/tests/%.o)
SWEEP_TLS_OBJS :=

$(BUILD)/tests/sweep/%.o: tests/sweep/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -c -o $@ $<

$(BUILD)/tests/test_cancel_sweep: tests/test_cancel_sweep.c $(SWEEP_OBJS) $(TEST_SUPPORT_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SWEEP_TLS_CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(SWEEP_OBJS) $(SWEEP_TLS_OBJS) \
		$(TEST_SUPPORT_OBJS) $(SWEEP_TLS_LIBS) $(LIB) -lcmocka $(SWEEP_TLS_LDLIBS) $(LDLIBS)

# The long sweep: every k up to RINGO_SWEEP_KMAX and RINGO_SWEEP_ROUNDS
# random rounds per scenario, from a fresh seed (printed; set
# RINGO_SWEEP_SEED to replay). make test runs a bounded sweep.
sweep: $(BUILD)/tests/test_cancel_sweep
	@seed=$${RINGO_SWEEP_SEED:-$$(date +%s)}; echo "sweep seed: $$seed"; \
	RINGO_SWEEP_SEED=$$seed RINGO_SWEEP_KMAX=$${RINGO_SWEEP_KMAX:-400} \
	RINGO_SWEEP_ROUNDS=$${RINGO_SWEEP_ROUNDS:-300} $(BUILD)/tests/test_cancel_sweep

# Tests find the example binaries through RINGO_BUILD. SUITES="test_a
# test_b" runs only those suites (everything is still built).
ALL_SUITES = $(TEST_BINS) $(TLS_TEST_BINS) $(FUZZ_REPLAY_BINS)
RUN_SUITES = $(if $(SUITES),$(filter $(addprefix $(BUILD)/tests/,$(SUITES)) $(addprefix $(BUILD)/tests/fuzz/,$(SUITES)),$(ALL_SUITES)),$(ALL_SUITES))
test: $(TEST_BINS) $(TLS_TEST_BINS) $(TOUR_BINS) $(EXAMPLE_BINS)
	@RINGO_BUILD=$(BUILD) tests/run-suite $(RUN_SUITES)

# --fair-sched=yes: valgrind runs one thread at a time, and with its default
# lock a task spinning on sleep(0) can starve an executor worker for good
# (test_resolve's ticker kept getaddrinfo from ever running: a 10 s timeout).
VALGRIND := valgrind --quiet --fair-sched=yes --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible
# LD_BIND_NOW=1: symbols are bound at start-up, so the dynamic linker's lazy
# resolver never runs inside an asynchronous signal handler, where valgrind
# reports its register save on the interrupted stack as an invalid write
# (test_signal's signal to a loop asleep in the kernel).
valgrind: $(TEST_BINS) $(TLS_TEST_BINS) $(TOUR_BINS) $(EXAMPLE_BINS)
	@LD_BIND_NOW=1 RINGO_BUILD=$(BUILD) RINGO_UNDER_VALGRIND=1 RINGO_TEST_WRAP="$(VALGRIND) $(TLS_VALGRIND)" \
		tests/run-suite --wrap "$(VALGRIND) $(TLS_VALGRIND)" $(TEST_BINS) $(TLS_TEST_BINS) $(FUZZ_REPLAY_BINS)

# ---- TLS: build/libringo_tls.a (+ .so), on OpenSSL 3 -------------------------
# Built (by all, test, examples, install) when OpenSSL 3's headers and
# libraries are there (Debian: libssl-dev), and by `make tls`, which fails
# without them. The core library, its tests and examples never need
# OpenSSL. TLS=0 leaves it out even when OpenSSL is there.
TLS_SRCS := $(wildcard runtime/tls/*.c)
TLS_OBJS := $(TLS_SRCS:%.c=$(BUILD)/%.o)
TLS_LIB := $(BUILD)/libringo_tls.a
TLS_SOLIB := $(BUILD)/libringo_tls.so
TLS_LDLIBS := -lssl -lcrypto
ifeq ($(TLS),0)
HAVE_TLS :=
else
HAVE_TLS := $(shell pkg-config --exists 'openssl >= 3' 2>/dev/null && echo 1)
endif
# valgrind: OpenSSL's own patterns (tests/tls.supp says which and why).
TLS_VALGRIND := $(if $(HAVE_TLS),--suppressions=tests/tls.supp)

.PHONY: tls
tls: $(TLS_LIB) $(TLS_SOLIB)

$(TLS_LIB): $(TLS_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(TLS_SOLIB): $(TLS_OBJS) $(SOLIB)
	$(CC) -shared -Wl,-soname,libringo_tls.so.$(VERSION_MAJOR) $(LDFLAGS) -o $@ $(TLS_OBJS) \
		-L$(BUILD) -lringo $(TLS_LDLIBS) $(LDLIBS)

ifneq ($(HAVE_TLS),)
TLS_TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_tls*.c))
TLS_EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/tls_*.c))
lib: $(TLS_LIB) $(TLS_SOLIB)
examples test valgrind perf: $(TLS_EXAMPLE_BINS)
# (test and valgrind name TLS_TEST_BINS above, before it is set: their
# prerequisites are read there, so they are added here.)
test valgrind: $(TLS_TEST_BINS)

$(TLS_TEST_BINS): $(BUILD)/tests/%: tests/%.c $(TEST_SUPPORT_OBJS) $(TLS_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Iexamples $(LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) \
		$(TLS_LIB) $(LIB) -lcmocka $(TLS_LDLIBS) $(LDLIBS)

$(TLS_EXAMPLE_BINS): $(BUILD)/examples/%: examples/%.c $(TLS_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter $(EXAMPLE_UNIT_OBJS),$^) $(TLS_LIB) $(LIB) \
		$(TLS_LDLIBS) $(LDLIBS) -lm
$(BUILD)/examples/tls_echo: $(BUILD)/examples/units/stop_signals.o

# The cancellation sweep's TLS scenarios (tests/sweep/sc_tls.c).
SWEEP_TLS_OBJS := $(BUILD)/tests/sweep/sc_tls.o
SWEEP_TLS_CFLAGS := -DRINGO_HAVE_TLS
SWEEP_TLS_LIBS := $(TLS_LIB)
SWEEP_TLS_LDLIBS := $(TLS_LDLIBS)
$(BUILD)/tests/test_cancel_sweep: $(SWEEP_TLS_OBJS) $(TLS_LIB)

# http_server serves HTTPS (--tls-cert, --tls-key) through the server hook.
$(BUILD)/examples/http_server: override CFLAGS += -DRINGO_HAVE_TLS
$(BUILD)/examples/http_server: $(TLS_LIB)
$(BUILD)/examples/http_server: LDLIBS += $(TLS_LDLIBS)
endif

# ---- examples --------------------------------------------------------------
examples: $(TOUR_BINS) $(EXAMPLE_BINS)

# The main job: ringo's echo server under load beside the hand-written
# liburing and epoll servers, about 30 s, printing requests/s, server CPU
# per request and the ratios (perf/echo_compare, short settings).
demo: perf
	SECONDS_PER_RUN=$${SECONDS_PER_RUN:-2} ROUNDS=$${ROUNDS:-2} CONNS="$${CONNS:-100}" \
		SIZES="$${SIZES:-64 4096}" RATE_FRACTION=$${RATE_FRACTION:-0} \
		BUILD_DIR=$(BUILD) perf/echo_compare $(BUILD)/examples/echo_server

$(BUILD)/examples/units/%.o: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The units each multi-file example links.
$(BUILD)/examples/http_server: $(BUILD)/examples/units/http_parse.o $(BUILD)/examples/units/stop_signals.o
$(BUILD)/examples/kv_server: $(BUILD)/examples/units/resp_parse.o $(BUILD)/examples/units/kv_store.o \
	$(BUILD)/examples/units/stop_signals.o
$(BUILD)/examples/echo_server: $(BUILD)/examples/units/stop_signals.o

$(BUILD)/examples/%: examples/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter $(EXAMPLE_UNIT_OBJS),$^) \
		$(filter %/libringo_tls.a,$^) $(LIB) $(LDLIBS) -lm

# The tour of the seeds' examples, on real time (about 20 s); then
# asyncio's TCP echo server and client from its streams documentation,
# together (the server on a free port until the client is done).
TOUR_PAIR := $(BUILD)/examples/tour/tcp_echo_server $(BUILD)/examples/tour/tcp_echo_client
tour: $(TOUR_BINS)
	@for t in $(sort $(filter-out $(TOUR_PAIR),$(TOUR_BINS))); do echo "---- $$t"; $$t || exit 1; done
	@echo "---- $(BUILD)/examples/tour/tcp_echo_server + tcp_echo_client"; \
	out=$$(mktemp); $(BUILD)/examples/tour/tcp_echo_server 0 > $$out & pid=$$!; \
	for i in $$(seq 100); do grep -q "Serving on" $$out && break; sleep 0.05; done; \
	port=$$(sed -n 's/^Serving on .*, \([0-9]*\))$$/\1/p' $$out); \
	$(BUILD)/examples/tour/tcp_echo_client $$port; rc=$$?; \
	kill -INT $$pid; wait $$pid; cat $$out; rm -f $$out; exit $$rc

# ---- perf ------------------------------------------------------------------
perf: $(PERF_BINS) $(PERF_CXX_BINS) $(EXAMPLE_BINS)
	@if [ -f mk/perf-baselines.mk ]; then $(MAKE) --no-print-directory -f mk/perf-baselines.mk BUILD=$(BUILD) all; fi

# Every comparison beside its baseline, then build/perf-report/index.md with
# tables and PNG charts (perf/report, gnuplot). About 36 minutes on the
# loaded 2-core VM; QUICK=1 is the 2-3 minute version CI runs.
perf-report: perf
	BUILD_DIR=$(BUILD) perf/report $(if $(QUICK),--quick)

$(BUILD)/perf/%: perf/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lm

# perf/resolve compares ringo_getaddrinfo with c-ares when libc-ares-dev
# is installed (the library itself never uses it).
CARES := $(shell pkg-config --exists libcares 2>/dev/null && echo 1)
ifneq ($(CARES),)
$(BUILD)/perf/resolve: override CFLAGS += -DHAVE_CARES
$(BUILD)/perf/resolve: LDLIBS += -lcares
endif

$(BUILD)/perf/%: perf/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $< -lboost_context

# ---- the public headers stand alone: C (gnu11, c11 + POSIX) and C++ ----------
# Each header is compiled on its own (#include <ringo/io.h> alone must work),
# then tools/check-contracts checks every public function's comment: it says
# whether the call may suspend, and names the errnos the function returns.
# The call graph between the runtime's objects has no cycle (runtime/LAYERS.md).
check-layers: lib
	@python3 tools/check-layers $(BUILD)

check-headers:
	@mkdir -p $(BUILD)
	@for h in ringo.h ringo/io.h ringo/aio.h ringo/thread.h ringo/stream.h ringo/process.h ringo/context.h ringo/compose.h ringo/net.h ringo/tls.h ringo/metrics.h; do \
		printf '#include <%s>\nint main(void){return 0;}\n' $$h > $(BUILD)/hdr.c; \
		$(CC) -std=gnu11 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only $(BUILD)/hdr.c || exit 1; \
		$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude -fsyntax-only $(BUILD)/hdr.c || exit 1; \
		$(CXX) -x c++ -std=c++11 -Wall -Wextra -Werror -Iinclude -fsyntax-only $(BUILD)/hdr.c || exit 1; \
	done; echo "headers: ok, each alone (gnu11, c11+POSIX, c++11)"
	@python3 tools/check-contracts

# ---- man pages ---------------------------------------------------------------
# tools/mkman writes a page per group of functions (build/man/man3/ringo-tasks.3)
# and a one-line link page per function (ringo_spawn.3: .so man3/ringo-tasks.3)
# from the headers' comments; man/ringo.7 (the overview) is written by hand.
# check-man holds them against the symbols the built library exports.
MAN_STAMP := $(BUILD)/man/man3/.stamp
man: $(MAN_STAMP)

$(MAN_STAMP): tools/mkman include/ringo.h $(wildcard include/ringo/*.h)
	@python3 tools/mkman $(BUILD)/man
	@touch $@

check-man: $(SOLIB) $(MAN_STAMP) $(if $(HAVE_TLS),$(TLS_SOLIB))
	@python3 tools/check-man $(BUILD)/man $(SOLIB) $(if $(HAVE_TLS),$(TLS_SOLIB))

# ---- build dependencies, checked before anything is built ------------------
# tools/deps looks for what the goals need (compilers, headers, libraries,
# commands: one probe compile, ~0.1-0.3 s, no package manager when all is
# there) and installs what is missing (as root; otherwise it prints the
# command and make stops). NO_DEPS_CHECK=1 skips it; make -n never installs.
deps_of = $(if $(filter clean uninstall check-headers,$1),,$(if $(filter test,$1),test,$(if \
	$(filter valgrind,$1),valgrind,$(if $(filter demo perf perf-report,$1),demo,$(if \
	$(filter install man,$1),build man,$(if $(filter check-man,$1),build check-man,build))))))
DEPS_GOALS := $(sort $(foreach g,$(or $(MAKECMDGOALS),all),$(call deps_of,$(g))))
DEPS_SKIP := $(NO_DEPS_CHECK)$(findstring n,$(firstword -$(MAKEFLAGS)))
ifeq ($(DEPS_SKIP),)
ifneq ($(DEPS_GOALS),)
DEPS_STATUS := $(shell CC='$(CC)' CXX='$(CXX)' DEPS_FLAGS='$(filter -I% -L% --sysroot=%,$(CPPFLAGS) \
	$(CFLAGS) $(LDFLAGS))' bash tools/deps $(DEPS_GOALS) >&2; echo $$?)
ifneq ($(DEPS_STATUS),0)
$(error build dependencies missing for '$(DEPS_GOALS)', see above)
endif
endif
endif

# A program run where io_uring is refused, as in a container with Docker's
# seccomp profile: the tests check what ringo's programs say there.
$(BUILD)/tools/no_io_uring: tools/no_io_uring.c tools/io_uring_block.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
test valgrind: $(BUILD)/tools/no_io_uring

# ---- fuzzing ----------------------------------------------------------------
# tests/fuzz/fuzz_<t>.c are libFuzzer targets. make fuzz builds them with
# clang -fsanitize=fuzzer,address,undefined into build/fuzz/ (the stream
# and TLS targets link libringo and libringo_tls built the same way, in
# build/fuzz/lib) and runs
# each for SECONDS (60) from a copy of its seeds, tests/fuzz/corpus/<t>,
# in build/fuzz/corpus/<t>: see tests/fuzz/run. make test replays the
# seeds through the same targets built with $(CC) (replay_<t>), so it
# needs no clang and the corpora are a regression suite.
# The TLS target only where the TLS library is built (OpenSSL 3).
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
ifeq ($(HAVE_TLS),)
FUZZ_TARGETS := $(filter-out tls,$(FUZZ_TARGETS))
endif
FUZZ_CC ?= clang
FUZZ_DIR := build/fuzz
SECONDS ?= 60
FUZZ_CFLAGS := -O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-Iinclude -Iexamples -Itests/fuzz -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_HEADERS := tests/fuzz/fuzz.h $(wildcard examples/*.h include/*.h include/ringo/*.h)

# What each target parses: example units (compiled into the target, so
# they are instrumented too) or the library.
$(FUZZ_DIR)/fuzz_http: examples/http_parse.c
$(FUZZ_DIR)/fuzz_resp: examples/resp_parse.c
$(FUZZ_DIR)/fuzz_stream: $(FUZZ_DIR)/lib/libringo.a
$(FUZZ_DIR)/fuzz_tls: $(FUZZ_DIR)/lib/libringo_tls.a $(FUZZ_DIR)/lib/libringo.a
$(FUZZ_DIR)/fuzz_tls: LDLIBS += $(TLS_LDLIBS)

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/common.c $(FUZZ_HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< tests/fuzz/common.c $(filter examples/%.c %.a,$^) $(LDLIBS)

# The library with coverage instrumentation for libFuzzer, made by the
# rules above in its own tree (clang, ASan and UBSan). In that make, this
# file is $(LIB): the rule is for the outer make only.
ifneq ($(BUILD),$(FUZZ_DIR)/lib)
$(FUZZ_DIR)/lib/libringo.a: $(RUNTIME_SRCS) $(ARCH_SRCS) $(wildcard runtime/*.h) $(FUZZ_HEADERS)
	+$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILD=$(FUZZ_DIR)/lib SANITIZE=address,undefined \
		CFLAGS='-O1 -g -fsanitize=fuzzer-no-link' $@
$(FUZZ_DIR)/lib/libringo_tls.a: $(TLS_SRCS) $(wildcard runtime/tls/*.h) $(FUZZ_DIR)/lib/libringo.a
	+$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILD=$(FUZZ_DIR)/lib SANITIZE=address,undefined \
		CFLAGS='-O1 -g -fsanitize=fuzzer-no-link' $@
endif

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

fuzz:
	@tests/fuzz/run --check $(FUZZ_CC)
	@+$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run --seconds $(SECONDS) $(FUZZ_DIR) $(FUZZ_TARGETS)

# The replay programs make test runs.
FUZZ_REPLAY_BINS := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/replay_%)
FUZZ_REPLAY_OBJS := $(BUILD)/tests/fuzz/replay.o $(BUILD)/tests/fuzz/common.o
.SECONDARY: $(FUZZ_REPLAY_OBJS)

$(BUILD)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -DFUZZ_CORPUS='"$(CURDIR)/tests/fuzz/corpus"' -c -o $@ $<

$(BUILD)/tests/fuzz/replay_http: $(BUILD)/examples/units/http_parse.o
$(BUILD)/tests/fuzz/replay_resp: $(BUILD)/examples/units/resp_parse.o
$(BUILD)/tests/fuzz/replay_tls: $(TLS_LIB)
$(BUILD)/tests/fuzz/replay_tls: LDLIBS += $(TLS_LDLIBS)

$(BUILD)/tests/fuzz/replay_%: tests/fuzz/fuzz_%.c $(FUZZ_REPLAY_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iexamples -Itests/fuzz $(LDFLAGS) -o $@ $< $(FUZZ_REPLAY_OBJS) \
		$(filter $(EXAMPLE_UNIT_OBJS) %/libringo_tls.a,$^) $(LIB) $(LDLIBS)
test valgrind: $(FUZZ_REPLAY_BINS)

# ---- install ---------------------------------------------------------------
# Remade on every install: it records PREFIX, which may differ each time.
$(BUILD)/ringo.pc $(BUILD)/ringo-tls.pc: $(BUILD)/%.pc: %.pc.in include/ringo.h FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

install: $(LIB) $(SOLIB) $(BUILD)/ringo.pc $(MAN_STAMP)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/ringo \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 644 include/ringo.h $(DESTDIR)$(INCLUDEDIR)/ringo.h
	for h in include/ringo/*.h; do [ -f "$$h" ] && install -m 644 "$$h" $(DESTDIR)$(INCLUDEDIR)/ringo/; done; true
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libringo.a
	install -m 755 $(SOLIB) $(DESTDIR)$(LIBDIR)/libringo.so.$(VERSION)
	ln -sf libringo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libringo.so.$(VERSION_MAJOR)
	ln -sf libringo.so.$(VERSION_MAJOR) $(DESTDIR)$(LIBDIR)/libringo.so
	install -m 644 $(BUILD)/ringo.pc $(DESTDIR)$(LIBDIR)/pkgconfig/ringo.pc
	install -m 644 $(BUILD)/man/man3/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 man/ringo.7 $(DESTDIR)$(MANDIR)/man7/ringo.7
	printf '.so man7/ringo.7\n' > $(DESTDIR)$(MANDIR)/man3/ringo.3
ifneq ($(HAVE_TLS),)
install: install-tls
endif

# The TLS library (only with OpenSSL; `make install` does it when built).
install-tls: $(TLS_LIB) $(TLS_SOLIB) $(BUILD)/ringo-tls.pc
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 $(TLS_LIB) $(DESTDIR)$(LIBDIR)/libringo_tls.a
	install -m 755 $(TLS_SOLIB) $(DESTDIR)$(LIBDIR)/libringo_tls.so.$(VERSION)
	ln -sf libringo_tls.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libringo_tls.so.$(VERSION_MAJOR)
	ln -sf libringo_tls.so.$(VERSION_MAJOR) $(DESTDIR)$(LIBDIR)/libringo_tls.so
	install -m 644 $(BUILD)/ringo-tls.pc $(DESTDIR)$(LIBDIR)/pkgconfig/ringo-tls.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/ringo.h $(DESTDIR)$(LIBDIR)/libringo.* $(DESTDIR)$(LIBDIR)/libringo_tls.* \
		$(DESTDIR)$(LIBDIR)/pkgconfig/ringo.pc $(DESTDIR)$(LIBDIR)/pkgconfig/ringo-tls.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/ringo
	rm -f $(DESTDIR)$(MANDIR)/man3/ringo_*.3 $(DESTDIR)$(MANDIR)/man3/ringo-*.3 \
		$(DESTDIR)$(MANDIR)/man3/ringo.3 $(DESTDIR)$(MANDIR)/man7/ringo.7

clean:
	rm -rf build

FORCE:

-include $(RUNTIME_OBJS:.o=.d) $(TLS_OBJS:.o=.d) $(TLS_TEST_BINS:=.d) $(TLS_EXAMPLE_BINS:=.d) $(TEST_BINS:=.d) $(TEST_SUPPORT_OBJS:.o=.d) $(EXAMPLE_BINS:=.d) \
	$(TOUR_BINS:=.d) $(PERF_BINS:=.d) $(EXAMPLE_UNIT_OBJS:.o=.d) $(SWEEP_OBJS:.o=.d) $(SWEEP_TLS_OBJS:.o=.d) \
	$(FUZZ_REPLAY_BINS:=.d) $(FUZZ_REPLAY_OBJS:.o=.d)
