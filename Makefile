# Top-level build: the userspace tool, the kernel module, and the tests.
#
#   make            build tools/umlcow-setup and drivers/md/dm-umlcow.ko
#   make check      run every test (host suites, then the QEMU guest suite)
#   make check-host, make check-guest  one half of it
#   make checkpatch checkpatch.pl --strict on drivers/md (scripts/checkpatch)
#   make check-debug  the guest suite on a debug kernel (KASAN, lockdep, ...;
#                   tests/debug-kernel/run, scripts/debug-kernel); only some
#                   tests: make check-debug DEBUG_TESTS="001 002"
#   make KDIR=...   build the module against another kernel tree
#   make install    tool, man page, completion and module (DESTDIR, PREFIX),
#                   and the nbdkit plugin where nbdkit's pkg-config file is
#   make install-plugin  the nbdkit plugin and its man page only
#   make uninstall  remove what make install put there
#   make check-kernels  the module and the guest suite on every installed
#                   kernel (scripts/check-kernels; KVERS=... picks some)

# The kernel Debian's linux-headers-amd64 points at (the distribution's
# default, 6.1 on Debian 12 even beside a backports kernel), else Debian 12's
# default kernel in the cache of scripts/kernels (scripts/default-kver):
# tests/vm-run boots that same kernel, so module and kernel always match.
# KVER=... picks another.  KDIR: this machine's build tree of KVER, else the
# cached one (scripts/kernels kdir).
KVER ?= $(shell scripts/default-kver)
KDIR ?= $(shell scripts/kernels kdir $(KVER) 2>/dev/null || echo /lib/modules/$(KVER)/build)

export KVER KDIR

.PHONY: all tools module check check-host check-guest clean checkpatch check-debug

all: tools module

tools:
	$(MAKE) -C tools

module:
	@test -d "$(KDIR)" || { echo "no kernel build tree at '$(KDIR)' (scripts/kernels fetch, or set KDIR)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

check: all
	tests/run-all

# The halves of make check, each on its own: the host and interop suites;
# the guest suite in one QEMU boot.
check-host: all
	tests/check -s host -s interop

check-guest: all
	tests/vm-run -t 5400 -- tests/check -s umlcow

# checkpatch.pl --strict on the target (scripts/checkpatch; CI runs it).
checkpatch:
	scripts/checkpatch

check-debug: all
	tests/debug-kernel/run $(DEBUG_TESTS)

clean:
	$(MAKE) -C tools clean
	-test -d "$(KDIR)" && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf results build

# --- install (issue 11) ----------------------------------------------------
# The tool to $(PREFIX)/sbin, its man page and bash completion (when there is
# one), the module through the kernel's modules_install into
# /lib/modules/$(KVER)/updates/ (unsigned: DKMS signs where it must), then
# depmod (not with DESTDIR: the packager's tools run it on the target).  install-tools and install-module do one half.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
COMPLETION := $(firstword $(wildcard tools/umlcow-setup.bash-completion tools/bash-completion/umlcow-setup))
INSTALL ?= install
# The nbdkit plugin goes where nbdkit looks for plugins, whatever PREFIX is
# (nbdkit umlcow ... finds it there): nbdkit.pc's plugindir, from
# nbdkit-plugin-dev; NBDKIT_PLUGINDIR=... overrides.
NBDKIT_PLUGINDIR ?= $(shell pkg-config --variable=plugindir nbdkit 2>/dev/null)

.PHONY: install uninstall install-tools install-module uninstall-tools uninstall-module check-kernels
.PHONY: install-plugin uninstall-plugin
.PHONY: install-dkms-source install-dkms uninstall-dkms

install: install-tools install-module $(if $(NBDKIT_PLUGINDIR),install-plugin)

install-tools: tools
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 tools/umlcow-setup $(DESTDIR)$(SBINDIR)/umlcow-setup
	$(INSTALL) -m 0644 tools/umlcow-setup.8 $(DESTDIR)$(MANDIR)/man8/umlcow-setup.8
ifneq ($(COMPLETION),)
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0644 $(COMPLETION) $(DESTDIR)$(BASHCOMPDIR)/umlcow-setup
endif

install-plugin:
	@test -n "$(NBDKIT_PLUGINDIR)" || { echo "nbdkit's plugin directory is unknown: install nbdkit-plugin-dev, or set NBDKIT_PLUGINDIR"; exit 1; }
	$(MAKE) -C tools nbdkit/nbdkit-umlcow-plugin.so nbdkit/nbdkit-umlcow-plugin.1
	$(INSTALL) -d $(DESTDIR)$(NBDKIT_PLUGINDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 0644 tools/nbdkit/nbdkit-umlcow-plugin.so $(DESTDIR)$(NBDKIT_PLUGINDIR)/nbdkit-umlcow-plugin.so
	$(INSTALL) -m 0644 tools/nbdkit/nbdkit-umlcow-plugin.1 $(DESTDIR)$(MANDIR)/man1/nbdkit-umlcow-plugin.1

uninstall-plugin:
	rm -f $(DESTDIR)$(NBDKIT_PLUGINDIR)/nbdkit-umlcow-plugin.so \
		$(DESTDIR)$(MANDIR)/man1/nbdkit-umlcow-plugin.1

install-module: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) INSTALL_MOD_DIR=updates \
		CONFIG_MODULE_SIG_ALL= DEPMOD=true modules_install
	$(if $(DESTDIR),,depmod -a $(KVER))

uninstall: uninstall-tools uninstall-module $(if $(NBDKIT_PLUGINDIR),uninstall-plugin)

uninstall-tools:
	rm -f $(DESTDIR)$(SBINDIR)/umlcow-setup $(DESTDIR)$(MANDIR)/man8/umlcow-setup.8 \
		$(DESTDIR)$(BASHCOMPDIR)/umlcow-setup

# modules_install names the file dm-umlcow.ko.gz, .xz or .zst on a kernel
# with CONFIG_MODULE_COMPRESS_* (bookworm-backports' 6.12: .xz).
UMLCOW_MODULE_FILES = $(foreach d,updates/drivers/md updates,$(foreach s,.ko .ko.gz .ko.xz .ko.zst,\
	$(DESTDIR)/lib/modules/$(KVER)/$(d)/dm-umlcow$(s)))

uninstall-module:
	rm -f $(UMLCOW_MODULE_FILES)
	-cd $(DESTDIR)/lib/modules/$(KVER) 2>/dev/null && rmdir updates/drivers/md updates/drivers updates 2>/dev/null
	$(if $(DESTDIR),,depmod -a $(KVER))

check-kernels: all
	scripts/check-kernels $(KVERS)

# DKMS: the module's sources as /usr/src/umlcow-VERSION (what the umlcow-dkms
# package ships), then dkms add/build/install for every kernel with headers.
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
DKMS_SRC = $(DESTDIR)/usr/src/umlcow-$(DKMS_VERSION)
DKMS_KVERS ?= $(patsubst /lib/modules/%/build,%,$(wildcard /lib/modules/*/build))

install-dkms-source:
	$(INSTALL) -d $(DKMS_SRC)/drivers/md $(DKMS_SRC)/scripts
	$(INSTALL) -m 0644 dkms.conf Kbuild $(DKMS_SRC)/
	$(INSTALL) -m 0644 drivers/md/dm-umlcow-target.c drivers/md/dm-umlcow-bitmap.c \
		drivers/md/dm-umlcow-bitmap.h drivers/md/dm-umlcow-compat.h $(DKMS_SRC)/drivers/md/
	$(INSTALL) -m 0755 scripts/conftest.sh $(DKMS_SRC)/scripts/

install-dkms: install-dkms-source
	dkms add umlcow/$(DKMS_VERSION) || dkms status umlcow/$(DKMS_VERSION) | grep -q .
	set -e; for k in $(DKMS_KVERS); do \
		dkms build umlcow/$(DKMS_VERSION) -k $$k; \
		dkms install umlcow/$(DKMS_VERSION) -k $$k; \
	done

uninstall-dkms:
	-dkms remove umlcow/$(DKMS_VERSION) --all
	rm -rf $(DKMS_SRC)
