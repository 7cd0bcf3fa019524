#!/usr/bin/env bash
# Users, rights and tokens end to end on a 3-node cluster with auth (ais
# local up's default): the admin token up saved is found with no flag;
# without a token everything is refused with a reason; ais auth user, grant,
# login, whoami, revoke; a read-only user through the mount (reads work,
# writes fail with EACCES) and through S3 (AccessDenied on PUT, its
# ListBuckets shows its bucket only); a revoked token refused by every node
# within seconds; unsigned S3 requests with user anonymous's rights; a
# node with another secret, or none, cannot join; a secret readable by
# others stops a node at start; --insecure says so. S3 is HTTPS (the
# cluster speaks TLS), its clients trusting DIR/ca.pem; on the --insecure
# cluster it is plain HTTP.
. "$(dirname "$0")/fuse_lib.sh"
fuse_test_init fuse_auth
PY=$(_ais_python)
$PY -c 'import boto3' 2>/dev/null ||
	fail "needs python3-boto3 (scripts/deps.sh)"

# Unsigned S3 reads allowed: with auth they have user anonymous's rights.
echo "s3_anonymous = read" >"$T/aisd.conf"
AIS_TEST_AISD_CONF=$T/aisd.conf AIS_TEST_S3_PORT=$((PORT + 6)) ais_cluster_up 3
export AIS_ENDPOINT=127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))
D=$AIS_CLUSTER_DIR
for f in secret token admin.password s3.env; do
	[ -f "$D/$f" ] || fail "ais local up made no $D/$f"
	assert_eq 600 "$(stat -c %a "$D/$f")" "$f holds a secret: mode 0600"
done
grep -q "auth:  *on" "$T/local-up.out" ||
	fail "local up does not say auth is on: $(cat "$T/local-up.out")"
grep -q "auth: on" "$D/node0/aisd.log" || fail "node0 does not log auth: on"

# The admin token is found with no flag (XDG_CONFIG_HOME is the test's).
"$AIS" auth whoami >"$T/who" || fail "whoami"
grep -q "user: *admin" "$T/who" || fail "whoami: $(cat "$T/who")"
grep -q "cluster admin" "$T/who" || fail "whoami: $(cat "$T/who")"
"$AIS" bucket create ais://pub ais://priv || fail "bucket create as admin"
echo "public bytes" >"$T/pub.txt"
"$AIS" put "$T/pub.txt" ais://pub/a/pub.txt || fail "put as admin"
echo "private bytes" | "$AIS" put - ais://priv/secret.txt || fail "put"

# No token: refused, with the reason and what to do (the CA named: the
# saved one goes with the config directory).
NOTOK=(env XDG_CONFIG_HOME="$T/none" AIS_LOCAL_DIR="$T/none" AIS_CA_FILE="$D/ca.pem")
expect_fail "needs a token" "${NOTOK[@]}" "$AIS" ls ais://pub
expect_fail "needs a token" "${NOTOK[@]}" "$AIS" get ais://pub/a/pub.txt -
expect_fail "needs a token" "${NOTOK[@]}" "$AIS" bucket create ais://x
expect_fail "needs a token" "${NOTOK[@]}" "$AIS" cluster show
# A token file named but broken: said so, nothing sent.
echo garbage >"$T/bad.tok"
expect_fail "not a token" env AIS_TOKEN_FILE="$T/bad.tok" "$AIS" ls

# Users and rights.
printf 'reader-password-1\n' >"$T/r.pw"
printf 'writer-password-1\n' >"$T/w.pw"
"$AIS" auth user add reader --password-file "$T/r.pw" || fail "user add"
"$AIS" auth user add writer --password-file "$T/w.pw" || fail "user add"
expect_fail "exists already" "$AIS" auth user add reader --password-file "$T/r.pw"
"$AIS" auth grant reader ais://pub read || fail "grant read"
"$AIS" auth grant writer ais://pub write || fail "grant write"
"$AIS" auth user ls >"$T/users"
grep -q "^reader .*ais://pub read" "$T/users" || fail "user ls: $(cat "$T/users")"
grep -q "^admin .*cluster admin" "$T/users" || fail "user ls: $(cat "$T/users")"
expect_fail "login refused" "$AIS" auth login reader --password-file "$T/w.pw" --out "$T/x.tok"
"$AIS" auth login reader --password-file "$T/r.pw" --out "$T/r.tok" ||
	fail "login reader"
"$AIS" auth login writer --password-file "$T/w.pw" --out "$T/w.tok" ||
	fail "login writer"
assert_eq 600 "$(stat -c %a "$T/r.tok")" "a token file is 0600"
R=(env AIS_TOKEN_FILE="$T/r.tok")
W=(env AIS_TOKEN_FILE="$T/w.tok")
"${R[@]}" "$AIS" get ais://pub/a/pub.txt "$T/got" || fail "reader get"
cmp "$T/pub.txt" "$T/got" || fail "reader got other bytes"
"${R[@]}" "$AIS" auth whoami | grep -q "ais://pub read" || fail "reader whoami"
# The bucket list shows a user its buckets only.
assert_eq "ais://pub" "$("${R[@]}" "$AIS" ls | tr -d ' ')" "reader's bucket list"
expect_fail "may not PUT in bucket pub" "${R[@]}" "$AIS" put "$T/pub.txt" ais://pub/x
expect_fail "may not GET in bucket priv" "${R[@]}" "$AIS" get ais://priv/secret.txt -
expect_fail "may not DELETE" "${R[@]}" "$AIS" rm ais://pub/a/pub.txt
expect_fail "cluster admin" "${R[@]}" "$AIS" auth user add x --password-file "$T/r.pw"
expect_fail "cluster admin" "${R[@]}" "$AIS" auth grant reader ais://priv read
"${W[@]}" "$AIS" put "$T/pub.txt" ais://pub/w.txt || fail "writer put"
expect_fail "admin is needed" "${W[@]}" "$AIS" bucket rm ais://pub

# The mount as the reader: reads work, writes and the other bucket do not.
fuse_mount mr -o "token_file=$T/r.tok"
cmp "$T/pub.txt" "$MNT/pub/a/pub.txt" || fail "mount: bytes differ"
ls "$MNT" >"$T/mls" || fail "ls of the mount root"
grep -qx pub "$T/mls" || fail "mount root: $(cat "$T/mls")"
grep -qx priv "$T/mls" && fail "the reader's mount shows bucket priv"
expect_errno EACCES "f = open('$MNT/pub/new.txt', 'w'); f.write('x'); f.close()"
expect_errno EACCES "os.unlink('$MNT/pub/a/pub.txt')"
expect_errno EACCES "os.rename('$MNT/pub/a/pub.txt', '$MNT/pub/b.txt')"
cmp "$T/pub.txt" "$MNT/pub/a/pub.txt" || fail "mount: bytes differ after"
grep -q "may not" "$T/mr.aisfs.log" ||
	fail "the mount's log does not say why writes failed"
# The writer's mount writes.
fuse_mount mw -o "token_file=$T/w.tok"
echo "through the mount" >"$MNT/pub/m.txt" || fail "writer's mount write"
assert_eq "through the mount" "$("$AIS" get ais://pub/m.txt -)" "mount write"

# S3: keys act as their users.
"$AIS" s3 keys add --user reader --comment reader >"$T/rkey" || fail "s3 key"
"$AIS" s3 keys ls | grep -q "reader" || fail "s3 keys ls shows no user"
expect_fail "no user" "$AIS" s3 keys add --user nobody
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null \
	AWS_SHARED_CREDENTIALS_FILE=/dev/null
# The cluster's CA, as s3.env names it (boto3 takes it from there).
CA=$D/ca.pem
export AWS_CA_BUNDLE=$CA
(
	# shellcheck disable=SC1090,SC1091
	. "$T/rkey"
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	$PY - "https://127.0.0.1:$((PORT + 7))" <<'PY'
import sys, boto3, botocore
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=botocore.config.Config(retries={"max_attempts": 0}))
assert s3.get_object(Bucket="pub", Key="a/pub.txt")["Body"].read() == b"public bytes\n"
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
assert names == ["pub"], names
for call in (lambda: s3.put_object(Bucket="pub", Key="s3.txt", Body=b"x"),
             lambda: s3.get_object(Bucket="priv", Key="secret.txt"),
             lambda: s3.delete_object(Bucket="pub", Key="a/pub.txt"),
             lambda: s3.create_bucket(Bucket="newb")):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        code = e.response["Error"]["Code"]
        assert code == "AccessDenied", (code, e.response["Error"]["Message"])
        assert "user reader" in e.response["Error"]["Message"], e.response
    else:
        raise SystemExit("a call the reader has no right for succeeded")
print("s3 as reader: ok")
PY
) || fail "S3 as the reader"
# The writer may write pub, but not copy into it what it may not read.
"$AIS" s3 keys add --user writer --comment writer >"$T/wkey" || fail "s3 key"
(
	# shellcheck disable=SC1090,SC1091
	. "$T/wkey"
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	$PY - "https://127.0.0.1:$((PORT + 8))" <<'PY'
import sys, boto3, botocore
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=botocore.config.Config(retries={"max_attempts": 0}))
s3.copy_object(Bucket="pub", Key="c1", CopySource={"Bucket": "pub", "Key": "a/pub.txt"})
try:
    s3.copy_object(Bucket="pub", Key="c2",
                   CopySource={"Bucket": "priv", "Key": "secret.txt"})
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "AccessDenied", e.response
    assert "bucket priv" in e.response["Error"]["Message"], e.response
else:
    raise SystemExit("a copy from a bucket the writer may not read worked")
PY
) || fail "S3 copy as the writer"
"$AIS" ls ais://pub/c2 2>/dev/null | grep -q c2 && fail "the refused copy left an object"
# Unsigned requests: the rights of user anonymous, capped by s3_anonymous.
U=https://127.0.0.1:$((PORT + 6))
assert_eq 403 "$(curl -s --cacert "$CA" -o "$T/anon" -w '%{http_code}' "$U/pub/a/pub.txt")" \
	"an unsigned GET without a user anonymous"
grep -q "user anonymous" "$T/anon" || fail "no reason: $(cat "$T/anon")"
printf 'anonymous-password\n' >"$T/a.pw"
"$AIS" auth user add anonymous --password-file "$T/a.pw" || fail "user anonymous"
"$AIS" auth grant anonymous ais://pub write || fail "grant anonymous"
ais_wait_for 5 sh -c "curl -sf --cacert '$CA' '$U/pub/a/pub.txt' | grep -q 'public bytes'" ||
	fail "an unsigned GET with user anonymous's read right"
assert_eq 403 "$(curl -s --cacert "$CA" -o /dev/null -w '%{http_code}' "$U/priv/secret.txt")" \
	"an unsigned GET of a bucket anonymous may not read"
assert_eq 403 "$(curl -s --cacert "$CA" -o /dev/null -w '%{http_code}' -X PUT --data-binary x "$U/pub/anon.txt")" \
	"an unsigned PUT where s3_anonymous is read (user anonymous may write)"
"$AIS" auth user rm anonymous || fail "user rm anonymous"
# The admin key of s3.env may do everything.
(
	# shellcheck disable=SC1090,SC1091
	. "$D/s3.env"
	[ "$AIS_S3_ENDPOINT" = "https://127.0.0.1:$((PORT + 6))" ] &&
		[ "$AWS_CA_BUNDLE" = "$CA" ] || exit 1
	$PY - "$AIS_S3_ENDPOINT" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
s3.put_object(Bucket="priv", Key="s3.txt", Body=b"by admin")
assert s3.get_object(Bucket="priv", Key="s3.txt")["Body"].read() == b"by admin"
PY
) || fail "S3 as admin"

# Revocation: every node refuses the reader's token within seconds, and
# says why; a new login works.
"$AIS" auth revoke --user reader || fail "revoke"
t0=$(now_ms)
for i in 0 1 2; do
	ais_wait_for 5 sh -c "AIS_TOKEN_FILE='$T/r.tok' '$AIS' --endpoint 127.0.0.1:$((PORT + i)) get ais://pub/a/pub.txt - 2>&1 | grep -q 'was revoked'" ||
		fail "node $i still takes a revoked token after 5 s"
done
note "revoked on 3 nodes in $(($(now_ms) - t0)) ms"
expect_fail "was revoked" "${R[@]}" "$AIS" get ais://pub/a/pub.txt -
sleep 0.05
"$AIS" auth login reader --password-file "$T/r.pw" --out "$T/r.tok" || fail "login again"
"${R[@]}" "$AIS" get ais://pub/a/pub.txt - >/dev/null || fail "a new token"
# A user revokes its own, not another's.
expect_fail "cluster admin" "${R[@]}" "$AIS" auth revoke --user writer
"${W[@]}" "$AIS" auth revoke --token "$T/w.tok" || fail "revoke own token"
expect_fail "revoked" "${W[@]}" "$AIS" ls ais://pub
# Expired.
"$AIS" auth login reader --password-file "$T/r.pw" --out "$T/short.tok" --ttl 1 ||
	fail "login --ttl 1"
sleep 1.2
expect_fail "expired" env AIS_TOKEN_FILE="$T/short.tok" "$AIS" ls ais://pub
# A mount whose token file gets a new token goes on, no remount.
"$AIS" auth login reader --password-file "$T/r.pw" --out "$T/m.tok" --ttl 3 ||
	fail "login --ttl 3"
fuse_mount mt -o "token_file=$T/m.tok"
cmp "$T/pub.txt" "$MNT/pub/a/pub.txt" || fail "mount with a short token"
sleep 3.2
expect_errno EACCES "open('$MNT/pub/w.txt').read()"
grep -q "expired" "$T/mt.aisfs.log" || fail "the mount's log does not say expired"
"$AIS" auth login reader --password-file "$T/r.pw" --out "$T/m.tok" ||
	fail "login again"
ais_wait_for 10 cmp -s "$T/pub.txt" "$MNT/pub/w.txt" ||
	fail "the mount did not take the renewed token within 10 s"
# The user goes, and its token and key with it.
"$AIS" auth user rm reader || fail "user rm"
expect_fail "no longer exists" "${R[@]}" "$AIS" ls ais://pub
"$AIS" s3 keys ls | grep -q reader && fail "the removed user's S3 key stays"

# The mounts' tokens are revoked or their user gone: their polls are
# refused, and such refusals would take the log's line of each second.
for m in mr mw mt; do fuse_umount "$T/$m"; done
# A node with another secret cannot join; nor one with none.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/other.secret"
chmod 600 "$T/other.secret"
ais_node_add 0 --auth-secret-file "$T/other.secret"
ais_wait_for 10 grep -q "another cluster\|signature" "$T/extra0/aisd.log" ||
	fail "the impostor's log does not say why it was refused: $(tail -5 "$T/extra0/aisd.log")"
"$AIS" cluster show >"$T/show"
grep -q ":$((PORT + 10))" "$T/show" && fail "a node with another secret joined"
# Refusals are logged once a second at most: the joiner's retries do.
ais_wait_for 10 sh -c "grep -h 'JOIN refused' '$D'/node*/aisd.log | grep -q ." ||
	fail "no node logged the refused JOIN"
kill "$(ais_extra_pid 0)"
# No secret at all: refused the same way (a node's certificate it has:
# the token is what it lacks).
mkdir -p "$T/extra1/mp0"
"$AIS" tls cert --ca "$D" --name extra1 --host 127.0.0.1,localhost \
	--out "$T/extra1/tls" >/dev/null || fail "ais tls cert for extra1"
"$AISD" -l 127.0.0.1 -p $((PORT + 11)) --raft-port $((PORT + 16)) \
	-m "$T/extra1/mp0" -j "127.0.0.1:$PORT" --pidfile "$T/extra1/aisd.pid" \
	--tls-ca-file "$D/ca.pem" --tls-cert-file "$T/extra1/tls.crt" \
	--tls-key-file "$T/extra1/tls.key" >>"$T/extra1/aisd.log" 2>&1 &
ais_wait_for 10 grep -q "needs a token" "$T/extra1/aisd.log" ||
	fail "a node without the secret: $(tail -5 "$T/extra1/aisd.log")"
"$AIS" cluster show | grep -q ":$((PORT + 11))" && fail "a node without the secret joined"
kill "$(ais_extra_pid 1)"
# A secret others may read: the node does not start, and says why.
cp "$D/secret" "$T/open.secret"
chmod 644 "$T/open.secret"
mkdir -p "$T/open/mp0"
rc=0
timeout 10 "$AISD" -l 127.0.0.1 -p $((PORT + 12)) --raft-port $((PORT + 17)) \
	-m "$T/open/mp0" --auth-secret-file "$T/open.secret" >"$T/open.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] ||
	fail "aisd ran with a secret readable by others (status $rc)"
grep -q "chmod 600" "$T/open.log" || fail "no reason: $(cat "$T/open.log")"

# The cluster serves its users after all that.
"${W[@]}" "$AIS" ls ais://pub >/dev/null 2>&1 && fail "a revoked token works"
"$AIS" get ais://priv/secret.txt - | grep -q "private bytes" || fail "admin get"

# --insecure: no auth, and said loudly; S3 in plain HTTP.
"$AIS" local up --dir "$T/insecure" --port $((PORT + 13)) --nodes 1 \
	--s3-port $((PORT + 18)) --insecure >"$T/ins.out" 2>&1 || fail "local up --insecure: $(cat "$T/ins.out")"
grep -q "WARNING: --insecure" "$T/ins.out" || fail "--insecure is not loud"
grep -q "auth: OFF" "$T/insecure/node0/aisd.log" || fail "aisd does not warn"
grep -q "tls: OFF" "$T/insecure/node0/aisd.log" || fail "aisd does not warn of no TLS"
"$AIS" --endpoint 127.0.0.1:$((PORT + 13)) bucket create ais://open ||
	fail "no token needed on an insecure cluster"
grep -q "s3: *http://127.0.0.1:$((PORT + 18))" "$T/ins.out" ||
	fail "--insecure: S3 not said to be plain HTTP: $(cat "$T/ins.out")"
(
	unset AWS_CA_BUNDLE
	# shellcheck disable=SC1090,SC1091
	. "$T/insecure/s3.env"
	[ "$AIS_S3_ENDPOINT" = "http://127.0.0.1:$((PORT + 18))" ] &&
		[ -z "${AWS_CA_BUNDLE:-}" ] || exit 1
	$PY - "$AIS_S3_ENDPOINT" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
s3.put_object(Bucket="open", Key="x", Body=b"plain")
assert s3.get_object(Bucket="open", Key="x")["Body"].read() == b"plain"
PY
) || fail "S3 in plain HTTP on the --insecure cluster ($(grep ENDPOINT "$T/insecure/s3.env"))"
"$AIS" local down --dir "$T/insecure" --purge >/dev/null
note "fuse_auth: ok"
