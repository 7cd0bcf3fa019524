#!/usr/bin/env bash
# Transforms in worker mode (ais-etl(7)) on a real 3-node cluster: the
# shipped C example and Python host, workers started on every node and
# again after a restart, byte-exact outputs of every size (in memory and
# spooled) under parallel readers, shard members (plain and compressed
# shards) through workers and filters; and every bad worker: one that
# raises, crashes, hangs, writes garbage or more than its answer, answers
# before it read the object, exits, or promises an output over
# etl_output_max. Each fails its object with a clear error naming the
# transform and the object, is replaced (no process left behind), and the
# next object through it succeeds.
. "$(dirname "$0")/lib.sh"
ais_test_init etl_worker

cat >"$T/aisd.conf" <<EOF
etl_output_max = 8388608
EOF
ais_etl_cluster_up "$T/aisd.conf"
# The shipped transforms, as an administrator would put them there.
cp "$AIS_BUILD_DIR/etl/identity" "$AIS_SRC_DIR/etl/hash.py" "$E/"
ln -s "$(command -v cat)" "$E/cat"
cat >"$E/bad.py" <<'EOF'
import os
import signal
import time


def transform(data, name, args):
    if args == "raise":
        raise ValueError(f"cannot read {name}")
    if args == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if args == "hang":
        time.sleep(300)
    if args == "big":
        return b"x" * (9 << 20)
    if args == "print":
        print("chatter on stdout must not reach the protocol")
    if args == "str":
        return "not bytes"
    return data.upper()
EOF
cat >"$E/syntax.py" <<'EOF'
def transform(data, name, args)
    return data
EOF
# A worker speaking the protocol itself, wrongly when asked to.
cat >"$E/rogue" <<'EOF'
#!/usr/bin/python3
import os
import struct
import sys
import time


def rd(n):
    b = b""
    while len(b) < n:
        c = os.read(0, n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b


while True:
    magic, bl, nl, al, size = struct.unpack("<4sIIIQ", rd(24))
    meta = rd(bl + nl + al) if bl + nl + al else b""
    name = meta[bl:bl + nl].decode()
    args = meta[bl + nl:].decode()
    if args == "early":
        os.write(1, struct.pack("<4sIQ", b"AISA", 0, 2) + b"ok")
        time.sleep(60)
    data = rd(size) if size else b""
    if args == "garbage":
        os.write(1, b"HTTP/1.1 200 OK\r\n\r\n")
        time.sleep(60)
    elif args == "extra":
        os.write(1, struct.pack("<4sIQ", b"AISA", 0, len(data)) + data + b"junk")
    elif args == "huge":
        os.write(1, struct.pack("<4sIQ", b"AISA", 0, 1 << 40))
        time.sleep(60)
    elif args == "exit":
        sys.stderr.write(f"rogue: giving up on {name}\n")
        sys.exit(4)
    else:
        os.write(1, struct.pack("<4sIQ", b"AISA", 0, len(data)) + data)
EOF
chmod 755 "$E/rogue"


# workers PATH: how many worker processes of the program or script PATH
# run, on all nodes (their command lines name it); workers_are PATH N.
workers()
{
	local n
	n=$(pgrep -fc -- "$1") || true
	echo "${n:-0}"
}
workers_are()
{
	[ "$(workers "$1")" -eq "$2" ]
}
export LC_ALL=C

# ---- registration -----------------------------------------------------
expect_fail "needs the absolute path of a script" \
	"$AIS" etl init h0 --mode worker --cmd ais-etl-python
expect_fail "not under the nodes' etl_dir" \
	"$AIS" etl init h1 --mode worker --cmd "ais-etl-python $T/elsewhere.py"
expect_fail "--workers is for --mode worker" \
	"$AIS" etl init h2 --workers 3 --cmd "$E/identity"
expect_fail "--workers takes 1 to 64" \
	"$AIS" etl init h3 --mode worker --workers 65 --cmd "$E/identity"
"$AIS" etl init same --mode worker --workers 3 --cmd "$E/identity" ||
	fail "etl init same"
"$AIS" etl init hash --mode worker --cmd "ais-etl-python $E/hash.py" ||
	fail "etl init hash"
"$AIS" etl init bad --mode worker --workers 1 --timeout 2s \
	--cmd "ais-etl-python $E/bad.py" || fail "etl init bad"
"$AIS" etl init rogue --mode worker --workers 1 --timeout 2s \
	--cmd "$E/rogue" || fail "etl init rogue"
"$AIS" etl init syntax --mode worker --workers 1 \
	--cmd "ais-etl-python $E/syntax.py" || fail "etl init syntax"
"$AIS" etl init upf --cmd "$E/cat" || fail "etl init upf"
"$AIS" etl show same | grep -q "^workers  3 a node\$" || fail "etl show same"
# Every node starts its workers when the transform is registered.
ais_wait_for 20 workers_are "$E/identity" 9
note "registered; 3 workers of same run on each of the 3 nodes"

# ---- outputs --------------------------------------------------------------
"$AIS" bucket create ais://b
for i in $(seq 1 30); do
	gen_bytes $((i * 997)) "$T/o$i"
	"$AIS" put "$T/o$i" "ais://b/d/o$i" >/dev/null || fail "put o$i"
done
gen_bytes $((3 << 20)) "$T/big"
gen_bytes $((256 << 10)) "$T/edge"
printf '' >"$T/empty"
for f in big edge empty; do
	"$AIS" put "$T/$f" "ais://b/$f" >/dev/null || fail "put $f"
done
for f in big edge empty; do
	"$AIS" get --etl same "ais://b/$f" - | cmp -s - "$T/$f" ||
		fail "$f through same differs"
	assert_eq "$(sha256sum <"$T/$f" | cut -d' ' -f1)" \
		"$("$AIS" get --etl hash "ais://b/$f" -)" "sha256 of $f"
done
assert_eq "$(head -c 100 "$T/big" | md5sum | cut -d' ' -f1)" \
	"$("$AIS" get --etl same --etl-args 100 ais://b/big - | md5sum | cut -d' ' -f1)" \
	"the first 100 bytes (args)"
# 12 readers at once, 360 GETs through 3 transforms: nothing fails, every
# byte right (a node past its running transforms is asked again).
seq 1 360 | xargs -P 12 -I{} sh -c '
	i=$(( ({} % 30) + 1 ))
	case $(( {} % 3 )) in
	0) "$1" get --etl same "ais://b/d/o$i" - | cmp -s - "$2/o$i" ;;
	1) [ "$("$1" get --etl hash --etl-args md5 "ais://b/d/o$i" -)" = \
	     "$(md5sum <"$2/o$i" | cut -d" " -f1)" ] ;;
	2) "$1" get --etl rogue "ais://b/d/o$i" - | cmp -s - "$2/o$i" ;;
	esac || { echo "GET {} of o$i failed" >&2; exit 255; }' _ "$AIS" "$T" ||
	fail "parallel GETs through workers"
note "outputs of 0 B, 256 KiB, 3 MiB and 30 sizes byte-exact; 360 parallel GETs"

# ---- shard members --------------------------------------------------------
mkdir -p "$T/src/a"
cp "$T/o3" "$T/src/a/x.bin"
cp "$T/big" "$T/src/a/big.bin"
tar -cf "$T/s.tar" -C "$T/src" .
tar -czf "$T/s.tgz" -C "$T/src" .
for s in s.tar s.tgz; do
	"$AIS" put "$T/$s" "ais://b/$s" >/dev/null || fail "put $s"
	for m in a/x.bin a/big.bin; do
		"$AIS" get --etl same "ais://b/$s" --member "$m" - |
			cmp -s - "$T/src/$m" || fail "$s member $m through same"
		"$AIS" get --etl upf "ais://b/$s" --member "$m" - |
			cmp -s - "$T/src/$m" || fail "$s member $m through a filter"
		assert_eq "$(md5sum <"$T/src/$m" | cut -d' ' -f1)" \
			"$("$AIS" get --etl hash --etl-args md5 "ais://b/$s" --member "$m" -)" \
			"$s member $m through hash"
	done
	expect_fail "is a directory" "$AIS" get --etl same "ais://b/$s" --member a -
	expect_fail "has no member" "$AIS" get --etl same "ais://b/$s" --member nope -
done
note "members of a tar and a tar.gz through workers and a filter"

# ---- bad workers ------------------------------------------------------------
after()
{
	# The transform still serves (its worker replaced if it had to be).
	"$AIS" get --etl "$1" ais://b/d/o1 - | cmp -s - "$2" ||
		fail "$1 after $3: the next object failed"
}
tr a-z A-Z <"$T/o1" >"$T/o1.up"
expect_fail "transform bad on b/d/o2: ValueError: cannot read d/o2" \
	"$AIS" get --etl bad --etl-args raise ais://b/d/o2 -
after bad "$T/o1.up" raise
expect_fail "its worker exited (killed by signal 11" \
	"$AIS" get --etl bad --etl-args crash ais://b/d/o2 -
after bad "$T/o1.up" crash
t0=$(now_ms)
expect_fail "killed after 2000 ms (its timeout)" \
	"$AIS" get --etl bad --etl-args hang ais://b/d/o3 -
el=$(($(now_ms) - t0))
[ "$el" -lt 8000 ] || fail "the hanging worker took $el ms to fail"
after bad "$T/o1.up" hang
expect_fail "output over etl_output_max" \
	"$AIS" get --etl bad --etl-args big ais://b/d/o2 -
after bad "$T/o1.up" big
"$AIS" get --etl bad --etl-args print ais://b/d/o1 - | cmp -s - "$T/o1.up" ||
	fail "a transform that prints broke the protocol"
expect_fail "TypeError: transform() returned str" \
	"$AIS" get --etl bad --etl-args str ais://b/d/o2 -
expect_fail "broke the protocol (an answer starting \"HTTP/1.1\"" \
	"$AIS" get --etl rogue --etl-args garbage ais://b/d/o2 -
after rogue "$T/o1" garbage
expect_fail "wrote more than its answer" \
	"$AIS" get --etl rogue --etl-args extra ais://b/d/o2 -
after rogue "$T/o1" extra
expect_fail "answered before it read the whole object" \
	"$AIS" get --etl rogue --etl-args early ais://b/big -
after rogue "$T/o1" early
expect_fail "output over etl_output_max" \
	"$AIS" get --etl rogue --etl-args huge ais://b/d/o2 -
after rogue "$T/o1" huge
expect_fail "its worker exited (exit status 4): rogue: giving up on d/o2" \
	"$AIS" get --etl rogue --etl-args exit ais://b/d/o2 -
after rogue "$T/o1" exit
expect_fail "SyntaxError" "$AIS" get --etl syntax ais://b/d/o1 -
# Replaced workers leave nothing behind: one each of bad and rogue a node.
sleep 0.5
[ "$(workers "$E/bad.py")" -eq 3 ] ||
	fail "workers of bad: $(pgrep -af -- "$E/bad.py")"
[ "$(workers "$E/rogue")" -eq 3 ] ||
	fail "workers of rogue: $(pgrep -af -- "$E/rogue")"
for i in $(seq 1 30); do
	"$AIS" get "ais://b/d/o$i" - | cmp -s - "$T/o$i" || fail "plain get o$i after"
done
note "raising, crashing, hanging, flooding, garbage, extra, early, exiting workers: clear errors, replaced"

# ---- stop, restart, rm --------------------------------------------------------
"$AIS" etl stop same
ais_wait_for 10 workers_are "$E/identity" 0
expect_fail "transform same is stopped" "$AIS" get --etl same ais://b/d/o1 -
"$AIS" etl start same
ais_wait_for 10 workers_are "$E/identity" 9
ais_cluster_down
[ "$(workers "$E/identity")" -eq 0 ] || fail "workers outlived their nodes"
timeout 90 "$AIS" local up --dir "$AIS_CLUSTER_DIR" --config "$T/aisd.conf" \
	>/dev/null || fail "local up again"
ais_wait_for 20 workers_are "$E/identity" 9
"$AIS" get --etl same ais://b/d/o9 - | cmp -s - "$T/o9" || fail "same after restart"
"$AIS" etl rm same
ais_wait_for 10 workers_are "$E/identity" 0
note "stop/start, a restart and rm start and stop the workers on every node"
