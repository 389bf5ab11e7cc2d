# Baselines and load tools ringo's perf suite is measured against.
#
#   make -f mk/perf-baselines.mk all        C baselines, loadgen, Go baselines
#   make -f mk/perf-baselines.mk c          C only
#   make -f mk/perf-baselines.mk go         Go only (skipped if go is absent)
#   make -f mk/perf-baselines.mk clean-perf-baselines
#
# Outputs: build/perf/baseline/{uring_echo,uring_mshot_echo,epoll_echo},
#          build/perf/{loadgen,soak},
#          build/perf/{go_million,go_spawn,go_chan,go_echo}
# Can be included from the top-level Makefile; every name here is prefixed.

PERFB_BUILD  := build/perf
PERFB_CC     ?= $(CC)
PERFB_CFLAGS ?= -O2 -g
override PERFB_CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP

PERFB_C_BINS := $(PERFB_BUILD)/baseline/uring_echo \
                $(PERFB_BUILD)/baseline/uring_mshot_echo \
                $(PERFB_BUILD)/baseline/epoll_echo \
                $(PERFB_BUILD)/loadgen \
                $(PERFB_BUILD)/soak
PERFB_GO_PROGS := million spawn chan echo
PERFB_GO_BINS  := $(PERFB_GO_PROGS:%=$(PERFB_BUILD)/go_%)

# Go builds offline, as root, without touching $HOME: cache and GOPATH live
# under build/, no proxy, no network, no toolchain download.
PERFB_GO     ?= go
PERFB_HAS_GO := $(shell command -v $(PERFB_GO) 2>/dev/null)
PERFB_GOENV  := GOCACHE=$(abspath $(PERFB_BUILD))/gocache \
                GOPATH=$(abspath $(PERFB_BUILD))/gopath \
                GOPROXY=off GOFLAGS= GOTOOLCHAIN=local GO111MODULE=on \
                CGO_ENABLED=0

.PHONY: all c go clean-perf-baselines perf-baselines
all perf-baselines: c go

c: $(PERFB_C_BINS)

$(PERFB_BUILD)/baseline/uring_echo: perf/baseline/uring_echo.c
	@mkdir -p $(dir $@)
	$(PERFB_CC) $(PERFB_CFLAGS) -o $@ $< -luring

$(PERFB_BUILD)/baseline/uring_mshot_echo: perf/baseline/uring_mshot_echo.c
	@mkdir -p $(dir $@)
	$(PERFB_CC) $(PERFB_CFLAGS) -o $@ $< -luring

$(PERFB_BUILD)/baseline/epoll_echo: perf/baseline/epoll_echo.c
	@mkdir -p $(dir $@)
	$(PERFB_CC) $(PERFB_CFLAGS) -o $@ $<

$(PERFB_BUILD)/loadgen: perf/loadgen.c
	@mkdir -p $(dir $@)
	$(PERFB_CC) $(PERFB_CFLAGS) -pthread -o $@ $<

$(PERFB_BUILD)/soak: perf/soak.c
	@mkdir -p $(dir $@)
	$(PERFB_CC) $(PERFB_CFLAGS) -pthread -o $@ $<

ifeq ($(PERFB_HAS_GO),)
go:
	@echo "perf-baselines: 'go' not on PATH, skipping Go baselines"
else
go: $(PERFB_GO_BINS)

$(PERFB_BUILD)/go_%: perf/go/%/main.go perf/go/%/go.mod
	@mkdir -p $(dir $@)
	cd perf/go/$* && $(PERFB_GOENV) $(PERFB_GO) build -trimpath \
		-o $(abspath $@) .
endif

clean-perf-baselines:
	rm -rf $(PERFB_C_BINS) $(PERFB_C_BINS:=.d) $(PERFB_GO_BINS) \
		$(PERFB_BUILD)/gocache $(PERFB_BUILD)/gopath

-include $(PERFB_C_BINS:=.d)
