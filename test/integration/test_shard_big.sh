#!/usr/bin/env bash
# Integration: members over 1 GiB, read with `ais get --member` on a 3-node
# cluster. A pax tar holds a 1.1 GiB member of non-repeating bytes and,
# after it, a member whose 150-byte name needs a pax header (so a header
# past the big member is parsed at an offset over 1 GiB); GNU and pax (0.0,
# 0.1, 1.0) sparse tars hold a 2.5 GiB file with holes and data past 2 GiB;
# a tar.gz holds a 1.1 GiB member of text (every line different) and a
# member after it. Every member read whole is byte-equal to its source,
# ranges around 1 GiB and 2 GiB equal the same bytes of the source, a range
# near the end of the compressed member and the member after it come back
# within 10 s (seek points), and no node's peak memory nears a member's size.
. "$(dirname "$0")/lib.sh"

ais_test_init shard_big

for tool in tar gzip truncate; do
	command -v "$tool" >/dev/null || ais_skip "$tool is not installed"
done

# Disk: the source (1.1 GiB), the tar until it is uploaded (1.1 GiB), the
# node's copy (1.1 GiB), a download (1.1 GiB), the text source (1.1 GiB)
# and its tar.gz (twice ~0.3 GiB), with a margin.
need_free_gib 7

# range_eq OBJ MEMBER FILE OFF [LEN]: the member range read by the node
# equals bytes OFF.. (LEN of them, or to the end) of FILE.
range_eq()
{
	local obj=$1 m=$2 f=$3 off=$4 len=${5:-}
	if [ -n "$len" ]; then
		"$AIS" get -q "ais://big/$obj" --member "$m" --offset "$off" \
			--length "$len" "$T/r" || fail "$obj $m: range $off+$len"
		cmp -s "$T/r" <(slice "$f" "$off" "$len") ||
			fail "$obj $m: range $off+$len differs"
	else
		"$AIS" get -q "ais://big/$obj" --member "$m" --offset "$off" "$T/r" ||
			fail "$obj $m: range $off.."
		cmp -s "$T/r" <(slice "$f" "$off") ||
			fail "$obj $m: range $off.. differs"
	fi
}

# member_eq OBJ MEMBER FILE: the whole member, streamed, equals FILE.
member_eq()
{
	"$AIS" get -q "ais://big/$1" --member "$2" - | cmp - "$3" ||
		fail "$1: member $2 differs from its source"
}

GIB=$((1 << 30))
BIG=$((1100 * 1048576 + 333)) # over 1 GiB, not a multiple of 512
SRC=$T/src
LONGDIR=$(printf 'd%.0s' {1..60})
AFTER=$LONGDIR/$(printf 'a%.0s' {1..85}).bin # 150 bytes: a pax path
mkdir -p "$SRC/$LONGDIR"

ais_cluster_up 3
"$AIS" bucket create ais://big >/dev/null || fail "bucket create"

note "a 1.1 GiB member in a pax tar"
t0=$SECONDS
gen_bytes "$BIG" "$SRC/big.bin"
head -c 70001 /dev/urandom >"$SRC/$AFTER"
tar --format=pax -cf "$T/big.tar" -C "$SRC" big.bin "$AFTER" || fail "tar"
note "made in $((SECONDS - t0)) s"
t0=$SECONDS
"$AIS" put -q "$T/big.tar" ais://big/big.tar || fail "put big.tar"
rm -f "$T/big.tar"
note "uploaded in $((SECONDS - t0)) s"
"$AIS" shard ls -l ais://big/big.tar >"$T/ls" || fail "shard ls big.tar"
cat "$T/ls" >&2
awk -v n="$BIG" '$NF == "big.bin" && $2 == n {ok = 1} END {exit !ok}' \
	"$T/ls" || fail "big.bin is not listed with size $BIG"
awk -v p="$AFTER" '$NF == p && $2 == 70001 {ok = 1} END {exit !ok}' \
	"$T/ls" || fail "$AFTER is not listed with size 70001"
t0=$SECONDS
"$AIS" get -q ais://big/big.tar --member big.bin "$T/got.bin" ||
	fail "get --member big.bin"
note "member downloaded in $((SECONDS - t0)) s"
assert_eq "$BIG" "$(stat -c %s "$T/got.bin")" "size of the downloaded member"
cmp "$T/got.bin" "$SRC/big.bin" || fail "big.bin differs from its source"
rm -f "$T/got.bin"
"$AIS" get -q ais://big/big.tar --member "$AFTER" "$T/m" ||
	fail "get --member of the member after big.bin"
cmp "$T/m" "$SRC/$AFTER" || fail "the member after big.bin differs"
range_eq big.tar big.bin "$SRC/big.bin" $((GIB - 100)) 200
range_eq big.tar big.bin "$SRC/big.bin" $((GIB + 12345)) 1048576
range_eq big.tar big.bin "$SRC/big.bin" $((BIG - 1000))
range_eq big.tar big.bin "$SRC/big.bin" 0 513
range_eq big.tar "$AFTER" "$SRC/$AFTER" 69000

note "a 2.5 GiB sparse member (GNU, pax 0.0, 0.1 and 1.0 sparse formats)"
SP=$((2560 * 1048576 + 4321))
truncate -s "$SP" "$SRC/sparse.img"
# Data at the start, around 1 GiB, past 2 GiB and to the very end.
for off in 0 $((GIB - 5000)) $((2 * GIB + 777)) $((SP - 9000)); do
	head -c 70000 /dev/urandom |
		dd of="$SRC/sparse.img" bs=1M seek="$off" oflag=seek_bytes \
			conv=notrunc status=none || fail "dd into sparse.img"
done
SP=$(stat -c %s "$SRC/sparse.img") # the last chunk extends it
echo tail >"$SRC/tail.txt"
tar --format=gnu --sparse -cf "$T/sgnu.tar" -C "$SRC" sparse.img tail.txt ||
	fail "tar --sparse (gnu)"
for v in 0.0 0.1 1.0; do
	tar --format=pax --sparse --sparse-version=$v -cf "$T/spax$v.tar" \
		-C "$SRC" sparse.img tail.txt || fail "tar --sparse (pax $v)"
done
ls -l "$T"/s*.tar >&2
for a in sgnu.tar spax0.0.tar spax0.1.tar spax1.0.tar; do
	[ "$(stat -c %s "$T/$a")" -lt $((8 << 20)) ] ||
		fail "$a is not sparse: tar stored the holes"
	"$AIS" put -q "$T/$a" "ais://big/$a" || fail "put $a"
	"$AIS" shard ls -l "ais://big/$a" >"$T/ls" || fail "shard ls $a"
	awk -v n="$SP" '$NF == "sparse.img" && $2 == n {ok = 1} END {exit !ok}' \
		"$T/ls" || fail "$a: sparse.img is not listed with size $SP: $(cat "$T/ls")"
	assert_eq tail "$("$AIS" get -q "ais://big/$a" --member tail.txt -)" \
		"$a: the member after the sparse one"
	range_eq "$a" sparse.img "$SRC/sparse.img" 0 70000
	range_eq "$a" sparse.img "$SRC/sparse.img" $((GIB - 6000)) 80000
	range_eq "$a" sparse.img "$SRC/sparse.img" $((GIB + 100000)) 4096
	range_eq "$a" sparse.img "$SRC/sparse.img" $((2 * GIB)) 100000
	range_eq "$a" sparse.img "$SRC/sparse.img" $((SP - 10000))
done
t0=$SECONDS
member_eq sgnu.tar sparse.img "$SRC/sparse.img"
note "2.5 GiB sparse member compared in $((SECONDS - t0)) s"
rm -f "$SRC/sparse.img" "$T"/s*.tar

note "a 1.1 GiB member in a tar.gz"
TXT=$((1100 * 1048576 + 77))
t0=$SECONDS
head -c "$TXT" < <(seq 1 200000000 2>/dev/null) >"$SRC/text.txt"
assert_eq "$TXT" "$(stat -c %s "$SRC/text.txt")" "size of text.txt"
head -c 5000 /dev/urandom >"$SRC/after.bin"
tar -cf - -C "$SRC" text.txt after.bin | gzip -1 >"$T/text.tar.gz" ||
	fail "tar | gzip"
note "made in $((SECONDS - t0)) s ($(stat -c %s "$T/text.tar.gz") bytes)"
t0=$SECONDS
"$AIS" put -q "$T/text.tar.gz" ais://big/text.tar.gz || fail "put text.tar.gz"
rm -f "$T/text.tar.gz"
"$AIS" shard ls -l ais://big/text.tar.gz >"$T/ls" || fail "shard ls tar.gz"
note "uploaded and listed in $((SECONDS - t0)) s"
awk -v n="$TXT" '$NF == "text.txt" && $2 == n {ok = 1} END {exit !ok}' \
	"$T/ls" || fail "text.txt is not listed with size $TXT: $(cat "$T/ls")"
# Reads near the end decode from a seek point, not from the start: each
# must come back within 10 s (decoding 1.1 GiB takes longer here).
for off in $((TXT - 3000)) $((GIB + 54321)); do
	start=$(now_ms)
	"$AIS" get -q ais://big/text.tar.gz --member text.txt --offset "$off" \
		--length 2000 "$T/r" || fail "tar.gz range at $off"
	took=$(($(now_ms) - start))
	note "tar.gz range at $off: $took ms"
	cmp -s "$T/r" <(slice "$SRC/text.txt" "$off" 2000) ||
		fail "tar.gz range at $off differs"
	[ "$took" -lt 10000 ] ||
		fail "a range at $off of the tar.gz member took $took ms (over 10 s)"
done
start=$(now_ms)
"$AIS" get -q ais://big/text.tar.gz --member after.bin "$T/m" ||
	fail "get --member after.bin"
took=$(($(now_ms) - start))
note "tar.gz member after the big one: $took ms"
cmp "$T/m" "$SRC/after.bin" || fail "after.bin (after the 1.1 GiB member) differs"
[ "$took" -lt 10000 ] ||
	fail "reading the member after the 1.1 GiB one took $took ms (over 10 s)"
t0=$SECONDS
member_eq text.tar.gz text.txt "$SRC/text.txt"
note "1.1 GiB tar.gz member compared in $((SECONDS - t0)) s"

note "the nodes still serve, with bounded memory"
"$AIS" get -q ais://big/big.tar --member "$AFTER" "$T/m" ||
	fail "get --member at the end"
cmp "$T/m" "$SRC/$AFTER" || fail "a member read at the end differs"
for ((i = 0; i < 3; i++)); do
	pid=$(ais_node_pid "$i")
	hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
	note "node $i: peak RSS $((hwm / 1024)) MiB"
	[ "$hwm" -lt $((768 * 1024)) ] ||
		fail "node $i peaked at $((hwm / 1024)) MiB: a member held in memory?"
done

"$AIS" bucket rm ais://big >/dev/null || fail "bucket rm"
ais_cluster_down
note "shard_big: all passed"
