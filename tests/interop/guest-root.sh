# SPDX-License-Identifier: GPL-2.0
# Guest half of interop/007, run by tests/vm-run inside the QEMU guest with
# the umlcow module loaded: map the root.cow UML changed, check it against
# what UML recorded, change it from the host side, record what the host
# left, close.  Deterministic lines on stdout; noise to guest.log.
# usage: bash guest-root.sh WORKDIR
set -u
work=$1
here=$(cd "$(dirname "$0")/../.." && pwd)
S=$here/tools/umlcow-setup
. "$here/tests/uml/common.sh"
cd "$work" || exit 1
exec 3>>"$work/guest.log"
log() { "$@" >&3 2>&1; }

dev=$("$S" open root.cow 2>&3) || { echo "open failed"; exit 1; }
echo "open: ${dev:+a /dev/mapper device}"
log e2fsck -fn "$dev"
echo "e2fsck -fn on the mapping: exit $?"
mkdir -p mnt
mount "$dev" mnt || { echo "mount failed"; "$S" close root; exit 1; }
uml_root_lists mnt "" "$work"
uml_compare_lists "$work" "" 2>&3
chroot mnt /bin/busybox echo "a binary from the image runs under chroot"

# The host's changes.
echo "written on the host" >mnt/data/from-host.txt
echo "appended on the host" >>mnt/data/append-me
rm mnt/data/renamed
mv mnt/data/chmod-me mnt/data/moved-by-host
chmod 0751 mnt/data/moved-by-host
mkdir mnt/data/host-dir
ln -s ../from-host.txt mnt/data/host-dir/link
dd if=/dev/urandom of=mnt/data/host-large bs=1M count=4 status=none
uml_root_lists mnt ".host" "$work"
log umount mnt || echo "umount failed"

# The host's view of the whole device, in 1 MiB direct reads; the first
# 4 MiB again in 4 KiB reads (under TCG small reads are slow; the guest
# suite tests every read size).
view() { dd if="$dev" bs=$1 count=$2 iflag=direct status=none | sha256sum | cut -d' ' -f1; }
start=$(date +%s)
mib=$(($(blockdev --getsize64 "$dev") / 1048576))
view 1048576 $mib >host-view
[ "$(view 4096 1024)" = "$(view 1048576 4)" ] ||
	echo "host view at 4096 bytes differs from 1 MiB reads"
echo "host view reads took $(($(date +%s) - start)) s" >&3
echo "host view read in 1 MiB and 4 KiB direct reads: the same bytes"
log "$S" close root
echo "close: exit $?"
log "$S" check root.cow
echo "check: exit $?"
