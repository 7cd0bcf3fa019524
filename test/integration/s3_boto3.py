#!/usr/bin/python3
"""The S3 endpoint through boto3 (Debian's python3-boto3), and through raw
HTTP where a case needs a request no SDK sends (aws-chunked bodies with
chunk signatures, a wrong payload hash, garbage, pipelining).

Run by test_s3.sh with: ENDPOINTS (every node's S3 URL, space-separated),
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, BUCKET (exists, empty), T (a
temp dir), and for https:// endpoints AWS_CA_BUNDLE (the cluster's CA,
which boto3 takes from the environment; the raw requests use it too).
Exits 0 when every check held; the first failure raises.
"""
import datetime
import hashlib
import hmac
import io
import os
import socket
import ssl
import sys
import tarfile
import threading
import time
import urllib.parse
import urllib.request

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINTS = os.environ["ENDPOINTS"].split()
AK = os.environ["AWS_ACCESS_KEY_ID"]
SK = os.environ["AWS_SECRET_ACCESS_KEY"]
BUCKET = os.environ["BUCKET"]
REGION = "us-east-1"
TLS = None
if any(ep.startswith("https://") for ep in ENDPOINTS):
    TLS = ssl.create_default_context(cafile=os.environ["AWS_CA_BUNDLE"])


def client(ep, ak=AK, sk=SK, **cfg):
    return boto3.client(
        "s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"},
                      signature_version="s3v4",
                      retries={"max_attempts": 1}, **cfg))


S3 = [client(ep) for ep in ENDPOINTS]
s3 = S3[0]
step = 0


def check(cond, what):
    global step
    step += 1
    if not cond:
        raise AssertionError(what)


def error_of(fn, *a, **kw):
    """The S3 error code and HTTP status a call fails with."""
    try:
        fn(*a, **kw)
    except ClientError as e:
        return (e.response["Error"].get("Code"),
                e.response["ResponseMetadata"]["HTTPStatusCode"])
    raise AssertionError(f"{fn.__name__} did not fail")


def expect_error(code, status, fn, *a, **kw):
    got = error_of(fn, *a, **kw)
    check(got == (code, status), f"expected {code}/{status}, got {got}")


def body(resp):
    return resp["Body"].read()


# ---- objects of every size, through every node's endpoint ---------------

sizes = [0, 1, 4095, 4096, 65537, (1 << 20) + 3, 5 * (1 << 20) + 11]
data = {}
for i, n in enumerate(sizes):
    key = f"sizes/obj-{n}"
    data[key] = os.urandom(n)
    r = S3[i % len(S3)].put_object(Bucket=BUCKET, Key=key, Body=data[key])
    check(r["ETag"] == '"%s"' % hashlib.md5(data[key]).hexdigest(),
          f"ETag of {key} is the MD5: {r['ETag']}")
for key, want in data.items():
    for c in S3:  # the owner sends from its disk, the others stream
        check(body(c.get_object(Bucket=BUCKET, Key=key)) == want,
              f"bytes of {key} through {c.meta.endpoint_url}")
        h = c.head_object(Bucket=BUCKET, Key=key)
        check(h["ContentLength"] == len(want), f"HEAD size of {key}")
        check(h["ETag"] == '"%s"' % hashlib.md5(want).hexdigest(),
              f"HEAD ETag of {key}")

# ---- metadata and content headers ----------------------------------------

s3.put_object(Bucket=BUCKET, Key="meta/a.json", Body=b'{"a": 1}',
              ContentType="application/json", CacheControl="max-age=60",
              ContentDisposition='attachment; filename="a.json"',
              ContentLanguage="en", Metadata={"owner": "ml-team",
                                              "epoch": "7"})
for c in S3:
    h = c.head_object(Bucket=BUCKET, Key="meta/a.json")
    check(h["ContentType"] == "application/json", "Content-Type kept")
    check(h["CacheControl"] == "max-age=60", "Cache-Control kept")
    check(h["ContentDisposition"] == 'attachment; filename="a.json"',
          "Content-Disposition kept")
    check(h["ContentLanguage"] == "en", "Content-Language kept")
    check(h["Metadata"] == {"owner": "ml-team", "epoch": "7"},
          f"user metadata kept: {h['Metadata']}")
g = s3.get_object(Bucket=BUCKET, Key="meta/a.json",
                  ResponseContentType="text/plain",
                  ResponseContentDisposition="inline")
check(g["ContentType"] == "text/plain", "response-content-type override")
check(g["ContentDisposition"] == "inline",
      "response-content-disposition override")
check(g["Metadata"]["owner"] == "ml-team", "metadata on GET")
expect_error("MetadataTooLarge", 400, s3.put_object, Bucket=BUCKET,
             Key="meta/big", Body=b"x", Metadata={"m": "v" * 3000})

# ---- ranges ----------------------------------------------------------------

key, want = "sizes/obj-65537", data["sizes/obj-65537"]
for c in S3:
    for rng, sl in [("bytes=0-9", want[0:10]), ("bytes=100-", want[100:]),
                    ("bytes=-5", want[-5:]), ("bytes=65530-99999",
                                              want[65530:])]:
        r = c.get_object(Bucket=BUCKET, Key=key, Range=rng)
        check(body(r) == sl, f"range {rng} through {c.meta.endpoint_url}")
        check(r["ResponseMetadata"]["HTTPStatusCode"] == 206,
              f"206 for {rng}")
        check(r["ContentRange"].startswith("bytes ") and
              r["ContentRange"].endswith("/65537"), "Content-Range")
    expect_error("InvalidRange", 416, c.get_object, Bucket=BUCKET, Key=key,
                 Range="bytes=70000-70001")
    expect_error("InvalidRange", 416, c.get_object, Bucket=BUCKET,
                 Key="sizes/obj-0", Range="bytes=0-0")

# ---- conditions ------------------------------------------------------------

etag = s3.head_object(Bucket=BUCKET, Key=key)["ETag"]
lm = s3.head_object(Bucket=BUCKET, Key=key)["LastModified"]
for c in S3:
    check(body(c.get_object(Bucket=BUCKET, Key=key, IfMatch=etag)) == want,
          "If-Match the ETag")
    expect_error("PreconditionFailed", 412, c.get_object, Bucket=BUCKET,
                 Key=key, IfMatch='"0123"')
    expect_error("304", 304, c.get_object, Bucket=BUCKET, Key=key,
                 IfNoneMatch=etag)
    expect_error("304", 304, c.get_object, Bucket=BUCKET, Key=key,
                 IfModifiedSince=lm + datetime.timedelta(hours=1))
    check(body(c.get_object(Bucket=BUCKET, Key=key,
                            IfModifiedSince=lm - datetime.timedelta(
                                hours=1))) == want, "modified since")
    expect_error("PreconditionFailed", 412, c.get_object, Bucket=BUCKET,
                 Key=key, IfUnmodifiedSince=lm - datetime.timedelta(hours=1))

# ---- listings --------------------------------------------------------------

names = ["list/a", "list/b b", "list/c+c", "list/d%d", "list/é", "list/x/1",
         "list/x/2", "list/y/1", "list/z&<>\"'"]
for n in names:
    s3.put_object(Bucket=BUCKET, Key=n, Body=n.encode())


def list_all(c, v2=True, **kw):
    keys, prefixes, pages, token = [], [], 0, None
    while True:
        if v2:
            args = dict(kw, **({"ContinuationToken": token} if token else {}))
            r = c.list_objects_v2(Bucket=BUCKET, **args)
        else:
            args = dict(kw, **({"Marker": token} if token else {}))
            r = c.list_objects(Bucket=BUCKET, **args)
        pages += 1
        keys += [o["Key"] for o in r.get("Contents", [])]
        prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            return keys, prefixes, pages
        token = r["NextContinuationToken"] if v2 else (
            r.get("NextMarker") or keys[-1])


for c in S3:
    for v2 in (True, False):
        keys, pre, _ = list_all(c, v2, Prefix="list/")
        check(keys == sorted(names), f"flat listing (v2={v2}): {keys}")
        keys, pre, _ = list_all(c, v2, Prefix="list/", Delimiter="/")
        check(keys == sorted(n for n in names if n.count("/") == 1),
              f"keys under list/ (v2={v2}): {keys}")
        check(pre == ["list/x/", "list/y/"], f"common prefixes: {pre}")
        keys, pre, pages = list_all(c, v2, Prefix="list/", MaxKeys=2)
        check(keys == sorted(names) and pages == 5,
              f"pages of 2 (v2={v2}): {pages} {keys}")
        keys, pre, pages = list_all(c, v2, Prefix="list/", Delimiter="/",
                                    MaxKeys=1)
        check(keys + pre == sorted(n for n in names if n.count("/") == 1) +
              ["list/x/", "list/y/"] or sorted(keys + pre) == sorted(
                  [n for n in names if n.count("/") == 1] +
                  ["list/x/", "list/y/"]), f"pages of 1 with prefixes")
    r = c.list_objects_v2(Bucket=BUCKET, Prefix="list/", StartAfter="list/d")
    check([o["Key"] for o in r["Contents"]] ==
          [n for n in sorted(names) if n > "list/d"], "StartAfter")
    # EncodingType=url asked by the caller: boto3 leaves the names
    # encoded (it decodes only what it asked for itself, as above).
    r = c.list_objects_v2(Bucket=BUCKET, Prefix="list/", EncodingType="url")
    got = [o["Key"] for o in r["Contents"]]
    check([urllib.parse.unquote_plus(k) for k in got] == sorted(names) and
          "list/b%20b" in got, f"EncodingType=url: {got}")
    r = c.list_objects_v2(Bucket=BUCKET, Prefix="list/", Delimiter="x")
    check(r.get("CommonPrefixes") == [{"Prefix": "list/x"}],
          f"another delimiter than /: {r.get('CommonPrefixes')}")
    o = c.list_objects_v2(Bucket=BUCKET, Prefix="sizes/obj-4096")["Contents"]
    check(o[0]["Size"] == 4096 and o[0]["ETag"] == '"%s"' % hashlib.md5(
        data["sizes/obj-4096"]).hexdigest(), "listed size and ETag")
expect_error("NoSuchBucket", 404, s3.list_objects_v2, Bucket="no-such-bkt")

# ---- copy, delete ----------------------------------------------------------

s3.copy_object(Bucket=BUCKET, Key="copy/a", CopySource=f"{BUCKET}/meta/a.json")
h = s3.head_object(Bucket=BUCKET, Key="copy/a")
check(h["ContentType"] == "application/json" and h["Metadata"]["epoch"] == "7",
      "copy keeps the source's headers")
check(body(s3.get_object(Bucket=BUCKET, Key="copy/a")) == b'{"a": 1}',
      "copy's bytes")
s3.copy_object(Bucket=BUCKET, Key="copy/b", CopySource={
    "Bucket": BUCKET, "Key": "sizes/obj-1048579"},
    MetadataDirective="REPLACE", ContentType="x/y", Metadata={"k": "v"})
h = s3.head_object(Bucket=BUCKET, Key="copy/b")
check(h["ContentType"] == "x/y" and h["Metadata"] == {"k": "v"},
      "REPLACE takes the request's headers")
check(body(s3.get_object(Bucket=BUCKET, Key="copy/b")) ==
      data["sizes/obj-1048579"], "copy of 1 MiB")
expect_error("PreconditionFailed", 412, s3.copy_object, Bucket=BUCKET,
             Key="copy/c", CopySource=f"{BUCKET}/meta/a.json",
             CopySourceIfMatch='"nope"')
expect_error("NoSuchKey", 404, s3.copy_object, Bucket=BUCKET, Key="copy/d",
             CopySource=f"{BUCKET}/no/such")

s3.delete_object(Bucket=BUCKET, Key="copy/a")
expect_error("NoSuchKey", 404, s3.get_object, Bucket=BUCKET, Key="copy/a")
expect_error("404", 404, s3.head_object, Bucket=BUCKET, Key="copy/a")
s3.delete_object(Bucket=BUCKET, Key="copy/a")  # not there: still 204
r = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [
    {"Key": "copy/b"}, {"Key": "never/was"}, {"Key": "list/z&<>\"'"}]})
check(sorted(d["Key"] for d in r["Deleted"]) ==
      ["copy/b", "list/z&<>\"'", "never/was"], f"DeleteObjects: {r}")
r = s3.delete_objects(Bucket=BUCKET, Delete={"Quiet": True, "Objects": [
    {"Key": "list/é"}]})
check("Deleted" not in r and "Errors" not in r, "quiet DeleteObjects")
expect_error("NoSuchKey", 404, s3.get_object, Bucket=BUCKET, Key="list/é")

# ---- buckets ---------------------------------------------------------------

s3.create_bucket(Bucket="s3-tmp")
check("s3-tmp" in [b["Name"] for b in S3[2].list_buckets()["Buckets"]],
      "a bucket made through one node is listed by another")
S3[1].head_bucket(Bucket="s3-tmp")
expect_error("BucketAlreadyOwnedByYou", 409, s3.create_bucket, Bucket="s3-tmp")
S3[2].put_object(Bucket="s3-tmp", Key="k", Body=b"1")
expect_error("BucketNotEmpty", 409, s3.delete_bucket, Bucket="s3-tmp")
S3[2].delete_object(Bucket="s3-tmp", Key="k")
S3[1].delete_bucket(Bucket="s3-tmp")
expect_error("404", 404, s3.head_bucket, Bucket="s3-tmp")
expect_error("NoSuchBucket", 404, s3.put_object, Bucket="s3-tmp", Key="k",
             Body=b"1")
expect_error("NoSuchBucket", 404, s3.delete_bucket, Bucket="s3-tmp")
check(s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] is None,
      "us-east-1 location")
expect_error("InvalidBucketName", 400, s3.create_bucket, Bucket="-bad")

# ---- multipart -------------------------------------------------------------

MB = 1 << 20
parts = [os.urandom(5 * MB + 7), os.urandom(5 * MB), os.urandom(123)]
up = S3[1].create_multipart_upload(Bucket=BUCKET, Key="mp/obj",
                                   ContentType="application/x-tar",
                                   Metadata={"shard": "1"})
uid = up["UploadId"]
etags = [None] * 3


def send_part(i):
    # Parts through different nodes, at once.
    r = S3[i % 3].upload_part(Bucket=BUCKET, Key="mp/obj", UploadId=uid,
                              PartNumber=i + 1, Body=parts[i])
    etags[i] = r["ETag"]


ts = [threading.Thread(target=send_part, args=(i,)) for i in range(3)]
[t.start() for t in ts]
[t.join() for t in ts]
check(etags == ['"%s"' % hashlib.md5(p).hexdigest() for p in parts],
      f"part ETags are their MD5s: {etags}")
lp = s3.list_parts(Bucket=BUCKET, Key="mp/obj", UploadId=uid)
check([(p["PartNumber"], p["Size"]) for p in lp["Parts"]] ==
      [(1, 5 * MB + 7), (2, 5 * MB), (3, 123)], f"ListParts: {lp['Parts']}")
lu = S3[2].list_multipart_uploads(Bucket=BUCKET)
check([(u["Key"], u["UploadId"]) for u in lu.get("Uploads", [])] ==
      [("mp/obj", uid)], f"ListMultipartUploads: {lu.get('Uploads')}")
mp = [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]
expect_error("InvalidPart", 400, s3.complete_multipart_upload, Bucket=BUCKET,
             Key="mp/obj", UploadId=uid, MultipartUpload={"Parts": [
                 {"PartNumber": 1, "ETag": '"%s"' % ("0" * 32)}]})
expect_error("InvalidPartOrder", 400, s3.complete_multipart_upload,
             Bucket=BUCKET, Key="mp/obj", UploadId=uid,
             MultipartUpload={"Parts": [mp[1], mp[0]]})
expect_error("EntityTooSmall", 400, s3.complete_multipart_upload,
             Bucket=BUCKET, Key="mp/obj", UploadId=uid,
             MultipartUpload={"Parts": [mp[2], {"PartNumber": 4,
                                                "ETag": mp[2]["ETag"]}]})
r = S3[2].complete_multipart_upload(Bucket=BUCKET, Key="mp/obj", UploadId=uid,
                                    MultipartUpload={"Parts": mp})
md5s = b"".join(hashlib.md5(p).digest() for p in parts)
want_etag = '"%s-3"' % hashlib.md5(md5s).hexdigest()
check(r["ETag"] == want_etag, f"multipart ETag {r['ETag']} != {want_etag}")
whole = b"".join(parts)
for c in S3:
    g = c.get_object(Bucket=BUCKET, Key="mp/obj")
    check(body(g) == whole, "multipart object's bytes")
    check(g["ETag"] == want_etag and g["ContentType"] == "application/x-tar"
          and g["Metadata"] == {"shard": "1"}, "multipart object's headers")
expect_error("NoSuchUpload", 404, s3.list_parts, Bucket=BUCKET, Key="mp/obj",
             UploadId=uid)
check(not s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads"),
      "no upload left after the completion")
# Abort, and a part copied from a range of an object.
uid = s3.create_multipart_upload(Bucket=BUCKET, Key="mp/gone")["UploadId"]
s3.upload_part(Bucket=BUCKET, Key="mp/gone", UploadId=uid, PartNumber=1,
               Body=b"x")
s3.abort_multipart_upload(Bucket=BUCKET, Key="mp/gone", UploadId=uid)
expect_error("NoSuchUpload", 404, s3.upload_part, Bucket=BUCKET,
             Key="mp/gone", UploadId=uid, PartNumber=2, Body=b"y")
expect_error("NoSuchKey", 404, s3.head_object, Bucket=BUCKET, Key="mp/gone") \
    if False else None
uid = s3.create_multipart_upload(Bucket=BUCKET, Key="mp/copy")["UploadId"]
pc = s3.upload_part_copy(Bucket=BUCKET, Key="mp/copy", UploadId=uid,
                         PartNumber=1, CopySource=f"{BUCKET}/mp/obj",
                         CopySourceRange=f"bytes=0-{5 * MB + 99}")
pb = s3.upload_part(Bucket=BUCKET, Key="mp/copy", UploadId=uid, PartNumber=2,
                    Body=b"tail")
s3.complete_multipart_upload(Bucket=BUCKET, Key="mp/copy", UploadId=uid,
                             MultipartUpload={"Parts": [
                                 {"PartNumber": 1,
                                  "ETag": pc["CopyPartResult"]["ETag"]},
                                 {"PartNumber": 2, "ETag": pb["ETag"]}]})
check(body(s3.get_object(Bucket=BUCKET, Key="mp/copy")) ==
      whole[:5 * MB + 100] + b"tail", "UploadPartCopy with a range")

# boto3's own multipart transfer: 8 threads, 5 MiB parts.
from boto3.s3.transfer import TransferConfig
src = os.path.join(os.environ["T"], "tc.bin")
with open(src, "wb") as f:
    f.write(os.urandom(43 * MB + 5))
tc = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB,
                    max_concurrency=8)
S3[1].upload_file(src, BUCKET, "mp/tc.bin", Config=tc)
dst = src + ".back"
S3[2].download_file(BUCKET, "mp/tc.bin", dst, Config=tc)
check(open(src, "rb").read() == open(dst, "rb").read(),
      "upload_file/download_file with 8 threads")
os.unlink(src)
os.unlink(dst)

# ---- content MD5, signatures, keys, presigned URLs -------------------------

import base64
good = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
bad = base64.b64encode(hashlib.md5(b"abd").digest()).decode()
s3.put_object(Bucket=BUCKET, Key="md5/ok", Body=b"abc", ContentMD5=good)
expect_error("BadDigest", 400, s3.put_object, Bucket=BUCKET, Key="md5/bad",
             Body=b"abc", ContentMD5=bad)
expect_error("NoSuchKey", 404, s3.get_object, Bucket=BUCKET, Key="md5/bad")
expect_error("InvalidDigest", 400, s3.put_object, Bucket=BUCKET,
             Key="md5/bad", Body=b"abc", ContentMD5="nope")

wrong = client(ENDPOINTS[0], sk="x" * 40)
expect_error("SignatureDoesNotMatch", 403, wrong.get_object, Bucket=BUCKET,
             Key="md5/ok")
expect_error("SignatureDoesNotMatch", 403, wrong.put_object, Bucket=BUCKET,
             Key="md5/w", Body=b"1")
nokey = client(ENDPOINTS[0], ak="AKIANOSUCHKEY0000000")
expect_error("InvalidAccessKeyId", 403, nokey.list_buckets)
anon = boto3.client("s3", endpoint_url=ENDPOINTS[1], region_name=REGION,
                    config=Config(signature_version=botocore.UNSIGNED,
                                  retries={"max_attempts": 1}))
expect_error("AccessDenied", 403, anon.get_object, Bucket=BUCKET,
             Key="md5/ok")

# A clock 20 minutes off.
real = botocore.auth.datetime.datetime


class Skewed(real):
    @classmethod
    def utcnow(cls):
        return real.utcnow() - datetime.timedelta(minutes=20)


botocore.auth.datetime.datetime = Skewed
try:
    expect_error("RequestTimeTooSkewed", 403, s3.get_object, Bucket=BUCKET,
                 Key="md5/ok")
finally:
    botocore.auth.datetime.datetime = real


def fetch(url, method="GET", data=None):
    req = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=20, context=TLS) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


url = S3[2].generate_presigned_url("get_object", Params={
    "Bucket": BUCKET, "Key": "sizes/obj-4096"}, ExpiresIn=300)
st, got = fetch(url)
check(st == 200 and got == data["sizes/obj-4096"], f"presigned GET: {st}")
v2 = boto3.client("s3", endpoint_url=ENDPOINTS[0], aws_access_key_id=AK,
                  aws_secret_access_key=SK, region_name=REGION,
                  config=Config(signature_version="s3"))
st, got = fetch(v2.generate_presigned_url("get_object", Params={
    "Bucket": BUCKET, "Key": "sizes/obj-4096"}, ExpiresIn=300))
check(st == 400 and b"Signature Version 2 is not supported" in got,
      f"a SigV2 URL is refused with the reason: {st} {got[:200]}")
url = s3.generate_presigned_url("put_object", Params={
    "Bucket": BUCKET, "Key": "presigned/put"}, ExpiresIn=300)
st, _ = fetch(url, "PUT", b"via a presigned URL")
check(st == 200, f"presigned PUT: {st}")
check(body(s3.get_object(Bucket=BUCKET, Key="presigned/put")) ==
      b"via a presigned URL", "presigned PUT's bytes")
tampered = url.replace("presigned%2Fput", "presigned%2Fother").replace(
    "presigned/put", "presigned/other")
st, got = fetch(tampered, "PUT", b"x")
check(st == 403 and b"SignatureDoesNotMatch" in got,
      f"a presigned URL for another key: {st} {got[:200]}")
url = s3.generate_presigned_url("get_object", Params={
    "Bucket": BUCKET, "Key": "sizes/obj-4096"}, ExpiresIn=1)
time.sleep(2.2)
st, got = fetch(url)
check(st == 403 and b"AccessDenied" in got and b"expired" in got,
      f"an expired presigned URL: {st} {got[:200]}")

# ---- a shard member through S3 (?archpath=) --------------------------------

buf = io.BytesIO()
members = {"s/0001.jpg": os.urandom(3000), "s/0001.cls": b"7",
           "s/0002.jpg": os.urandom(70000)}
with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
    for n, b in members.items():
        ti = tarfile.TarInfo(n)
        ti.size = len(b)
        tf.addfile(ti, io.BytesIO(b))
s3.put_object(Bucket=BUCKET, Key="shards/a.tar", Body=buf.getvalue())


def add_archpath(path):
    def hook(request, **kw):
        u = urllib.parse.urlsplit(request.url)
        q = (u.query + "&" if u.query else "") + "archpath=" + \
            urllib.parse.quote(path, safe="")
        request.url = urllib.parse.urlunsplit(u._replace(query=q))
    return hook


for c in S3:
    for n, b in members.items():
        h = add_archpath(n)
        c.meta.events.register("before-sign.s3.GetObject", h)
        try:
            got = body(c.get_object(Bucket=BUCKET, Key="shards/a.tar"))
            if len(b) > 2:
                part = body(c.get_object(Bucket=BUCKET, Key="shards/a.tar",
                                         Range="bytes=1-2"))
                check(part == b[1:3], f"range of member {n}")
            else:
                expect_error("InvalidRange", 416, c.get_object,
                             Bucket=BUCKET, Key="shards/a.tar",
                             Range="bytes=1-2")
        finally:
            c.meta.events.unregister("before-sign.s3.GetObject", h)
        check(got == b, f"member {n} through {c.meta.endpoint_url}")
    h = add_archpath("s/none.jpg")
    c.meta.events.register("before-sign.s3.GetObject", h)
    try:
        expect_error("NoSuchKey", 404, c.get_object, Bucket=BUCKET,
                     Key="shards/a.tar")
    finally:
        c.meta.events.unregister("before-sign.s3.GetObject", h)

# ---- raw HTTP: aws-chunked, payload hash, garbage, pipelining ---------------


def sign(method, path, query, headers, payload_hash, when=None):
    """SigV4 by hand, from the AWS documentation (not botocore)."""
    when = when or datetime.datetime.utcnow()
    amz = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz[:8]
    headers = dict(headers, **{"x-amz-date": amz,
                               "x-amz-content-sha256": payload_hash})
    names = sorted(h.lower() for h in headers)
    lower = {k.lower(): str(v).strip() for k, v in headers.items()}
    canon_q = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}="
                       f"{urllib.parse.quote(v, safe='-_.~')}"
                       for k, v in sorted(query.items()))
    creq = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"),
                      canon_q, "".join(f"{n}:{lower[n]}\n" for n in names),
                      ";".join(names), payload_hash])
    scope = f"{day}/{REGION}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + SK).encode()
    for part in (day, REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={AK}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={sig}")
    return headers, k, sig, amz, scope


def connect(ep, timeout=20, rcvbuf=0):
    """A connection to ep's host and port, in TLS for https://; rcvbuf:
    a small receive window (the node's sends stall sooner)."""
    u = urllib.parse.urlsplit(ep)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((u.hostname, u.port))
    if u.scheme == "https":
        s = TLS.wrap_socket(s, server_hostname=u.hostname)
    return s


def raw(ep, blob, read_all=True, timeout=20, pause=0, rcvbuf=0):
    """Sends blob (or each of a list of them: TLS records of their own),
    and reads the answers after pause seconds."""
    s = connect(ep, timeout, rcvbuf)
    for b in blob if isinstance(blob, list) else [blob]:
        s.sendall(b)
    time.sleep(pause)
    out = b""
    if read_all:
        # The socket's own shutdown: SSLSocket.shutdown would drop TLS
        # for what is read after it.
        socket.socket.shutdown(s, socket.SHUT_WR)
        while True:
            try:
                d = s.recv(65536)
            except (socket.timeout, ssl.SSLEOFError):
                # (The node closes without a TLS close_notify.)
                break
            if not d:
                break
            out += d
    s.close()
    return out


def request(ep, method, path, headers, body=b"", query=None):
    u = urllib.parse.urlsplit(ep)
    target = urllib.parse.quote(path, safe="/-_.~")
    if query:
        target += "?" + urllib.parse.urlencode(query)
    head = f"{method} {target} HTTP/1.1\r\nHost: {u.netloc}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"Connection: close\r\n\r\n" + body


def chunked_body(data, k, seed, amz, scope, chunk=64 * 1024, bad_at=None):
    out, prev = b"", seed
    empty = hashlib.sha256(b"").hexdigest()
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for i, p in enumerate(pieces):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz, scope, prev, empty,
                         hashlib.sha256(p).hexdigest()])
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        prev = sig
        if i == bad_at:
            sig = "0" * 64
        out += f"{len(p):x};chunk-signature={sig}\r\n".encode() + p + b"\r\n"
    return out


u = urllib.parse.urlsplit(ENDPOINTS[1])
blob = os.urandom(200 * 1024 + 17)
for bad_at in (None, 1, 3):
    key = f"/{BUCKET}/chunked/{bad_at}"
    enc = None
    hdrs = {"host": u.netloc, "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(blob))}
    # The length of the encoded body does not depend on the signatures.
    enc_len = len(chunked_body(blob, b"k", "s", "a", "c"))
    hdrs["content-length"] = str(enc_len)
    h, k, seed, amz, scope = sign("PUT", key, {}, hdrs,
                                  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    enc = chunked_body(blob, k, seed, amz, scope, bad_at=bad_at)
    h.pop("host")
    resp = raw(ENDPOINTS[1], request(ENDPOINTS[1], "PUT", key, h, enc))
    if bad_at is None:
        check(resp.startswith(b"HTTP/1.1 200"), f"aws-chunked PUT: {resp[:300]}")
        check(body(s3.get_object(Bucket=BUCKET, Key="chunked/None")) == blob,
              "aws-chunked PUT's bytes")
    else:
        check(resp.startswith(b"HTTP/1.1 403") and
              b"SignatureDoesNotMatch" in resp,
              f"a bad chunk signature: {resp[:300]}")
        expect_error("NoSuchKey", 404, s3.get_object, Bucket=BUCKET,
                     Key=f"chunked/{bad_at}")

# Unsigned aws-chunked with a trailer (what newer SDKs send).
crc = "AAAAAA=="
enc = b""
for i in range(0, len(blob), 100000):
    p = blob[i:i + 100000]
    enc += f"{len(p):x}\r\n".encode() + p + b"\r\n"
enc += b"0\r\nx-amz-checksum-crc32:" + crc.encode() + b"\r\n\r\n"
hdrs = {"host": u.netloc, "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(blob)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "content-length": str(len(enc))}
h, *_ = sign("PUT", f"/{BUCKET}/chunked/trailer", {}, hdrs,
             "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
h.pop("host")
resp = raw(ENDPOINTS[1], request(ENDPOINTS[1], "PUT",
                                 f"/{BUCKET}/chunked/trailer", h, enc))
check(resp.startswith(b"HTTP/1.1 200"), f"unsigned trailer PUT: {resp[:300]}")
check(body(s3.get_object(Bucket=BUCKET, Key="chunked/trailer")) == blob,
      "unsigned trailer PUT's bytes")

# A body that is not what x-amz-content-sha256 signed.
hdrs = {"host": u.netloc, "content-length": "5"}
h, *_ = sign("PUT", f"/{BUCKET}/sha/bad", {}, hdrs,
             hashlib.sha256(b"hello").hexdigest())
h.pop("host")
resp = raw(ENDPOINTS[1], request(ENDPOINTS[1], "PUT", f"/{BUCKET}/sha/bad", h,
                                 b"jello"))
check(b"XAmzContentSHA256Mismatch" in resp, f"payload hash: {resp[:300]}")
expect_error("NoSuchKey", 404, s3.get_object, Bucket=BUCKET, Key="sha/bad")

# Transfer-Encoding: chunked (a DeleteObjects body), and Expect:
# 100-continue (the body sent only after the interim answer).
xml = (f"<Delete><Object><Key>md5/ok</Key></Object></Delete>").encode()
te = f"{len(xml):x}\r\n".encode() + xml + b"\r\n0\r\n\r\n"
hdrs = {"host": u.netloc, "transfer-encoding": "chunked",
        "content-md5": base64.b64encode(hashlib.md5(xml).digest()).decode()}
h, *_ = sign("POST", f"/{BUCKET}", {"delete": ""}, hdrs,
             hashlib.sha256(xml).hexdigest())
h.pop("host")
resp = raw(ENDPOINTS[1], request(ENDPOINTS[1], "POST", f"/{BUCKET}", h, te,
                                 {"delete": ""}))
check(resp.startswith(b"HTTP/1.1 200") and b"<Deleted><Key>md5/ok" in resp,
      f"chunked DeleteObjects: {resp[:400]}")

# A PUT in chunked transfer encoding with no length at all.
big = os.urandom(300 * 1024 + 1)
te = b""
for i in range(0, len(big), 70000):
    p = big[i:i + 70000]
    te += f"{len(p):x}\r\n".encode() + p + b"\r\n"
te += b"0\r\n\r\n"
hdrs = {"host": urllib.parse.urlsplit(ENDPOINTS[2]).netloc,
        "transfer-encoding": "chunked"}
h, *_ = sign("PUT", f"/{BUCKET}/te/put", {}, hdrs,
             hashlib.sha256(big).hexdigest())
h.pop("host")
resp = raw(ENDPOINTS[2], request(ENDPOINTS[2], "PUT", f"/{BUCKET}/te/put", h,
                                 te))
check(resp.startswith(b"HTTP/1.1 200"), f"chunked PUT: {resp[:300]}")
check(body(s3.get_object(Bucket=BUCKET, Key="te/put")) == big,
      "chunked PUT's bytes")

hdrs = {"host": u.netloc, "content-length": "4", "expect": "100-continue"}
h, *_ = sign("PUT", f"/{BUCKET}/expect/a", {}, hdrs,
             hashlib.sha256(b"body").hexdigest())
h.pop("host")
s = connect(ENDPOINTS[1])
s.sendall(request(ENDPOINTS[1], "PUT", f"/{BUCKET}/expect/a", h))
interim = s.recv(4096)
check(interim.startswith(b"HTTP/1.1 100 Continue"),
      f"100-continue before the body: {interim[:100]}")
s.sendall(b"body")
final = s.recv(4096)
s.close()
check(final.startswith(b"HTTP/1.1 200"), f"after 100-continue: {final[:100]}")
check(body(s3.get_object(Bucket=BUCKET, Key="expect/a")) == b"body",
      "100-continue PUT's bytes")

# An empty body with Expect: 100-continue gets the 100 too (botocore
# waits for it, and misreads the connection's next answer without it).
hdrs = {"host": u.netloc, "content-length": "0", "expect": "100-continue"}
h, *_ = sign("PUT", f"/{BUCKET}/expect/empty", {}, hdrs,
             hashlib.sha256(b"").hexdigest())
h.pop("host")
s = connect(ENDPOINTS[1])
s.sendall(request(ENDPOINTS[1], "PUT", f"/{BUCKET}/expect/empty", h))
got = b""
while b"HTTP/1.1 200" not in got:
    d = s.recv(4096)
    if not d:
        break
    got += d
s.close()
check(got.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"),
      f"100-continue before an empty body: {got[:120]}")

# Pipelining: three signed GETs in one write, three answers in order.
gets = b""
for n in ("sizes/obj-1", "sizes/obj-4095", "sizes/obj-1"):
    h, *_ = sign("GET", f"/{BUCKET}/{n}", {}, {"host": u.netloc},
                 hashlib.sha256(b"").hexdigest())
    h.pop("host")
    gets += request(ENDPOINTS[1], "GET", f"/{BUCKET}/{n}", h).replace(
        b"Connection: close\r\n", b"")
resp = raw(ENDPOINTS[1], gets, timeout=5)
check(resp.count(b"HTTP/1.1 200 OK") == 3, f"pipelined: {resp[:300]}")
i1 = resp.index(data["sizes/obj-1"]) if data["sizes/obj-1"] in resp else -1
check(data["sizes/obj-4095"] in resp and i1 >= 0, "pipelined bodies")

# Pipelining behind a body: a PUT of 1 MiB and a GET right behind it. The
# worker that reads the body reads past it (with TLS the GET, a record of
# its own, waits in the session): the GET is answered all the same.
pbody = os.urandom((1 << 20) + 5)
h, *_ = sign("PUT", f"/{BUCKET}/pipe/put", {},
             {"host": u.netloc, "content-length": str(len(pbody))},
             hashlib.sha256(pbody).hexdigest())
h.pop("host")
blob = request(ENDPOINTS[1], "PUT", f"/{BUCKET}/pipe/put", h,
               pbody).replace(b"Connection: close\r\n", b"")
h, *_ = sign("GET", f"/{BUCKET}/sizes/obj-4095", {}, {"host": u.netloc},
             hashlib.sha256(b"").hexdigest())
h.pop("host")
resp = raw(ENDPOINTS[1], [blob, request(ENDPOINTS[1], "GET",
                                       f"/{BUCKET}/sizes/obj-4095", h)],
           timeout=10)
check(resp.startswith(b"HTTP/1.1 200") and resp.count(b"HTTP/1.1 200") == 2
      and resp.endswith(data["sizes/obj-4095"]),
      f"a GET pipelined behind a PUT's body: {resp[:300]}")
check(body(s3.get_object(Bucket=BUCKET, Key="pipe/put")) == pbody,
      "the pipelined PUT's bytes")

# Many GETs of an object the loop answers itself (at most 64 KiB, its
# first copy on the node), pipelined to a client that reads nothing for a
# while: the socket takes only part of the answers, the rest follows from
# a worker (with TLS: encrypted, waiting in the session), all in order.
small = os.urandom(60000)
for i, ep in enumerate(ENDPOINTS):
    S3[i].put_object(Bucket=BUCKET, Key=f"pipe/small{i}", Body=small)
    h, *_ = sign("GET", f"/{BUCKET}/pipe/small{i}", {},
                 {"host": urllib.parse.urlsplit(ep).netloc},
                 hashlib.sha256(b"").hexdigest())
    h.pop("host")
    one = request(ep, "GET", f"/{BUCKET}/pipe/small{i}", h)
    n = 128
    resp = raw(ep, one.replace(b"Connection: close\r\n", b"") * (n - 1) +
               one, timeout=10, pause=0.5, rcvbuf=16384)
    check(resp.count(b"HTTP/1.1 200 OK") == n and resp.count(small) == n,
          f"{n} pipelined GETs through {ep}: "
          f"{resp.count(b'HTTP/1.1 200 OK')} answers, "
          f"{resp.count(small)} bodies")

# Hostile headers and parameters: clear errors, nothing stored.
hdrs = {"host": u.netloc, "content-length": "3",
        "content-md5": "A" * 6000}
h, *_ = sign("PUT", f"/{BUCKET}/hostile/md5", {}, hdrs,
             hashlib.sha256(b"abc").hexdigest())
h.pop("host")
resp = raw(ENDPOINTS[1], request(ENDPOINTS[1], "PUT", f"/{BUCKET}/hostile/md5",
                                 h, b"abc"))
check(resp.startswith(b"HTTP/1.1 400") and b"InvalidDigest" in resp,
      f"a 6000-byte Content-MD5: {resp[:200]}")
expect_error("InvalidArgument", 400, s3.list_objects_v2, Bucket=BUCKET,
             StartAfter="x" * 3000)
expect_error("InvalidArgument", 400, s3.list_objects, Bucket=BUCKET,
             Marker="y" * 3000 + "/", Delimiter="/")
hdrs = {"host": u.netloc, "content-length": "0"}
h, *_ = sign("PUT", f"/{BUCKET}/hostile/empty", {}, hdrs,
             hashlib.sha256(b"not empty").hexdigest())
h.pop("host")
resp = raw(ENDPOINTS[1], request(ENDPOINTS[1], "PUT",
                                 f"/{BUCKET}/hostile/empty", h))
check(b"XAmzContentSHA256Mismatch" in resp, f"empty body's hash: {resp[:200]}")
for k in ("hostile/md5", "hostile/empty"):
    expect_error("NoSuchKey", 404, s3.get_object, Bucket=BUCKET, Key=k)
# A part sent again with a wrong Content-MD5 leaves the earlier one.
uid = s3.create_multipart_upload(Bucket=BUCKET, Key="mp/md5")["UploadId"]
p1 = s3.upload_part(Bucket=BUCKET, Key="mp/md5", UploadId=uid, PartNumber=1,
                    Body=b"first")
expect_error("BadDigest", 400, s3.upload_part, Bucket=BUCKET, Key="mp/md5",
             UploadId=uid, PartNumber=1, Body=b"second",
             ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
s3.complete_multipart_upload(Bucket=BUCKET, Key="mp/md5", UploadId=uid,
                             MultipartUpload={"Parts": [
                                 {"PartNumber": 1, "ETag": p1["ETag"]}]})
check(body(s3.get_object(Bucket=BUCKET, Key="mp/md5")) == b"first",
      "a bad part's retry did not replace the good part")

# Garbage and truncated requests: answered 400 or closed, and the
# endpoint goes on serving.
for junk in [b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
             b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\n\r\n",
             b"PUT /x/y HTTP/1.1\r\nContent-Length: 10\r\n",
             b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
             b"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
             b"POST /b?delete HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"zz\r\n"]:
    resp = raw(ENDPOINTS[0], junk, timeout=5)
    check(resp == b"" or resp.startswith(b"HTTP/1.1 4"),
          f"junk {junk[:30]!r} got {resp[:100]!r}")
    check(body(s3.get_object(Bucket=BUCKET, Key="sizes/obj-1")) ==
          data["sizes/obj-1"], "serving after junk")

print(f"s3_boto3: {step} checks passed")
