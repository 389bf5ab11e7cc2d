# ringo — build, test, examples, perf, install, sanitizer builds.
#
#   make                    build/libringo.a and build/libringo.so
#   make test               build and run the cmocka suites
#   make test SANITIZE=address,undefined   (or SANITIZE=thread)
#   make valgrind           run the suites under valgrind memcheck
#   make sweep              the long cancellation sweep (tests/test_cancel_sweep)
#   make demo               the main job: echo server under load beside baselines
#   make tour               the seeds' examples in C, on real time
#   make examples           build/examples/...
#   make perf               build/perf/...
#   make install PREFIX=/usr/local DESTDIR=

VERSION_MAJOR := $(shell sed -n 's/^\#define RINGO_VERSION_MAJOR \([0-9]*\)/\1/p' include/ringo.h)
VERSION_MINOR := $(shell sed -n 's/^\#define RINGO_VERSION_MINOR \([0-9]*\)/\1/p' include/ringo.h)
VERSION_PATCH := $(shell sed -n 's/^\#define RINGO_VERSION_PATCH \([0-9]*\)/\1/p' include/ringo.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
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

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_SUPPORT := $(filter-out tests/test_%.c,$(wildcard tests/*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)

TOUR_SRCS := $(wildcard examples/tour/*.c)
TOUR_BINS := $(TOUR_SRCS:examples/%.c=$(BUILD)/examples/%)
# Parts of examples (no main of their own): compiled once, linked into the
# examples that use them and into the tests that test them (see below).
EXAMPLE_UNITS := examples/http_parse.c examples/resp_parse.c examples/kv_store.c
EXAMPLE_UNIT_OBJS := $(EXAMPLE_UNITS:examples/%.c=$(BUILD)/examples/units/%.o)
EXAMPLE_SRCS := $(filter-out $(EXAMPLE_UNITS),$(wildcard examples/*.c))
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

PERF_SRCS := $(wildcard perf/*.c)
PERF_BINS := $(PERF_SRCS:perf/%.c=$(BUILD)/perf/%)
PERF_CXX_SRCS := $(wildcard perf/*.cc)
PERF_CXX_BINS := $(PERF_CXX_SRCS:perf/%.cc=$(BUILD)/perf/%)

LIB := $(BUILD)/libringo.a
SOLIB := $(BUILD)/libringo.so

.PHONY: all lib test examples perf install uninstall clean valgrind demo tour check-headers sweep FORCE
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
# are linked into test_cancel_sweep only.
SWEEP_SRCS := $(wildcard tests/sweep/*.c)
SWEEP_OBJS := $(SWEEP_SRCS:tests/%.c=$(BUILD)/tests/%.o)

$(BUILD)/tests/sweep/%.o: tests/sweep/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -c -o $@ $<

$(BUILD)/tests/test_cancel_sweep: tests/test_cancel_sweep.c $(SWEEP_OBJS) $(TEST_SUPPORT_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(SWEEP_OBJS) $(TEST_SUPPORT_OBJS) $(LIB) -lcmocka $(LDLIBS)

# The long sweep: every k up to RINGO_SWEEP_KMAX and RINGO_SWEEP_ROUNDS
# random rounds per scenario, from a fresh seed (printed; set
# RINGO_SWEEP_SEED to replay). make test runs a bounded sweep.
sweep: $(BUILD)/tests/test_cancel_sweep
	@seed=$${RINGO_SWEEP_SEED:-$$(date +%s)}; echo "sweep seed: $$seed"; \
	RINGO_SWEEP_SEED=$$seed RINGO_SWEEP_KMAX=$${RINGO_SWEEP_KMAX:-400} \
	RINGO_SWEEP_ROUNDS=$${RINGO_SWEEP_ROUNDS:-300} $(BUILD)/tests/test_cancel_sweep

# Tests find the example binaries through RINGO_BUILD.
test: $(TEST_BINS) $(TOUR_BINS) $(EXAMPLE_BINS)
	@RINGO_BUILD=$(BUILD) tests/run-suite $(TEST_BINS)

VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible
valgrind: $(TEST_BINS) $(TOUR_BINS) $(EXAMPLE_BINS)
	@RINGO_BUILD=$(BUILD) RINGO_UNDER_VALGRIND=1 RINGO_TEST_WRAP="$(VALGRIND)" \
		tests/run-suite --wrap "$(VALGRIND)" $(TEST_BINS)

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
$(BUILD)/examples/http_server: $(BUILD)/examples/units/http_parse.o
$(BUILD)/examples/kv_server: $(BUILD)/examples/units/resp_parse.o $(BUILD)/examples/units/kv_store.o

$(BUILD)/examples/%: examples/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter $(EXAMPLE_UNIT_OBJS),$^) $(LIB) $(LDLIBS) -lm

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
check-headers:
	@for h in ringo.h ringo/io.h ringo/aio.h ringo/thread.h ringo/stream.h ringo/process.h ringo/net.h; do \
		printf '#include <ringo.h>\n#include <%s>\nint main(void){return 0;}\n' $$h > $(BUILD)/hdr.c; \
		$(CC) -std=gnu11 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only $(BUILD)/hdr.c || exit 1; \
		$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude -fsyntax-only $(BUILD)/hdr.c || exit 1; \
		$(CXX) -x c++ -std=c++11 -Wall -Wextra -Werror -Iinclude -fsyntax-only $(BUILD)/hdr.c || exit 1; \
	done; echo "headers: ok (gnu11, c11+POSIX, c++11)"

# ---- build dependencies, checked before anything is built ------------------
# tools/deps looks for what the goals need (compilers, headers, libraries,
# commands: one probe compile, ~0.1-0.3 s, no package manager when all is
# there) and installs what is missing (as root; otherwise it prints the
# command and make stops). NO_DEPS_CHECK=1 skips it; make -n never installs.
deps_of = $(if $(filter clean uninstall check-headers,$1),,$(if $(filter test,$1),test,$(if \
	$(filter valgrind,$1),valgrind,$(if $(filter demo perf,$1),demo,build))))
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

# ---- install ---------------------------------------------------------------
# Remade on every install: it records PREFIX, which may differ each time.
$(BUILD)/ringo.pc: ringo.pc.in include/ringo.h FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

install: $(LIB) $(SOLIB) $(BUILD)/ringo.pc
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/ringo
	install -m 644 include/ringo.h $(DESTDIR)$(INCLUDEDIR)/ringo.h
	for h in include/ringo/*.h; do [ -f "$$h" ] && install -m 644 "$$h" $(DESTDIR)$(INCLUDEDIR)/ringo/; done; true
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libringo.a
	install -m 755 $(SOLIB) $(DESTDIR)$(LIBDIR)/libringo.so.$(VERSION)
	ln -sf libringo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libringo.so.$(VERSION_MAJOR)
	ln -sf libringo.so.$(VERSION_MAJOR) $(DESTDIR)$(LIBDIR)/libringo.so
	install -m 644 $(BUILD)/ringo.pc $(DESTDIR)$(LIBDIR)/pkgconfig/ringo.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/ringo.h $(DESTDIR)$(LIBDIR)/libringo.* $(DESTDIR)$(LIBDIR)/pkgconfig/ringo.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/ringo

clean:
	rm -rf build

FORCE:

-include $(RUNTIME_OBJS:.o=.d) $(TEST_BINS:=.d) $(TEST_SUPPORT_OBJS:.o=.d) $(EXAMPLE_BINS:=.d) \
	$(TOUR_BINS:=.d) $(PERF_BINS:=.d) $(EXAMPLE_UNIT_OBJS:.o=.d) $(SWEEP_OBJS:.o=.d)
