# SPDX-License-Identifier: GPL-2.0
#
# Shell helpers shared by tests/uml/story, scripts/demo and tests/interop/*.
# Source it; it defines functions and variables only.
#
# Data patterns: sector N of a pattern labelled L is the text "L N" padded
# with blanks to 511 bytes and a newline, on the host (bash printf) and
# inside UML (busybox ash printf) alike, so either side can compute what the
# other wrote.

UML_DIR=${UML_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
UML_RUN=$UML_DIR/uml-run
UML_MKROOTFS=$UML_DIR/mkrootfs

# Writes UML makes on a raw disk of 8192 sectors (story 3), as
# SECTOR:COUNT:BS - odd offsets and lengths, sub-page runs, runs that cross
# 4 KiB pages, the first and the last sectors, one 32 KiB multi-page write.
UML_RAW_SECTORS=8192
UML_RAW_WRITES="0:1:512 7:1:512 9:3:512 21:5:1024 1003:20:4096 2000:64:32768 4095:2:512 5000:9:512 8189:3:512"

# The pattern function, as shell text both sides can run.
UML_PATTERN_FN='uml_pattern() { _i=$2; _n=$(($2 + $3)); while [ $_i -lt $_n ]; do printf "%-511s\n" "$1 $_i"; _i=$((_i + 1)); done; }'
eval "$UML_PATTERN_FN"

# uml_require: the real UML and its tools, or _notrun (inside a test).
uml_require()
{
	local c
	for c in linux.uml:user-mode-linux uml_mkcow:uml-utilities uml_moo:uml-utilities \
		 busybox:busybox-static mke2fs:e2fsprogs debugfs:e2fsprogs gcc:gcc; do
		command -v "${c%%:*}" >/dev/null 2>&1 || _notrun "${c%%:*} not installed (${c#*:})"
	done
	[ -w /dev/shm ] || [ -n "${TMPDIR:-}" ] || _notrun "UML needs a writable /dev/shm or TMPDIR"
}

# uml_mkbase FILE SECTORS: a backing image whose every sector says "base N".
uml_mkbase()
{
	uml_pattern base 0 "$2" >"$1"
}

# Writes the host makes through the mapping afterwards (story 3): new
# sectors in pages UML left mixed, over UML's sectors, across pages, the
# last sector.
UML_HOST_WRITES="3:2:512 1010:4:1024 4000:17:512 6001:64:32768 8191:1:512"

# uml_overlay IMAGE LABEL WRITES: put LABEL's pattern at each write's sectors.
uml_overlay()
{
	local w s c
	for w in $3; do
		IFS=: read -r s c _ <<<"$w"
		uml_pattern "$2" "$s" "$c" | dd of="$1" bs=512 seek="$s" conv=notrunc status=none
	done
}

# uml_raw_expected BASE OUT: what the raw disk must hold after UML_RAW_WRITES.
uml_raw_expected()
{
	cp "$1" "$2" && uml_overlay "$2" uml "$UML_RAW_WRITES"
}

# uml_raw_sectors [WRITES...]: how many distinct sectors the writes cover
# (default UML_RAW_WRITES).
uml_raw_sectors()
{
	local w s c
	for w in ${*:-$UML_RAW_WRITES}; do
		IFS=: read -r s c _ <<<"$w"
		seq "$s" $((s + c - 1))
	done | sort -un | wc -l
}

# uml_raw_write_script DEV: the script UML runs to make UML_RAW_WRITES on DEV
# with exact-size O_DIRECT writes (rawio), each sector pattern "uml N".
uml_raw_write_script()
{
	local w s c b
	echo "set -e"
	echo "$UML_PATTERN_FN"
	for w in $UML_RAW_WRITES; do
		IFS=: read -r s c b <<<"$w"
		echo "uml_pattern uml $s $c | rawio write $1 $b $s $c"
	done
}

# uml_json FIELD < JSON: one scalar field of umlcow-setup's JSON output.
uml_json()
{
	sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\)\"\{0,1\}[,}].*/\1/p"
}

# uml_root_lists TREE SUFFIX OUTDIR: the four lists `story` records inside
# UML (uml-sums, uml-modes, uml-types, uml-links), made on the host from a
# tree extracted from the image, as OUTDIR/host-*SUFFIX.
uml_root_lists()
{
	local tree=$1 sfx=$2 out=$3 t
	(
		cd "$tree" || exit 1
		export LC_ALL=C
		find . -xdev -type f | sort | xargs sha256sum >"$out/host-sums$sfx"
		find ./data ./etc -xdev | sort | xargs stat -c '%a %n' >"$out/host-modes$sfx"
		for t in f d l; do find . -xdev -type $t | sort | sed "s/^/$t /"; done >"$out/host-types$sfx"
		find . -xdev -type l | sort | xargs ls -ld | sed 's/^.* \(\.\/.* -> .*\)$/\1/' >"$out/host-links$sfx"
	)
}

# uml_extract IMAGE TREE: copy an ext2/3 image's whole tree out with
# debugfs (modes, owners and symlinks kept), nothing mounted.
uml_extract()
{
	rm -rf "$2" && mkdir -p "$2" &&
		debugfs -R "rdump / $2" "$1" >/dev/null 2>&1 &&
		[ -e "$2/bin/busybox" ]
}

# uml_compare_lists DIR SUFFIX: compare what UML recorded with what the host
# sees; prints one line per list ("checksums: same" or "...: DIFFERENT") and
# returns non-zero if anything differs.  Diffs go to stderr.
uml_compare_lists()
{
	local dir=$1 sfx=$2 l name rc=0
	for l in sums:checksums modes:modes types:types links:symlinks; do
		name=${l#*:}
		if diff -u "$dir/uml-${l%%:*}$sfx" "$dir/host-${l%%:*}$sfx" >&2; then
			echo "$name: same as UML recorded"
		else
			echo "$name: DIFFERENT from what UML recorded"
			rc=1
		fi
	done
	return $rc
}

# uml_be FILE OFFSET LENGTH: the big-endian unsigned number at OFFSET.
uml_be()
{
	local hex
	hex=$(od -An -tx1 -v -j "$2" -N "$3" "$1" | tr -d ' \n')
	echo $((16#${hex:-0}))
}

# uml_v3_path FILE: the backing file path of a v3 header (up to its NUL).
uml_v3_path()
{
	dd if="$1" bs=1 skip=32 count=4096 status=none | tr '\0' '\n' | head -n 1
}
