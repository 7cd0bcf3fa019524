# shellcheck shell=bash
# Helpers for the aisfs tests, on top of ../lib.sh: skip without FUSE, mount
# with cleanup registered, errno checks through python3.
#
#   . "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
#   fuse_test_init NAME          # ais_test_init + FUSE checks
#   ais_cluster_up 3
#   fuse_mount m1 -o bucket=b    # mounted on $T/m1 (also in $MNT),
#                                # unmounted at exit

. "$AIS_SRC_DIR/test/integration/lib.sh"

# fuse_test_init NAME: like ais_test_init, then skips (exit 77) when FUSE
# cannot be used here, unless AIS_TEST_REQUIRE_FUSE=1 (then it fails).
fuse_test_init()
{
	ais_test_init "$1"
	[ -n "${AISFS:-}" ] || ais_skip "aisfs was not built (no libfuse3)"
	[ -c /dev/fuse ] || ais_skip "no /dev/fuse"
	if ! [ -r /dev/fuse ] || ! [ -w /dev/fuse ]; then
		ais_skip "/dev/fuse not accessible"
	fi
	command -v fusermount3 >/dev/null || [ "$(id -u)" = 0 ] ||
		ais_skip "no fusermount3"
}

# _fuse_unmount DIR: unmounts (lazily if busy) and waits for the aisfs
# process to go; used as the registered cleanup.
_fuse_unmount()
{
	local dir=$1 i
	mountpoint -q "$dir" 2>/dev/null || grep -q " $dir fuse" /proc/mounts ||
		return 0
	"$AISFS" umount "$dir" 2>/dev/null || "$AISFS" umount -l "$dir" ||
		fusermount3 -u -z "$dir" 2>/dev/null || umount -l "$dir"
	for ((i = 0; i < 50; i++)); do
		grep -q " $dir fuse" /proc/mounts || break
		sleep 0.1
	done
}

# fuse_mount NAME [aisfs mount args...]: mounts the test cluster on $T/NAME
# (daemonized, logging to $T/NAME.aisfs.log) and sets MNT to it. The
# unmount is registered as a cleanup, so it happens also on failure. Do not
# call it in a subshell ($(...)): the cleanup would be lost.
_fuse_registered=" "
fuse_mount()
{
	local name=$1 dir
	shift
	dir=$T/$name
	mkdir -p "$dir"
	case "$_fuse_registered" in
	*" $dir "*) ;;
	*)
		ais_cleanup _fuse_unmount "$dir"
		_fuse_registered="$_fuse_registered$dir "
		;;
	esac
	"$AISFS" mount -o "log=$T/$name.aisfs.log" "$@" "$AIS_ENDPOINT" "$dir" \
		>&2 || fail "aisfs mount $* $dir failed"
	grep -q " $dir fuse.aisfs" /proc/mounts || fail "$dir is not mounted"
	# shellcheck disable=SC2034 # read by the test scripts
	MNT=$dir
}

# leases_ready NAME [NODES=3]: waits (up to 10 s) until mount NAME's lease
# watchers had their first answer from each node. Each first answer drops
# what the mount trusted, so a directory made before it is not known to be
# complete yet (lease.h, afs_trust_dir).
leases_ready()
{
	local want=${2:-3} i n
	for i in $(seq 1 100); do
		n=$(awk '/NOTE: mounted/ { n = 0 }
			/a node is watched from now on/ { n++ }
			END { print n + 0 }' "$T/$1.aisfs.log")
		[ "$n" -ge "$want" ] && return 0
		sleep 0.1
	done
	fail "mount $1: leases not granted by $want nodes in 10 s"
}

# aisfs_pid NAME: the aisfs process of mount NAME (not its guard process,
# which read-only mounts have, with the same command line).
aisfs_pid()
{
	local p
	for p in $(pgrep -f "aisfs mount .*log=$T/$1.aisfs.log"); do
		if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = aisfs ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

fuse_umount()
{
	"$AISFS" umount "$1" || fail "aisfs umount $1"
	_fuse_unmount "$1"
}

# expect_errno ERRNO PYTHON-STATEMENT: the statement (using os) must raise
# OSError with that errno name (ENOENT, EISDIR, ...). With ERRNO_AS=UID,
# it runs as that user and group, without other groups.
expect_errno()
{
	local want=$1 got py=(python3)
	shift
	[ -z "${ERRNO_AS:-}" ] || py=(setpriv --reuid="$ERRNO_AS" \
		--regid="$ERRNO_AS" --clear-groups -- /usr/bin/python3)
	got=$("${py[@]}" - "$want" "$1" <<'PY'
import errno, os, sys
want, stmt = sys.argv[1], sys.argv[2]
try:
    exec(stmt)
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
    sys.exit(0)
print("no error")
PY
	)
	assert_eq "$want" "$got" "errno${ERRNO_AS:+ as $ERRNO_AS} of: $1"
}

# timed SECONDS CMD...: runs CMD with a hard time limit; prints its output.
timed()
{
	local s=$1
	shift
	timeout -k 5 "$s" "$@"
}
