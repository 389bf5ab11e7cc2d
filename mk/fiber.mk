# mk/fiber.mk - build and run the fiber/stack code standalone, until the
# top-level Makefile takes it over.  From the repository root:
#
#   make -f mk/fiber.mk test          # gcc, the lead's flags
#   make -f mk/fiber.mk check         # test + clang + asan/ubsan + tsan + valgrind + aarch64
#   make -f mk/fiber.mk aarch64-test  # cross-build, run under qemu
#   make -f mk/fiber.mk perf          # raw_switch_ns and fcontext_switch_ns

FIBER_MK := $(lastword $(MAKEFILE_LIST))
CC      ?= gcc
CXX     ?= g++
B       ?= build/fiber
SANFLAGS ?=
ARCH    := $(shell uname -m)
RFLAGS  := -std=gnu11 -Wall -Wextra -Werror -O2 -g -fPIC -D_GNU_SOURCE \
	   -Iinclude -Iruntime $(SANFLAGS)
LIBS    := -lcmocka -lpthread
SRCS    := runtime/base.c runtime/fiber.c runtime/stack.c runtime/arch/$(ARCH)/switch.S
OBJS    := $(B)/base.o $(B)/fiber.o $(B)/stack.o $(B)/switch.o
TESTS   := $(B)/test_fiber $(B)/test_stack
HDRS    := runtime/base.h runtime/fiber.h runtime/stack.h

.PHONY: test test-clang asan tsan valgrind aarch64-test perf check clean-fiber

test: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done

$(B)/%.o: runtime/%.c $(HDRS)
	@mkdir -p $(B)
	$(CC) $(RFLAGS) -c $< -o $@

$(B)/switch.o: runtime/arch/$(ARCH)/switch.S
	@mkdir -p $(B)
	$(CC) $(RFLAGS) -c $< -o $@

$(B)/libfiber.a: $(OBJS)
	ar rcs $@ $^

$(B)/test_%: tests/test_%.c $(B)/libfiber.a $(HDRS)
	$(CC) $(RFLAGS) $< $(B)/libfiber.a $(LIBS) -o $@

test-clang:
	$(MAKE) -f $(FIBER_MK) test CC=clang B=build/fiber-clang

asan:
	ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 \
	$(MAKE) -f $(FIBER_MK) test B=build/fiber-asan \
		SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

tsan:
	$(MAKE) -f $(FIBER_MK) test B=build/fiber-tsan SANFLAGS="-fsanitize=thread"

valgrind: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== valgrind $$t"; \
	  valgrind -q --leak-check=full --error-exitcode=1 $$t; done

# aarch64: no cmocka for the target, so a small self-checking program.
A64CC := aarch64-linux-gnu-gcc
QEMU  := $(shell command -v qemu-aarch64-static || command -v qemu-aarch64)
A64FLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE -Iinclude -Iruntime -static

aarch64-test:
	@mkdir -p build/fiber-a64
	$(A64CC) $(A64FLAGS) tests/arch/fiber_aarch64_main.c runtime/base.c runtime/fiber.c \
		runtime/stack.c runtime/arch/aarch64/switch.S -lpthread \
		-o build/fiber-a64/fiber_aarch64
	$(QEMU) build/fiber-a64/fiber_aarch64

perf: $(B)/raw_switch $(B)/fcontext_switch
	$(B)/raw_switch
	$(B)/fcontext_switch

$(B)/raw_switch: perf/raw_switch.c $(B)/libfiber.a $(HDRS)
	$(CC) $(RFLAGS) $< $(B)/libfiber.a -lpthread -o $@

$(B)/fcontext_switch: perf/fcontext_switch.cc
	@mkdir -p $(B)
	$(CXX) -O2 -g -Wall -Wextra -Werror $< -lboost_context -o $@

check: test test-clang asan tsan valgrind aarch64-test

clean-fiber:
	rm -rf build/fiber build/fiber-clang build/fiber-asan build/fiber-tsan build/fiber-a64
