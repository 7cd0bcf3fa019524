#!/usr/bin/env bash
# Leases: an unchanged object costs no round trip to open, and a change
# made anywhere (another mount, `ais put`, a delete, a new shard) is seen by
# the next open on every mount, also when the mount stopped answering (a
# lost invalidation) and after the node that made the change restarted.
# The same on a read-only mount, whose opens never reach aisfs (the kernel
# opens by itself and keeps the page cache: only the lease and the cache
# times it allows stand between a change and a stale read).
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_leases

LEASE_MS=1500
printf 'lease_ms = %s\n' "$LEASE_MS" >"$T/aisd.conf"
export AIS_TEST_AISD_CONF=$T/aisd.conf
ais_cluster_up 3
"$AIS" bucket create ais://c >/dev/null
# Long kernel cache times: whatever a mount sees of a change it sees
# through the leases and the revalidation at open, not by expiry.
fuse_mount a -o attr_timeout=30,entry_timeout=30
A=$MNT/c
fuse_mount b -o attr_timeout=30,entry_timeout=30${LEASE_DEBUG:+,debug}
B=$MNT/c
fuse_mount n -o noleases,attr_timeout=30,entry_timeout=30
N=$MNT/c
# debug: the requests the kernel sends it are counted below.
fuse_mount r -o ro,attr_timeout=30,entry_timeout=30,debug
R=$MNT/c

# Requests the nodes handled. The mounts' lease polls count too (about one
# per mount and node per second when nothing changes): the loops below open
# enough files that one request per open would stand far above them.
node_requests()
{
	"$AIS" cluster show | awk '/online/ {s += $NF} END {print s + 0}'
}
# reopen_cost FILE WANT: opens and reads FILE 300 times (its bytes must be
# WANT each time); prints how many requests the nodes handled meanwhile,
# less what asking for the count costs.
reopen_cost()
{
	local r0 r1 r2
	r0=$(node_requests)
	r1=$(node_requests)
	python3 - "$1" "$2" <<'PY' || fail "reopening $1"
import sys
for _ in range(300):
    assert open(sys.argv[1], "rb").read() == sys.argv[2].encode()
PY
	r2=$(node_requests)
	echo $((r2 - r1 - (r1 - r0)))
}
# The node index (0..2) that owns ais://c/NAME.
owner_of()
{
	local port
	port=$("$AIS" stat "ais://c/$1" | awk '/^nodes/ {print $3; exit}' |
		sed 's/.*:\([0-9]*\))/\1/')
	[ -n "$port" ] || fail "no owner for $1"
	echo $((port - PORT))
}
# Waits until mount log $1 says its leases are current with every node.
wait_leases()
{
	ais_wait_for 20 grep -q "leases: watching" "$T/$1.aisfs.log"
	sleep 0.5
}
wait_leases a
wait_leases b
wait_leases r

note "an unchanged object: reopening it costs no request"
printf one >"$T/one"
"$AIS" put "$T/one" ais://c/f >/dev/null
assert_eq one "$(cat "$A/f")" "first read on A"
assert_eq one "$(cat "$N/f")" "first read on the noleases mount"
n=$(reopen_cost "$A/f" one)
note "300 opens on A: $n requests"
[ "$n" -lt 60 ] || fail "300 opens of an unchanged object cost $n requests"
n=$(reopen_cost "$N/f" one)
note "300 opens on the noleases mount: $n requests"
[ "$n" -ge 300 ] || fail "noleases: 300 opens cost only $n requests"
assert_eq one "$(cat "$R/f")" "first read on the read-only mount"
ais_wait_for 10 grep -q "opened by the kernel from now on" "$T/r.aisfs.log"
n=$(reopen_cost "$R/f" one)
note "300 opens on the read-only mount: $n requests"
[ "$n" -lt 60 ] || fail "ro: 300 opens of an unchanged object cost $n requests"
expect_errno EROFS "open('$R/f', 'w')"
expect_errno EROFS "os.unlink('$R/f')"
python3 - "$R/f" <<'PY' || fail "fsync and close of a read-only open on R"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
assert os.read(fd, 10) == b"one"
os.close(fd)
PY

note "a listing confirms what it lists: its files then open with no request"
mkdir "$B/listed"
for i in $(seq 300); do echo "$i" >"$B/listed/x$i"; done
ls -l "$A/listed" >/dev/null
r0=$(node_requests)
r1=$(node_requests)
base=$((r1 - r0))
python3 - "$A/listed" 300 <<'PY' || fail "reading the listed files on A"
import os, sys
for i in range(1, int(sys.argv[2]) + 1):
    assert open(os.path.join(sys.argv[1], "x%d" % i)).read() == "%d\n" % i
PY
r2=$(node_requests)
note "300 first opens after a listing: $((r2 - r1 - base)) requests"
# One GET each (their bytes); no HEAD.
[ $((r2 - r1 - base)) -lt 360 ] ||
	fail "300 listed files cost $((r2 - r1 - base)) requests to read"

note "changes are seen by the next open, at once, on every mount"
for i in $(seq 20); do
	printf 'v%03d' "$i" >"$T/v"
	"$AIS" put "$T/v" ais://c/f >/dev/null
	assert_eq "v$(printf %03d "$i")" "$(cat "$A/f")" "ais put $i seen by A"
	assert_eq "v$(printf %03d "$i")" "$(cat "$R/f")" "ais put $i seen by R"
	printf 'w%03d' "$i" >"$B/f"
	assert_eq "w$(printf %03d "$i")" "$(cat "$A/f")" "B's write $i seen by A"
	assert_eq "w$(printf %03d "$i")" "$(cat "$R/f")" "B's write $i seen by R"
	assert_eq "w$(printf %03d "$i")" "$(cat "$B/f")" "B reads its own write $i"
	# stat too (the kernel's attributes were dropped with the change).
	printf 'longer%03d' "$i" >"$B/f"
	assert_eq 9 "$(stat -c %s "$A/f")" "size after B's write $i, on A"
	assert_eq "longer$(printf %03d "$i")" "$(cat "$R/f")" "longer $i on R"
done
"$AIS" rm ais://c/f >/dev/null
expect_errno ENOENT "open('$A/f')"
expect_errno ENOENT "open('$R/f')"
echo back >"$B/f"
assert_eq back "$(cat "$A/f")" "recreated by B"
assert_eq back "$(cat "$R/f")" "recreated by B, on R"

note "many names, changed at random, read by a pool on A"
python3 - "$B" 200 <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(root, "many"), exist_ok=True)
for i in range(n):
    with open(os.path.join(root, "many", "s%04d" % i), "w") as f:
        f.write("0:%d" % i)
PY
python3 - "$A" "$B" 200 "$R" <<'PY'
import os, random, sys
a, b, n, r = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
gen = {i: 0 for i in range(n)}
def path(root, i):
    return os.path.join(root, "many", "s%04d" % i)
for i in range(n):  # every name cached (and trusted) on A and R
    assert open(path(a, i)).read() == "0:%d" % i
    assert open(path(r, i)).read() == "0:%d" % i
random.seed(7)
for step in range(600):
    i = random.randrange(n)
    if random.random() < 0.3:
        gen[i] += 1
        with open(path(b, i), "w") as f:
            f.write("%d:%d" % (gen[i], i))
    for root in (a, r):
        got = open(path(root, i)).read()
        assert got == "%d:%d" % (gen[i], i), "step %d: %s is %r on %s, " \
            "want %r" % (step, i, got, root, "%d:%d" % (gen[i], i))
print("ok")
PY

note "read-only mount: names outlive the lease (the kernel drops them all if it lapses)"
# The kernel's dentry epoch (Linux 6.16) lets a lease that lapses drop
# every name at once; then a lookup gives names lease_timeout (30 s here),
# and reopening them a lease later costs no request at all.
mkdir "$B/long"
for i in $(seq 100); do echo "$i" >"$B/long/l$i"; done
read_long()
{
	python3 - "$R/long" <<'PY' || fail "reading long/ on R"
import os, sys
for i in range(1, 101):
    assert open(os.path.join(sys.argv[1], "l%d" % i)).read() == "%d\n" % i
PY
}
# (grep -c prints 0 and fails when nothing matches)
r_lookups() { grep -c "opcode: LOOKUP" "$T/r.aisfs.log" || true; }
r_drops() { grep -c "the guard made the kernel drop" "$T/r.aisfs.log" || true; }
if grep -q "guard process" "$T/r.aisfs.log"; then
	read_long
	ok=
	for try in 1 2 3; do
		sleep 2 # longer than the lease: names it bounds are gone
		d0=$(r_drops)
		l0=$(r_lookups)
		read_long
		l1=$(r_lookups)
		sleep 0.3 # the manager logs drops every 200 ms
		# A renewal late enough for the guard to drop everything
		# (a loaded machine) makes this pass look names up: again.
		[ "$(r_drops)" = "$d0" ] || continue
		note "100 reopens on R, 2 s after the last: $((l1 - l0)) lookups"
		[ $((l1 - l0)) -le 5 ] ||
			fail "names on R lived no longer than the lease: $((l1 - l0)) lookups"
		ok=1
		break
	done
	[ -n "$ok" ] || fail "R's guard dropped its names in each of 3 tries"

	note "read-only mount: listings are kept too, and follow every change"
	r_lists() { grep -c "opcode: READDIRPLUS" "$T/r.aisfs.log" || true; }
	ls "$R/long" >/dev/null
	d0drops=$(r_drops)
	d0=$(r_lists)
	assert_eq 100 "$(ls "$R/long" | wc -l)" "listing of long/ on R"
	d1=$(r_lists)
	note "a second listing of long/ on R: $((d1 - d0)) READDIRPLUS"
	[ "$d1" -eq "$d0" ] || [ "$(r_drops)" != "$d0drops" ] ||
		fail "R listed long/ again: $((d1 - d0)) READDIRPLUS"
	for i in 1 2 3; do
		echo new >"$B/long/n$i"
		ls "$R/long" | grep -qx "n$i" ||
			fail "n$i, written on B, not in R's listing"
		"$AIS" put "$T/one" "ais://c/long/sub$i/x" >/dev/null
		ls "$R/long" | grep -qx "sub$i" ||
			fail "sub$i/, made by ais put, not in R's listing"
		rm "$B/long/n$i"
		! ls "$R/long" | grep -qx "n$i" ||
			fail "n$i, deleted on B, still in R's listing"
	done
	# A directory held open and read again from its start (rewinddir,
	# as os.listdir(fd) does): the new name is there, and in the
	# listing the kernel keeps for everyone after it.
	python3 - "$R/long" "$B/long" <<'PY' || fail "rewinddir on R"
import os, sys
r, b = sys.argv[1], sys.argv[2]
# A change first: the listing the kernel kept goes, and this handle's
# first reading fills it anew (from aisfs, not from the kernel's copy).
with open(os.path.join(b, "rw0"), "w") as f:
    f.write("x")
fd = os.open(r, os.O_RDONLY | os.O_DIRECTORY)
names = os.listdir(fd)
assert "rw0" in names and "rw" not in names
with open(os.path.join(b, "rw"), "w") as f:
    f.write("x")
assert "rw" in os.listdir(fd), "rewound listing misses rw"
assert "rw" in os.listdir(r), "listing after the rewound one misses rw"
os.close(fd)
PY
else
	note "no dentry epoch in this kernel: names live no longer than the lease"
	grep -q "cannot drop every name" "$T/r.aisfs.log" ||
		fail "R says neither that names live long nor why not"
fi

note "two mounts deleting in one directory at once: no wait on each other"
# Each unlink holds the directory's lock in its own kernel while its node
# waits for the other mount's acknowledgement: that must not need the
# directory's lock (a stall of a whole lease per delete if it did).
mkdir "$A/dd"
for i in $(seq 20); do echo a >"$A/dd/a$i"; echo b >"$B/dd/b$i"; done
t0=$(date +%s%N)
for i in $(seq 20); do
	rm "$A/dd/a$i" &
	rm "$B/dd/b$i" &
	wait
done
ms=$((($(date +%s%N) - t0) / 1000000))
note "20 rounds of concurrent deletes: $ms ms"
[ "$ms" -lt 10000 ] || fail "concurrent deletes took $ms ms (lease $LEASE_MS)"
assert_eq "" "$(ls "$A/dd" "$B/dd" | grep -v ':$' | tr -d '\n')" "dd empty"

note "a shard replaced elsewhere: its members are read anew"
mkdir -p "$T/sh1/d" "$T/sh2/d"
echo first >"$T/sh1/d/m.txt"
echo second >"$T/sh2/d/m.txt"
tar -C "$T/sh1" -cf "$T/s1.tar" d
tar -C "$T/sh2" -cf "$T/s2.tar" d
"$AIS" put "$T/s1.tar" ais://c/s.tar >/dev/null
assert_eq first "$(cat "$A/s.tar.d/d/m.txt")" "member, first shard"
assert_eq first "$(cat "$A/s.tar.d/d/m.txt")" "member again"
assert_eq first "$(cat "$R/s.tar.d/d/m.txt")" "member on R"
"$AIS" put "$T/s2.tar" ais://c/s.tar >/dev/null
assert_eq second "$(cat "$A/s.tar.d/d/m.txt")" "member of the replaced shard"
assert_eq second "$(cat "$R/s.tar.d/d/m.txt")" "replaced member on R"

note "a mount that stops answering: the change waits for its lease, then it asks"
printf old >"$T/old"
"$AIS" put "$T/old" ais://c/g >/dev/null
assert_eq old "$(cat "$A/g")" "g cached on A"
assert_eq old "$(cat "$R/g")" "g cached on R"
ls "$R" >/dev/null # and its listing
apid=$(aisfs_pid a)
[ -n "$apid" ] || fail "no aisfs process for mount a"
rpid=$(aisfs_pid r)
[ -n "$rpid" ] || fail "no aisfs process for mount r"
kill -STOP "$apid" "$rpid"
# Longer than before: the kernel's cached size (kept for lease_timeout
# while the lease held) must not cut the new bytes short.
printf 'new and longer' >"$T/new"
t0=$(date +%s%N)
timed 30 "$AIS" put "$T/new" ais://c/g >/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
"$AIS" put "$T/new" ais://c/g2 >/dev/null
# R is still stopped: the names its kernel kept were dropped when its lease
# went unrenewed (by its guard, another process), so this read waits for R
# instead of reading the kernel's copy of the old g.
cat "$R/g" >"$T/g.during" 2>&1 &
catpid=$!
ls "$R" >"$T/ls.during" 2>&1 &
lspid=$!
sleep 0.5
kill -CONT "$apid" "$rpid"
wait "$catpid" || fail "reading g on R while its aisfs was stopped"
assert_eq 'new and longer' "$(cat "$T/g.during")" \
	"g read on R while its aisfs was stopped"
wait "$lspid" || fail "listing R while its aisfs was stopped"
grep -qx g2 "$T/ls.during" ||
	fail "g2, made while R was stopped, not in R's listing: $(cat "$T/ls.during")"
if grep -q "guard process" "$T/r.aisfs.log"; then
	ais_wait_for 10 grep -q "the guard made the kernel drop" \
		"$T/r.aisfs.log"
fi
note "PUT with a silent mount took $ms ms (lease $LEASE_MS ms)"
[ "$ms" -lt $((LEASE_MS * 3 + 2000)) ] || fail "PUT waited $ms ms"
assert_eq 'new and longer' "$(cat "$A/g")" "A after its lease lapsed"
assert_eq 14 "$(stat -c %s "$A/g")" "size on A after its lease lapsed"
assert_eq 'new and longer' "$(cat "$R/g")" "R after its lease lapsed"
assert_eq 14 "$(stat -c %s "$R/g")" "size on R after its lease lapsed"

note "a write of the same size and mtime that no lease reports"
# R is silent while the owner restarts (its feed, and the change, are
# forgotten): only R's revalidation can find the change, and only the
# object's identity tells the two writes apart (the kernel's own check,
# size and mtime, would keep the old pages).
# same2 is held open on R meanwhile: an fstat of it (a getattr, not a
# lookup) sees the new write first.
for f in same same2; do
	printf 'AAAA' >"$B/$f"
	touch -d @1700000000 "$B/$f"
	assert_eq AAAA "$(cat "$R/$f")" "$f: first write on R"
done
o=$(owner_of same)
o2=$(owner_of same2)
exec 7<"$R/same2"
kill -STOP "$rpid"
ais_node_kill "$o" KILL
[ "$o2" = "$o" ] || ais_node_kill "$o2" KILL
ais_node_restart
ais_wait_for 30 "$AIS" stat ais://c/same
ais_wait_for 30 "$AIS" stat ais://c/same2
for f in same same2; do
	printf 'BBBB' >"$B/$f"
	touch -d @1700000000 "$B/$f"
done
kill -CONT "$rpid"
assert_eq 4 "$(python3 -c 'import os; print(os.fstat(7).st_size)')" \
	"fstat of same2, held open on R"
exec 7<&-
assert_eq BBBB "$(cat "$R/same")" "same size and mtime, rewritten, on R"
assert_eq BBBB "$(cat "$R/same2")" "same2 after a getattr saw it, on R"
assert_eq 1700000000 "$(stat -c %Y "$R/same")" "mtime on R"
assert_eq 'new and longer' "$(cat "$B/g")" "B"
ais_wait_for 10 grep -q "did not acknowledge a change" \
	"$AIS_CLUSTER_DIR"/node*/aisd.log

note "the node that makes a change restarted: its grace period covers it"
printf before >"$T/h"
"$AIS" put "$T/h" ais://c/h >/dev/null
assert_eq before "$(cat "$A/h")" "h cached on A"
o=$(owner_of h)
ais_node_kill "$o" KILL
ais_node_restart
ais_wait_for 30 "$AIS" stat ais://c/h
printf after >"$T/h"
"$AIS" put "$T/h" ais://c/h >/dev/null
assert_eq after "$(cat "$A/h")" "A after the owner restarted"
assert_eq after "$(cat "$B/h")" "B after the owner restarted"
assert_eq after "$(cat "$R/h")" "R after the owner restarted"
ais_wait_for 20 grep -q "every cached object is asked again" "$T/a.aisfs.log"
# And leases come back: reopening is free again.
wait_leases a
cat "$A/h" >/dev/null
sleep 1
n=$(reopen_cost "$A/h" after)
[ "$n" -lt 60 ] || fail "after the restart, 300 opens cost $n requests"

if grep -q "guard process" "$T/r.aisfs.log"; then
	note "read-only mount whose guard was killed: names live no longer than the lease"
	gpid=
	for p in $(pgrep -f "aisfs mount .*log=$T/r.aisfs.log"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = aisfs-guard ] && gpid=$p
	done
	[ -n "$gpid" ] || fail "no guard process for mount r"
	kill -KILL "$gpid"
	ais_wait_for 10 grep -q "the guard process $gpid was killed" \
		"$T/r.aisfs.log"
	rpid=$(aisfs_pid r)
	printf old >"$T/k"
	"$AIS" put "$T/k" ais://c/k >/dev/null
	assert_eq old "$(cat "$R/k")" "k cached on R"
	kill -STOP "$rpid"
	printf newer >"$T/k"
	timed 30 "$AIS" put "$T/k" ais://c/k >/dev/null
	cat "$R/k" >"$T/k.during" 2>&1 &
	catpid=$!
	sleep 0.5
	kill -CONT "$rpid"
	wait "$catpid" || fail "reading k on R while its aisfs was stopped"
	assert_eq newer "$(cat "$T/k.during")" \
		"k read on R, stopped, with no guard"
fi

note "the mounts still serve"
assert_eq back "$(cat "$A/f")" "A still reads"
assert_eq back "$(cat "$R/f")" "R still reads"
