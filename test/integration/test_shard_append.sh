#!/usr/bin/env bash
# Integration: `ais shard append` on a 3-node `ais local` cluster. Shards
# made by GNU tar (10240-byte record padding) and Python tarfile get a file
# renamed with --as, a directory tree, a 300-byte name, an empty file, stdin
# and a 20 MiB file; after each append the whole shard read back lists (tar
# -t) the old members then the new ones, extracts byte-equal to the sources,
# `ais shard ls` equals `tar -t`, every new member reads byte-equal with
# `ais get --member`, and the version went up by exactly one. Refusals (a
# .tar.gz, a non-shard, a truncated tar, an existing member, a member under
# a file, a missing shard) exit 1 with a clear message and leave the shard
# byte-identical. The crash hook (AISD_TEST_CRASH_AT) kills the owner after
# the data and after the metadata of an append; after a restart the shard is
# byte-identical to before and serves. 20 appends in a row, with member
# reads of old members running alongside, keep everything right; a whole
# GET that overlaps an append fails with a checksum mismatch, never mixed
# bytes. With FUSE, an appended member shows up in the mounted shard.
. "$(dirname "$0")/fuse/fuse_lib.sh" # lib.sh and the mount helpers

ais_test_init shard_append

command -v tar >/dev/null || ais_skip "tar is not installed"
PY=$(_ais_python)

ais_cluster_up 3
"$AIS" bucket create ais://ap >/dev/null || fail "bucket create"

# meta OBJ FIELD: version / checksum / size from ais stat.
meta()
{
	"$AIS" stat "ais://ap/$1" | awk -v f="$2" '$1 == f { print $2 }'
}

# norm: a tar listing without "./", trailing '/' and empty lines.
norm()
{
	sed -e 's#^\./##' -e 's#/$##' | grep -v '^$' || true
}

# The sources: members are recorded in $T/OBJ.list (tar -t order) and
# $T/OBJ.map ("member<TAB>source file", regular files only).
SRC=$T/src
mkdir -p "$SRC/tree/a/b" "$SRC/tree/c"
head -c 1000 /dev/urandom >"$SRC/one.bin"
head -c 511 /dev/urandom >"$SRC/tree/a/511.bin"
head -c 512 /dev/urandom >"$SRC/tree/a/b/512.bin"
head -c 70000 /dev/urandom >"$SRC/tree/c/70k.bin"
: >"$SRC/empty"
head -c $((20 << 20)) /dev/urandom >"$SRC/big"
LONGNAME="$(printf 'd%.0s' {1..120})/$(printf 'f%.0s' {1..175}).txt"
[ ${#LONGNAME} -ge 300 ] || fail "long name is only ${#LONGNAME} bytes"
echo "long" >"$SRC/long.txt"

# base DIR: a small tree an archive is made of.
BASE=$T/base
mkdir -p "$BASE/x/y"
head -c 3000 /dev/urandom >"$BASE/x/3000.bin"
echo "top" >"$BASE/top.txt"
head -c 1 /dev/urandom >"$BASE/x/y/1.bin"

# start OBJ FILE: uploads FILE as OBJ and records its members (and, in
# VER[OBJ], its version).
declare -A VER
start()
{
	local obj=$1 file=$2 m
	"$AIS" put "$file" "ais://ap/$obj" >/dev/null || fail "put $obj"
	VER[$obj]=$(meta "$obj" version)
	tar -tf "$file" | norm >"$T/$obj.list"
	: >"$T/$obj.map"
	while IFS= read -r m; do
		[ -f "$BASE/$m" ] && printf '%s\t%s\n' "$m" "$BASE/$m" >>"$T/$obj.map"
	done <"$T/$obj.list"
}

# append OBJ MEMBER SOURCE [ais shard append args...]: appends and records
# one member; checks the version went up by one.
append()
{
	local obj=$1 member=$2 src=$3 v0 v1
	shift 3
	v0=${VER[$obj]}
	"$AIS" shard append "ais://ap/$obj" "$@" >"$T/append.out" ||
		fail "$obj: shard append $* failed"
	v1=$(sed -n 's/^appended 1 member to .* (now .* members, .*, version \([0-9]*\))$/\1/p' \
		"$T/append.out")
	assert_eq "$((v0 + 1))" "$v1" "$obj: version after appending $member ($(cat "$T/append.out"))"
	VER[$obj]=$v1
	printf '%s\n' "$member" >>"$T/$obj.list"
	printf '%s\t%s\n' "$member" "$src" >>"$T/$obj.map"
}

# check OBJ: the version, the whole shard, its listing, and every member
# appended since the last check read alone.
declare -A CHECKED
check()
{
	local obj=$1 m src n=0 k=0
	assert_eq "${VER[$obj]}" "$(meta "$obj" version)" "$obj: version"
	rm -rf "$T/x" "$T/got.tar"
	mkdir -p "$T/x"
	"$AIS" get "ais://ap/$obj" "$T/got.tar" >/dev/null || fail "$obj: get"
	tar -tf "$T/got.tar" | norm >"$T/tar.list" || fail "$obj: tar -t"
	diff -u "$T/$obj.list" "$T/tar.list" >&2 ||
		fail "$obj: tar -t is not the old members followed by the new"
	tar -xf "$T/got.tar" -C "$T/x" || fail "$obj: tar -x"
	"$AIS" shard ls "ais://ap/$obj" >"$T/ls.got" || fail "$obj: shard ls"
	LC_ALL=C sort -u "$T/tar.list" >"$T/ls.want"
	LC_ALL=C sort "$T/ls.got" >"$T/ls.sorted"
	diff -u "$T/ls.want" "$T/ls.sorted" >&2 ||
		fail "$obj: ais shard ls differs from tar -t"
	while IFS=$'\t' read -r m src; do
		cmp -s "$T/x/$m" "$src" || fail "$obj: extracted $m differs"
		n=$((n + 1))
	done < <(tac "$T/$obj.map" | awk -F'\t' '!seen[$1]++')
	while IFS=$'\t' read -r m src; do
		"$AIS" get "ais://ap/$obj" --member "$m" "$T/m" >/dev/null ||
			fail "$obj: get --member $m"
		cmp -s "$T/m" "$src" || fail "$obj: member $m differs"
		k=$((k + 1))
	done < <(tail -n +"$((${CHECKED[$obj]:-0} + 1))" "$T/$obj.map")
	CHECKED[$obj]=$(wc -l <"$T/$obj.map")
	note "$obj: tar -t, shard ls, $n members extracted, $k read alone (version ${VER[$obj]}, ${SECONDS}s)"
}

note "GNU tar shard (10240-byte records)"
tar -cf "$T/g.tar" -C "$BASE" .
[ $(($(stat -c %s "$T/g.tar") % 10240)) -eq 0 ] || fail "g.tar is not padded"
start g.tar "$T/g.tar"
append g.tar renamed/one.bin "$SRC/one.bin" "$SRC/one.bin" --as renamed/one.bin
(cd "$SRC" && "$AIS" shard append ais://ap/g.tar tree >"$T/append.out") ||
	fail "g.tar: append of a directory tree"
grep -q "^appended 3 members to ais://ap/g.tar (now 9 members, .*, version 3)\$" \
	"$T/append.out" || fail "g.tar: tree summary: $(cat "$T/append.out")"
VER[g.tar]=3
for f in tree/a/511.bin tree/a/b/512.bin tree/c/70k.bin; do
	printf '%s\n' "$f" >>"$T/g.tar.list"
	printf '%s\t%s\n' "$f" "$SRC/$f" >>"$T/g.tar.map"
done
append g.tar "$LONGNAME" "$SRC/long.txt" "$SRC/long.txt" --as "$LONGNAME"
append g.tar empty "$SRC/empty" "$SRC/empty" --as empty
echo "from stdin" >"$T/stdin.src"
append g.tar in/stdin.txt "$T/stdin.src" - --as in/stdin.txt <"$T/stdin.src"
append g.tar big/20m.bin "$SRC/big" "$SRC/big" --as big/20m.bin
check g.tar

note "Python tarfile shard"
"$PY" - "$T/py.tar" "$BASE" <<'EOF'
import os, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    for root, dirs, files in sorted(os.walk(sys.argv[2])):
        for f in sorted(files):
            p = os.path.join(root, f)
            t.add(p, arcname=os.path.relpath(p, sys.argv[2]))
EOF
start py.tar "$T/py.tar"
append py.tar one.bin "$SRC/one.bin" "$SRC/one.bin" --as one.bin
append py.tar "$LONGNAME" "$SRC/long.txt" "$SRC/long.txt" --as "$LONGNAME"
append py.tar z/empty "$SRC/empty" "$SRC/empty" --as z/empty
check py.tar

# refused OBJ PATTERN CMD...: the command exits 1, says PATTERN, and the
# object is byte-identical (and has the same version) afterwards.
refused()
{
	local obj=$1 pat=$2 before rc=0
	shift 2
	before=$("$AIS" stat "ais://ap/$obj") || fail "stat $obj"
	"$@" >"$T/ref.out" 2>"$T/ref.err" || rc=$?
	assert_eq 1 "$rc" "exit status of: $*"
	grep -q -- "$pat" "$T/ref.err" ||
		fail "$*: expected '$pat' in: $(cat "$T/ref.err")"
	# Same size, version, checksum and mtime; and the bytes still match
	# that checksum (a whole GET verifies it).
	assert_eq "$before" "$("$AIS" stat "ais://ap/$obj")" "$obj: after a refusal"
	"$AIS" get "ais://ap/$obj" "$T/after" >/dev/null ||
		fail "$obj: get after a refusal"
	note "refused: $(head -c 160 "$T/ref.err")"
}

note "refusals"
tar -czf "$T/z.tar.gz" -C "$BASE" .
"$AIS" put "$T/z.tar.gz" ais://ap/z.tar.gz >/dev/null || fail "put z.tar.gz"
refused z.tar.gz "append works on uncompressed .tar shards; z.tar.gz is tar.gz" \
	"$AIS" shard append ais://ap/z.tar.gz "$SRC/one.bin"
"$AIS" put "$SRC/one.bin" ais://ap/plain.bin >/dev/null || fail "put plain.bin"
refused plain.bin "append works on uncompressed .tar shards; plain.bin is not a shard" \
	"$AIS" shard append ais://ap/plain.bin "$SRC/one.bin"
head -c 2600 "$T/g.tar" >"$T/trunc.tar"
"$AIS" put "$T/trunc.tar" ais://ap/trunc.tar >/dev/null || fail "put trunc.tar"
refused trunc.tar "the archive is damaged: truncated tar" \
	"$AIS" shard append ais://ap/trunc.tar "$SRC/one.bin"
refused g.tar "member 'renamed/one.bin' exists in the shard" \
	"$AIS" shard append ais://ap/g.tar "$SRC/long.txt" --as renamed/one.bin
refused g.tar "'renamed/one.bin' is a file in the shard" \
	"$AIS" shard append ais://ap/g.tar "$SRC/long.txt" --as renamed/one.bin/x
refused g.tar "it is a directory in the shard" \
	"$AIS" shard append ais://ap/g.tar "$SRC/long.txt" --as tree
rc=0
"$AIS" shard append ais://ap/nope.tar "$SRC/one.bin" 2>"$T/ref.err" || rc=$?
assert_eq 1 "$rc" "append to a missing shard"
grep -q "no such object" "$T/ref.err" || fail "missing shard: $(cat "$T/ref.err")"
# Data after the end-of-archive marker is never overwritten.
cat "$T/g.tar" "$T/py.tar" >"$T/cat.tar"
"$AIS" put "$T/cat.tar" ais://ap/cat.tar >/dev/null || fail "put cat.tar"
refused cat.tar "data after its end-of-archive marker" \
	"$AIS" shard append ais://ap/cat.tar "$SRC/one.bin"

note "--force appends a second copy; the last one wins"
echo "second copy" >"$T/second"
append g.tar renamed/one.bin "$T/second" "$T/second" --as renamed/one.bin --force
check g.tar

# owner OBJ: the index of the node that holds ais://ap/OBJ.
owner()
{
	local f
	f=$(find "$AIS_CLUSTER_DIR" -path "*/mp*/ap/$1" -type f | head -n 1)
	[ -n "$f" ] || fail "no node holds $1"
	f=${f#"$AIS_CLUSTER_DIR/node"}
	printf '%s\n' "${f%%/*}"
}

# The crash hook at each step: the owner dies in the middle of the append;
# after a restart the shard is byte-identical to before and serves.
for step in append-data append-meta; do
	note "crash at $step"
	n=$(owner g.tar)
	"$AIS" get ais://ap/g.tar "$T/before" >/dev/null || fail "get g.tar"
	v=$(meta g.tar version)
	ais_node_kill "$n"
	AISD_TEST_CRASH_AT=$step ais_node_restart
	pid=$(ais_node_pid "$n")
	rc=0
	"$AIS" shard append ais://ap/g.tar "$SRC/one.bin" --as crash/one.bin \
		>/dev/null 2>"$T/crash.err" || rc=$?
	[ "$rc" -ne 0 ] || fail "$step: the append succeeded on a crashing node"
	for ((i = 0; i < 150; i++)); do
		_ais_alive "$pid" || break
		sleep 0.1
	done
	_ais_alive "$pid" && fail "$step: node $n did not exit at the hook"
	grep -q "AISD_TEST_CRASH_AT=$step" "$(ais_node_dir "$n")/aisd.log" ||
		fail "$step: the hook did not fire"
	ais_node_restart
	if [ "$step" != append-journal ]; then
		grep -q "rolled back an interrupted shard append" \
			"$(ais_node_dir "$n")/aisd.log" ||
			fail "$step: no roll-back logged"
	fi
	"$AIS" get ais://ap/g.tar "$T/after" >/dev/null || fail "$step: get"
	cmp -s "$T/before" "$T/after" ||
		fail "$step: shard differs from before the interrupted append"
	assert_eq "$v" "$(meta g.tar version)" "$step: version after roll-back"
	tar -tf "$T/after" | norm | grep -q '^crash/' &&
		fail "$step: tar -t lists the interrupted member"
	"$AIS" shard ls ais://ap/g.tar >"$T/ls.got" || fail "$step: shard ls"
	LC_ALL=C sort "$T/ls.got" | diff -u "$T/ls.want" - >&2 ||
		fail "$step: shard ls changed"
done
append g.tar crash/one.bin "$SRC/one.bin" "$SRC/one.bin" --as crash/one.bin
check g.tar

note "20 appends in a row, old members read alongside"
start r.tar "$T/g.tar"
stop=$T/readers.stop
(
	while [ ! -e "$stop" ]; do
		"$AIS" get ais://ap/r.tar --member x/3000.bin "$T/r.m" >/dev/null &&
			cmp -s "$T/r.m" "$BASE/x/3000.bin" ||
			{
				echo "member read failed or differs" >"$T/readers.err"
				break
			}
		n=$((${n:-0} + 1))
		echo "$n" >"$T/readers.n"
		sleep 0.1
	done
) &
readers=$!
# Whole-object GETs that overlap an append must not deliver mixed bytes:
# each one is a sound tar whose listing starts like the final one, or fails
# with the checksum mismatch.
(
	ok=0 mism=0
	while [ ! -e "$stop" ]; do
		if "$AIS" get ais://ap/r.tar "$T/w.tar" >/dev/null 2>"$T/w.err"; then
			tar -tf "$T/w.tar" >"$T/w.list" 2>/dev/null || {
				echo "whole GET returned a broken tar" >"$T/whole.err"
				break
			}
			ok=$((ok + 1))
		elif grep -q "checksum mismatch" "$T/w.err"; then
			mism=$((mism + 1))
		else
			echo "whole GET: $(cat "$T/w.err")" >"$T/whole.err"
			break
		fi
		echo "$ok sound, $mism checksum mismatches" >"$T/whole.n"
		sleep 0.1
	done
) &
whole=$!
stop_readers()
{
	touch "$stop"
	wait "$readers" "$whole" 2>/dev/null || true
}
ais_cleanup stop_readers
for i in $(seq 1 20); do
	head -c $((i * 700)) /dev/urandom >"$T/r$i"
	append r.tar "r/$i.bin" "$T/r$i" "$T/r$i" --as "r/$i.bin"
done
touch "$stop"
wait "$readers" "$whole" || true
[ ! -e "$T/readers.err" ] || fail "$(cat "$T/readers.err")"
[ ! -e "$T/whole.err" ] || fail "$(cat "$T/whole.err")"
note "$(cat "$T/readers.n" 2>/dev/null || echo 0) member reads of an old member during the appends"
note "whole GETs during the appends: $(cat "$T/whole.n" 2>/dev/null || echo none)"
assert_eq 21 "${VER[r.tar]}" "r.tar: version after 20 appends"
check r.tar

# A whole-object GET in the middle of an append (held open by the test
# hook) finds the shard's blocks changed under its metadata: it waits for
# the append (the object's lock) and returns the new shard whole; a member
# read of an old member (its blocks unchanged) and the append succeed.
note "whole GET overlapping an append"
n=$(owner r.tar)
ais_node_kill "$n"
AISD_TEST_CRASH_AT=append-pause ais_node_restart
"$AIS" get ais://ap/r.tar "$T/pre.tar" >/dev/null || fail "get r.tar"
head -c 5000 /dev/urandom >"$T/late"
"$AIS" shard append ais://ap/r.tar "$T/late" --as late.bin >"$T/late.out" 2>&1 &
appender=$!
ais_wait_for 20 grep -q "append-pause: pausing" "$(ais_node_dir "$n")/aisd.log"
"$AIS" get ais://ap/r.tar "$T/mid.tar" >/dev/null 2>"$T/mid.err" &
midget=$!
"$AIS" get ais://ap/r.tar --member x/3000.bin "$T/m" >/dev/null &&
	cmp -s "$T/m" "$BASE/x/3000.bin" || fail "member read during an append"
wait "$appender" || fail "append with the pause hook: $(cat "$T/late.out")"
wait "$midget" || fail "whole GET during an append: $(cat "$T/mid.err")"
"$AIS" get ais://ap/r.tar "$T/post.tar" >/dev/null || fail "get r.tar after"
cmp -s "$T/mid.tar" "$T/post.tar" ||
	fail "the GET during the append did not return the appended shard"
VER[r.tar]=22
printf 'late.bin\n' >>"$T/r.tar.list"
printf 'late.bin\t%s\n' "$T/late" >>"$T/r.tar.map"
check r.tar

# Through an aisfs mount (when FUSE is usable here): after an append the
# new member shows up in the shard's directory and reads byte-equal.
if [ -n "${AISFS:-}" ] && [ -c /dev/fuse ] && [ -r /dev/fuse ] &&
	[ -w /dev/fuse ]; then
	note "aisfs sees the appended member"
	fuse_mount mnt -o attr_timeout=0.2,entry_timeout=0.2
	S=$MNT/ap/r.tar.d
	cmp -s "$S/late.bin" "$T/late" || fail "aisfs: late.bin differs"
	[ ! -e "$S/fuse/new.bin" ] || fail "aisfs: fuse/new.bin exists early"
	head -c 9000 /dev/urandom >"$T/viafuse"
	"$AIS" shard append ais://ap/r.tar "$T/viafuse" --as fuse/new.bin -q ||
		fail "append for the mount"
	ais_wait_for 10 test -f "$S/fuse/new.bin"
	cmp -s "$S/fuse/new.bin" "$T/viafuse" || fail "aisfs: fuse/new.bin differs"
	ls "$S" | grep -qx late.bin || fail "aisfs: ls of the shard lost late.bin"
	cmp -s "$S/x/3000.bin" "$BASE/x/3000.bin" || fail "aisfs: an old member differs"
elif [ "${AIS_TEST_REQUIRE_FUSE:-}" = 1 ]; then
	fail "FUSE is required (AIS_TEST_REQUIRE_FUSE=1) but cannot be used here"
else
	note "no usable FUSE here: the aisfs part is skipped"
fi

# The nodes are still serving.
"$AIS" get ais://ap/plain.bin "$T/p" >/dev/null && cmp -s "$T/p" "$SRC/one.bin" ||
	fail "plain.bin after everything"
