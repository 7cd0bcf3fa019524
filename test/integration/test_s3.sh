#!/usr/bin/env bash
# The S3 endpoint with real clients, all Debian's: boto3 (s3_boto3.py:
# every operation, error codes, signatures, presigned URLs, aws-chunked,
# raw HTTP), the AWS CLI (cp, ls equal to ais ls, sync twice, multipart),
# s3cmd (sync, get), rclone (copy, check) and curl, against a 3-node
# cluster whose DIR/s3.env `ais local up` wrote; keys added and removed
# with ais s3 keys. The cluster speaks TLS (ais local up's default), so
# the endpoint is HTTPS: every client trusts the cluster's CA (boto3 and
# the CLI through s3.env's AWS_CA_BUNDLE, the others by their options); a
# plain-HTTP client and one that does not trust the CA get nothing.
. "$(dirname "$0")/lib.sh"
ais_test_init s3
PY=$(_ais_python)
for t in "$PY -c 'import boto3'" "/usr/bin/aws --version" "s3cmd --version" \
	"rclone version" "curl --version"; do
	eval "$t" >/dev/null 2>&1 ||
		fail "needs python3-boto3, awscli, s3cmd, rclone and curl (scripts/deps.sh): $t"
done

AIS_TEST_S3_PORT=$((PORT + 6)) ais_cluster_up 3
ENV=$AIS_CLUSTER_DIR/s3.env
[ -f "$ENV" ] || fail "ais local up wrote no $ENV"
assert_eq 600 "$(stat -c %a "$ENV")" "s3.env holds a secret: mode 0600"
grep -q "s3:.*https://127.0.0.1:$((PORT + 6))" "$T/local-up.out" ||
	fail "local up does not print the S3 endpoint: $(cat "$T/local-up.out")"
# shellcheck disable=SC1090
. "$ENV"
assert_eq "https://127.0.0.1:$((PORT + 6))" "$AIS_S3_ENDPOINT" "AIS_S3_ENDPOINT"
CA=$AIS_CLUSTER_DIR/ca.pem
assert_eq "$CA" "${AWS_CA_BUNDLE:-}" "s3.env's AWS_CA_BUNDLE"
"$AIS" s3 keys ls | grep -q "^$AWS_ACCESS_KEY_ID " ||
	fail "the key of s3.env is not in ais s3 keys ls"
# A second up keeps the key (the same file, still valid).
cp "$ENV" "$T/env.1"
"$AIS" local up --dir "$AIS_CLUSTER_DIR" >/dev/null || fail "second local up"
cmp -s "$ENV" "$T/env.1" || fail "a second local up replaced a valid key"

S3EPS="https://127.0.0.1:$((PORT + 6)) https://127.0.0.1:$((PORT + 7)) https://127.0.0.1:$((PORT + 8))"
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null \
	AWS_SHARED_CREDENTIALS_FILE=/dev/null
AWS=(/usr/bin/aws --endpoint-url "$AIS_S3_ENDPOINT")

note "HTTPS only: plain HTTP and an untrusted CA get nothing"
# A plain-HTTP request to the TLS port: no HTTP answer at all (curl: 52,
# empty reply), one NOTICE naming the peer, and the node serves on.
rc=0
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
	"http://127.0.0.1:$((PORT + 6))/" 2>"$T/curl.err") || rc=$?
assert_eq 000 "$code" "plain HTTP to the TLS port: no HTTP status"
# 52: closed with no reply (56: reset).
[ "$rc" = 52 ] || [ "$rc" = 56 ] ||
	fail "plain HTTP: not a closed connection (curl $rc): $(cat "$T/curl.err")"
ais_wait_for 5 grep -q "NOTE: 127.0.0.1:[0-9]*: S3: not TLS" "$AIS_CLUSTER_DIR/node0/aisd.log" ||
	fail "no NOTICE naming the plain-HTTP peer in node0's log"
# curl without the CA: certificate verification fails (60).
rc=0
curl -sS -o /dev/null --max-time 10 "$AIS_S3_ENDPOINT/" 2>"$T/curl.err" || rc=$?
assert_eq 60 "$rc" "curl without --cacert: $(cat "$T/curl.err")"
# With the CA: an HTTPS answer (unsigned: 403), from the same node.
assert_eq 403 "$(curl -s --cacert "$CA" -o /dev/null -w '%{http_code}' --max-time 10 \
	"$AIS_S3_ENDPOINT/cli/x")" "an HTTPS request after the refused ones"
kill -0 "$(ais_node_pid 0)" || fail "node0 is gone"

note "boto3: every operation"
"$AIS" bucket create ais://boto >/dev/null || fail "bucket create"
ENDPOINTS=$S3EPS BUCKET=boto timeout 600 "$PY" \
	"$AIS_SRC_DIR/test/integration/s3_boto3.py" || fail "s3_boto3.py"

note "AWS CLI"
timeout 60 "${AWS[@]}" s3 mb s3://cli >/dev/null || fail "aws s3 mb"
mkdir -p "$T/tree/a/b" "$T/tree/c"
for i in $(seq 1 20); do head -c $((i * 997)) /dev/urandom >"$T/tree/a/f$i"; done
head -c 12345 /dev/urandom >"$T/tree/a/b/deep name+1.bin"
echo hello >"$T/tree/c/hello.txt"
: >"$T/tree/c/empty"
gen_bytes $((21 * 1048576 + 3)) "$T/tree/big.bin"
NFILES=$(find "$T/tree" -type f | wc -l)
# A client that waits on a request (botocore after a final answer to an
# Expect: 100-continue of an empty file) would take 60 s here.
out=$(timeout 30 "${AWS[@]}" s3 sync --no-progress "$T/tree" s3://cli/tree 2>&1) ||
	fail "aws s3 sync (in 30 s): $out"
assert_eq "$NFILES" "$(echo "$out" | grep -c '^upload:')" "files the first sync uploaded"
out=$(timeout 120 "${AWS[@]}" s3 sync --no-progress "$T/tree" s3://cli/tree 2>&1) ||
	fail "aws s3 sync (again): $out"
assert_eq "" "$out" "the second sync transfers nothing"
# What S3 lists is what ais lists: every name, and each size.
timeout 60 "${AWS[@]}" s3api list-objects-v2 --bucket cli \
	--query 'Contents[].[Key,Size]' --output text | sort >"$T/s3.ls" ||
	fail "aws s3api list-objects-v2"
"$AIS" ls -r -l -b ais://cli |
	sed -nE 's/^ *([0-9]+) +[0-9]+ +[^ ]+ +[^ ]+ +(.*)$/\2\t\1/p' |
	sort >"$T/ais.ls"
assert_eq "$NFILES" "$(wc -l <"$T/s3.ls")" "objects S3 lists"
diff "$T/s3.ls" "$T/ais.ls" >&2 || fail "aws lists other names or sizes than ais ls"
timeout 120 "${AWS[@]}" s3 cp --no-progress --recursive s3://cli/tree "$T/back" >/dev/null ||
	fail "aws s3 cp --recursive back"
diff -r "$T/tree" "$T/back" || fail "the tree came back different"
# A multipart object (21 MiB > the CLI's 8 MiB threshold) kept whole:
etag=$(timeout 60 "${AWS[@]}" s3api head-object --bucket cli --key tree/big.bin \
	--query ETag --output text)
case "$etag" in *-3\"|*-3) ;; *) fail "big.bin's ETag $etag: not of 3 parts" ;; esac
"$AIS" get ais://cli/tree/big.bin "$T/big.ais" >/dev/null || fail "ais get of an S3 multipart object"
cmp "$T/tree/big.bin" "$T/big.ais" || fail "multipart object read natively differs"
"$AIS" put "$T/tree/c/hello.txt" ais://cli/native.txt >/dev/null || fail "ais put"
timeout 60 "${AWS[@]}" s3 cp s3://cli/native.txt - | cmp - "$T/tree/c/hello.txt" ||
	fail "an object PUT natively, read through S3"
timeout 60 "${AWS[@]}" s3 rm --recursive s3://cli/tree >/dev/null || fail "aws s3 rm"
assert_eq "" "$(timeout 60 "${AWS[@]}" s3 ls --recursive s3://cli/tree)" "after rm"

note "s3cmd"
cat >"$T/s3cfg" <<EOF
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = 127.0.0.1:$((PORT + 7))
host_bucket = 127.0.0.1:$((PORT + 7))
use_https = True
ca_certs_file = $CA
check_ssl_certificate = True
check_ssl_hostname = True
signature_v2 = False
bucket_location = us-east-1
EOF
S3CMD=(timeout 120 s3cmd -c "$T/s3cfg" --no-progress)
"${S3CMD[@]}" mb s3://s3cmd >/dev/null || fail "s3cmd mb"
"${S3CMD[@]}" sync "$T/tree/" s3://s3cmd/t/ >"$T/s3cmd.1" 2>&1 ||
	fail "s3cmd sync: $(cat "$T/s3cmd.1")"
"${S3CMD[@]}" sync "$T/tree/" s3://s3cmd/t/ >"$T/s3cmd.2" 2>&1 ||
	fail "s3cmd sync (again): $(cat "$T/s3cmd.2")"
grep -q "^upload:" "$T/s3cmd.2" && fail "the second s3cmd sync uploaded again: $(cat "$T/s3cmd.2")"
"${S3CMD[@]}" get s3://s3cmd/t/a/f7 "$T/f7.s3cmd" >/dev/null || fail "s3cmd get"
cmp "$T/tree/a/f7" "$T/f7.s3cmd" || fail "s3cmd get bytes"
assert_eq "$NFILES" "$("${S3CMD[@]}" ls -r s3://s3cmd/ | wc -l)" "s3cmd ls -r"

note "rclone"
export RCLONE_CONFIG_AIS_TYPE=s3 RCLONE_CONFIG_AIS_PROVIDER=Other \
	RCLONE_CONFIG_AIS_ENDPOINT="https://127.0.0.1:$((PORT + 8))" \
	RCLONE_CONFIG_AIS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
	RCLONE_CONFIG_AIS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
	RCLONE_CONFIG_AIS_REGION=us-east-1 RCLONE_CONFIG=/dev/null
# The CA by --ca-cert: with AWS_CA_BUNDLE in its environment, rclone's
# SDK refuses rclone's own HTTP transport.
RC=(env -u AWS_CA_BUNDLE timeout 180 rclone --ca-cert "$CA" --retries 1
	--low-level-retries 1)
"${RC[@]}" mkdir ais:rclone || fail "rclone mkdir"
"${RC[@]}" copy "$T/tree" ais:rclone/t >"$T/rclone.1" 2>&1 || fail "rclone copy: $(cat "$T/rclone.1")"
"${RC[@]}" check "$T/tree" ais:rclone/t >"$T/rclone.2" 2>&1 || fail "rclone check: $(cat "$T/rclone.2")"
# A changed object is found by check (sizes and MD5s compared).
echo changed | timeout 60 "${AWS[@]}" s3 cp - s3://rclone/t/a/f3 >/dev/null || fail "overwrite"
"${RC[@]}" check "$T/tree" ais:rclone/t >/dev/null 2>&1 && fail "rclone check missed a changed object"
"${RC[@]}" copy ais:rclone/t "$T/rback" >/dev/null 2>&1 || fail "rclone copy back"
cmp "$T/tree/a/b/deep name+1.bin" "$T/rback/a/b/deep name+1.bin" || fail "rclone copy back bytes"

note "curl: anonymous, presigned, HEAD"
code=$(curl -s --cacert "$CA" -o /dev/null -w '%{http_code}' "$AIS_S3_ENDPOINT/cli/native.txt")
assert_eq 403 "$code" "an unsigned GET where s3_anonymous is none"
url=$(timeout 30 "${AWS[@]}" s3 presign s3://cli/native.txt --expires-in 60) ||
	fail "aws s3 presign"
curl -sf --cacert "$CA" "$url" | cmp - "$T/tree/c/hello.txt" || fail "curl of a presigned URL"
curl -sfI --cacert "$CA" "$url" >/dev/null 2>&1 && fail "a URL presigned for GET served a HEAD"

note "keys: added, used, removed on every node"
"$AIS" s3 keys add --access-key TESTKEY0000000000001 --secret 'another-secret/0123+x' \
	--comment test >"$T/key.out" || fail "ais s3 keys add"
grep -q "AWS_SECRET_ACCESS_KEY=another-secret/0123+x" "$T/key.out" || fail "key add output"
"$AIS" s3 keys add --access-key TESTKEY0000000000001 --secret 'x-secret-0123456789' \
	>/dev/null 2>&1 && fail "a taken access key added twice"
"$AIS" s3 keys add --access-key short --secret 'x-secret-0123456789' \
	>/dev/null 2>&1 && fail "a malformed access key accepted"
"$AIS" s3 keys ls | grep -q "^TESTKEY0000000000001 .* test$" || fail "keys ls"
"$AIS" s3 keys ls | grep -q "another-secret" && fail "keys ls shows a secret"
for ep in $S3EPS; do
	AWS_ACCESS_KEY_ID=TESTKEY0000000000001 AWS_SECRET_ACCESS_KEY='another-secret/0123+x' \
		timeout 30 /usr/bin/aws --endpoint-url "$ep" s3 ls s3://cli >/dev/null ||
		fail "the new key through $ep"
done
"$AIS" s3 keys rm TESTKEY0000000000001 || fail "keys rm"
# refused EP: true once EP refuses the removed key as unknown.
refused()
{
	local out
	out=$(AWS_ACCESS_KEY_ID=TESTKEY0000000000001 \
		AWS_SECRET_ACCESS_KEY='another-secret/0123+x' timeout 30 \
		/usr/bin/aws --endpoint-url "$1" s3 ls s3://cli 2>&1) && return 1
	[[ $out == *InvalidAccessKeyId* ]]
}
for ep in $S3EPS; do
	ais_wait_for 10 refused "$ep"
done
"$AIS" s3 keys rm TESTKEY0000000000001 2>/dev/null && fail "a removed key removed again"

note "the endpoint survives a node restart and serves on"
ais_node_kill 1 TERM
ais_node_restart
ais_wait_for 30 timeout 10 /usr/bin/aws --endpoint-url "https://127.0.0.1:$((PORT + 7))" \
	s3 ls s3://cli
timeout 60 /usr/bin/aws --endpoint-url "https://127.0.0.1:$((PORT + 7))" s3 cp \
	s3://cli/native.txt - | cmp - "$T/tree/c/hello.txt" || fail "GET after a restart"
# No request stalled (aisd logs those that took over 10 s).
slow=$(grep -h "S3 .* in [0-9.]* s$" "$AIS_CLUSTER_DIR"/node*/aisd.log | grep NOTE || true)
[ -z "$slow" ] || fail "S3 requests that took over 10 s: $slow"
note "s3: ok"
