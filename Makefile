# crisp — a Kubernetes CRI v1 runtime in C.  `make help` lists the targets.

PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     ?= build
SANITIZE  ?=
VERSION   := $(shell cat VERSION)$(shell git rev-parse --short HEAD >/dev/null 2>&1 && echo +$$(git rev-parse --short HEAD))
PYTHON    ?= /usr/bin/python3

CC        ?= cc
PKGS      := grpc libprotobuf-c jansson libsystemd libcurl libarchive libcrypto libcap libseccomp zlib
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Ulinux -Wall -Wextra -Werror -Wshadow -Wformat=2 -fno-strict-aliasing \
             -D_FORTIFY_SOURCE=2 -fstack-protector-strong -pthread -ffunction-sections -fdata-sections \
             -I. -Ipkg -I$(BUILD)/gen -DCRISP_VERSION='"$(VERSION)"' \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS   += -Wl,--as-needed
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread

ifeq ($(SANITIZE),1)
CFLAGS    := $(filter-out -D_FORTIFY_SOURCE=2 -O2,$(CFLAGS)) -O1 -fsanitize=address,undefined \
             -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS   += -fsanitize=address,undefined
endif

PROTO     := proto/api.proto
GEN_C     := $(BUILD)/gen/api.pb-c.c
GEN_H     := $(BUILD)/gen/api.pb-c.h
LIB_SRCS  := $(sort $(wildcard pkg/*/*.c runtime/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/api.pb-c.o
LIB       := $(BUILD)/libcrisp.a
CRISPD    := $(BUILD)/crispd
MONITOR   := $(BUILD)/crisp-monitor
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_RPC := $(BUILD)/bench/rpc_bench

.PHONY: all deps test-deps run test check test-unit test-integration test-asan install \
        uninstall clean format bench-rpc bench-pull bench-pod bench-exec bench-stats help

all: $(CRISPD) $(MONITOR) ## build crispd and crisp-monitor (default)

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/' | expand -t 20

deps: ## install the Debian packages needed to build
	hack/install-deps.sh

test-deps: ## install the Debian packages needed to build and test
	hack/install-deps.sh --test

run: ## install deps (with the CNI plugins), build, start crispd with the default config (as root)
	hack/install-deps.sh --run
	$(MAKE) all
	@if ! ls /etc/cni/net.d/*.conf /etc/cni/net.d/*.conflist >/dev/null 2>&1; then \
	  install -D -m 0644 deploy/cni/10-crisp-bridge.conflist /etc/cni/net.d/10-crisp-bridge.conflist; \
	  echo "no pod network was configured: installed /etc/cni/net.d/10-crisp-bridge.conflist"; fi
	exec $(CRISPD)

test: test-deps ## install deps, build, run every test, then again under ASan+UBSan
	$(MAKE) check
	$(MAKE) BUILD=build-asan SANITIZE=1 check

check: ## build in parallel, then run unit and integration tests one after the other
	$(MAKE) -j$$(nproc) all $(UNIT_BINS)
	$(MAKE) test-unit
	$(MAKE) test-integration

test-unit: $(UNIT_BINS) ## run the cmocka unit tests
	@failed=""; for t in $(UNIT_BINS); do echo "== $$t"; $$t || failed="$$failed $$t"; done; \
	  if [ -n "$$failed" ]; then echo "unit tests failed:$$failed"; exit 1; fi

test-integration: $(CRISPD) ## run the pytest integration tests against a real crispd
	CRISPD=$(abspath $(CRISPD)) CRISP_SANITIZE=$(SANITIZE) $(PYTHON) -m pytest -q tests/integration hack/testreg

bench-rpc: $(CRISPD) $(BENCH_RPC) ## Version/Status latency and throughput benchmark
	hack/bench/rpc/run.sh $(abspath $(CRISPD)) $(abspath $(BENCH_RPC))

bench-pull: $(CRISPD) $(MONITOR) ## cold/warm image pull time, crisp vs containerd (as root)
	hack/bench/pull/run.sh $(abspath $(CRISPD))

bench-pod: $(CRISPD) $(MONITOR) ## pod-to-running latency and per-container memory, crisp vs containerd+runc (as root)
	hack/bench/pod/run.sh $(abspath $(CRISPD))

bench-exec: $(CRISPD) $(MONITOR) ## ExecSync p50/p99 (true, echo), crisp vs containerd+runc (as root)
	hack/bench/exec/run.sh $(abspath $(CRISPD))

bench-stats: $(CRISPD) $(MONITOR) ## ListContainerStats latency with 100 running containers (as root)
	hack/bench/stats/run.sh $(abspath $(CRISPD))

# install: binaries in $(PREFIX)/bin (crisp-monitor when the build has one), the unit
# (ExecStart rewritten to $(PREFIX)), the man page; the default config and the CNI
# conflists of deploy/cni/ only where no file of that name exists (a node's own stay).
SYSTEMDUNITDIR ?= /lib/systemd/system
CNICONFDIR     ?= /etc/cni/net.d
CNI_CONFLISTS  := $(wildcard deploy/cni/*.conflist)

install: all ## install binaries, config, CNI conflist, systemd unit, man page under $(DESTDIR)
	install -D -m 0755 $(CRISPD) $(DESTDIR)$(PREFIX)/bin/crispd
	if [ -f $(BUILD)/crisp-monitor ]; then \
	  install -D -m 0755 $(BUILD)/crisp-monitor $(DESTDIR)$(PREFIX)/bin/crisp-monitor; fi
	[ -e $(DESTDIR)/etc/crisp/crisp.json ] || \
	  install -D -m 0644 deploy/crisp.json $(DESTDIR)/etc/crisp/crisp.json
	for f in $(CNI_CONFLISTS); do [ -e $(DESTDIR)$(CNICONFDIR)/$${f##*/} ] || \
	  install -D -m 0644 $$f $(DESTDIR)$(CNICONFDIR)/$${f##*/} || exit 1; done
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' deploy/systemd/crisp.service \
	  > $(DESTDIR)$(SYSTEMDUNITDIR)/crisp.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/crisp.service
	install -D -m 0644 deploy/man/crispd.8 $(DESTDIR)$(PREFIX)/share/man/man8/crispd.8

uninstall: ## remove what install put in place (config kept; CNI conflists kept if edited)
	rm -f $(DESTDIR)$(PREFIX)/bin/crispd $(DESTDIR)$(PREFIX)/bin/crisp-monitor \
	  $(DESTDIR)$(SYSTEMDUNITDIR)/crisp.service $(DESTDIR)$(PREFIX)/share/man/man8/crispd.8
	for f in $(CNI_CONFLISTS); do ! cmp -s $$f $(DESTDIR)$(CNICONFDIR)/$${f##*/} || \
	  rm -f $(DESTDIR)$(CNICONFDIR)/$${f##*/}; done

format: ## clang-format every C file
	clang-format -i $$(git ls-files '*.c' '*.h')

clean: ## remove build outputs
	rm -rf build build-asan

$(GEN_C) $(GEN_H): $(PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -Iproto $(PROTO)

$(BUILD)/obj/gen/api.pb-c.o: $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Wshadow,$(CFLAGS)) -c -o $@ $<

# The version (git commit) is compiled in: rebuild what shows it when it changes.
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(VERSION)' | cmp -s - $@ 2>/dev/null || echo '$(VERSION)' > $@

$(BUILD)/obj/cmd/crispd/main.o $(BUILD)/obj/cmd/crisp-monitor/main.o \
  $(BUILD)/obj/pkg/cri/runtime_info.o: $(BUILD)/version.stamp

.PHONY: FORCE
FORCE:

$(BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(CRISPD): $(BUILD)/obj/cmd/crispd/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# crisp-monitor runs once per container: it links only what it uses (the archive gives it the
# referenced objects; no grpc, curl or systemd) and, outside sanitizer builds (ASan cannot link
# statically), as a static PIE, which keeps its resident memory under 1 MiB (a dynamic glibc
# alone maps more than that). Packed relative relocations (DT_RELR, glibc >= 2.36) shrink what
# the startup self-relocation reads; 64 KiB segment alignment makes the pages mapped by the
# kernel's fault-around the same at every ASLR base, so the figure is stable. libseccomp (only
# used in the container's own process) is linked after libc: its code and syscall tables then
# sit past everything the monitor itself touches instead of spreading it over more 64 KiB
# fault-around windows (+128 KiB of RSS when it comes before libc). Unused functions are dropped
# (every object is built with -ffunction-sections) and input sections sorted by alignment, which
# packs the code the watch loop runs into fewer windows (-64 KiB here); the monitor also drops
# its mappings of the setup code once the container runs (pkg/monitor/monitor.c).
MONITOR_LDLIBS  := -ljansson -lcap -pthread -lc -lseccomp
ifneq ($(SANITIZE),1)
MONITOR_LDFLAGS := -static-pie -Wl,-z,pack-relative-relocs -Wl,-z,max-page-size=0x10000 \
                   -Wl,--gc-sections -Wl,--sort-section=alignment
endif

$(MONITOR): $(BUILD)/obj/cmd/crisp-monitor/main.o $(LIB)
	$(CC) $(LDFLAGS) $(MONITOR_LDFLAGS) -o $@ $^ $(MONITOR_LDLIBS)

# the monitor tests run the binary
$(BUILD)/tests/test_monitor: | $(MONITOR)

# helpers shared by several unit tests (tests/unit/support_*.c), as an archive: each test
# program links only the objects it uses
UNIT_SUPPORT := $(BUILD)/obj/tests/unit/libsupport.a
$(UNIT_SUPPORT): $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard tests/unit/support_*.c)))
	rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_SUPPORT) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BENCH_RPC): $(BUILD)/obj/hack/bench/rpc/rpc_bench.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.SECONDARY:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
