#!/usr/bin/env bash
# Links through the mount (issue 14). Symbolic links: made with
# symlink(2), stored as objects whose mode says "link" and whose bytes are
# the target, followed by the kernel, seen by another mount and by `ais`,
# copied as links by `ais get -r`, made by tar -x and python -m venv. Hard
# links: a copy made at link time (aisfs(1)), one link each. What is
# refused (FIFOs, sockets) leaves nothing behind.
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_links
ais_cluster_up 3
"$AIS" bucket create ais://b >/dev/null

fuse_mount m1
M1=$MNT/b
fuse_mount m2
M2=$MNT/b

note "symlink, readlink, following"
echo hello >"$M1/a.txt"
mkdir "$M1/d"
echo inside >"$M1/d/f"
ln -s a.txt "$M1/rel"
ln -s "$M1/d" "$M1/absdir"
ln -s d "$M1/reldir"
ln -s nowhere "$M1/dangling"
long=$(printf 'x%.0s' $(seq 1 4000))
ln -s "$long" "$M1/long"
assert_eq a.txt "$(readlink "$M1/rel")" "readlink"
assert_eq hello "$(cat "$M1/rel")" "reading through a link"
assert_eq inside "$(cat "$M1/reldir/f")" "a link to a directory"
assert_eq inside "$(cat "$M1/absdir/f")" "an absolute link"
assert_eq "$long" "$(readlink "$M1/long")" "a 4000-byte target"
assert_eq "symbolic link 5" "$(stat -c '%F %s' "$M1/rel")" "lstat"
assert_eq "regular file 6" "$(stat -L -c '%F %s' "$M1/rel")" "stat"
[ -L "$M1/dangling" ] || fail "dangling link not a link"
expect_errno ENOENT "open('$M1/dangling')"
expect_errno ELOOP "os.open('$M1/rel', os.O_RDONLY | os.O_NOFOLLOW)"
expect_errno EEXIST "os.symlink('x', '$M1/rel')"
expect_errno EEXIST "os.symlink('x', '$M1/a.txt')"
expect_errno EEXIST "os.symlink('x', '$M1/d')"
expect_errno ENOENT "os.symlink('', '$M1/empty')"
expect_errno ENAMETOOLONG "os.symlink('y' * 5000, '$M1/toolong')"
[ ! -e "$M1/empty" ] && [ ! -L "$M1/toolong" ] ||
	fail "a refused symlink left a name"
# A listing gives the type (find -type l reads d_type / readdirplus).
assert_eq "absdir dangling long rel reldir" \
	"$(cd "$M1" && find . -maxdepth 1 -type l -printf '%f\n' | sort |
		tr '\n' ' ' | sed 's/ $//')" "find -type l"

# Named like an archive, a link stays a link (no shard directory).
printf 'x' >"$M1/real.tar"
ln -s real.tar "$M1/latest.tar"
assert_eq real.tar "$(readlink "$M1/latest.tar")" "a link named .tar"
assert_eq x "$(cat "$M1/latest.tar")" "following a link named .tar"
assert_eq real.tar "$(readlink "$M2/latest.tar")" "a link named .tar, elsewhere"
rm "$M1/latest.tar" "$M1/real.tar"

note "another mount, the CLI"
assert_eq a.txt "$(readlink "$M2/rel")" "readlink on another mount"
assert_eq hello "$(cat "$M2/rel")" "following on another mount"
"$AIS" ls -l ais://b/ | grep -q ' rel (symbolic link)$' ||
	fail "ais ls -l does not mark the link"
"$AIS" stat ais://b/rel | grep -q '^type *symbolic link' ||
	fail "ais stat does not say link"
assert_eq a.txt "$("$AIS" get ais://b/rel -)" "a link's bytes are its target"

note "rename, unlink, replace"
mv "$M1/rel" "$M1/rel2"
assert_eq a.txt "$(readlink "$M1/rel2")" "renamed link"
[ ! -e "$M1/rel" ] && [ ! -L "$M1/rel" ] || fail "old link name left"
rm "$M1/rel2"
[ ! -L "$M1/rel2" ] || fail "rm of a link"
assert_eq hello "$(cat "$M1/a.txt")" "rm of a link kept its target"
# Replaced elsewhere by a link to something else: seen by the other mount.
rm "$M2/dangling"
ln -s d "$M2/dangling"
for _ in $(seq 1 50); do
	[ "$(readlink "$M1/dangling" 2>/dev/null)" = d ] && break
	sleep 0.1
done
assert_eq d "$(readlink "$M1/dangling")" "a link replaced on another mount"

# Replaced on another mount by a file too big to be a target.
ln -s a.txt "$M1/rb"
assert_eq a.txt "$(readlink "$M1/rb")" "rb"
rm "$M2/rb"
head -c 10000 /dev/urandom >"$M2/rb"
for _ in $(seq 1 50); do
	[ -f "$M1/rb" ] && [ ! -L "$M1/rb" ] && break
	sleep 0.1
done
expect_errno EINVAL "os.readlink('$M1/rb')"
assert_eq 10000 "$(stat -c %s "$M1/rb")" "rb is a file now"

note "ais get: links as links, never written through"
# One object to a path: a link replaces a link (or file) there; a range
# of it writes through, as for any object.
echo local >"$T/target"
ln -s "$T/target" "$T/dst"
"$AIS" get ais://b/reldir "$T/dst" >/dev/null || fail "get of a link"
assert_eq d "$(readlink "$T/dst")" "get: the link replaced the link"
assert_eq local "$(cat "$T/target")" "get: nothing written through"
ln -sf "$T/target" "$T/dst"
"$AIS" get --offset 1 ais://b/reldir "$T/dst" >/dev/null 2>&1 || true
[ -L "$T/dst" ] && [ "$(readlink "$T/dst")" = "$T/target" ] ||
	fail "a ranged get replaced the link"
# get -r over a tree it made before, after the bucket's links became a
# file and a directory: nothing lands where the old links pointed.
mkdir "$T/outdir"
echo keep >"$T/outfile"
ln -s "$T/outfile" "$M1/esc"
ln -s "$T/outdir" "$M1/escd"
"$AIS" get -r ais://b/ "$T/esc-tree" >/dev/null || fail "get -r (links)"
[ -L "$T/esc-tree/esc" ] && [ -L "$T/esc-tree/escd" ] || fail "get -r links"
rm "$M1/esc" "$M1/escd"
echo bucket >"$M1/esc"
mkdir "$M1/escd"
echo bucket >"$M1/escd/f"
# Many files under the old link: parallel jobs meet at the same link.
for i in $(seq 1 40); do echo "$i" >"$M1/escd/g$i"; done
"$AIS" get -r ais://b/ "$T/esc-tree" >/dev/null || fail "get -r again"
assert_eq keep "$(cat "$T/outfile")" "get -r wrote through a link"
[ ! -e "$T/outdir/f" ] || fail "get -r wrote through a directory link"
assert_eq bucket "$(cat "$T/esc-tree/esc")" "get -r: esc is the file now"
assert_eq bucket "$(cat "$T/esc-tree/escd/f")" "get -r: escd is a directory"
rm -r "$M1/esc" "$M1/escd"

note "ais get -r copies links as links"
"$AIS" get -r ais://b/ "$T/got" >/dev/null || fail "ais get -r"
assert_eq "$M1/d" "$(readlink "$T/got/absdir")" "get -r: absdir's target"
[ -L "$T/got/reldir" ] || fail "get -r: reldir is not a link"
assert_eq d "$(readlink "$T/got/reldir")" "get -r: reldir's target"
assert_eq inside "$(cat "$T/got/reldir/f")" "get -r: following it"
assert_eq "$long" "$(readlink "$T/got/long")" "get -r: long target"
# Again over the same tree: links (also to directories) are replaced.
"$AIS" get -r ais://b/ "$T/got" >/dev/null || fail "ais get -r again"
[ -L "$T/got/reldir" ] && [ -d "$T/got/d" ] || fail "get -r again"
[ -z "$(find "$T/got" -name '*.ais-*')" ] || fail "get -r left temporaries"

note "hard links: a copy made now"
printf 'first' >"$M1/h0"
chmod 640 "$M1/h0"
touch -d @981173106 "$M1/h0"
ln "$M1/h0" "$M1/h1" || fail "link"
assert_eq first "$(cat "$M1/h1")" "link: the bytes"
assert_eq "1 640 981173106" "$(stat -c '%h %a %Y' "$M1/h1")" "link: nlink, mode, mtime"
assert_eq 1 "$(stat -c %h "$M1/h0")" "link: the source's nlink"
[ "$(stat -c %i "$M1/h0")" != "$(stat -c %i "$M1/h1")" ] ||
	fail "a copy shares the inode number"
assert_eq first "$(cat "$M2/h1")" "link: seen on another mount"
printf 'second' >"$M1/h0"
assert_eq first "$(cat "$M1/h1")" "link: names are files of their own"
expect_errno EEXIST "os.link('$M1/h0', '$M1/h1')"
expect_errno EEXIST "os.link('$M1/h0', '$M1/d')"
expect_errno EPERM "os.link('$M1/d', '$M1/dlink')"
ln "$M1/absdir" "$M1/hsym" || fail "link of a symlink"
assert_eq "$M1/d" "$(readlink "$M1/hsym")" "link of a symlink is a symlink"
# Bytes written and not yet closed are in the copy (saved first).
python3 - "$M1/h0" "$M1/h2" <<'PY' || fail "link of a file open for writing"
import os, sys
with open(sys.argv[1], "w") as f:
    f.write("unsaved")
    f.flush()
    os.link(sys.argv[1], sys.argv[2])
    assert open(sys.argv[2]).read() == "unsaved", open(sys.argv[2]).read()
PY
# A shard's member is no object of its own.
mkdir "$T/st"
echo m >"$T/st/m"
tar -cf "$T/s.tar" -C "$T/st" m
"$AIS" put "$T/s.tar" ais://b/s.tar >/dev/null || fail "put s.tar"
assert_eq m "$(cat "$M1/s.tar.d/m")" "a shard member"
expect_errno EXDEV "os.link('$M1/s.tar.d/m', '$M1/hm')"
[ ! -e "$M1/hm" ] || fail "a refused link left a name"

note "tar -x, cp -a, python -m venv"
mkdir -p "$T/src/sub"
echo one >"$T/src/one"
ln "$T/src/one" "$T/src/hard"
ln -s one "$T/src/l1"
ln -s sub "$T/src/lsub"
ln -s ../one "$T/src/sub/up"
tar -cf "$T/t.tar" -C "$T/src" .
mkdir "$M1/x"
tar -xf "$T/t.tar" -C "$M1/x" || fail "tar -x of links"
assert_eq one "$(readlink "$M1/x/l1")" "tar: l1"
assert_eq one "$(cat "$M1/x/sub/up")" "tar: sub/up"
diff -r "$T/src" "$M1/x" || fail "tar -x tree differs"
assert_eq one "$(cat "$M1/x/hard")" "tar: a hard link"
cp -a "$T/src" "$M1/cpa" || fail "cp -a of links"
diff -r "$T/src" "$M1/cpa" || fail "cp -a tree differs"
[ -L "$M1/cpa/l1" ] || fail "cp -a: l1 is not a link"
python3 -m venv --without-pip "$M1/venv" || fail "python -m venv"
assert_eq lib "$(readlink "$M1/venv/lib64")" "venv: lib64 -> lib"
"$M1/venv/bin/python" -c 'import sys; assert sys.prefix != sys.base_prefix' ||
	fail "the venv's python does not run as a venv"

note "git clone of a repository with links"
git init -q "$T/repo"
(cd "$T/repo" && echo code >file && ln -s file link && mkdir d &&
	ln -s ../file d/up && git add . &&
	git -c user.email=t@t -c user.name=t commit -qm one) || fail "git init"
git clone -q "$T/repo" "$M1/clone" || fail "git clone into the mount"
assert_eq file "$(readlink "$M1/clone/link")" "git: the link"
assert_eq code "$(cat "$M1/clone/d/up")" "git: following d/up"
[ -z "$(git -C "$M1/clone" status --porcelain)" ] ||
	fail "git status after clone: $(git -C "$M1/clone" status --porcelain)"

note "refused: nothing half-made"
expect_errno EPERM "os.mkfifo('$M1/fifo')"
expect_errno EPERM "os.mknod('$M1/sock', 0o140644)"
[ ! -e "$M1/fifo" ] && [ ! -e "$M1/sock" ] || fail "a refused mknod left a name"
"$AIS" ls ais://b/ | grep -qE '^(fifo|sock)$' && fail "a refused mknod left an object"

note "read-only mount: links followed, none made"
fuse_mount ro -o ro
assert_eq hello "$(cat "$MNT/b/x/../a.txt")" "ro: plain read"
assert_eq one "$(cat "$MNT/b/x/l1")" "ro: following a link"
expect_errno EROFS "os.symlink('x', '$MNT/b/new')"
note "ok"
