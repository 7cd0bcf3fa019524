#!/usr/bin/env bash
# Integration: the `ais` command line against a 3-node `ais local` cluster:
# buckets, put/get of files and stdin/stdout, recursive put/get of a tree
# (nested dirs, empty files, spaces, UTF-8) compared with diff -r, ls, stat,
# rm, mv, ranges, cluster show, error exit codes and one-line messages, and
# --help on every command.
. "$(dirname "$0")/lib.sh"

ais_test_init cli

# expect_error WANT_RC|any CMD...: CMD fails with that exit code and exactly
# one line on stderr (kept in $T/err).
expect_error()
{
	local want=$1 rc=0 lines
	shift
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "succeeded but should fail: $*"
	if [ "$want" != any ] && [ "$rc" -ne "$want" ]; then
		fail "exit $rc, want $want: $* (stderr: $(cat "$T/err"))"
	fi
	lines=$(wc -l <"$T/err")
	[ "$lines" -eq 1 ] ||
		fail "want exactly one line on stderr from '$*', got $lines: $(cat "$T/err")"
	note "as expected: $* -> $rc: $(cat "$T/err")"
}

# --help works without a cluster, on every command and subcommand.
note "--help"
for cmd in "" local "local up" "local down" "local status" cluster \
	"cluster show" "cluster maintenance" "cluster maintenance start" \
	"cluster maintenance stop" "cluster decommission" "cluster remove" \
	job "job show" bucket "bucket create" "bucket ls" "bucket rm" \
	put get ls stat rm mv; do
	# shellcheck disable=SC2086
	out=$("$AIS" $cmd --help) || fail "ais $cmd --help exited non-zero"
	[ -n "$out" ] || fail "ais $cmd --help printed nothing"
	# shellcheck disable=SC2086
	"$AIS" $cmd -h >/dev/null || fail "ais $cmd -h exited non-zero"
done
"$AIS" --version >/dev/null || fail "ais --version"
expect_error 2 "$AIS" no-such-command
expect_error 2 "$AIS" get --no-such-option ais://b/x x
# Cluster changes: usage errors before any connection; remove says what
# it would do without --force.
expect_error 2 "$AIS" cluster remove 127.0.0.1:1
grep -q "objects that exist nowhere else are lost" "$T/err" ||
	fail "cluster remove without --force does not say what it does"
expect_error 2 "$AIS" cluster maintenance pause x
expect_error 2 "$AIS" cluster maintenance start
expect_error 2 "$AIS" cluster decommission a b
expect_error 2 "$AIS" cluster decommission --force x
expect_error 2 "$AIS" --endpoint "127.0.0.1:1,,x:2" bucket ls

# A cluster that is down: a bounded failure with one clear line.
note "cluster down"
start=$SECONDS
AIS_ENDPOINT=127.0.0.1:$((PORT + 9)) expect_error 1 timeout 60 "$AIS" bucket ls
[ $((SECONDS - start)) -lt 30 ] || fail "a down cluster took $((SECONDS - start)) s to report"

ais_cluster_up 3

note "cluster show"
"$AIS" cluster show >"$T/show" || fail "ais cluster show"
cat "$T/show" >&2
for i in 0 1 2; do
	grep -q "127.0.0.1:$((PORT + i))" "$T/show" ||
		fail "cluster show does not list node 127.0.0.1:$((PORT + i))"
done
grep -q "^cluster map v[0-9]" "$T/show" || fail "cluster show: no header line"
grep -q "^3 nodes (3 up)" "$T/show" || fail "cluster show: not 3 nodes up"
"$AIS" job show >"$T/jobs" || fail "ais job show"
cat "$T/jobs" >&2
[ "$(grep -c "^[0-9a-f]" "$T/jobs")" = 3 ] || fail "job show: not one line per node"
# --endpoint overrides the environment.
AIS_ENDPOINT=127.0.0.1:1 "$AIS" --endpoint "127.0.0.1:$PORT" cluster show >/dev/null ||
	fail "--endpoint is not honoured"

note "buckets"
"$AIS" bucket create ais://cli >/dev/null || fail "bucket create"
"$AIS" bucket create ais://other >/dev/null || fail "bucket create other"
expect_error 1 "$AIS" bucket create ais://cli
"$AIS" bucket ls >"$T/buckets" || fail "bucket ls"
grep -qx '.*cli.*' "$T/buckets" || fail "bucket ls does not show cli: $(cat "$T/buckets")"
grep -q other "$T/buckets" || fail "bucket ls does not show other"
"$AIS" bucket rm ais://other >/dev/null || fail "bucket rm"
"$AIS" bucket ls >"$T/buckets" || fail "bucket ls"
if grep -q other "$T/buckets"; then fail "bucket rm left the bucket"; fi
expect_error 1 "$AIS" bucket rm ais://other
expect_error any "$AIS" bucket create "ais://Bad Bucket"

note "put/get files"
mkdir -p "$T/files"
head -c 0 /dev/urandom >"$T/files/empty"
head -c 1 /dev/urandom >"$T/files/one"
head -c 4096 /dev/urandom >"$T/files/page"
head -c $((1024 * 1024 + 7)) /dev/urandom >"$T/files/mib7"
head -c $((9 * 1024 * 1024)) /dev/urandom >"$T/files/nine"
for f in empty one page mib7 nine; do
	"$AIS" put "$T/files/$f" "ais://cli/files/$f" >/dev/null 2>&1 || fail "put $f"
	"$AIS" get "ais://cli/files/$f" "$T/files/$f.out" >/dev/null 2>&1 || fail "get $f"
	cmp "$T/files/$f" "$T/files/$f.out" || fail "get $f: bytes differ"
done

note "stdin/stdout"
"$AIS" put - ais://cli/stdin/file <"$T/files/mib7" >/dev/null 2>&1 || fail "put - < file"
"$AIS" get ais://cli/stdin/file - >"$T/stdout.out" 2>/dev/null || fail "get -"
cmp "$T/files/mib7" "$T/stdout.out" || fail "put -/get -: bytes differ"
# From a pipe (not seekable, size unknown up front).
head -c 3000001 /dev/urandom | tee "$T/piped.src" |
	"$AIS" put - ais://cli/stdin/piped >/dev/null 2>&1 || fail "put - from a pipe"
"$AIS" get ais://cli/stdin/piped - 2>/dev/null | cmp - "$T/piped.src" ||
	fail "piped object differs"
printf '' | "$AIS" put - ais://cli/stdin/empty >/dev/null 2>&1 || fail "put - of nothing"
assert_eq 0 "$("$AIS" get ais://cli/stdin/empty - | wc -c)" "empty object from stdin"

note "ranges"
"$AIS" get ais://cli/files/mib7 "$T/range.out" --offset 1000 --length 5000 \
	>/dev/null 2>&1 || fail "get --offset --length"
dd if="$T/files/mib7" of="$T/range.ref" bs=1 skip=1000 count=5000 status=none
cmp "$T/range.ref" "$T/range.out" || fail "range bytes differ"
"$AIS" get ais://cli/files/mib7 - --offset $((1024 * 1024)) 2>/dev/null >"$T/tail.out" ||
	fail "get --offset to the end"
assert_eq 7 "$(wc -c <"$T/tail.out")" "bytes from offset 1 MiB to the end"
cmp <(tail -c 7 "$T/files/mib7") "$T/tail.out" || fail "tail range differs"

note "stat and versions"
"$AIS" stat ais://cli/files/mib7 >"$T/stat" || fail "stat"
cat "$T/stat" >&2
grep -q 1048583 "$T/stat" || fail "stat does not show the size in bytes"
sum=$(xxhsum -H3 <"$T/files/mib7" | awk '{print $NF}')
[ -z "$sum" ] || grep -q "$sum" "$T/stat" || fail "stat does not show the checksum $sum"
"$AIS" put "$T/files/page" ais://cli/files/mib7 >/dev/null 2>&1 || fail "overwrite"
"$AIS" stat ais://cli/files/mib7 >"$T/stat2" || fail "stat after overwrite"
grep -qiE 'version[^0-9]*2' "$T/stat2" || fail "version did not become 2: $(cat "$T/stat2")"
grep -q 4096 "$T/stat2" || fail "stat after overwrite does not show 4096"

note "put -r / get -r"
src=$T/tree
mkdir -p "$src/a/b/c" "$src/with space/sub dir" "$src/ünïcödé/日本語" "$src/many"
head -c 12345 /dev/urandom >"$src/a/b/c/deep.bin"
: >"$src/empty file"
: >"$src/a/b/empty"
head -c 2500000 /dev/urandom >"$src/top.bin"
echo "hello" >"$src/with space/sub dir/file one.txt"
echo "ça va" >"$src/ünïcödé/日本語/テスト.txt"
for i in $(seq -w 1 60); do
	head -c $((10#$i * 37)) /dev/urandom >"$src/many/f$i"
done
nfiles=$(find "$src" -type f | wc -l)
"$AIS" put -r "$src" ais://cli/tree >"$T/putr.out" 2>&1 || {
	cat "$T/putr.out" >&2
	fail "put -r"
}
"$AIS" get -r ais://cli/tree "$T/tree.out" >"$T/getr.out" 2>&1 || {
	cat "$T/getr.out" >&2
	fail "get -r"
}
diff -r "$src" "$T/tree.out" || fail "get -r tree differs from the source"

# Many PUTs at once, on every node: the "is it a directory elsewhere?"
# probes are batched per node; each name still gets its own answer.
note "name conflicts, 64 PUTs at once"
cf=$T/cf
mkdir -p "$cf/dirs" "$cf/files"
for i in $(seq 1 150); do
	mkdir "$cf/dirs/d$i"
	echo "child $i" >"$cf/dirs/d$i/child"
	echo "file $i" >"$cf/files/d$i"
	echo "new $i" >"$cf/files/new$i"
done
"$AIS" put -r -j 64 "$cf/dirs" ais://cli/cf >"$T/cf1.out" 2>&1 || {
	cat "$T/cf1.out" >&2
	fail "put -r of the directories"
}
rc=0
"$AIS" put -r -j 64 "$cf/files" ais://cli/cf >"$T/cf2.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "put -r over 150 directories succeeded"
assert_eq 150 "$(grep -c 'is a directory' "$T/cf2.out")" \
	"PUTs refused as directories"
"$AIS" get -r ais://cli/cf "$T/cf.out" >/dev/null 2>&1 || fail "get -r of cf"
for i in $(seq 1 150); do
	cmp -s "$cf/dirs/d$i/child" "$T/cf.out/d$i/child" ||
		fail "d$i/child lost or changed by the refused PUT of d$i"
	cmp -s "$cf/files/new$i" "$T/cf.out/new$i" || fail "new$i not stored"
done

note "ls"
"$AIS" ls ais://cli/tree/ >"$T/ls" || fail "ls"
cat "$T/ls" >&2
for e in "a/" "many/" "with space/" "top.bin" "empty file" "ünïcödé/"; do
	grep -qF "$e" "$T/ls" || fail "ls does not show '$e'"
done
assert_eq 1 "$(grep -cF 'many/' "$T/ls")" "many/ listed once"
if grep -q 'many/f' "$T/ls"; then fail "ls without -r descended into many/"; fi
"$AIS" ls -r ais://cli/tree/ >"$T/lsr" || fail "ls -r"
assert_eq 60 "$(grep -c 'many/f' "$T/lsr")" "ls -r entries under many/"
grep -qF "テスト.txt" "$T/lsr" || fail "ls -r lost a UTF-8 name"
while IFS= read -r f; do
	grep -qF "${f#"$src"/}" "$T/lsr" || fail "ls -r does not list ${f#"$src"/}"
done < <(find "$src" -type f)
note "$nfiles files listed"

note "mv and rm"
"$AIS" mv ais://cli/files/one ais://cli/files/one.moved >/dev/null 2>&1 || fail "mv"
"$AIS" get ais://cli/files/one.moved "$T/moved.out" >/dev/null 2>&1 || fail "get moved"
cmp "$T/files/one" "$T/moved.out" || fail "moved object differs"
expect_error 1 "$AIS" stat ais://cli/files/one
"$AIS" rm ais://cli/files/page >/dev/null 2>&1 || fail "rm"
expect_error 1 "$AIS" stat ais://cli/files/page
"$AIS" rm -r ais://cli/tree/many/ >/dev/null 2>&1 || fail "rm -r prefix"
"$AIS" ls -r ais://cli/tree/ >"$T/lsr2" || fail "ls -r after rm -r"
assert_eq 0 "$(grep -c 'many/f' "$T/lsr2")" "objects under many/ after rm -r"
grep -qF "top.bin" "$T/lsr2" || fail "rm -r removed more than its prefix"

note "errors"
expect_error 1 "$AIS" get ais://cli/no/such/object "$T/x.out"
grep -qi "no such\|not exist\|not found" "$T/err" || fail "missing object message is unclear: $(cat "$T/err")"
[ ! -s "$T/x.out" ] || fail "a failed get left data in its output file"
expect_error 1 "$AIS" get ais://nobucket/x -
expect_error 1 "$AIS" stat ais://cli/nothing
expect_error 1 "$AIS" rm ais://cli/nothing
expect_error any "$AIS" get "ais://bad bucket/x" -
expect_error any "$AIS" get "ais://cli/../etc/passwd" -
expect_error any "$AIS" put "$T/no-such-file" ais://cli/x
expect_error any "$AIS" get ais://cli
expect_error 2 "$AIS" put

note "a node killed and restarted"
ais_node_kill 1
ais_node_restart
"$AIS" get "ais://cli/files/nine" "$T/nine.after" >/dev/null 2>&1 || fail "get after restart"
cmp "$T/files/nine" "$T/nine.after" || fail "object differs after a node restart"
"$AIS" get -r ais://cli/tree "$T/tree2.out" >/dev/null 2>&1 || fail "get -r after restart"
diff -r "$src/a" "$T/tree2.out/a" || fail "tree differs after a node restart"

note "local status / down"
"$AIS" local status --dir "$T/cluster" >&2 || fail "ais local status"
ais_cluster_down
for i in 0 1 2; do
	if [ -f "$T/cluster/node$i/aisd.pid" ]; then
		pid=$(cat "$T/cluster/node$i/aisd.pid")
		if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status"; then
			fail "node $i still running after ais local down"
		fi
	fi
done
expect_error 1 timeout 60 "$AIS" stat ais://cli/files/nine
