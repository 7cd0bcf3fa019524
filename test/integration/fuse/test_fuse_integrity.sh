#!/usr/bin/env bash
# No wrong byte is ever served. Bytes flipped on disk (through the page
# cache, xattrs kept) in a whole object, in a range of a 1 GiB object, in
# a member of a GNU tar shard and inside a .tar.gz shard: with copies=2 the
# right bytes come back (through `ais get`, `ais get --member`, ranges and
# the mount) and the bad copy is repaired by the read; with copies=1 the
# read fails (a checksum error in ais, EIO at the mount) and no byte of it
# is written out. `ais scrub` then finds and repairs corrupt copies, lists
# the ones it cannot repair, makes a missing copy and removes a stray one.
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_integrity
need_free_gib 4
ais_cluster_up 3
"$AIS" bucket create ais://one >/dev/null
"$AIS" bucket create ais://two --copies 2 >/dev/null

# flip BUCKET NAME OFFSET [WHICH]: flips the byte at OFFSET of one copy of
# the object on the disks, as a disk error would: the WHICH-th node of its
# copy set (default 1: the owner, which reads go to; `ais stat` says).
copies_of() { find "$AIS_CLUSTER_DIR"/node*/mp* -path "*/$1/$2" -type f | sort; }
copy_on()
{ # copy_on BUCKET NAME WHICH: the file of that copy
	local id d
	id=$("$AIS" stat "ais://$1/$2" | grep '^nodes' | grep -oE '[0-9a-f]{16} ' |
		sed -n "$3p" | tr -d ' ')
	for d in "$AIS_CLUSTER_DIR"/node*; do
		[ "$(cat "$d/mp0/.ais/node")" = "$id" ] || continue
		find "$d"/mp* -path "*/$1/$2" -type f | head -1
	done
}
flip()
{
	local f
	f=$(copy_on "$1" "$2" "${4:-1}")
	[ -n "$f" ] || fail "no copy of $1/$2 on its node ${4:-1}"
	flip_byte "$f" "$3"
}
all_good() { # all_good BUCKET NAME SRC: every copy on disk equals SRC
	local f
	for f in $(copies_of "$1" "$2"); do cmp -s "$f" "$3" || return 1; done
}

mkdir -p "$T/src/d"
head -c 300000 /dev/urandom >"$T/small"
for i in 1 2 3 4 5 6; do head -c $((40000 + i * 1000)) /dev/urandom >"$T/src/d/m$i"; done
tar -cf "$T/s.tar" -C "$T/src" d
tar -czf "$T/s.tgz" -C "$T/src" d
for b in one two; do
	for f in small s.tar s.tgz; do
		"$AIS" put -q "$T/$f" "ais://$b/$f" || fail "put $b/$f"
	done
done
off=$(python3 -c "import tarfile,sys; print(tarfile.open(sys.argv[1]).getmember('d/m3').offset_data)" "$T/s.tar")
fuse_mount m -o attr_timeout=0,entry_timeout=0
M=$MNT

# ---- copies=1: the read fails, nothing wrong comes out -----------------
flip one small 100000
flip one s.tar $((off + 500))
flip one s.tgz 30000
rm -f "$T/got"
"$AIS" get ais://one/small "$T/got" 2>"$T/err" && fail "a corrupt object read fine"
grep -q "checksum" "$T/err" || fail "no checksum error: $(cat "$T/err")"
[ ! -s "$T/got" ] || fail "bytes of a corrupt object were written out"
"$AIS" get ais://one/small - 2>/dev/null | cmp -s - "$T/small" && fail "a corrupt object went to stdout whole"
[ "$("$AIS" get ais://one/small - 2>/dev/null | wc -c)" -eq 0 ] ||
	fail "bytes of a corrupt object went to stdout"
# A range in intact blocks reads fine; one over the flip does not.
"$AIS" get ais://one/small --offset 200000 --length 5000 "$T/got" ||
	fail "a range away from the flip"
cmp -s "$T/got" <(tail -c +200001 "$T/small" | head -c 5000) || fail "range bytes"
"$AIS" get ais://one/small --offset 99000 --length 2000 "$T/got" 2>/dev/null &&
	fail "a range over the flip read fine"
"$AIS" get ais://one/s.tar --member d/m3 "$T/got" 2>"$T/err" &&
	fail "a corrupt tar member read fine"
grep -q checksum "$T/err" || fail "tar member: $(cat "$T/err")"
"$AIS" get ais://one/s.tar --member d/m6 "$T/got" || fail "an intact member"
cmp -s "$T/got" "$T/src/d/m6" || fail "intact member bytes"
"$AIS" get ais://one/s.tgz --member d/m1 "$T/got" 2>/dev/null &&
	fail "a member decoded from corrupt gzip bytes read fine"
# Through the mount: EIO, never wrong bytes.
python3 - "$M" <<'PY' || fail "mount reads of corrupt copies"
import errno, os, sys
m = sys.argv[1]
for p in ("one/small", "one/s.tar.d/d/m3"):
    try:
        with open(os.path.join(m, p), "rb") as f:
            f.read()
    except OSError as e:
        assert e.errno == errno.EIO, "%s: %s (want EIO)" % (p, e)
    else:
        raise AssertionError("%s: read a corrupt copy" % p)
PY

# ---- copies=2: the right bytes, and the bad copy repaired --------------
flip two small 100000
flip two s.tar $((off + 500))
flip two s.tgz 30000
"$AIS" get ais://two/small "$T/got" || fail "copies=2: whole object"
cmp -s "$T/got" "$T/small" || fail "copies=2: whole object bytes"
all_good two small "$T/small" || fail "the bad copy of two/small was not repaired"
"$AIS" get ais://two/s.tar --member d/m3 "$T/got" || fail "copies=2: member"
cmp -s "$T/got" "$T/src/d/m3" || fail "copies=2: member bytes"
"$AIS" get ais://two/s.tgz --member d/m1 "$T/got" || fail "copies=2: gzip member"
cmp -s "$T/got" "$T/src/d/m1" || fail "copies=2: gzip member bytes"
cmp -s "$M/two/s.tgz.d/d/m1" "$T/src/d/m1" || fail "copies=2: gzip member through the mount"
cmp -s "$M/two/s.tar.d/d/m3" "$T/src/d/m3" || fail "copies=2: tar member through the mount"
all_good two s.tar "$T/s.tar" || fail "the bad copy of two/s.tar was not repaired"
all_good two s.tgz "$T/s.tgz" || fail "the bad copy of two/s.tgz was not repaired"

# ---- a range of a 1 GiB object -----------------------------------------
head -c $((1 << 30)) /dev/urandom >"$T/big"
"$AIS" put -q "$T/big" ais://two/big || fail "put big"
flip two big $((700 << 20)) 1
"$AIS" get ais://two/big --offset $(((700 << 20) - 100)) --length 4096 "$T/got" ||
	fail "range of big over the flip"
cmp -s "$T/got" <(tail -c +$(((700 << 20) - 99)) "$T/big" | head -c 4096) ||
	fail "range of big: wrong bytes"
python3 - "$M/two/big" "$T/big" <<'PY' || fail "big through the mount"
import sys
off = (700 << 20) - 3000
with open(sys.argv[1], "rb") as a, open(sys.argv[2], "rb") as b:
    a.seek(off); b.seek(off)
    assert a.read(1 << 20) == b.read(1 << 20), "wrong bytes"
PY
for f in $(copies_of two big); do
	cmp -s -i $((700 << 20)):$((700 << 20)) -n 65536 "$f" "$T/big" ||
		fail "the bad copy of big was not repaired: $f"
done
rm -f "$T/big"

# ---- scrub -------------------------------------------------------------
for i in 1 2 3 4 5; do
	head -c $((70000 * i)) /dev/urandom >"$T/s$i"
	"$AIS" put -q "$T/s$i" "ais://two/s$i"
done
"$AIS" put -q "$T/small" ais://one/clean
flip two s1 5
flip two s2 70001 2
flip two s3 200000
rm -f "$(copies_of two s4 | head -1)" # a missing copy
# A stray: a copy of s5 on the node outside its copy set.
src=$(copies_of two s5 | head -1)
for d in "$AIS_CLUSTER_DIR"/node*; do
	copies_of two s5 | grep -q "^$d/" && continue
	mkdir -p "$d/mp0/two"
	cp --preserve=all "$src" "$d/mp0/two/s5"
	break
done
[ "$(copies_of two s5 | wc -l)" -eq 3 ] || fail "no stray made"
"$AIS" scrub ais://two >"$T/scrub.out" 2>&1 || fail "scrub of two: $(cat "$T/scrub.out")"
cat "$T/scrub.out" >&2
grep -q "3 corrupt, 3 repaired" "$T/scrub.out" || fail "scrub counts: $(tail -1 "$T/scrub.out")"
grep -qE "[1-9][0-9]* copies made" "$T/scrub.out" || fail "scrub made no copy"
grep -q "1 strays removed" "$T/scrub.out" || fail "scrub removed no stray"
for i in 1 2 3 4 5; do
	[ "$(copies_of two "s$i" | wc -l)" -eq 2 ] || fail "s$i: $(copies_of two "s$i" | wc -l) copies after the scrub"
	all_good two "s$i" "$T/s$i" || fail "s$i: a bad copy after the scrub"
done
# copies=1: listed, not repaired; exit status 1.
"$AIS" scrub ais://one >"$T/scrub1.out" 2>&1 && fail "scrub of a bucket with an unrepairable copy succeeded"
grep -q "corrupt, not repaired: ais://one/small" "$T/scrub1.out" ||
	fail "scrub does not list one/small: $(cat "$T/scrub1.out")"
"$AIS" scrub --status | grep -q "NODE" || fail "scrub --status"
"$AIS" get ais://one/clean "$T/got" && cmp -s "$T/got" "$T/small" || fail "clean object after the scrub"
# A stray that is the last good copy stays: both copies of its set corrupt.
"$AIS" put -q "$T/s1" ais://two/s6
src=$(copies_of two s6 | head -1)
for d in "$AIS_CLUSTER_DIR"/node*; do
	copies_of two s6 | grep -q "^$d/" && continue
	stray=$d/mp0/two/s6
	cp --preserve=all "$src" "$stray"
	break
done
flip two s6 10 1
flip two s6 10 2
"$AIS" scrub ais://two >"$T/scrub6.out" 2>&1 && fail "scrub with both copies of s6 corrupt succeeded"
grep -q "corrupt, not repaired: ais://two/s6" "$T/scrub6.out" ||
	fail "scrub does not list two/s6: $(cat "$T/scrub6.out")"
cmp -s "$stray" "$T/s1" || fail "the stray, the last good copy of s6, was removed"
grep -q "two/s6: the stray copy here is kept" "$AIS_CLUSTER_DIR"/node*/aisd.log ||
	fail "no node judged the stray of s6 (and kept it)"
note "fuse_integrity: ok"
