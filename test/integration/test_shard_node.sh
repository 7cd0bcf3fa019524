#!/usr/bin/env bash
# Integration: shards on a 3-node `ais local` cluster. Archives made by GNU
# tar (default, --format=gnu with a 300-byte name, --format=pax with UTF-8),
# bsdtar, Python tarfile, zip (stored and deflated), tar.gz and tar.lz4:
# `ais shard ls` equals `tar -t` / `unzip -Z1` and every member read with
# `ais get --member` is byte-equal to the extracted file. A truncated tar
# lists the members before the break, says where it breaks and exits 1; a
# removed sidecar is rebuilt; `ais shard create` of 10,000 files keeps
# samples whole, makes shards near the target size, reads back byte-equal
# (tar, zip and tar.gz) and is deterministic for a seed.
. "$(dirname "$0")/lib.sh"

ais_test_init shard_node

for tool in tar bsdtar zip unzip lz4; do
	command -v "$tool" >/dev/null || ais_skip "$tool is not installed"
done
PY=$(_ais_python)

ais_cluster_up 3
"$AIS" bucket create ais://sh >/dev/null || fail "bucket create"

# The source tree every archive is made of: nested dirs, an empty file, a
# symlink, sizes around the 512-byte block, a bigger file, UTF-8 names.
SRC=$T/src
mkdir -p "$SRC/a/b/c" "$SRC/empty_dir" "$SRC/ünï"
head -c 0 /dev/null >"$SRC/a/empty"
head -c 511 /dev/urandom >"$SRC/a/b/511.bin"
head -c 512 /dev/urandom >"$SRC/a/b/512.bin"
head -c 513 /dev/urandom >"$SRC/a/b/c/513.bin"
head -c 300000 /dev/urandom >"$SRC/a/big.bin"
echo "text" >"$SRC/top.txt"
echo "utf" >"$SRC/ünï/日本語.txt"
ln -s ../top.txt "$SRC/a/link"

# norm: a listing without "./", trailing '/', empty lines; sorted.
norm()
{
	sed -e 's#^\./##' -e 's#/$##' | grep -v '^$' | LC_ALL=C sort
}

# check_shard FILE OBJECT LISTCMD EXTRACTCMD: uploads FILE as OBJECT,
# compares the listing with LISTCMD's (normalised) and every regular file
# EXTRACTCMD unpacks into $T/x with its member read.
check_shard()
{
	local file=$1 obj=$2 list=$3 extract=$4 f n=0
	"$AIS" put "$file" "ais://sh/$obj" >/dev/null || fail "put $obj"
	"$AIS" shard ls "ais://sh/$obj" >"$T/ls.raw" || fail "shard ls $obj"
	norm <"$T/ls.raw" >"$T/ls.got"
	eval "$list" | norm >"$T/ls.want"
	diff -u "$T/ls.want" "$T/ls.got" >&2 ||
		fail "$obj: ais shard ls differs from the archiver's listing"
	rm -rf "$T/x"
	mkdir -p "$T/x"
	(cd "$T/x" && eval "$extract") || fail "$obj: extracting with $extract"
	while IFS= read -r -d '' f; do
		f=${f#"$T/x/"}
		"$AIS" get "ais://sh/$obj" --member "$f" "$T/m" ||
			fail "$obj: get --member $f"
		cmp -s "$T/m" "$T/x/$f" || fail "$obj: member $f differs"
		n=$((n + 1))
	done < <(find "$T/x" -type f -print0)
	[ "$n" -gt 5 ] || fail "$obj: only $n members compared"
	note "$obj: listing equal, $n members byte-equal"
}

note "archives from several tools"
tar -cf "$T/gnu.tar" -C "$SRC" .
check_shard "$T/gnu.tar" gnu.tar "tar -tf '$T/gnu.tar'" "tar -xf '$T/gnu.tar'"

# --format=gnu with a 300-byte path (a GNU long-name member).
LONG=$T/long
mkdir -p "$LONG/$(printf 'd%.0s' {1..120})"
LONGNAME="$(printf 'd%.0s' {1..120})/$(printf 'f%.0s' {1..175}).txt"
[ ${#LONGNAME} -ge 300 ] || fail "long name is only ${#LONGNAME} bytes"
head -c 5000 /dev/urandom >"$LONG/$LONGNAME"
cp -r "$SRC/." "$LONG/"
tar --format=gnu -cf "$T/long.tar" -C "$LONG" .
check_shard "$T/long.tar" long.tar "tar -tf '$T/long.tar'" "tar -xf '$T/long.tar'"

tar --format=pax -cf "$T/pax.tar" -C "$SRC" .
check_shard "$T/pax.tar" pax/utf.tar "tar -tf '$T/pax.tar'" "tar -xf '$T/pax.tar'"

bsdtar -cf "$T/bsd.tar" -C "$SRC" .
check_shard "$T/bsd.tar" bsd.tar "tar -tf '$T/bsd.tar'" "tar -xf '$T/bsd.tar'"

"$PY" - "$SRC" "$T/py.tar" <<'EOF'
import os, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w") as t:
    for root, dirs, files in sorted(os.walk(src)):
        for n in sorted(dirs + files):
            p = os.path.join(root, n)
            t.add(p, arcname=os.path.relpath(p, src), recursive=False)
EOF
check_shard "$T/py.tar" py.tar "tar -tf '$T/py.tar'" "tar -xf '$T/py.tar'"

tar -czf "$T/z.tar.gz" -C "$SRC" .
check_shard "$T/z.tar.gz" z.tar.gz "tar -tzf '$T/z.tar.gz'" "tar -xzf '$T/z.tar.gz'"
cp "$T/z.tar.gz" "$T/z.tgz"
check_shard "$T/z.tgz" z.tgz "tar -tzf '$T/z.tgz'" "tar -xzf '$T/z.tgz'"

tar -cf - -C "$SRC" . | lz4 -q >"$T/l.tar.lz4"
check_shard "$T/l.tar.lz4" l.tar.lz4 "lz4 -dc '$T/l.tar.lz4' | tar -tf -" \
	"lz4 -dc '$T/l.tar.lz4' | tar -xf -"

(cd "$SRC" && zip -q -0 -r -y "$T/stored.zip" .)
check_shard "$T/stored.zip" stored.zip "unzip -Z1 '$T/stored.zip'" \
	"unzip -q '$T/stored.zip'"
(cd "$SRC" && zip -q -9 -r -y "$T/deflated.zip" .)
check_shard "$T/deflated.zip" deflated.zip "unzip -Z1 '$T/deflated.zip'" \
	"unzip -q '$T/deflated.zip'"

note "member errors"
"$AIS" get ais://sh/gnu.tar --member a/b - >/dev/null 2>"$T/err" &&
	fail "get --member of a directory succeeded"
grep -q "directory" "$T/err" || fail "directory member: $(cat "$T/err")"
"$AIS" get ais://sh/gnu.tar --member no/such - >/dev/null 2>"$T/err" &&
	fail "get --member of a missing member succeeded"
grep -q "no member" "$T/err" || fail "missing member: $(cat "$T/err")"
# A range of a member.
"$AIS" get ais://sh/gnu.tar --member a/big.bin --offset 1000 --length 5000 \
	"$T/r" || fail "member range"
cmp -s "$T/r" <(tail -c +1001 "$SRC/a/big.bin" | head -c 5000) ||
	fail "member range differs"
"$AIS" get ais://sh/z.tar.gz --member a/big.bin --offset 250000 - >"$T/r" ||
	fail "tar.gz member range"
cmp -s "$T/r" <(tail -c +250001 "$SRC/a/big.bin") ||
	fail "tar.gz member range differs"

note "truncated tar"
TR=$T/trsrc
mkdir -p "$TR"
for i in 1 2 3 4 5; do head -c 20000 /dev/urandom >"$TR/m$i.bin"; done
tar -cf "$T/full.tar" -C "$TR" m1.bin m2.bin m3.bin m4.bin m5.bin
head -c 70000 "$T/full.tar" >"$T/trunc.tar" # inside m4.bin's data
"$AIS" put "$T/trunc.tar" ais://sh/trunc.tar >/dev/null || fail "put trunc"
rc=0
"$AIS" shard ls ais://sh/trunc.tar >"$T/out" 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "shard ls of a truncated tar exits 1"
assert_eq "m1.bin m2.bin m3.bin" "$(tr '\n' ' ' <"$T/out" | sed 's/ $//')" \
	"members before the break"
grep -q "offset" "$T/err" || fail "no break offset in: $(cat "$T/err")"
note "truncated: $(cat "$T/err")"
"$AIS" get ais://sh/trunc.tar --member m2.bin "$T/m" || fail "get before break"
cmp -s "$T/m" "$TR/m2.bin" || fail "member before the break differs"
"$AIS" get ais://sh/gnu.tar --member top.txt - >/dev/null ||
	fail "the node does not serve after a truncated tar"

note "sidecar rebuilt when removed"
SIDE=$(find "$AIS_CLUSTER_DIR" -path '*/.ais/shardidx/sh/gnu.tar.idx')
[ -n "$SIDE" ] && [ -f "$SIDE" ] || fail "no sidecar for gnu.tar"
rm -f "$SIDE"
"$AIS" get ais://sh/gnu.tar --member a/b/511.bin "$T/m" ||
	fail "get --member after removing the sidecar"
cmp -s "$T/m" "$SRC/a/b/511.bin" || fail "member differs after rebuild"
[ -f "$SIDE" ] || fail "sidecar $SIDE not rebuilt"

note "sidecars follow the object"
"$AIS" mv ais://sh/bsd.tar ais://sh/renamed.tar || fail "mv"
"$AIS" get ais://sh/renamed.tar --member top.txt - >/dev/null ||
	fail "member after rename"
[ -z "$(find "$AIS_CLUSTER_DIR" -path '*/.ais/shardidx/sh/bsd.tar.idx')" ] ||
	fail "sidecar of the renamed shard left behind"
"$AIS" rm ais://sh/renamed.tar || fail "rm"
[ -z "$(find "$AIS_CLUSTER_DIR" -path '*/.ais/shardidx/sh/renamed.tar.idx')" ] ||
	fail "sidecar of a deleted shard left behind"
# Overwrite with other bytes: the listing follows.
"$AIS" put "$T/trunc.tar" ais://sh/gnu.tar >/dev/null || fail "overwrite"
"$AIS" shard ls ais://sh/gnu.tar >"$T/out" 2>/dev/null || true
grep -qx m1.bin "$T/out" || fail "listing not updated after an overwrite"

note "shard create: 10,000 files (5,000 samples)"
# Each sample is an image of 1-8 KiB and a label of 1-2 KiB (sizes fixed by
# the seed), spread over four directories: about 36 MB in all, so that a
# 1600 KiB target gives some 20 shards.
GEN=$T/gen
"$PY" - "$GEN" <<'EOF'
import os, random, sys
r = random.Random(42)
root = sys.argv[1]
for i in range(5000):
    d = os.path.join(root, "part%d" % (i % 4))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "img_%05d.jpg" % i), "wb") as f:
        f.write(os.urandom(r.randint(1024, 8192)))
    with open(os.path.join(d, "img_%05d.cls" % i), "w") as f:
        f.write(("%d\n" % (i % 10)) * r.randint(512, 1024))
EOF
TARGET=1638400
"$AIS" shard create "$GEN" ais://sh/ds/train --size 1600KiB --shuffle \
	--seed 7 --jobs 4 >"$T/create.out" || fail "shard create"
cat "$T/create.out" >&2
grep -q "5000 samples" "$T/create.out" || fail "summary: $(cat "$T/create.out")"
"$AIS" ls -l ais://sh/ds/ >"$T/shards" || fail "ls shards"
mapfile -t SHARDS < <("$AIS" ls ais://sh/ds/ | sed 's#^ais://sh/##' |
	grep -E 'train-[0-9]{6}\.tar$' | LC_ALL=C sort || true)
[ "${#SHARDS[@]}" -ge 15 ] && [ "${#SHARDS[@]}" -le 30 ] ||
	fail "${#SHARDS[@]} shards, expected about 20: $(cat "$T/shards")"
# Nothing but the shards, numbered from 0 without gaps.
assert_eq "${#SHARDS[@]}" "$("$AIS" ls ais://sh/ds/ | wc -l)" "objects under ds/"
assert_eq "ds/train-$(printf '%06d' $((${#SHARDS[@]} - 1))).tar" \
	"${SHARDS[${#SHARDS[@]} - 1]}" "the last shard's name"
: >"$T/members"
for s in "${SHARDS[@]}"; do
	"$AIS" shard ls "ais://sh/$s" >"$T/one" || fail "shard ls $s"
	sed "s#^#$s #" "$T/one" >>"$T/members"
done
# Every file exactly once; both files of a sample in the same shard.
assert_eq 10000 "$(wc -l <"$T/members")" "members in all shards"
assert_eq 10000 "$(awk '{print $2}' "$T/members" | sort -u | wc -l)" \
	"distinct members"
assert_eq 5000 "$(awk '{k=$2; sub(/\.[^\/]*$/, "", k); print k}' \
	"$T/members" | sort -u | wc -l)" "distinct samples"
assert_eq 5000 "$(awk '{k=$2; sub(/\.[^\/]*$/, "", k); print $1, k}' \
	"$T/members" | sort -u | wc -l)" "samples, each whole in one shard"
# Sizes near the target: none above it, all but the last above 90%.
n=0
for s in "${SHARDS[@]}"; do
	size=$("$AIS" stat "ais://sh/$s" | awk '$1 == "size" {print $2; exit}' | tr -d ,)
	case "$size" in '' | *[!0-9]*) fail "cannot read the size of $s" ;; esac
	[ "$size" -le "$TARGET" ] || fail "$s is $size bytes, over the $TARGET target"
	n=$((n + 1))
	if [ "$n" -lt "${#SHARDS[@]}" ]; then
		[ "$size" -ge $((TARGET * 9 / 10)) ] ||
			fail "$s is $size bytes, under 90% of $TARGET"
	fi
done
# Every file byte-equal when read back: each whole shard is downloaded and
# unpacked by GNU tar, and the tree must equal the source (diff -r also
# fails on a missing or an extra file); tar -t of each downloaded shard
# (archive order) lists what the node lists (path order).
# unpack_all PREFIX LIST: unpacks the shards PREFIX-NNNNNN.tar into $T/rt,
# writing their tar -t lists, in shard order, to LIST.
unpack_all()
{
	local s
	mkdir -p "$T/rt"
	: >"$2"
	for s in "${SHARDS[@]}"; do
		s=$1/${s#ds/}
		"$AIS" get -q "ais://sh/$s" "$T/dl.tar" || fail "get $s"
		tar -tf "$T/dl.tar" >"$T/one" || fail "tar -t $s"
		{ echo "== $s"; cat "$T/one"; } >>"$2"
		"$AIS" shard ls "ais://sh/$s" >"$T/one.ls" || fail "shard ls $s"
		LC_ALL=C sort "$T/one" | diff -q - "$T/one.ls" >/dev/null ||
			fail "$s: tar -t differs from ais shard ls"
		tar -xf "$T/dl.tar" -C "$T/rt" || fail "tar -x $s"
	done
	rm -f "$T/dl.tar"
}
unpack_all ds "$T/tt1"
diff -r "$GEN" "$T/rt" >&2 || fail "the unpacked shards differ from the source"
rm -rf "$T/rt"
# And 50 members, one at a time, with --member.
n=0
while read -r s m; do
	"$AIS" get -q "ais://sh/$s" --member "$m" "$T/m" ||
		fail "get --member $m of $s"
	cmp -s "$T/m" "$GEN/$m" || fail "member $m of $s differs"
	n=$((n + 1))
done < <(awk 'NR % 200 == 1' "$T/members")
assert_eq 50 "$n" "members checked one at a time"
# The same seed again: the same shards, with their members in the same
# (shuffled) order.
"$AIS" shard create "$GEN" ais://sh/ds2/train --size 1600KiB --shuffle \
	--seed 7 -q || fail "shard create again"
assert_eq "${#SHARDS[@]}" "$("$AIS" ls ais://sh/ds2/ | wc -l)" \
	"same seed, same number of shards"
unpack_all ds2 "$T/tt2"
diff -r "$GEN" "$T/rt" >&2 || fail "the second run's shards differ from the source"
rm -rf "$T/rt"
sed 's#^== ds2/#== ds/#' "$T/tt2" | diff -q "$T/tt1" - >/dev/null ||
	fail "same seed, different tar -t lists"
LC_ALL=C sort "$T/tt1" | diff -q - "$T/tt1" >/dev/null &&
	fail "--shuffle left the members in path order"
"$AIS" shard create "$GEN" ais://sh/ds3/train --size 1600KiB --shuffle \
	--seed 8 -q || fail "shard create seed 8"
"$AIS" shard ls "ais://sh/ds3/train-000000.tar" >"$T/one3" || fail "ls ds3"
"$AIS" shard ls "ais://sh/${SHARDS[0]}" >"$T/one1" || fail "ls ds"
! diff -q "$T/one1" "$T/one3" >/dev/null || fail "seed 8 gives the shards of seed 7"
# Other formats read back too: one zip and one tar.gz shard of everything,
# unpacked by unzip and GNU tar, equal the source.
for fmt in zip tar.gz; do
	"$AIS" shard create "$GEN" "ais://sh/d-$fmt/t" --size 64MiB --format "$fmt" \
		-q || fail "shard create --format $fmt"
	assert_eq "d-$fmt/t-000000.$fmt" "$("$AIS" ls "ais://sh/d-$fmt/")" \
		"the one $fmt shard"
	"$AIS" get -q "ais://sh/d-$fmt/t-000000.$fmt" --member part1/img_00001.cls \
		"$T/m" || fail "$fmt member"
	cmp -s "$T/m" "$GEN/part1/img_00001.cls" || fail "$fmt member differs"
	"$AIS" get -q "ais://sh/d-$fmt/t-000000.$fmt" "$T/dl.$fmt" || fail "get $fmt"
	mkdir -p "$T/rt"
	if [ "$fmt" = zip ]; then
		unzip -q "$T/dl.$fmt" -d "$T/rt" || fail "unzip"
	else
		tar -xzf "$T/dl.$fmt" -C "$T/rt" || fail "tar -xz"
	fi
	diff -r "$GEN" "$T/rt" >&2 || fail "the unpacked $fmt shard differs from the source"
	rm -rf "$T/rt" "$T/dl.$fmt"
done

note "bucket destroy removes the sidecars"
"$AIS" bucket rm ais://sh >/dev/null || fail "bucket rm"
# Every node applies the destroy from the metadata log (within moments).
no_sidecars() { [ -z "$(find "$AIS_CLUSTER_DIR" -path '*/.ais/shardidx/sh' 2>/dev/null)" ]; }
ais_wait_for 10 no_sidecars

ais_cluster_down
note "shard_node: all passed"
