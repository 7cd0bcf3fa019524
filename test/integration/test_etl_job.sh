#!/usr/bin/env bash
# Offline transforms (ais etl bucket) on a real 3-node cluster: every node
# transforms the objects it holds and PUTs each output to its owner in the
# destination; outputs byte-exact, renamed by --ext, only under the
# prefix; --dry-run writes nothing; a failing object stops the job on
# every node (exit 1) or, with --continue-on-error, is listed by ais etl
# errors while every other output lands; nothing of a failed object lands;
# a node killed in the middle restarts, skips what it had written, and
# the job completes with every output right; ais job stop and rm.
. "$(dirname "$0")/lib.sh"
ais_test_init etl_job

ais_etl_cluster_up
cp "$AIS_SRC_DIR/etl/hash.py" "$E/"
cat >"$E/slow.py" <<'EOF'
import time


def transform(data, name, args):
    if args:
        time.sleep(float(args))
    if "bad" in name:
        raise ValueError(f"{name} is bad")
    return data[::-1]
EOF
for b in src dst dry stop cont restart stopme; do
	"$AIS" bucket create "ais://$b" >/dev/null || fail "bucket create $b"
done
mkdir -p "$T/src/in" "$T/src/other"
for i in $(seq 1 200); do
	head -c $((i * 37)) /dev/urandom >"$T/src/in/o$i.bin"
done
echo "not a .bin" >"$T/src/in/skip.txt"
echo "outside the prefix" >"$T/src/other/x.bin"
"$AIS" put -r -q "$T/src" ais://src || fail "put -r"
"$AIS" etl init hash --mode worker --cmd "ais-etl-python $E/hash.py"
"$AIS" etl init slow --mode worker --workers 2 --timeout 10s \
	--cmd "ais-etl-python $E/slow.py"

count() { "$AIS" ls -r "$1" | grep -c . || true; }
reversed_ok()
{
	python3 - "$@" <<'EOF'
import subprocess, sys
ais, bucket, src = sys.argv[1:4]
for name in sys.argv[4:]:
    got = subprocess.run([ais, "get", f"ais://{bucket}/in/{name}", "-"],
                         capture_output=True, check=True).stdout
    want = open(f"{src}/in/{name}", "rb").read()[::-1]
    if got != want:
        sys.exit(f"{bucket}/in/{name}: not the reversed source")
EOF
}

note "a whole prefix, renamed by --ext, on every node"
"$AIS" etl bucket hash ais://src/in/ ais://dst --ext bin:md5 --etl-args md5 \
	>"$T/out" 2>&1 || fail "etl bucket hash: $(cat "$T/out")"
grep -q "200 transformed" "$T/out" || fail "etl bucket hash: $(cat "$T/out")"
assert_eq 200 "$(count ais://dst)" "objects in dst"
for i in $(seq 1 200); do
	assert_eq "$(md5sum <"$T/src/in/o$i.bin" | cut -d' ' -f1)" \
		"$("$AIS" get "ais://dst/in/o$i.md5" -)" "dst/in/o$i.md5"
done
"$AIS" job show >"$T/show"
n=$(awk '$1 ~ /^etl-/ && $4 + 0 > 0' "$T/show" | wc -l)
[ "$n" -eq 3 ] || fail "not every node transformed: $(cat "$T/show")"

note "--dry-run writes nothing"
"$AIS" etl bucket hash ais://src/in/ ais://dry --dry-run -q >"$T/out" 2>&1 ||
	fail "dry run: $(cat "$T/out")"
grep -q "201 transformed" "$T/out" || fail "dry run: $(cat "$T/out")"
assert_eq 0 "$(count ais://dry)" "objects in dry"

note "a failing object stops the job everywhere"
echo "bad" >"$T/bad7.bin"
"$AIS" put "$T/bad7.bin" ais://src/in/bad7.bin >/dev/null
if "$AIS" etl bucket slow ais://src/in/ ais://stop --ext bin:bin \
	>"$T/out" 2>&1; then
	fail "a job with a failing object succeeded"
fi
grep -q "in/bad7.bin is bad" "$T/out" || fail "stop: $(cat "$T/out")"
"$AIS" get ais://stop/in/bad7.bin - >/dev/null 2>&1 &&
	fail "a failed object's output landed"

note "--continue-on-error: every other output lands, ais etl errors lists it"
if "$AIS" etl bucket slow ais://src/in/ ais://cont --ext bin:bin \
	--continue-on-error -q >"$T/out" 2>&1; then
	fail "a job with a failure exited 0"
fi
grep -q "200 transformed.* 1 failed of 201" "$T/out" || fail "cont: $(cat "$T/out")"
assert_eq 200 "$(count ais://cont)" "objects in cont"
reversed_ok "$AIS" cont "$T/src" o1.bin o77.bin o200.bin ||
	fail "outputs of slow"
"$AIS" etl errors slow >"$T/errors" || fail "etl errors"
grep -q "ais://src/in/bad7.bin  etl-[0-9a-f]*  .*ValueError: in/bad7.bin is bad" \
	"$T/errors" || fail "etl errors: $(cat "$T/errors")"

note "a node killed in the middle: the job completes"
"$AIS" rm ais://src/in/bad7.bin >/dev/null
"$AIS" etl bucket slow ais://src/in/ ais://restart --ext bin:bin \
	--etl-args 0.05 -q >"$T/restart.out" 2>&1 &
job_pid=$!
# Once every node is under way (the job runs about 2 s a node).
ais_wait_for 30 sh -c "[ \$('$AIS' job show | grep ' running ' | awk '\$4 + 0 >= 4' | wc -l) -eq 3 ]"
ais_node_kill 1
sleep 1
ais_node_restart
wait "$job_pid" || fail "the job after a restart: $(cat "$T/restart.out")"
assert_eq 200 "$(count ais://restart)" "objects in restart"
list=$(seq 1 200 | sed 's/^/o/; s/$/.bin/')
# shellcheck disable=SC2086 # one argument per name
reversed_ok "$AIS" restart "$T/src" $list || fail "outputs after the restart"
"$AIS" job show >"$T/show"
id=$(sed -n 's/^etl job \(etl-[0-9a-f]*\):.*/\1/p' "$T/restart.out")
awk -v id="$id" '$1 == id && $5 + 0 > 0' "$T/show" | grep -q . ||
	fail "the restarted node skipped nothing: $(cat "$T/show")"

note "ais job stop and rm"
id=$("$AIS" etl bucket slow ais://src/in/ ais://stopme --etl-args 0.05 --async) ||
	fail "--async"
case "$id" in etl-*) ;; *) fail "--async printed '$id'" ;; esac
"$AIS" job stop "$id" || fail "job stop"
ais_wait_for 20 sh -c "'$AIS' job show | grep '^$id ' | grep -Eq ' (running|waiting) ' && exit 1 || exit 0"
"$AIS" job rm "$id" || fail "job rm"
ais_wait_for 10 sh -c "! '$AIS' job show | grep -q '$id'"
expect_out=$("$AIS" job stop "$id" 2>&1) && fail "stop of a removed job succeeded"
case "$expect_out" in *"no job"*) ;; *) fail "job stop: $expect_out" ;; esac
