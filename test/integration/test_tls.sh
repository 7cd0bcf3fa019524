#!/usr/bin/env bash
# TLS on a real 3-node cluster (ais local up's default): the CA and the
# certificates it makes, clients that find the CA with no flag; every
# listening port (native, Raft, S3) gives a plain-text client nothing and
# says so in its log; a client with another CA refuses the nodes; a node
# posing as the cluster with a certificate of another CA is refused; a node
# with another CA's certificate, or with none, cannot join; certificates
# renewed and reloaded on SIGHUP under a running load with no failed
# request, new connections seeing the new certificate.
. "$(dirname "$0")/lib.sh"
ais_test_init tls
PY=$(_ais_python)

AIS_TEST_S3_PORT=$((PORT + 6)) ais_cluster_up 3
export AIS_ENDPOINT=127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))
D=$AIS_CLUSTER_DIR

# What ais local up made: the CA, its key and every node's certificate.
for f in ca.key node0/tls.key node1/tls.key node2/tls.key; do
	assert_eq 600 "$(stat -c %a "$D/$f")" "$f is a private key: mode 0600"
done
grep -q "tls:  *on" "$T/local-up.out" ||
	fail "local up does not say tls is on: $(cat "$T/local-up.out")"
grep -q "tls: on (TLS 1.3)" "$D/node0/aisd.log" || fail "node0 does not log tls: on"
[ -f "$XDG_CONFIG_HOME/ais/ca/127.0.0.1:$PORT.pem" ] ||
	fail "local up saved no CA for this user's clients"
"$AIS" tls show "$D/node1/tls.crt" | grep -q "expires in 36[56] days" ||
	fail "node1's certificate: $("$AIS" tls show "$D/node1/tls.crt")"

# Clients find the CA with no flag; bytes go through TLS unchanged.
"$AIS" bucket create ais://t || fail "bucket create over TLS"
gen_bytes 3 $((3 * 1024 * 1024 + 17)) >"$T/big"
"$AIS" put "$T/big" ais://t/big || fail "put over TLS"
for i in $(seq 1 20); do echo "small $i" | "$AIS" put - "ais://t/s/$i" || fail "put s/$i"; done
"$AIS" get ais://t/big "$T/big.back" || fail "get over TLS"
cmp "$T/big" "$T/big.back" || fail "GET over TLS: bytes differ"
for i in 1 7 20; do
	assert_eq "small $i" "$("$AIS" get "ais://t/s/$i" -)" "GET s/$i over TLS"
done
assert_eq 20 "$("$AIS" ls ais://t/s/ | wc -l)" "a listing over TLS"

# Every port gives a plain-text client nothing and closes: the native
# ports (a frame header), the Raft ports, the S3 ports (an HTTP request).
plain_probe() { # port payload-kind
	"$PY" - "$1" "$2" <<'EOF'
import socket, sys
port, kind = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
if kind == "http":
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
else:
    # a frame header of the native protocol, then some bytes
    s.sendall(b"AISF" + bytes(60))
got = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
except socket.timeout:
    print("still open after 5 s"); sys.exit(1)
except ConnectionResetError:
    pass
if b"HTTP" in got or b"AISF" in got or len(got) > 7:
    print("answered %r" % got[:40]); sys.exit(1)
EOF
}
for i in 0 1 2; do
	plain_probe $((PORT + i)) frame || fail "native port of node$i answered plain text"
	plain_probe $((PORT + 3 + i)) frame || fail "Raft port of node$i answered plain text"
	plain_probe $((PORT + 6 + i)) http || fail "S3 port of node$i answered plain HTTP"
done
ais_wait_for 5 grep -q "not TLS (a plain-text client?)" "$D/node1/aisd.log" ||
	fail "node1 did not log the plain-text client"
# ... and a plain-text ais is told what to do.
out=$(AIS_CA_FILE=none "$AIS" ls ais://t 2>&1) && fail "a plain-text client was served"
echo "$out" | grep -q "AIS_CA_FILE" || fail "plain-text client not told why: $out"

# Another CA: the client refuses the nodes.
"$AIS" tls ca --out "$T/other" >/dev/null || fail "ais tls ca"
out=$(AIS_CA_FILE=$T/other/ca.pem "$AIS" ls ais://t 2>&1) &&
	fail "a client trusting another CA was served"
echo "$out" | grep -q "certificate verify failed" || fail "wrong CA: $out"

# A node posing as the cluster, with a certificate of another CA: clients
# of the cluster refuse it before they send a byte of a request.
"$AIS" tls cert --ca "$T/other" --name impostor --host 127.0.0.1 \
	--out "$T/imp" >/dev/null || fail "ais tls cert"
mkdir -p "$T/imp.mp"
"$AISD" -l 127.0.0.1 -p $((PORT + 12)) --raft-port $((PORT + 17)) -m "$T/imp.mp" \
	--tls-ca-file "$T/other/ca.pem" --tls-cert-file "$T/imp.crt" \
	--tls-key-file "$T/imp.key" --pidfile "$T/imp.pid" >"$T/imp.log" 2>&1 &
ais_wait_for 10 grep -q "tls: on" "$T/imp.log" || fail "impostor did not start: $(cat "$T/imp.log")"
sleep 0.5
out=$(AIS_CA_FILE=$D/ca.pem "$AIS" --endpoint 127.0.0.1:$((PORT + 12)) ls 2>&1) &&
	fail "a client of the cluster talked to the impostor"
echo "$out" | grep -q "certificate verify failed" || fail "impostor: $out"
kill "$(cat "$T/imp.pid")"

# A downgrade: an impostor that speaks plain TCP (and knows the key id)
# never gets a token minted by a TLS node: the client refuses to send it.
echo "bob's password" >"$T/bob.pw"
"$AIS" auth user add bob --password-file "$T/bob.pw" >/dev/null || fail "user add"
"$AIS" auth grant bob ais://t read >/dev/null || fail "grant"
"$AIS" auth login bob --password-file "$T/bob.pw" --out "$T/bob.tok" >/dev/null ||
	fail "login over TLS"
mkdir -p "$T/plain.mp"
"$AISD" -l 127.0.0.1 -p $((PORT + 13)) --raft-port $((PORT + 18)) -m "$T/plain.mp" \
	--auth-secret-file "$D/secret" --pidfile "$T/plain.pid" >"$T/plain.log" 2>&1 &
ais_wait_for 10 grep -q "tls: OFF" "$T/plain.log" || fail "plain impostor did not start"
sleep 0.5
out=$(AIS_CA_FILE=none AIS_TOKEN_FILE=$T/bob.tok "$AIS" --endpoint 127.0.0.1:$((PORT + 13)) \
	ls 2>&1) && fail "a TLS token went to a plain-text node"
echo "$out" | grep -q "speaks TLS" || fail "downgrade: $out"
kill "$(cat "$T/plain.pid")"

# A node with another CA's certificate cannot join (right secret, wrong
# certificate); nor can a node without TLS.
mkdir -p "$T/bad0/mp0" "$T/bad1/mp0"
"$AISD" -l 127.0.0.1 -p $((PORT + 10)) --raft-port $((PORT + 15)) -m "$T/bad0/mp0" \
	-j "127.0.0.1:$PORT" --auth-secret-file "$D/secret" \
	--tls-ca-file "$T/other/ca.pem" --tls-cert-file "$T/imp.crt" \
	--tls-key-file "$T/imp.key" --pidfile "$T/bad0/aisd.pid" >"$T/bad0/aisd.log" 2>&1 &
"$AISD" -l 127.0.0.1 -p $((PORT + 11)) --raft-port $((PORT + 16)) -m "$T/bad1/mp0" \
	-j "127.0.0.1:$PORT" --auth-secret-file "$D/secret" \
	--pidfile "$T/bad1/aisd.pid" >"$T/bad1/aisd.log" 2>&1 &
ais_wait_for 10 grep -q "certificate verify failed" "$T/bad0/aisd.log" ||
	fail "the node of another CA does not say why it cannot join: $(tail -3 "$T/bad0/aisd.log")"
ais_wait_for 10 grep -qi "join.*\(closed\|reset\|TLS\)" "$T/bad1/aisd.log" ||
	fail "the node without TLS does not say why it cannot join: $(tail -3 "$T/bad1/aisd.log")"
"$AIS" cluster show >"$T/show"
grep -q ":$((PORT + 10))\|:$((PORT + 11))" "$T/show" && fail "a node without a certificate joined"
kill "$(cat "$T/bad0/aisd.pid")" "$(cat "$T/bad1/aisd.pid")"

# Renewal under load: new certificates for every node, SIGHUP, while
# aisloader reads without pause. No request fails; open connections go on;
# new ones see the new certificate.
"$AISLOADER" --endpoint "$AIS_ENDPOINT" --bucket t --prefix s/ --duration 8s \
	--workers 8 --stats-interval 0 >"$T/load.out" 2>&1 &
load=$!
sleep 2
for i in 0 1 2; do
	"$AIS" tls cert --ca "$D" --name "node$i-renewed" --host 127.0.0.1,localhost \
		--out "$D/node$i/tls" >/dev/null || fail "renew node$i"
	kill -HUP "$(ais_node_pid "$i")"
done
for i in 0 1 2; do
	ais_wait_for 5 grep -q "reloaded: new connections see .*CN=node$i-renewed" \
		"$D/node$i/aisd.log" || fail "node$i did not reload: $(grep SIGHUP "$D/node$i/aisd.log")"
done
"$PY" - "$D/ca.pem" "$PORT" <<'EOF' || fail "a new connection does not see the new certificate"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.check_hostname = False
with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5) as s:
    with ctx.wrap_socket(s) as t:
        subj = dict(x[0] for x in t.getpeercert()["subject"])
        assert subj["commonName"] == "node0-renewed", subj
        assert t.version() == "TLSv1.3", t.version()
EOF
# aisloader exits non-zero if any request failed.
wait "$load" || fail "requests failed across the reload: $(tail -8 "$T/load.out")"
# A broken certificate: reload refused, the old one stays in use.
echo "not a certificate" >"$D/node2/tls.crt"
kill -HUP "$(ais_node_pid 2)"
ais_wait_for 5 grep -q "TLS reload failed, the certificate in use stays" "$D/node2/aisd.log" ||
	fail "a broken certificate was not refused on reload"
assert_eq "small 7" "$("$AIS" get ais://t/s/7 -)" "served after a refused reload"
note "ok"
