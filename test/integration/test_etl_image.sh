#!/usr/bin/env bash
# The shipped image transform (etl/resize.py through ais-etl-python, with
# Pillow and NumPy from Debian): JPEGs, a PNG, a grayscale and a portrait
# image come out as SIZE x SIZE RGB JPEG, PNG or a uint8 .npy array, the
# centre of the image kept; through ais get, an offline job and a mount.
# A file that is no image, and bad arguments, fail that object only. The
# member filter (etl/keep.py) keeps a shard's members of some extensions.
. "$(dirname "$0")/lib.sh"
ais_test_init etl_image
# Debian's: the nodes' ais-etl-python runs /usr/bin/python3 too.
PY=$(_ais_python)
"$PY" -c 'import PIL, numpy' 2>/dev/null ||
	fail "python3-pil and python3-numpy are needed (scripts/deps.sh)"

ais_etl_cluster_up
cp "$AIS_SRC_DIR/etl/resize.py" "$AIS_SRC_DIR/etl/keep.py" "$E/"
for b in img small; do
	"$AIS" bucket create "ais://$b" >/dev/null || fail "bucket create $b"
done
mkdir -p "$T/img"
# Images whose centre is red and whose left and right (or top and
# bottom) edges are blue: a centre crop is red all over.
"$PY" - "$T/img" <<'EOF'
import sys
from PIL import Image, ImageDraw
out = sys.argv[1]
def make(name, w, h, mode="RGB", fmt="JPEG"):
    im = Image.new("RGB", (w, h), (0, 0, 255))
    d = ImageDraw.Draw(im)
    s = min(w, h)
    d.rectangle(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2), fill=(255, 0, 0))
    if mode != "RGB":
        im = im.convert(mode)
    im.save(f"{out}/{name}", fmt, **({"quality": 95} if fmt == "JPEG" else {}))
make("wide.jpg", 640, 360)
make("tall.jpg", 300, 900)
make("square.jpg", 512, 512)
make("small.jpg", 20, 30)
make("gray.jpg", 400, 300, mode="L")
make("pic.png", 333, 222, fmt="PNG")
open(f"{out}/broken.jpg", "wb").write(b"these bytes are no image at all")
EOF
"$AIS" put -r -q "$T/img" ais://img || fail "put -r"
"$AIS" etl init resize --mode worker --workers 2 \
	--cmd "ais-etl-python $E/resize.py" || fail "etl init resize"

# check FILE SIZE FORMAT: the output is SIZE x SIZE RGB, reddish in the
# middle (a centre crop of the red square; gray images become gray).
check()
{
	"$PY" - "$@" <<'EOF'
import io, sys
import numpy
from PIL import Image
path, size, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
if fmt == "npy":
    a = numpy.load(io.BytesIO(data))
    assert a.shape == (size, size, 3) and a.dtype == numpy.uint8, (a.shape, a.dtype)
else:
    im = Image.open(io.BytesIO(data))
    assert im.format == fmt.upper(), im.format
    assert im.size == (size, size) and im.mode == "RGB", (im.size, im.mode)
    a = numpy.asarray(im)
mid = a[size // 2, size // 2].astype(int)
corner = a[size // 8, size // 8].astype(int)
assert mid[0] > 100, f"{path}: centre {mid} is not the red square's"
assert abs(corner - mid).max() < 60, f"{path}: corner {corner} is not like the centre {mid}: not a centre crop"
EOF
}

note "ais get through resize: every size and format"
for f in wide.jpg tall.jpg square.jpg small.jpg pic.png; do
	for spec in 64,jpeg 50,png 32,npy; do
		"$AIS" get --etl resize --etl-args "$spec" "ais://img/$f" "$T/out" ||
			fail "get $f --etl-args $spec"
		check "$T/out" "${spec%,*}" "${spec#*,}" || fail "$f as $spec"
	done
done
"$AIS" get --etl resize --etl-args 48 ais://img/gray.jpg "$T/out" || fail "gray"
"$PY" -c "
from PIL import Image; im = Image.open('$T/out'); assert im.size == (48, 48) and im.mode == 'RGB'" ||
	fail "gray.jpg: not 48x48 RGB"

note "what is no image, and bad arguments"
out=$("$AIS" get --etl resize ais://img/broken.jpg - 2>&1) && fail "broken.jpg came through"
case "$out" in *"transform resize on img/broken.jpg"*"cannot identify image file"*) ;;
*) fail "broken.jpg: $out" ;; esac
out=$("$AIS" get --etl resize --etl-args big ais://img/wide.jpg - 2>&1) && fail "bad args accepted"
case "$out" in *"expected SIZE[,jpeg|png|npy]"*) ;; *) fail "bad args: $out" ;; esac
"$AIS" get --etl resize --etl-args 16 ais://img/wide.jpg "$T/out" ||
	fail "the worker after the failures"

note "a bucket of images into .npy arrays, and a mount of 32 x 32 JPEGs"
if "$AIS" etl bucket resize ais://img ais://small --etl-args 24,npy \
	--ext jpg:npy --continue-on-error -q >"$T/job.out" 2>&1; then
	fail "the job with broken.jpg succeeded"
fi
grep -q "5 transformed.* 1 failed of 6" "$T/job.out" || fail "job: $(cat "$T/job.out")"
for f in wide tall square small gray; do
	"$AIS" get "ais://small/$f.npy" "$T/out" || fail "small/$f.npy"
	"$PY" -c "
import numpy; a = numpy.load('$T/out'); assert a.shape == (24, 24, 3), a.shape" ||
		fail "small/$f.npy is not 24x24x3"
done
if [ -n "${AISFS:-}" ] && [ -c /dev/fuse ]; then
	mkdir -p "$T/m"
	"$AISFS" mount -o "etl=resize,etl_args=32,log=$T/m.log" "$AIS_ENDPOINT" \
		"$T/m" || fail "aisfs mount -o etl=resize"
	ais_cleanup "$AISFS" umount -l "$T/m"
	for f in wide.jpg tall.jpg pic.png; do
		check "$T/m/img/$f" 32 jpeg || fail "$f through the mount"
	done
elif [ "${AIS_TEST_REQUIRE_FUSE:-}" = 1 ]; then
	fail "no FUSE here"
fi

note "--members: shards re-encoded sample by sample, in their order"
"$PY" - "$T" <<'EOF'
import io, sys, tarfile
from PIL import Image
t = sys.argv[1]
def add(tf, name, data):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = 1700000000
    tf.addfile(ti, io.BytesIO(data))
for path, mode in (("wds-0.tar", "w"), ("wds-1.tar.gz", "w:gz")):
    with tarfile.open(f"{t}/{path}", mode) as tf:
        for k in range(6):
            key = f"s{(k * 7) % 6:04d}"  # not sorted: the order must stay
            b = io.BytesIO()
            Image.new("RGB", (40 + k * 10, 30), (255, 0, 0)).save(b, "JPEG")
            add(tf, f"{key}.jpg", b.getvalue())
            add(tf, f"{key}.cls", str(k).encode())
EOF
"$AIS" bucket create ais://wds >/dev/null
"$AIS" bucket create ais://wdsnpy >/dev/null
"$AIS" put "$T/wds-0.tar" ais://wds/wds-0.tar >/dev/null
"$AIS" put "$T/wds-1.tar.gz" ais://wds/wds-1.tar.gz >/dev/null
"$AIS" etl bucket resize ais://wds ais://wdsnpy --members --ext jpg:npy \
	--etl-args 16,npy -q >"$T/job.out" 2>&1 || fail "--members: $(cat "$T/job.out")"
grep -q "2 transformed" "$T/job.out" || fail "--members: $(cat "$T/job.out")"
"$AIS" get ais://wdsnpy/wds-0.tar "$T/o0.tar" || fail "wds-0.tar"
"$AIS" get ais://wdsnpy/wds-1.tar "$T/o1.tar" || fail "wds-1.tar (from wds-1.tar.gz)"
"$PY" - "$T/wds-0.tar" "$T/o0.tar" "$T/wds-1.tar.gz" "$T/o1.tar" <<'EOF' || fail "the remade shards"
import io, sys, tarfile
import numpy
for src, out in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    with tarfile.open(src) as a, tarfile.open(out) as b:
        sm, om = a.getmembers(), b.getmembers()
        want = [m.name.replace(".jpg", ".npy") for m in sm]
        got = [m.name for m in om]
        assert got == want, f"{out}: {got} != {want}"
        for m, n in zip(sm, om):
            data = b.extractfile(n).read()
            if n.name.endswith(".npy"):
                arr = numpy.load(io.BytesIO(data))
                assert arr.shape == (16, 16, 3), (n.name, arr.shape)
            else:
                assert data == a.extractfile(m).read(), n.name
EOF

note "the member filter: only the .cls members of a tar.gz, in order"
"$AIS" etl init keep --mode worker --cmd "ais-etl-python $E/keep.py" ||
	fail "etl init keep"
"$AIS" get --etl keep --etl-args cls ais://wds/wds-1.tar.gz "$T/k.tar" ||
	fail "get --etl keep"
"$PY" - "$T/wds-1.tar.gz" "$T/k.tar" <<'EOF' || fail "keep.py output"
import sys, tarfile
with tarfile.open(sys.argv[1]) as a, tarfile.open(sys.argv[2]) as b:
    want = [(m.name, a.extractfile(m).read()) for m in a if m.name.endswith(".cls")]
    got = [(m.name, b.extractfile(m).read()) for m in b]
    assert len(want) == 6 and got == want, (got, want)
EOF
