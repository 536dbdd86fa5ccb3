# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034,SC2154  # sets variables for, and reads $prog of, its caller
# Sourced by the small guest benchmarks that build their tables by hand
# (bench/commit-cost, bench/fua-overwrite): a backing file and an empty
# uml_mkcow COW file of SIZE_MIB in a scratch directory, the read-only loop
# device of the backing file, helpers for the COW file's loop devices, and
# the cleanup of everything they set up.  The caller sets $prog first.
#
#   raw_cow_setup SIZE_MIB   sets tmp, size, sectors, dao (data offset), B

loops=()
devs=()
tmp=

raw_cow_cleanup()
{
	local d l
	for d in "${devs[@]}"; do dmsetup remove "$d" 2>/dev/null; done
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap raw_cow_cleanup EXIT
die() { echo "$prog: $*" >&2; exit 2; }

# In the guest, with this checkout's module (or $UMLCOW_KO) and the tools.
raw_cow_require()
{
	[ -n "${UMLCOW_GUEST:-}" ] || die "run it in the VM: tests/vm-run -- bench/$prog"
	grep -q '^dm_umlcow ' /proc/modules ||
		insmod "${UMLCOW_KO:-$(dirname "${BASH_SOURCE[0]}")/../drivers/md/dm-umlcow.ko}" ||
		die "dm-umlcow does not load (make module)"
	command -v fio >/dev/null || die "fio missing"
	command -v uml_mkcow >/dev/null || die "uml_mkcow missing (uml-utilities)"
}

raw_cow_setup() # SIZE_MIB
{
	tmp=$(mktemp -d "/tmp/$prog.XXXXXX") || die "mktemp failed"
	size=$(($1 * 1024 * 1024))
	sectors=$((size / 512))
	truncate -s "$size" "$tmp/base"
	uml_mkcow "$tmp/empty.cow" "$tmp/base" >/dev/null || die "uml_mkcow failed"
	# uml_mkcow's v3 layout: bitmap at 8192, data aligned to 4096 after it.
	dao=$(( (8192 + (sectors + 7) / 8 + 4095) / 4096 * 4096 ))
	B=$(losetup -f --show -r "$tmp/base") || die "losetup failed"
	loops+=("$B")
}

attach() { local l; l=$(losetup -f --show "$1") || die "losetup failed"; loops+=("$l"); echo "$l"; }
detach() { losetup -d "$1"; loops=("${loops[@]/$1}"); }
# Flush requests a block device has completed (field 16 of its stat).
flushes() { awk '{ print $16 }' "/sys/block/$(basename "$1")/stat"; }
# The median of the numbers on stdin, one a line or space-separated.
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
