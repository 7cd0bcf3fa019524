#!/usr/bin/env bash
# scrub_interval_h: every node scrubs what it holds on its own, and repairs
# a corrupt copy nobody reads; the period counts from the last scrub's end
# as recorded on disk (MP0/.ais/scrub.last), so a node restarted after its
# scrub fell due scrubs soon after the start, not a whole period later.
# The test hook AISD_TEST_SCRUB_HOUR_MS makes an "hour" 4 s: with
# scrub_interval_h 5, the period is 20 s.
. "$(dirname "$0")/lib.sh"
ais_test_init scrub_periodic

PERIOD=20
printf 'scrub_interval_h = 5\n' >"$T/aisd.conf"
export AIS_TEST_AISD_CONF=$T/aisd.conf AISD_TEST_SCRUB_HOUR_MS=4000
ais_cluster_up 3
STARTED=$SECONDS # (the nodes started a little earlier)
"$AIS" bucket create ais://b --copies 2
mkdir -p "$T/src"
for i in $(seq 1 30); do
	{ printf 'object %d\n' "$i"; head -c $((i * 3000)) /dev/urandom; } >"$T/src/o$i"
done
"$AIS" put -r -q "$T/src" ais://b/ || fail "upload"

# copy_on NAME K: the file of the copy of ais://b/NAME on node K (0..2), if
# it has one.
copy_on()
{
	find "$(ais_node_dir "$2")"/mp* -path "*/b/$1" -not -path '*/.ais/*' -type f | head -1
}
# first_copy K: a name with a copy on node K.
first_copy()
{
	local i
	for i in $(seq 5 30); do
		[ -n "$(copy_on "o$i" "$1")" ] && { echo "o$i"; return; }
	done
	fail "no copy on node $1"
}
good() { cmp -s "$(copy_on "$1" "$2")" "$T/src/$1"; }

# ---- the first period: a corrupt copy nobody reads is repaired -----------
NAME=$(first_copy 1)
flip_byte "$(copy_on "$NAME" 1)" 1000
good "$NAME" 1 && fail "the flip did not change the copy"
ais_wait_for $((3 * PERIOD)) good "$NAME" 1 ||
	fail "the periodic scrub did not repair $NAME on node 1"
note "repaired $((SECONDS - STARTED)) s after the start (period $PERIOD s)"
grep -q "periodic scrub of every bucket starts" "$(ais_node_dir 1)"/*.log ||
	fail "node 1 logged no periodic scrub"
grep -q "corrupt copy replaced" "$(ais_node_dir 1)"/*.log ||
	fail "node 1's scrub did not log the repair"
for k in 0 1 2; do
	ais_wait_for 10 test -s "$(ais_node_dir $k)/mp0/.ais/scrub.last" ||
		fail "node $k recorded no scrub end"
done
"$AIS" scrub --status >"$T/status" || fail "scrub --status"
grep -q "NODE" "$T/status" || fail "scrub --status: $(cat "$T/status")"

# ---- a restart after the scrub fell due: it runs soon after the start ----
NAME=$(first_copy 2)
ais_node_kill 2
flip_byte "$(copy_on "$NAME" 2)" 500
# The last scrub ended 3 periods ago.
echo $(($(date +%s%N) - 3 * PERIOD * 1000000000)) >"$(ais_node_dir 2)/mp0/.ais/scrub.last"
timeout 90 "$AIS" local up --dir "$AIS_CLUSTER_DIR" --config "$AIS_TEST_AISD_CONF" \
	>"$T/up2.out" 2>&1 || fail "restart node 2: $(cat "$T/up2.out")"
T0=$SECONDS
# Due a tenth of the period after the start (2 s); a whole period (20 s)
# if the schedule had started over.
ais_wait_for $((PERIOD * 9 / 10)) good "$NAME" 2 ||
	fail "the overdue scrub did not run within 0.9 of a period of the restart"
note "overdue scrub repaired $NAME $((SECONDS - T0)) s after the restart"
for i in $(seq 1 30); do
	"$AIS" get "ais://b/o$i" - 2>/dev/null | cmp -s - "$T/src/o$i" || fail "o$i reads wrong"
done
