# Top-level build: the userspace tool, the kernel module, and the tests.
#
#   make            build tools/umlcow-setup and drivers/md/dm-umlcow.ko
#   make check      run every test (host suites, then the QEMU guest suite)
#   make check-debug  the guest suite on a debug kernel (KASAN, lockdep, ...;
#                   tests/debug-kernel/run, scripts/debug-kernel); only some
#                   tests: make check-debug DEBUG_TESTS="001 002"
#   make KDIR=...   build the module against another kernel tree

# The newest installed kernel that has a build tree: its vmlinuz is also the
# one the test guest boots, so module and kernel always match.
KVER ?= $(shell ls -d /lib/modules/*/build 2>/dev/null | sed 's|/lib/modules/||;s|/build||' | sort -V | tail -n 1)
KDIR ?= /lib/modules/$(KVER)/build

export KVER KDIR

.PHONY: all tools module check check-host check-guest clean checkpatch check-debug

all: tools module

tools:
	$(MAKE) -C tools

module:
	@test -d "$(KDIR)" || { echo "no kernel build tree at '$(KDIR)' (install linux-headers-amd64 or set KDIR)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

check: all
	tests/run-all

check-debug: all
	tests/debug-kernel/run $(DEBUG_TESTS)

clean:
	$(MAKE) -C tools clean
	-test -d "$(KDIR)" && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf results build
