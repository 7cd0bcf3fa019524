#!/usr/bin/env bash
# Owners, modes and times through the mount (issue 14). A file's owner is
# the user who made it (or chown's), a directory's mode, owner and times
# live in its marker object, and the kernel checks permissions against
# them (default_permissions): on an allow_other mount an unprivileged user
# (65534, by setpriv) gets EACCES and EPERM where POSIX says. Times: ctime
# moves on chmod, chown, rename and write; atime is what utimensat set;
# nanoseconds round-trip. rsync -a and cp -a copy a tree with its owners,
# modes and times, and a second rsync changes nothing.
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_owners
[ "$(id -u)" -eq 0 ] || ais_skip "needs root (chown, allow_other, setpriv)"
ais_cluster_up 3
"$AIS" bucket create ais://b >/dev/null
chmod 755 "$T" # for user 65534 to reach the mounts

fuse_mount m1 -o allow_other
M1=$MNT/b
fuse_mount m2 -o allow_other
M2=$MNT/b

# as_nobody CMD...: runs CMD as uid 65534, gid 65534, no other groups.
as_nobody()
{
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}

# nobody_errno ERRNO PYTHON-STATEMENT: expect_errno, as user 65534.
nobody_errno()
{
	ERRNO_AS=65534 expect_errno "$@"
}

# settle: the kernel's cached attributes (1 s) expire.
settle()
{
	sleep 1.2
}

note "files: the maker owns them; chown and chgrp are stored"
echo hi >"$M1/f"
assert_eq "0:0 644" "$(stat -c '%u:%g %a' "$M1/f")" "a root-made file"
chown 65534:100 "$M1/f"
assert_eq "65534:100" "$(stat -c '%u:%g' "$M1/f")" "chown"
assert_eq "65534:100" "$(stat -c '%u:%g' "$M2/f")" "chown, another mount"
"$AIS" stat ais://b/f | grep -q '^owner *65534:100$' ||
	fail "ais stat does not show the owner"
chgrp 7 "$M1/f"
settle
assert_eq "65534:7" "$(stat -c '%u:%g' "$M2/f")" "chgrp keeps the user"
# An object put without an owner is the mount's user's.
echo put >"$T/p"
"$AIS" put "$T/p" ais://b/put >/dev/null
assert_eq "0:0" "$(stat -c '%u:%g' "$M1/put")" "no owner: the mount's"
"$AIS" stat ais://b/put | grep -q '^owner *none' ||
	fail "ais stat: an object without an owner"
# uid= and gid= name the owner of everything on that mount, and only
# show it: a chgrp there keeps the stored user.
fuse_mount m3 -o uid=1234,gid=4321
assert_eq "1234:4321 1234:4321" \
	"$(stat -c '%u:%g' "$MNT/b/f" "$MNT/b/put" | tr '\n' ' ' | sed 's/ $//')" \
	"uid=, gid= mount"
chgrp 77 "$MNT/b/f"
"$AIS" stat ais://b/f | grep -q '^owner *65534:77$' ||
	fail "a chgrp on a uid= mount stored the shown user"
chgrp 7 "$MNT/b/f"
fuse_umount "$MNT"
# open(O_CREAT, 0) makes a file of mode 0000; chown clears set-user-ID.
python3 -c "import os; os.close(os.open('$M1/zero', os.O_CREAT | os.O_WRONLY, 0))"
assert_eq "0" "$(stat -c '%a' "$M1/zero")" "mode 0000"
settle
assert_eq "0" "$(stat -c '%a' "$M2/zero")" "mode 0000, another mount"
touch "$M1/suid"
chmod 4755 "$M1/suid"
chown 1:1 "$M1/suid"
assert_eq "1:1 755" "$(stat -c '%u:%g %a' "$M1/suid")" "chown clears set-user-ID"
# A symbolic link has an owner of its own.
ln -s f "$M1/lnk"
chown -h 5:5 "$M1/lnk"
assert_eq "5:5 65534:7" "$(stat -c '%u:%g' "$M1/lnk" "$M1/f" | tr '\n' ' ' |
	sed 's/ $//')" "chown -h of a link"

note "times: ctime, atime, nanoseconds"
python3 - "$M1/t" <<'PY' || fail "times"
import os, sys, time
p = sys.argv[1]
open(p, "w").write("x")
st = os.stat(p)
assert st.st_ctime_ns >= st.st_mtime_ns, (st.st_ctime_ns, st.st_mtime_ns)
os.utime(p, ns=(1900000000123456789, 1950000000987654321))
st = os.stat(p)
assert (st.st_atime_ns, st.st_mtime_ns) == \
    (1900000000123456789, 1950000000987654321), st
c0 = st.st_ctime_ns
time.sleep(0.01)
os.chmod(p, 0o600)
st = os.stat(p)
assert st.st_ctime_ns > c0, ("chmod moves ctime", c0, st.st_ctime_ns)
assert st.st_mtime_ns == 1950000000987654321, "chmod moved the mtime"
c1 = st.st_ctime_ns
time.sleep(0.01)
os.rename(p, p + "2")
st = os.stat(p + "2")
assert st.st_ctime_ns > c1, ("rename moves ctime", c1, st.st_ctime_ns)
assert st.st_atime_ns == 1900000000123456789, "rename lost the atime"
c2 = st.st_ctime_ns
time.sleep(0.01)
with open(p + "2", "a") as f:
    f.write("y")
st = os.stat(p + "2")
assert st.st_ctime_ns > c2 and st.st_mtime_ns > c2, ("write", c2, st)
os.rename(p + "2", p)
PY
settle
assert_eq "1900000000.123456789" "$(stat -c '%.9X' "$M2/t")" \
	"atime, another mount"

note "directories keep mode, owner and times"
mkdir -m 750 "$M1/d750"
assert_eq "0:0 750" "$(stat -c '%u:%g %a' "$M1/d750")" "mkdir -m 750"
mkdir "$M1/pub"
chmod 1777 "$M1/pub"
touch -d '2001-02-03 04:05:06.123456789' "$M1/d750"
chown 3:4 "$M1/d750"
settle
assert_eq "3:4 750 981173106.123456789" \
	"$(stat -c '%u:%g %a %.9Y' "$M2/d750")" "a directory's attributes"
assert_eq "1777" "$(stat -c '%a' "$M2/pub")" "chmod 1777"
# Made by ais put (no marker): chmod gives it one.
"$AIS" put "$T/p" ais://b/implicit/x >/dev/null
assert_eq "755" "$(stat -c '%a' "$M1/implicit")" "a prefix's default mode"
chmod 700 "$M1/implicit"
settle
assert_eq "700" "$(stat -c '%a' "$M2/implicit")" "chmod of a prefix"
"$AIS" stat ais://b/implicit/.aisfs.dir | grep -q '^owner *none' ||
	fail "a chmod gave a prefix an owner"
# A directory's attributes follow a change elsewhere while its parent is
# listed again and again (a listing has no directory attributes).
mkdir "$M1/watched"
ls -l "$M2" >/dev/null
chmod 711 "$M1/watched"
ok=0
for _ in $(seq 1 40); do
	ls -l "$M2" >/dev/null
	[ "$(stat -c %a "$M2/watched")" = 711 ] && { ok=1; break; }
	sleep 0.2
done
assert_eq 1 "$ok" "a chmod elsewhere, seen while the parent is listed"
rm "$M1/implicit/x"
rmdir "$M1/implicit"
[ ! -e "$M1/implicit" ] || fail "rmdir left a directory"
mkdir "$M1/implicit"
assert_eq "755" "$(stat -c '%a' "$M1/implicit")" "a new directory of the name"
# A set-group-ID directory passes on its group, and its bit to directories.
mkdir -m 2775 "$M1/sg"
chgrp 100 "$M1/sg"
touch "$M1/sg/f"
mkdir "$M1/sg/d"
assert_eq "0:100 0:100 2755" "$(stat -c '%u:%g' "$M1/sg/f") $(stat -c '%u:%g %a' \
	"$M1/sg/d")" "set-group-ID directory"
expect_errno EISDIR "os.truncate('$M1/pub', 0)"

note "a directory's mtime and ctime move with its names"
mkdir "$M1/dt"
touch -d @1000000000 "$M1/dt"
assert_eq 1000000000 "$(stat -c %Y "$M1/dt")" "touch -d of a directory"
for op in "touch $M1/dt/a" "mkdir $M1/dt/s" "ln -s a $M1/dt/l" \
	"mv $M1/dt/a $M1/dt/b" "rm $M1/dt/b" "rmdir $M1/dt/s" \
	"mv $M1/dt/l $M1/pub/l"; do
	before=$(stat -c %.9Y "$M1/dt")
	$op
	after=$(stat -c '%.9Y %.9Z' "$M1/dt")
	python3 -c "import sys; b=float(sys.argv[1]); m, c = map(float, sys.argv[2].split()); sys.exit(not (m > b and c >= m))" \
		"$before" "$after" || fail "$op: directory mtime/ctime $before -> $after"
done
# Stored within a round (dirtime.h); seen once M2's cached copy expires.
until_eq()
{ # until_eq WANT CMD...: up to 10 s for CMD to print WANT
	local i
	for i in $(seq 1 100); do
		[ "$("${@:2}")" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
until_eq "$(stat -c %.9Y "$M1/dt")" stat -c %.9Y "$M2/dt" ||
	fail "a moved directory time, another mount: $(stat -c %.9Y "$M1/dt") here, $(stat -c %.9Y "$M2/dt") there"
# An explicit time set after names were added stays (tar, rsync): no
# pending time of the create lands after it.
touch "$M1/dt/c"
touch -d @1100000000 "$M1/dt"
until_eq 1100000000 stat -c %Y "$M2/dt" || fail "touch -d after a create, another mount"
sleep 1.5 # a round later
assert_eq "1100000000 1100000000" \
	"$(stat -c %Y "$M1/dt") $(stat -c %Y "$M2/dt")" "touch -d after a create"

note "an unprivileged user: EACCES and EPERM where POSIX says"
echo secret >"$M1/secret"
chmod 600 "$M1/secret"
nobody_errno EACCES "open('$M1/secret')"
nobody_errno EACCES "open('$M1/new', 'w')"
nobody_errno EACCES "os.mkdir('$M1/newdir')"
nobody_errno EACCES "os.listdir('$M1/d750')"
nobody_errno EPERM "os.chmod('$M1/secret', 0o644)"
nobody_errno EPERM "os.chown('$M1/secret', 65534, 65534)"
nobody_errno EACCES "os.unlink('$M1/secret')"
as_nobody sh -c "echo mine >'$M1/pub/mine'" || fail "writing into 1777"
assert_eq "65534:65534 644" "$(stat -c '%u:%g %a' "$M1/pub/mine")" \
	"a file made by 65534"
as_nobody chmod 600 "$M1/pub/mine" || fail "chmod of one's own file"
nobody_errno EPERM "os.chown('$M1/pub/mine', 0, 65534)"
nobody_errno EPERM "os.chown('$M1/pub/mine', 65534, 0)"
as_nobody mkdir "$M1/pub/dir" || fail "mkdir in 1777"
assert_eq "65534:65534" "$(stat -c '%u:%g' "$M2/pub/dir")" \
	"a directory made by 65534, another mount"
touch "$M1/pub/roots"
nobody_errno EPERM "os.unlink('$M1/pub/roots')"
nobody_errno EPERM "os.rename('$M1/pub/roots', '$M1/pub/r2')"
as_nobody rm "$M1/pub/mine" || fail "removing one's own file in 1777"
# A private archive's members are private too (its view has its mode).
mkdir -p "$T/arch/cls"
echo sample >"$T/arch/cls/1.txt"
chmod 644 "$T/arch/cls/1.txt"
tar -cf "$M1/pub/priv.tar" -C "$T/arch" cls
chown 1000:1000 "$M1/pub/priv.tar"
chmod 600 "$M1/pub/priv.tar"
assert_eq "1000:1000 700" "$(stat -c '%u:%g %a' "$M1/pub/priv.tar.d")" \
	"a private archive's view"
nobody_errno EACCES "open('$M1/pub/priv.tar.d/cls/1.txt')"
nobody_errno EACCES "os.listdir('$M1/pub/priv.tar.d')"
assert_eq sample "$(cat "$M1/pub/priv.tar.d/cls/1.txt")" "root reads it"
# Access follows a chmod made on another mount.
chmod 644 "$M2/secret"
settle
assert_eq secret "$(as_nobody cat "$M1/secret")" "readable after chmod"

note "cp -a, rsync -a twice, tar -x: owners, modes and times"
mkdir -p "$T/src/a/b" "$T/src/c"
echo 1 >"$T/src/a/f1"
echo 2 >"$T/src/a/b/f2"
ln -s ../a/f1 "$T/src/c/l"
chmod 700 "$T/src/c"
chmod 640 "$T/src/a/f1"
chmod 2750 "$T/src/a/b"
chown 65534:100 "$T/src/a/b/f2"
chown -h 7:8 "$T/src/c/l"
chown 9:10 "$T/src/a"
touch -h -d '2020-01-01 00:00:00.5' "$T/src/c/l"
touch -d '2019-05-06 07:08:09.123456789' "$T/src/a/b" "$T/src/a/f1" "$T/src/c"
# listing DIR: every entry's type, owner, mode and mtime.
listing()
{
	(cd "$1" && find . -printf '%p %y %U:%G %m %T@\n' | sort)
}
want=$(listing "$T/src")
cp -a "$T/src" "$M1/cpa" || fail "cp -a"
settle
assert_eq "$want" "$(listing "$M2/cpa")" "cp -a, seen on another mount"
rsync -a "$T/src/" "$M1/rs/" || fail "rsync -a"
settle
assert_eq "$want" "$(listing "$M2/rs")" "rsync -a, seen on another mount"
before=$(listing "$M2/rs")
out=$(rsync -ai "$T/src/" "$M2/rs/") || fail "rsync -a again"
assert_eq "" "$out" "a second rsync -a changes nothing"
settle
assert_eq "$before" "$(listing "$M1/rs")" "no time moved in the second rsync"
tar --format=posix -cf "$T/src.tar" -C "$T/src" .
mkdir "$M1/tx"
tar --numeric-owner -xpf "$T/src.tar" -C "$M1/tx" || fail "tar -x"
settle
# tar -x leaves the top directory's time to the caller.
assert_eq "$(echo "$want" | grep -v '^\. ')" \
	"$(listing "$M2/tx" | grep -v '^\. ')" "tar -x"
# And back out: tar -c of the mount's tree gives the same tree again.
tar --format=posix -cf "$T/back.tar" -C "$M2/tx" . || fail "tar -c of the mount"
mkdir "$T/back"
tar --numeric-owner -xpf "$T/back.tar" -C "$T/back" || fail "tar -x of tar -c"
assert_eq "$(echo "$want" | grep -v '^\. ')" \
	"$(listing "$T/back" | grep -v '^\. ')" "tar -c from the mount"
diff -r "$T/src" "$T/back" || fail "tar -c from the mount: contents"

note "an unprivileged user's python -m venv"
as_nobody /usr/bin/python3 -m venv --without-pip "$M1/pub/venv" ||
	fail "python -m venv as 65534"
as_nobody "$M1/pub/venv/bin/python" -c 'import sys; assert sys.prefix != sys.base_prefix' ||
	fail "the venv of 65534 does not run"
assert_eq "65534:65534" "$(stat -c '%u:%g' "$M2/pub/venv/pyvenv.cfg")" \
	"the venv's files are 65534's"

note "the daemons kept serving"
assert_eq hi "$("$AIS" get ais://b/f -)" "GET after all of it"
