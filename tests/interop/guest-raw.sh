# SPDX-License-Identifier: GPL-2.0
# Guest half of interop/008, run by tests/vm-run inside the QEMU guest with
# the umlcow module loaded: map the raw.cow UML wrote, read it at every I/O
# size against the expected image's checksum (WORKDIR/expected.sha256), then
# write UML_HOST_WRITES through the mapping with O_DIRECT and close.
# Deterministic lines on stdout; noise to guest.log.
# usage: bash guest-raw.sh WORKDIR
set -u
work=$1
here=$(cd "$(dirname "$0")/../.." && pwd)
S=$here/tools/umlcow-setup
. "$here/tests/uml/common.sh"
cd "$work" || exit 1
exec 3>>"$work/guest.log"

dev=$("$S" open raw.cow 2>&3) || { echo "open failed"; exit 1; }
echo "open: ${dev:+a /dev/mapper device}"
want=$(cut -d' ' -f1 expected.sha256)
for bs in 512 4096 65536 1048576; do
	got=$(dd if="$dev" bs=$bs iflag=direct status=none | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && r="UML's sectors over the backing image" || r="WRONG data"
	echo "mapping read with $bs-byte direct reads: $r"
done
for w in $UML_HOST_WRITES; do
	IFS=: read -r s c b <<<"$w"
	uml_pattern host "$s" "$c" |
		dd of="$dev" bs="$b" seek=$((s * 512)) oflag=direct,seek_bytes iflag=fullblock \
		   conv=notrunc status=none || echo "host write at sector $s failed"
done
echo "host wrote sectors (start:count:bs) $UML_HOST_WRITES"
"$S" close "${dev##*/}" >&3 2>&1
echo "close: exit $?"
"$S" check raw.cow >&3 2>&1
echo "check: exit $?"
