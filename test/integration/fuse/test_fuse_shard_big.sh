#!/usr/bin/env bash
# Members over 1 GiB through aisfs (the default shards=view: x.tar.d/): a pax tar with a 1.1 GiB
# member of non-repeating bytes followed by a member with a 150-byte name, a
# GNU sparse tar with a 2.5 GiB file (data past 2 GiB), and a tar.gz with a
# 1.1 GiB text member followed by a small one. Through the mount: stat
# gives the sizes, `cmp` of the whole tar members equals the sources, `dd` at
# offsets past 1 GiB and 2 GiB equals the same bytes of the source, and in
# the tar.gz 80 MiB of ranges (one of 64 MiB across the 1 GiB mark) are
# equal, and a read near the end of the big member and the member after it
# come back within 10 s (seek points, not a decode from the start).
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_shard_big
for tool in tar gzip truncate dd; do
	command -v "$tool" >/dev/null || ais_skip "$tool is not installed"
done

# Disk: the source (1.1 GiB), the tar until uploaded (1.1 GiB), the node's
# copy (1.1 GiB), the text source (1.1 GiB), its tar.gz (~0.3 GiB, twice),
# with a margin.
need_free_gib 6

# dd_eq FILE SRC OFF LEN: LEN bytes at OFF of FILE (read with dd through
# the mount) equal the same bytes of SRC.
dd_eq()
{
	local f=$1 src=$2 off=$3 len=$4
	timed 60 dd if="$f" bs=64K iflag=skip_bytes,count_bytes skip="$off" \
		count="$len" status=none >"$T/r" || fail "dd $f at $off"
	assert_eq "$len" "$(stat -c %s "$T/r")" "bytes dd read from $f at $off"
	cmp -s "$T/r" <(slice "$src" "$off" "$len") ||
		fail "$f: $len bytes at $off differ from the source"
}

GIB=$((1 << 30))
BIG=$((1100 * 1048576 + 333)) # over 1 GiB, not a multiple of 512
SRC=$T/src
LONGDIR=$(printf 'd%.0s' {1..60})
AFTER=$LONGDIR/$(printf 'a%.0s' {1..85}).bin # 150 bytes: a pax path
mkdir -p "$SRC/$LONGDIR"

ais_cluster_up 3
"$AIS" bucket create ais://big >/dev/null || fail "bucket create"

note "making the archives"
t0=$SECONDS
gen_bytes "$BIG" "$SRC/big.bin"
head -c 70001 /dev/urandom >"$SRC/$AFTER"
tar --format=pax -cf "$T/big.tar" -C "$SRC" big.bin "$AFTER" || fail "tar"
"$AIS" put -q "$T/big.tar" ais://big/big.tar || fail "put big.tar"
rm -f "$T/big.tar"

SP=$((2560 * 1048576 + 4321))
truncate -s "$SP" "$SRC/sparse.img"
for off in 0 $((GIB - 5000)) $((2 * GIB + 777)) $((SP - 9000)); do
	head -c 70000 /dev/urandom |
		dd of="$SRC/sparse.img" bs=1M seek="$off" oflag=seek_bytes \
			conv=notrunc status=none || fail "dd into sparse.img"
done
SP=$(stat -c %s "$SRC/sparse.img")
echo tail >"$SRC/tail.txt"
tar --format=gnu --sparse -cf "$T/sparse.tar" -C "$SRC" sparse.img tail.txt ||
	fail "tar --sparse"
[ "$(stat -c %s "$T/sparse.tar")" -lt $((8 << 20)) ] ||
	fail "sparse.tar is not sparse: tar stored the holes"
"$AIS" put -q "$T/sparse.tar" ais://big/sparse.tar || fail "put sparse.tar"
rm -f "$T/sparse.tar"

TXT=$((1100 * 1048576 + 77))
head -c "$TXT" < <(seq 1 200000000 2>/dev/null) >"$SRC/text.txt"
assert_eq "$TXT" "$(stat -c %s "$SRC/text.txt")" "size of text.txt"
head -c 5000 /dev/urandom >"$SRC/after.bin"
tar -cf - -C "$SRC" text.txt after.bin | gzip -1 >"$T/text.tar.gz" ||
	fail "tar | gzip"
"$AIS" put -q "$T/text.tar.gz" ais://big/text.tar.gz || fail "put text.tar.gz"
rm -f "$T/text.tar.gz"
note "archives made and uploaded in $((SECONDS - t0)) s"

fuse_mount m
M=$MNT/big

note "the 1.1 GiB member of the pax tar"
assert_eq "$BIG" "$(stat -c %s "$M/big.tar.d/big.bin")" "stat size of big.bin"
assert_eq 70001 "$(stat -c %s "$M/big.tar.d/$AFTER")" "stat size of the member after"
dd_eq "$M/big.tar.d/big.bin" "$SRC/big.bin" $((GIB - 100)) 200
dd_eq "$M/big.tar.d/big.bin" "$SRC/big.bin" $((GIB + 12345)) 1048576
dd_eq "$M/big.tar.d/big.bin" "$SRC/big.bin" $((BIG - 4096)) 4096
cmp "$M/big.tar.d/$AFTER" "$SRC/$AFTER" || fail "the member after big.bin differs"
t0=$SECONDS
timed 600 cmp "$M/big.tar.d/big.bin" "$SRC/big.bin" ||
	fail "big.bin read through the mount differs from its source"
note "1.1 GiB member compared through the mount in $((SECONDS - t0)) s"

note "the 2.5 GiB sparse member"
assert_eq "$SP" "$(stat -c %s "$M/sparse.tar.d/sparse.img")" "stat size of sparse.img"
assert_eq tail "$(cat "$M/sparse.tar.d/tail.txt")" "the member after sparse.img"
dd_eq "$M/sparse.tar.d/sparse.img" "$SRC/sparse.img" 0 70000
dd_eq "$M/sparse.tar.d/sparse.img" "$SRC/sparse.img" $((GIB - 6000)) 80000
dd_eq "$M/sparse.tar.d/sparse.img" "$SRC/sparse.img" $((GIB + 100000)) 4096
dd_eq "$M/sparse.tar.d/sparse.img" "$SRC/sparse.img" $((2 * GIB)) 100000
dd_eq "$M/sparse.tar.d/sparse.img" "$SRC/sparse.img" $((SP - 10000)) 10000
t0=$SECONDS
timed 600 cmp "$M/sparse.tar.d/sparse.img" "$SRC/sparse.img" ||
	fail "sparse.img read through the mount differs from its source"
note "2.5 GiB sparse member compared through the mount in $((SECONDS - t0)) s"
rm -f "$SRC/sparse.img"

note "the 1.1 GiB member of the tar.gz"
assert_eq "$TXT" "$(stat -c %s "$M/text.tar.gz.d/text.txt")" "stat size of text.txt"
for off in $((TXT - 3000)) $((GIB + 54321)); do
	start=$(now_ms)
	dd_eq "$M/text.tar.gz.d/text.txt" "$SRC/text.txt" "$off" 2000
	took=$(($(now_ms) - start))
	note "tar.gz: dd at $off took $took ms"
	[ "$took" -lt 10000 ] ||
		fail "dd at $off of the tar.gz member took $took ms (over 10 s)"
done
start=$(now_ms)
timed 60 cmp "$M/text.tar.gz.d/after.bin" "$SRC/after.bin" ||
	fail "after.bin (after the 1.1 GiB member) differs"
took=$(($(now_ms) - start))
note "tar.gz: the member after the big one read in $took ms"
[ "$took" -lt 10000 ] ||
	fail "reading the member after the 1.1 GiB one took $took ms (over 10 s)"
# The whole member is compared by test_shard_big.sh (ais get --member);
# through the mount, 64 MiB read sequentially across the 1 GiB mark and
# 1 MiB at each of 16 offsets spread over the member.
t0=$SECONDS
dd_eq "$M/text.tar.gz.d/text.txt" "$SRC/text.txt" $((GIB - (32 << 20))) $((64 << 20))
for ((i = 0; i < 16; i++)); do
	dd_eq "$M/text.tar.gz.d/text.txt" "$SRC/text.txt" \
		$(((TXT - 1048576) / 15 * i)) 1048576
done
note "tar.gz: 80 MiB of the 1.1 GiB member compared in $((SECONDS - t0)) s"

note "the mount and the nodes still serve"
cmp "$M/big.tar.d/$AFTER" "$SRC/$AFTER" || fail "a member read at the end differs"
fuse_umount "$MNT"
"$AIS" bucket rm ais://big >/dev/null || fail "bucket rm"
ais_cluster_down
note "fuse_shard_big: all passed"
