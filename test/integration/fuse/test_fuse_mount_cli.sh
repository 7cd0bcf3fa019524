#!/usr/bin/env bash
# The aisfs command line: help, failed mounts exit non-zero with the reason
# (cluster unreachable, mountpoint busy or missing, bad option, no such
# bucket), umount, and the mount(8) helper conventions (mount.aisfs SPEC
# DIR -o OPTS, and "aisfs SPEC DIR -o OPTS" as mount.fuse3 runs it).
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_mount_cli
ais_cluster_up 3
"$AIS" bucket create ais://cli >/dev/null

"$AISFS" --help | grep -q 'aisfs mount' || fail "aisfs --help"
"$AISFS" --help | grep -q 'bucket=B' || fail "aisfs --help lists options"
rc=0
"$AISFS" bogus >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "unknown command exit status"

# expect_mount_error PATTERN ARGS...: aisfs mount fails, says PATTERN, and
# within a bounded time.
expect_mount_error()
{
	local pat=$1 out rc=0
	shift
	out=$(timed 60 "$AISFS" mount "$@" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "aisfs mount $* succeeded; expected: $pat"
	[ "$rc" -ne 124 ] || fail "aisfs mount $* hung"
	printf '%s\n' "$out" | grep -qi -- "$pat" ||
		fail "aisfs mount $*: expected '$pat' in: $out"
}

mkdir -p "$T/mp"
# Port PORT+9 was reserved free and nothing listens there.
expect_mount_error "cannot reach" "127.0.0.1:$((PORT + 9))" "$T/mp"
expect_mount_error "No such file" "$AIS_ENDPOINT" "$T/nonexistent"
expect_mount_error "unknown mount option" -o frobnicate "$AIS_ENDPOINT" "$T/mp"
expect_mount_error "timeout=" -o timeout=abc "$AIS_ENDPOINT" "$T/mp"
expect_mount_error "kernel_open needs ro" -o kernel_open "$AIS_ENDPOINT" "$T/mp"
expect_mount_error "does not exist" -o bucket=nosuchbucket "$AIS_ENDPOINT" "$T/mp"
expect_mount_error "HOST:PORT" "not-an-endpoint" "$T/mp"
grep -q " $T/mp " /proc/mounts && fail "a failed mount left a mount behind"

fuse_mount mp
echo hi >"$MNT/cli/x"
expect_mount_error "busy" "$AIS_ENDPOINT" "$T/mp"
fuse_umount "$T/mp"
rc=0
"$AISFS" umount "$T/mp" 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "umount of something not mounted succeeded"

# mount(8) helper convention through the mount.aisfs name.
ln -s "$AISFS" "$T/mount.aisfs"
mkdir -p "$T/h"
ais_cleanup _fuse_unmount "$T/h"
"$T/mount.aisfs" "$AIS_ENDPOINT" "$T/h" -o "rw,_netdev,nofail,bucket=cli,log=$T/h.aisfs.log" ||
	fail "mount.aisfs SPEC DIR -o OPTS"
assert_eq hi "$(cat "$T/h/x")" "read through the helper mount"
"$AISFS" umount "$T/h"
# An endpoint list whose first address is dead: the next one serves, as
# the fstab SPEC and as -o endpoint= (whose commas are the option list's).
dead=127.0.0.1:$((PORT + 9))
"$T/mount.aisfs" "$dead,$AIS_ENDPOINT" "$T/h" -o "bucket=cli,log=$T/h3.aisfs.log" ||
	fail "mount.aisfs with an endpoint list"
assert_eq hi "$(cat "$T/h/x")" "read through a mount whose first endpoint is dead"
grep -q "^$dead+$AIS_ENDPOINT/cli $T/h fuse.aisfs" /proc/mounts ||
	fail "the mount's name is not the endpoint list: $(grep " $T/h " /proc/mounts)"
"$AISFS" umount "$T/h"
"$AISFS" mount -o "endpoint=$dead,$AIS_ENDPOINT,bucket=cli,log=$T/h4.aisfs.log" "$T/h" ||
	fail "aisfs mount -o endpoint=A,B"
assert_eq hi "$(cat "$T/h/x")" "read through -o endpoint=A,B"
"$AISFS" umount "$T/h"
expect_mount_error "expected HOST:PORT" "$AIS_ENDPOINT,,$dead" "$T/h"
# -f means "fake" for mount helpers: nothing is mounted.
"$T/mount.aisfs" "$AIS_ENDPOINT" "$T/h" -f -o defaults || fail "mount.aisfs -f"
grep -q " $T/h " /proc/mounts && fail "mount.aisfs -f mounted"

# As mount.fuse3 runs a fuse.aisfs fstab entry: "aisfs SPEC DIR -o OPTS".
if command -v mount.fuse3 >/dev/null; then
	mkdir -p "$T/h2"
	ais_cleanup _fuse_unmount "$T/h2"
	PATH="$(dirname "$AISFS"):$PATH" timed 60 mount.fuse3 \
		"aisfs#$AIS_ENDPOINT" "$T/h2" -o "bucket=cli,log=$T/h2.aisfs.log" ||
		fail "mount.fuse3 aisfs#SPEC DIR"
	assert_eq hi "$(cat "$T/h2/x")" "read through mount.fuse3"
	"$AISFS" umount "$T/h2"
fi

# The foreground mode serves until unmounted, then exits 0.
mkdir -p "$T/fg"
"$AISFS" mount -f "$AIS_ENDPOINT" "$T/fg" 2>"$T/fg.aisfs.log" &
fgpid=$!
ais_cleanup _fuse_unmount "$T/fg"
ais_wait_for 20 grep -q " $T/fg fuse.aisfs" /proc/mounts
assert_eq hi "$(cat "$T/fg/cli/x")" "read through the foreground mount"
"$AISFS" umount "$T/fg"
rc=0
wait "$fgpid" || rc=$?
assert_eq 0 "$rc" "foreground aisfs exit status after umount"

# SIGTERM unmounts cleanly; a killed aisfs leaves a stale mount that a new
# mount names, and that aisfs umount removes.
fuse_mount st
pid=$(aisfs_pid st)
kill -TERM "$pid"
ais_wait_for 20 bash -c "! grep -q ' $T/st ' /proc/mounts"
fuse_mount st
pid=$(aisfs_pid st)
kill -KILL "$pid"
sleep 0.5
expect_mount_error "stale mount" "$AIS_ENDPOINT" "$T/st"
"$AISFS" umount "$T/st" || fail "umount of a stale mount"
grep -q " $T/st " /proc/mounts && fail "stale mount still there"
true
