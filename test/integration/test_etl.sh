#!/usr/bin/env bash
# Transforms (ais etl, filter mode) on a real 3-node cluster: registered
# cluster-wide and kept across a restart; only programs under etl_dir;
# inline GETs through a link to gzip and through a script with arguments
# and an environment, byte-exact for objects on every node; and the bad
# ones: a program that fails, crashes, hangs or writes without end gets
# a clear error naming the transform and the object, is killed with its
# whole process group, and the node goes on serving. A corrupt copy is
# never fed to a transform.
. "$(dirname "$0")/lib.sh"
ais_test_init etl

# Programs under etl_dir, reachable by the unprivileged user they run as.
chmod 755 "$T"
E=$T/etl
mkdir -m 755 "$E"
ln -s "$(command -v gzip)" "$E/gzip"
cat >"$E/upper.sh" <<'EOF'
#!/bin/sh
# Upper-cases its input; with arguments (AIS_ETL_ARGS) misbehaves.
case "$AIS_ETL_ARGS" in
fail) echo "first line" >&2; echo "cannot do $AIS_BUCKET/$AIS_OBJECT" >&2; exit 3 ;;
crash) kill -SEGV $$ ;;
hang) sleep 3017 & sleep 3017 ;;
flood) exec yes flood ;;
env) echo "$GREETING $AIS_ETL_NAME $AIS_OBJECT $(id -un) core=$(ulimit -c)"; exit 0 ;;
esac
tr a-z A-Z
EOF
chmod 755 "$E/upper.sh"
cat >"$T/aisd.conf" <<EOF
etl_output_max = 8388608
EOF
AIS_CLUSTER_NODES=3
timeout 90 "$AIS" local up --dir "$AIS_CLUSTER_DIR" --port "$PORT" --nodes 3 --s3-port 0 \
	--etl-dir "$E" --config "$T/aisd.conf" >"$T/local-up.out" 2>&1 ||
	fail "local up --etl-dir: $(cat "$T/local-up.out")"
grep -q "^etl_dir = $E\$" "$AIS_CLUSTER_DIR/cluster.conf" ||
	fail "cluster.conf does not keep etl_dir"
export AIS_ENDPOINT=127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))

# ---- registration -----------------------------------------------------
expect_fail "not under the nodes' etl_dir" "$AIS" etl init cat --cmd /bin/cat
mkdir -m 755 "$T/etl2"
cp "$E/upper.sh" "$T/etl2/x"
expect_fail "not under the nodes' etl_dir" "$AIS" etl init up2 --cmd "$E/../etl2/x"
expect_fail "absolute path" "$AIS" etl init rel --cmd 'gzip -c'
expect_fail "transform name \".x\" starts with" "$AIS" etl init .x --cmd "$E/gzip"
echo 'not a program' >"$E/notes.txt"
expect_fail "not an executable" "$AIS" etl init notes --cmd "$E/notes.txt"
# A directory in etl_dir that links outside it does not count as in it.
ln -s "$T/etl2" "$E/sub"
expect_fail "not under the nodes' etl_dir" "$AIS" etl init sub --cmd "$E/sub/x"
# Variables that make the loader or an interpreter run other code.
for kv in LD_PRELOAD=/tmp/x.so PYTHONSTARTUP=/tmp/x.py GCONV_PATH=/tmp \
	BASH_ENV=/tmp/x PATH=/tmp AIS_OBJECT=x; do
	expect_fail "not allowed" "$AIS" etl init ev --cmd "$E/gzip" --env "$kv"
done
"$AIS" etl init gz --cmd "$E/gzip -c -n" || fail "etl init gz"
"$AIS" etl init up --cmd "'$E/upper.sh'" --timeout 2s --env GREETING=hi ||
	fail "etl init up"
expect_fail "already exists" "$AIS" etl init gz --cmd "$E/gzip -c"
"$AIS" etl ls >"$T/ls" || fail "etl ls"
grep -q "^gz  *filter  *running  *30s  $E/gzip -c -n\$" "$T/ls" ||
	fail "etl ls: $(cat "$T/ls")"
"$AIS" etl show up | grep -q "^env      GREETING=hi\$" || fail "etl show up"
expect_fail "no transform nope" "$AIS" get --etl nope "ais://b/x" -
note "registration checks pass"

# ---- inline GETs ------------------------------------------------------
"$AIS" bucket create ais://b
for i in $(seq 1 24); do
	printf 'object %d of the test, lower case\n' "$i" >"$T/o$i"
	"$AIS" put "$T/o$i" "ais://b/d/o$i" >/dev/null || fail "put o$i"
done
head -c $((3 << 20)) /dev/urandom >"$T/big"
"$AIS" put "$T/big" ais://b/big >/dev/null
for i in $(seq 1 24); do
	"$AIS" get --etl up "ais://b/d/o$i" "$T/u$i" || fail "get --etl up o$i"
	assert_eq "$(tr a-z A-Z <"$T/o$i")" "$(cat "$T/u$i")" "o$i through up"
	"$AIS" get --etl gz "ais://b/d/o$i" - | gunzip >"$T/g$i" ||
		fail "get --etl gz o$i"
	cmp -s "$T/o$i" "$T/g$i" || fail "o$i through gz and gunzip differs"
done
for n in 0 1 2; do
	held=$(find "$AIS_CLUSTER_DIR/node$n"/mp*/b/d -type f 2>/dev/null | wc -l)
	[ "$held" -gt 0 ] || fail "node $n holds none of the 24 objects"
done
"$AIS" get --etl gz ais://b/big - | gunzip | cmp -s - "$T/big" ||
	fail "3 MiB through gz and gunzip differs"
out=$("$AIS" get --etl up --etl-args env ais://b/d/o1 -) || fail "env"
want_user=$(id -un)
[ "$(id -u)" = 0 ] && want_user=nobody
assert_eq "hi up d/o1 $want_user core=0" "$out" \
	"the program's environment, user and core size limit"
note "24 objects on 3 nodes and 3 MiB came through both transforms"

# ---- bad transforms ---------------------------------------------------
expect_fail "transform up on b/d/o2: exit status 3: cannot do b/d/o2" \
	"$AIS" get --etl up --etl-args fail ais://b/d/o2 -
expect_fail "killed by signal 11" \
	"$AIS" get --etl up --etl-args crash ais://b/d/o2 -
t0=$(now_ms)
expect_fail "killed after 2000 ms" \
	"$AIS" get --etl up --etl-args hang ais://b/d/o3 -
el=$(($(now_ms) - t0))
[ "$el" -lt 8000 ] || fail "the hanging transform took $el ms to fail"
sleep 0.5
if pgrep -f "sleep 3017" >/dev/null; then
	fail "the hanging transform's processes outlived it: $(pgrep -af "sleep 3017")"
fi
expect_fail "output over 8388608 bytes" \
	"$AIS" get --etl up --etl-args flood ais://b/d/o4 -
# Every node still serves, plain and transformed.
for i in $(seq 1 24); do
	"$AIS" get "ais://b/d/o$i" - | cmp -s - "$T/o$i" || fail "plain get o$i after"
done
[ "$("$AIS" get --etl up ais://b/d/o5 -)" = "$(tr a-z A-Z <"$T/o5")" ] ||
	fail "up after the bad runs"
note "failing, crashing, hanging and flooding transforms: clear errors, nodes serve"

# ---- stop, start, a corrupt copy, a restart, rm ------------------------
"$AIS" etl stop up
expect_fail "transform up is stopped" "$AIS" get --etl up ais://b/d/o1 -
"$AIS" etl start up
"$AIS" get --etl up ais://b/d/o1 - >/dev/null || fail "up after start"

f=$(find "$AIS_CLUSTER_DIR"/node*/mp*/b/d -name o7 -type f | head -1)
flip_byte "$f" 5
expect_fail "does not match its checksum: corrupt copy" \
	"$AIS" get --etl up ais://b/d/o7 -

ais_cluster_down
timeout 90 "$AIS" local up --dir "$AIS_CLUSTER_DIR" --config "$T/aisd.conf" \
	>/dev/null || fail "local up again"
AIS_ENDPOINT=127.0.0.1:$((PORT + 2)) "$AIS" etl ls | grep -q "^up " ||
	fail "transforms lost across a restart"
[ "$("$AIS" get --etl up ais://b/d/o8 -)" = "$(tr a-z A-Z <"$T/o8")" ] ||
	fail "up after the restart (etl_dir from cluster.conf)"
"$AIS" etl rm gz
expect_fail "no transform gz" "$AIS" get --etl gz ais://b/d/o1 -
expect_fail "no transform gz" "$AIS" etl rm gz
note "stop/start, corrupt copy refused, kept across a restart, rm"
