#!/usr/bin/env bash
# A POSIX conformance run (issue 14): the same cases (posix_cases.py: open,
# create, truncate, unlink, mkdir, rmdir, rename, chmod, chown, link,
# symlink, utimensat, and an unprivileged user's EACCES and EPERM) on ext4
# and on an allow_other mount, outcome by outcome. Where the mount differs,
# the difference must be the one aisfs(1) LIMITATIONS lists (KNOWN below),
# exactly: a fix or a new difference both fail here until this list says so.
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_posix_cmp
[ "$(id -u)" -eq 0 ] || ais_skip "needs root (chown, allow_other, setpriv)"
chmod 755 "$T"

# The reference: ext4 ($T if it is one, else a loop-mounted image).
LOCAL=$T/local
mkdir "$LOCAL"
if [ "$(stat -f -c %T "$T")" != "ext2/ext3" ]; then
	truncate -s 64M "$T/ext4.img"
	mkfs.ext4 -q -F "$T/ext4.img" || fail "mkfs.ext4"
	mount -o loop "$T/ext4.img" "$LOCAL" || fail "no ext4 to compare with"
	ais_cleanup umount "$LOCAL"
fi
chmod 755 "$LOCAL"

ais_cluster_up 3
"$AIS" bucket create ais://b >/dev/null
fuse_mount m1 -o allow_other
mkdir "$MNT/b/cases"
chmod 755 "$MNT/b/cases"

CASES=$AIS_SRC_DIR/test/integration/fuse/posix_cases.py
# run DIR: every case's outcome on DIR, root's then user 65534's.
run()
{
	python3 "$CASES" "$1" || fail "posix_cases.py $1"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		/usr/bin/python3 "$CASES" "$1" --user || fail "posix_cases.py --user $1"
}

# case -> the mount's outcome, for each difference aisfs(1) lists.
declare -A KNOWN=(
	# A hard link is a copy made at link time (NAMESPACE).
	[link_file]="ok L nlink 1"
	# FIFOs, sockets and devices are not kept (NAMESPACE).
	[mkfifo]="EPERM"
)

note "the cases on ext4 and on the mount"
run "$LOCAL" >"$T/ext4.out"
run "$MNT/b/cases" >"$T/mount.out"
[ "$(wc -l <"$T/ext4.out")" -ge 80 ] || fail "too few cases ran"
assert_eq "$(cut -d: -f1 "$T/ext4.out")" "$(cut -d: -f1 "$T/mount.out")" \
	"the same cases ran"
bad=0
while IFS= read -r line; do
	name=${line%%: *}
	want=${line#*: }
	got=$(grep -m1 "^$name: " "$T/mount.out")
	got=${got#*: }
	if [ "$got" = "$want" ]; then
		[ -z "${KNOWN[$name]+x}" ] ||
			{ note "$name: now as on ext4 ($got): drop it from KNOWN and LIMITATIONS"; bad=1; }
	elif [ "${KNOWN[$name]-}" != "$got" ]; then
		note "$name: ext4 says \"$want\", the mount \"$got\""
		bad=1
	fi
done <"$T/ext4.out"
[ "$bad" = 0 ] || fail "the mount differs from ext4 beyond what aisfs(1) lists"
note "$(wc -l <"$T/ext4.out") cases, ${#KNOWN[@]} known differences"
