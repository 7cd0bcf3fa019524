#!/usr/bin/env bash
# A 5 GiB object through the S3 endpoint: boto3's multipart upload with 8
# parts in flight (64 MiB each) through one node, read back through another
# and hashed as it streams: every byte equal, the ETag S3's MD5 of the part
# MD5s, and no node's memory grown by the object (its parts stream to
# files, and the completion reads them through the PUT of one whole
# object). In HTTPS (the cluster speaks TLS; boto3 trusts its CA through
# s3.env's AWS_CA_BUNDLE): every byte encrypted both ways.
. "$(dirname "$0")/lib.sh"
ais_test_init s3_big
PY=$(_ais_python)
"$PY" -c 'import boto3' 2>/dev/null || fail "needs python3-boto3 (scripts/deps.sh)"
need_free_gib 16

AIS_TEST_S3_PORT=$((PORT + 6)) ais_cluster_up 3
# shellcheck disable=SC1090
. "$AIS_CLUSTER_DIR/s3.env"
[ "${AWS_CA_BUNDLE:-}" = "$AIS_CLUSTER_DIR/ca.pem" ] || fail "s3.env names no CA"
"$AIS" bucket create ais://big >/dev/null || fail "bucket create"
SIZE=$((5 * 1024 * 1024 * 1024 + 12345))
gen_bytes "$SIZE" "$T/big.bin"

timeout 1500 "$PY" - "$T/big.bin" "https://127.0.0.1:$((PORT + 7))" \
	"https://127.0.0.1:$((PORT + 8))" <<'PYEOF' || fail "5 GiB round trip"
import hashlib, os, sys, time
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

path, up_ep, down_ep = sys.argv[1:4]
MB = 1 << 20
def client(ep):
    return boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      signature_version="s3v4",
                                      read_timeout=600,
                                      retries={"max_attempts": 1}))
part = 64 * MB
md5s, whole = [], hashlib.md5()
with open(path, "rb") as f:
    while True:
        b = f.read(part)
        if not b:
            break
        md5s.append(hashlib.md5(b).digest())
        whole.update(b)
want = '"%s-%d"' % (hashlib.md5(b"".join(md5s)).hexdigest(), len(md5s))
t0 = time.time()
client(up_ep).upload_file(path, "big", "five.bin", Config=TransferConfig(
    multipart_threshold=part, multipart_chunksize=part, max_concurrency=8))
t1 = time.time()
r = client(down_ep).get_object(Bucket="big", Key="five.bin")
assert r["ETag"] == want, (r["ETag"], want)
assert r["ContentLength"] == os.path.getsize(path)
got, n = hashlib.md5(), 0
for chunk in r["Body"].iter_chunks(4 * MB):
    got.update(chunk)
    n += len(chunk)
t2 = time.time()
assert n == os.path.getsize(path), n
assert got.hexdigest() == whole.hexdigest(), "bytes differ"
print(f"5 GiB: up {n / (t1 - t0) / MB:.0f} MiB/s ({len(md5s)} parts), "
      f"down {n / (t2 - t1) / MB:.0f} MiB/s", file=sys.stderr)
PYEOF

# The object is one whole object on its node, as the native GET sees it.
"$AIS" stat ais://big/five.bin | grep -q "$SIZE" || fail "ais stat size"
# No upload left behind, and no node held the object in memory.
[ -z "$(find "$AIS_CLUSTER_DIR"/node*/mp*/.ais/mpu -mindepth 1 2>/dev/null)" ] ||
	fail "upload directories left: $(find "$AIS_CLUSTER_DIR"/node*/mp*/.ais/mpu -mindepth 1 | head -3)"
for i in 0 1 2; do
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$(ais_node_pid "$i")/status")
	note "node$i: peak resident ${hwm} kB"
	[ "$hwm" -lt $((1024 * 1024)) ] ||
		fail "node$i peaked at $((hwm / 1024)) MiB resident: an object of 5 GiB must stream"
done
note "s3_big: ok"
