# shellcheck shell=bash
# Helpers for the shell integration tests: a private temp dir, a free port
# range, a 3-node `ais local` cluster on loopback, and a teardown that always
# runs (cleanups, node logs on failure, cluster stop, temp dir removal).
#
# Usage (a test script):
#   #!/usr/bin/env bash
#   . "$(dirname "$0")/lib.sh"      # or "$AIS_SRC_DIR/test/integration/lib.sh"
#   ais_test_init my_test
#   ais_cluster_up 3
#   "$AIS" bucket create ais://b
#   ...
#
# Environment (set by meson, see test/integration/meson.build): AIS, AISD,
# AISFS (unset without FUSE), AIS_SRC_DIR, AIS_BUILD_DIR.
# After ais_test_init: T (private temp dir), PORT (base port; PORT..PORT+19
# were free), AIS_ENDPOINT=127.0.0.1:$PORT and AIS_AISD=$AISD (exported).
#
# API: ais_test_init NAME, ais_cleanup CMD..., ais_cluster_up [N=3],
# ais_node_add K [ARGS], ais_extra_pid K,
# ais_cluster_down, ais_node_dir I, ais_node_pid I, ais_node_kill I [SIG=KILL],
# ais_node_restart, ais_wait_for SECS CMD..., ais_skip REASON, fail MSG,
# assert_eq EXPECTED ACTUAL MSG, assert_cmd_fails CMD..., note MSG.
# Node I is DIR/cluster/nodeI (I from 0), listening on PORT+I.
#
# ais_test_init re-executes the script once as a child subreaper (through
# python3's prctl) so that killed nodes are reaped even where PID 1 does not
# reap orphans; AIS_TEST_SUBREAPER=1 in the environment skips that.
# A sanitizer report (ASan/UBSan/LSan/TSan) in any log under $T fails the
# test at exit.
#
# Exit status 77 means "skipped" to meson. ais_skip turns a skip into a
# failure when AIS_TEST_REQUIRE_FUSE=1 or CI=true, so CI never passes by
# skipping.

if [ -n "${AIS_TEST_LIB_LOADED:-}" ]; then
	return 0
fi
AIS_TEST_LIB_LOADED=1

AIS_TEST_NAME=
AIS_CLUSTER_DIR=
AIS_CLUSTER_NODES=0
AIS_PORT_LOCK=
_ais_cleanups=()
_ais_sanitizer_re='ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|WARNING: ThreadSanitizer|runtime error:'

# note MSG: a progress line on stderr (meson keeps it in the test log).
note()
{
	printf '# %s\n' "$*" >&2
}

# fail MSG: prints "FAIL: MSG" and exits 1 (the EXIT trap tears down).
fail()
{
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# assert_eq EXPECTED ACTUAL MSG
assert_eq()
{
	if [ "$1" != "$2" ]; then
		fail "$3: expected '$1', got '$2'"
	fi
}

# assert_cmd_fails CMD...: the command must exit non-zero (its output is
# shown in the log either way).
assert_cmd_fails()
{
	local rc=0
	"$@" || rc=$?
	if [ "$rc" -eq 0 ]; then
		fail "command succeeded but should have failed: $*"
	fi
	return 0
}

# expect_fail WANT CMD...: the command must exit non-zero with WANT in what
# it prints (stdout and stderr).
expect_fail()
{
	local want=$1 out
	shift
	if out=$("$@" 2>&1); then
		fail "succeeded but should have failed: $*"
	fi
	case "$out" in
	*"$want"*) ;;
	*) fail "$*: expected '$want' in: $out" ;;
	esac
}

# ais_etl_cluster_up [AISD_CONF]: E=$T/etl, a directory of programs the
# nodes' transforms may run (reachable by the user they run as), and a
# 3-node cluster with it as etl_dir; AIS_ENDPOINT names all three nodes.
ais_etl_cluster_up()
{
	local conf=()
	[ -n "${1:-}" ] && conf=(--config "$1")
	chmod 755 "$T"
	E=$T/etl
	mkdir -p -m 755 "$E"
	AIS_CLUSTER_NODES=3
	timeout 90 "$AIS" local up --dir "$AIS_CLUSTER_DIR" --port "$PORT" \
		--nodes 3 --s3-port 0 --etl-dir "$E" "${conf[@]}" \
		>"$T/local-up.out" 2>&1 ||
		fail "local up --etl-dir: $(cat "$T/local-up.out")"
	export AIS_ENDPOINT=127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))
}

# ais_skip REASON: exit 77 (skip), or fail when the environment demands that
# the test really runs (AIS_TEST_REQUIRE_FUSE=1 or CI=true).
ais_skip()
{
	if [ "${AIS_TEST_REQUIRE_FUSE:-0}" = 1 ] || [ "${CI:-}" = true ]; then
		fail "cannot run (and skipping is not allowed here): $*"
	fi
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}

# ais_cleanup CMD...: registers a command run at exit, in reverse order of
# registration, also when the test fails. Its failure is logged, not fatal.
ais_cleanup()
{
	local q
	q=$(printf '%q ' "$@")
	_ais_cleanups+=("$q")
}

# A python3 that starts fast (a version-manager shim can take a second).
_ais_python()
{
	if [ -x /usr/bin/python3 ]; then
		echo /usr/bin/python3
	else
		command -v python3
	fi
}

# Are TCP ports $1..$1+$2-1 free on 127.0.0.1? With ss: no socket in any
# state uses one of them as its local port; else a bind attempt in python3.
_ais_ports_free()
{
	local base=$1 n=$2 i filter=""
	if command -v ss >/dev/null 2>&1; then
		for ((i = 0; i < n; i++)); do
			filter="$filter${filter:+ or }sport = :$((base + i))"
		done
		[ -z "$(ss -Htan "( $filter )" 2>/dev/null)" ]
		return
	fi
	"$(_ais_python)" - "$base" "$n" <<'PYEOF' 2>/dev/null
import socket, sys
base, n = int(sys.argv[1]), int(sys.argv[2])
for p in range(base, base + n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
sys.exit(0)
PYEOF
}

# Picks a base port: a random multiple of 20 in 20000..39980 (below the
# ephemeral port range) whose twenty ports are free (nodes on PORT+I, their
# Raft on PORT+N+I), reserved against concurrent test runs with an atomic mkdir of a
# lock dir (reclaimed if its owner died).
_ais_pick_port()
{
	local tries base lock owner top=40000 eph
	# Stay below the kernel's ephemeral port range when it starts inside
	# ours, so that no outgoing connection takes a node's port.
	eph=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true)
	if [ -n "$eph" ] && [ "$eph" -gt 21000 ] && [ "$eph" -lt 40000 ]; then
		top=$eph
	fi
	for ((tries = 0; tries < 200; tries++)); do
		base=$((20000 + (RANDOM % ((top - 20000) / 20)) * 20))
		lock="${TMPDIR:-/tmp}/ais-test-port-$base.lock"
		if ! mkdir "$lock" 2>/dev/null; then
			owner=$(cat "$lock/pid" 2>/dev/null || true)
			if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
				rm -rf "$lock"
			fi
			continue
		fi
		echo $$ >"$lock/pid"
		if _ais_ports_free "$base" 20; then
			PORT=$base
			AIS_PORT_LOCK=$lock
			return 0
		fi
		rm -rf "$lock"
	done
	fail "no free port range found in 20000-39999"
}

# Makes this shell a child subreaper, so that daemons started by `ais local
# up` (which detach) are reparented to us and reaped when they die: in some
# containers PID 1 never reaps, and a zombie aisd looks alive to kill -0.
# The process is re-executed once under python3's prctl.
_ais_become_subreaper()
{
	local py
	py=$(_ais_python) || true
	if [ -n "${AIS_TEST_SUBREAPER:-}" ] || [ -z "$py" ]; then
		return 0
	fi
	local -a argv
	mapfile -d '' argv </proc/$$/cmdline
	export AIS_TEST_SUBREAPER=1
	exec "$py" -c '
import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
os.execvp(sys.argv[1], sys.argv[1:])' "${argv[@]}"
}

# Kills (SIGKILL) every aisd whose pidfile is under $T or whose command line
# names $T: whatever `ais local down` left behind.
_ais_kill_leftovers()
{
	local f pid
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	while IFS= read -r -d '' f; do
		pid=$(cat "$f" 2>/dev/null || true)
		case "$pid" in '' | *[!0-9]*) continue ;; esac
		if [ -r "/proc/$pid/cmdline" ] &&
			tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q aisd; then
			note "killing leftover aisd pid $pid ($f)"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done < <(find "$T" -name '*.pid' -print0 2>/dev/null)
	# One grep over every command line (a fork per process is slow).
	for f in $(grep -alsF -- "$T/" /proc/[0-9]*/cmdline 2>/dev/null || true); do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		if [ "$pid" != $$ ] && grep -aqs aisd "$f"; then
			note "killing leftover aisd pid $pid"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	wait 2>/dev/null || true
}

_ais_exit_trap()
{
	local rc=$? i f
	set +e
	trap - EXIT INT TERM
	for ((i = ${#_ais_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_ais_cleanups[i]}" || note "cleanup failed: ${_ais_cleanups[i]}"
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -d "${T:-}" ]; then
		while IFS= read -r -d '' f; do
			printf '==== last 50 lines of %s ====\n' "$f" >&2
			tail -n 50 "$f" >&2
		done < <(find "$T" -name '*.log' -print0 2>/dev/null | sort -z)
	fi
	if [ -n "$AIS_CLUSTER_DIR" ] && [ -d "$AIS_CLUSTER_DIR" ]; then
		timeout 30 "$AIS" local down --dir "$AIS_CLUSTER_DIR" >/dev/null 2>&1 ||
			note "ais local down failed"
	fi
	_ais_kill_leftovers
	# A sanitizer report in any log (ASan/UBSan/LSan/TSan builds) fails
	# the test even if every assertion held.
	if [ -d "${T:-}" ]; then
		while IFS= read -r -d '' f; do
			if grep -qE "$_ais_sanitizer_re" "$f"; then
				printf '==== sanitizer report in %s ====\n' "$f" >&2
				grep -E -A200 -m1 "$_ais_sanitizer_re" "$f" >&2
				[ "$rc" -ne 0 ] || rc=1
			fi
		done < <(find "$T" -name '*.log' -print0 2>/dev/null)
	fi
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		if [ "$rc" -ne 0 ] && [ -n "${AIS_TEST_KEEP:-}" ]; then
			note "AIS_TEST_KEEP: kept $T"
		else
			rm -rf "$T" 2>/dev/null || note "could not remove $T"
		fi
	fi
	[ -n "$AIS_PORT_LOCK" ] && rm -rf "$AIS_PORT_LOCK"
	if [ "$rc" -eq 0 ]; then
		note "$AIS_TEST_NAME: PASS"
	elif [ "$rc" -ne 77 ]; then
		note "$AIS_TEST_NAME: FAILED (exit $rc)"
	fi
	exit "$rc"
}

# ais_test_init NAME: see the top of this file.
ais_test_init()
{
	_ais_become_subreaper
	set -euo pipefail
	AIS_TEST_NAME=${1:-test}
	: "${AIS:?AIS is not set (run through meson test)}"
	: "${AISD:?AISD is not set (run through meson test)}"
	export AIS AISD
	export AIS_AISD=$AISD
	T=$(mktemp -d "${TMPDIR:-/tmp}/ais-test-$AIS_TEST_NAME.XXXXXX")
	export T
	# ais local up saves its admin token here, where every client of
	# the test (ais, aisfs, aisloader, the C tests) finds it.
	export XDG_CONFIG_HOME=$T/xdg
	trap _ais_exit_trap EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	_ais_pick_port
	export PORT
	export AIS_ENDPOINT=127.0.0.1:$PORT
	AIS_CLUSTER_DIR=$T/cluster
	note "$AIS_TEST_NAME: temp dir $T, port $PORT"
}

# ais_cluster_up [NODES=3]: starts the cluster; fails the test if it does not
# come up (ais local up waits for readiness itself, bounded). With
# AIS_TEST_AISD_CONF set, every node reads that aisd configuration file.
# No S3 endpoint unless AIS_TEST_S3_PORT names its base port (inside the
# test's range: PORT+6 for 3 nodes; extra nodes take PORT+10..).
ais_cluster_up()
{
	local n=${1:-3} conf=()
	AIS_CLUSTER_NODES=$n
	[ -n "${AIS_TEST_AISD_CONF:-}" ] && conf=(--config "$AIS_TEST_AISD_CONF")
	timeout 90 "$AIS" local up --dir "$AIS_CLUSTER_DIR" --port "$PORT" \
		--nodes "$n" --s3-port "${AIS_TEST_S3_PORT:-0}" "${conf[@]}" \
		>"$T/local-up.out" 2>&1 ||
		{
			cat "$T/local-up.out" >&2
			fail "ais local up --nodes $n did not come up"
		}
}

# ais_node_add K [AISD ARGS...]: starts an extra node K (0..4) that joins
# the cluster: data in $T/extraK/mp0, listening on PORT+10+K (Raft on
# PORT+15+K), log $T/extraK/aisd.log, pid $T/extraK/aisd.pid. Returns once
# the process runs; wait for the map to show it.
ais_node_add()
{
	local k=$1 d=$T/extra$1
	shift
	mkdir -p "$d/mp0"
	local secret=()
	# The cluster's secret, as every node of it has (ais local up).
	[ -f "$AIS_CLUSTER_DIR/secret" ] &&
		secret=(--auth-secret-file "$AIS_CLUSTER_DIR/secret")
	# And a certificate of the cluster's CA, as every node has.
	if [ -f "$AIS_CLUSTER_DIR/ca.key" ]; then
		"$AIS" tls cert --ca "$AIS_CLUSTER_DIR" --name "extra$k" \
			--host 127.0.0.1,localhost --out "$d/tls" >/dev/null ||
			fail "ais tls cert for extra node $k"
		secret+=(--tls-ca-file "$AIS_CLUSTER_DIR/ca.pem"
			--tls-cert-file "$d/tls.crt" --tls-key-file "$d/tls.key")
	fi
	"$AISD" -l 127.0.0.1 -p $((PORT + 10 + k)) --raft-port $((PORT + 15 + k)) \
		-m "$d/mp0" -j "127.0.0.1:$PORT" --pidfile "$d/aisd.pid" \
		${AIS_TEST_AISD_CONF:+-c "$AIS_TEST_AISD_CONF"} "${secret[@]}" "$@" \
		>>"$d/aisd.log" 2>&1 &
	ais_wait_for 10 test -s "$d/aisd.pid" || fail "extra node $k did not start"
}

# ais_extra_pid K: the pid of extra node K.
ais_extra_pid()
{
	tr -d ' \n' <"$T/extra$1/aisd.pid"
}

ais_cluster_down()
{
	timeout 60 "$AIS" local down --dir "$AIS_CLUSTER_DIR" >/dev/null ||
		fail "ais local down failed"
}

# ais_node_dir I: the data dir of node I (as in DIR/nodeI).
ais_node_dir()
{
	local d=$AIS_CLUSTER_DIR/node$1
	[ -d "$d" ] || fail "no node $1 (no $d)"
	printf '%s\n' "$d"
}

# ais_node_pid I: the pid of node I from its pidfile.
ais_node_pid()
{
	local d f pid
	d=$(ais_node_dir "$1")
	f=$d/aisd.pid
	[ -f "$f" ] || f=$(find "$d" -maxdepth 1 -name '*.pid' | head -n 1)
	[ -n "$f" ] && [ -f "$f" ] || fail "node $1 has no pidfile in $d"
	pid=$(tr -d ' \n' <"$f")
	case "$pid" in '' | *[!0-9]*) fail "node $1: bad pidfile $f" ;; esac
	printf '%s\n' "$pid"
}

# Is process $1 still alive in any sense that matters? A killed process
# with many threads turns its leader into a zombie while the other threads
# are still exiting and still hold its files (and flock()s): it is gone
# once reaped, or when it is a zombie whose /proc/PID/task lists only
# itself.
_ais_alive()
{
	local st tasks
	[ -d "/proc/$1" ] || return 1
	st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$st" ] || return 1
	if [ "$st" = Z ] || [ "$st" = X ]; then
		tasks=$(find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
		[ "$tasks" -gt 1 ]
		return
	fi
	return 0
}

# ais_node_kill I [SIG=KILL]: signals node I; for KILL/TERM/INT, waits (up
# to 15 s) until it is gone.
ais_node_kill()
{
	local pid sig=${2:-KILL} i
	pid=$(ais_node_pid "$1")
	kill -s "$sig" "$pid" || fail "kill -$sig node $1 (pid $pid)"
	case "$sig" in
	KILL | TERM | INT | 9 | 15 | 2)
		for ((i = 0; i < 150; i++)); do
			wait "$pid" 2>/dev/null || true
			_ais_alive "$pid" || return 0
			sleep 0.1
		done
		fail "node $1 (pid $pid) still alive 15 s after SIG$sig"
		;;
	esac
}

# ais_node_restart: `ais local up --dir` again; restarts the dead nodes with
# their data and waits until the cluster is ready.
ais_node_restart()
{
	timeout 90 "$AIS" local up --dir "$AIS_CLUSTER_DIR" \
		>"$T/local-up.out" 2>&1 ||
		{
			cat "$T/local-up.out" >&2
			fail "ais local up (restart) failed"
		}
}

# ais_wait_for SECONDS CMD...: retries CMD every 0.2 s until it succeeds;
# fails the test after SECONDS.
ais_wait_for()
{
	local secs=$1 deadline
	shift
	deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${secs}s waiting for: $*"
		sleep 0.2
	done
}

# ais_get_check URL SRC FAILFILE: GETs URL and compares it with the file
# SRC; a failed GET or different bytes add a line to FAILFILE (for loops
# that read while the cluster changes). Returns 0 either way.
ais_get_check()
{
	if ! "$AIS" get "$1" "$T/.got" >/dev/null 2>"$T/.got.err"; then
		echo "get ${1#ais://}: $(cat "$T/.got.err")" >>"$3"
	elif ! cmp -s "$T/.got" "$2"; then
		echo "get ${1#ais://}: wrong bytes" >>"$3"
	fi
	return 0
}

# ais_rebalance_gen: the newest rebalance generation any node reports
# (ais job show).
ais_rebalance_gen()
{
	"$AIS" job show 2>/dev/null | awk '/^[0-9a-f]+ /{print $2}' | sort -n | tail -1
}

# ais_settled N [MAINT [GEN]]: true once the map has N - MAINT nodes
# online and MAINT (default 0) in maintenance, none joining, leaving,
# unreachable or down, and all N done with one rebalance generation, newer
# than GEN if given (a node that has not applied a change yet still
# reports the older generation done). For ais_wait_for.
ais_settled()
{
	local n=$1 m=${2:-0} s job
	s=$("$AIS" cluster show 2>/dev/null) || return 1
	[ -z "${3:-}" ] || [ "$(ais_rebalance_gen)" -gt "$3" ] || return 1
	[ "$(echo "$s" | grep -cE '^[0-9a-f]{16} .* online ')" -eq $((n - m)) ] || return 1
	[ "$(echo "$s" | grep -cE '^[0-9a-f]{16} .* maintenance ')" -eq "$m" ] || return 1
	echo "$s" | grep -qE 'joining|decommissioning|unreachable| down' && return 1
	job=$("$AIS" job show 2>/dev/null) || return 1
	echo "$job" | tail -1 | grep -q ' 0 rebalances running' || return 1
	[ "$(echo "$job" | awk '/^[0-9a-f]+ /{print $2}' | sort -u | wc -l)" -eq 1 ] || return 1
	[ "$(echo "$job" | grep -cE '^[0-9a-f]{16} .* done ')" -eq "$n" ]
}

# ais_check_disks BUCKET WANT: fails the test unless the object files of
# BUCKET on the disks of every node (the cluster's and the extra ones;
# not the shard index sidecars under .ais/) are WANT, each name once.
ais_check_disks()
{
	local all dups
	all=$(find "$AIS_CLUSTER_DIR"/node*/mp* "$T"/extra*/mp0 -path "*/$1/*" \
		-not -path '*/.ais/*' -type f -printf '%P\n' 2>/dev/null |
		sed "s#^$1/##" | sort || true)
	dups=$(echo "$all" | uniq -d)
	[ -z "$dups" ] || fail "objects held twice: $(echo "$dups" | head -5 | tr '\n' ' ')"
	[ "$(echo "$all" | grep -c .)" -eq "$2" ] ||
		fail "$(echo "$all" | grep -c .) object files of $1 on the disks, want $2"
}

# need_free_gib N: fails the test unless $T's file system has N GiB free
# (tests with big files say so rather than fill the disk).
need_free_gib()
{
	local avail
	avail=$(df -Pk "$T" | awk 'NR == 2 {print $4}')
	[ "${avail:-0}" -ge $(($1 * 1048576)) ] ||
		fail "needs $1 GiB free under $T, has $((${avail:-0} / 1048576)) GiB"
}

# gen_bytes N FILE: N non-repeating pseudo-random bytes (AES-CTR of zeros,
# or Python's PRNG where there is no openssl).
gen_bytes()
{
	if command -v openssl >/dev/null; then
		head -c "$1" < <(openssl enc -aes-128-ctr -pass pass:ais -nosalt \
			-pbkdf2 </dev/zero 2>/dev/null) >"$2"
	else
		"$(_ais_python)" - "$1" "$2" <<'EOF'
import random, sys
n, r = int(sys.argv[1]), random.Random(7)
with open(sys.argv[2], "wb") as f:
    while n > 0:
        k = min(n, 8 << 20)
        f.write(r.randbytes(k))
        n -= k
EOF
	fi
	assert_eq "$1" "$(stat -c %s "$2")" "size of the generated $2"
}

# slice FILE OFF [LEN]: bytes OFF.. of FILE (LEN of them, or to the end).
slice()
{
	if [ -n "${3:-}" ]; then
		dd if="$1" bs=64K iflag=skip_bytes,count_bytes skip="$2" \
			count="$3" status=none
	else
		dd if="$1" bs=64K iflag=skip_bytes skip="$2" status=none
	fi
}

# flip_byte FILE OFFSET: inverts the byte at OFFSET of FILE in place (its
# xattrs kept), as a disk error would.
flip_byte()
{
	python3 - "$1" "$2" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0xff]))
PY
}

now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}
