#!/usr/bin/env bash
# A node dies under a mount: reads of its objects fail with EIO within the
# timeout (no hang), the mount stays up, and after the node is restarted
# every read works again with the right bytes.
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_faults
ais_cluster_up 3
"$AIS" bucket create ais://f >/dev/null
TIMEOUT=5
fuse_mount m -o timeout=$TIMEOUT,attr_timeout=0,entry_timeout=0
M=$MNT/f
for i in $(seq 1 40); do
	head -c 10000 /dev/urandom >"$T/f$i"
	cp "$T/f$i" "$M/f$i"
done

ais_node_kill 1
note "node 1 killed; reading every file"
timed 600 python3 - "$M" "$T" "$TIMEOUT" <<'PY'
import errno, os, sys, time
m, t, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
eio = ok = 0
for i in range(1, 41):
    start = time.monotonic()
    try:
        with open(os.path.join(m, "f%d" % i), "rb") as f:
            data = f.read()
        with open(os.path.join(t, "f%d" % i), "rb") as f:
            assert data == f.read(), "f%d: wrong bytes" % i
        ok += 1
    except OSError as e:
        assert e.errno in (errno.EIO, errno.ENOENT), \
            "f%d: %s (want EIO)" % (i, e)
        if e.errno == errno.EIO:
            eio += 1
    took = time.monotonic() - start
    assert took < 2 * limit + 5, "f%d took %.1f s (timeout %d s)" % (i, took, limit)
print("ok", ok, "eio", eio)
assert eio > 0, "no read failed with one node of three down"
PY
grep -q " $T/m fuse.aisfs" /proc/mounts || fail "the mount died with the node"

ais_node_restart
note "node 1 restarted"
ais_wait_for 60 cat "$M/f1"
for i in $(seq 1 40); do
	timed 60 cmp "$T/f$i" "$M/f$i" || fail "f$i wrong after the restart"
done
# Writes work again too.
echo after >"$M/after"
assert_eq after "$(cat "$M/after")" "write after restart"

# A node that hangs (SIGSTOP: connections are accepted, nothing answers):
# reads of its objects fail with EIO after the timeout, not later.
for i in $(seq 41 60); do
	head -c 10000 /dev/urandom >"$T/f$i"
	cp "$T/f$i" "$M/f$i"
done
ls "$M" >/dev/null
ais_node_kill 2 STOP
ais_cleanup kill -CONT "$(ais_node_pid 2)"
note "node 2 stopped; reading"
timed 600 python3 - "$M" "$T" "$TIMEOUT" <<'PY'
import errno, os, sys, time
m, t, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
eio = 0
for i in range(41, 61):
    start = time.monotonic()
    try:
        with open(os.path.join(m, "f%d" % i), "rb") as f:
            data = f.read()
        with open(os.path.join(t, "f%d" % i), "rb") as f:
            assert data == f.read(), "f%d: wrong bytes" % i
    except OSError as e:
        assert e.errno == errno.EIO, "f%d: %s (want EIO)" % (i, e)
        eio += 1
    took = time.monotonic() - start
    assert took < limit + 3, "f%d took %.1f s (timeout %d s)" % (i, took, limit)
print("eio", eio)
assert eio > 0, "no read failed with one node hung"
PY
kill -CONT "$(ais_node_pid 2)"
# Until the leader has seen it again, the map marks it down (a mount whose
# map is that fresh, as its leases keep it, fails its reads at once).
for i in $(seq 41 60); do
	ais_wait_for 10 cmp -s "$T/f$i" "$M/f$i"
done
for i in $(seq 41 60); do
	timed 60 cmp "$T/f$i" "$M/f$i" || fail "f$i wrong after SIGCONT"
done
