#!/usr/bin/env bash
# GETs through the S3 endpoint against nginx serving the same files and
# against the native protocol (aisloader), same run, same machine: 4 KiB
# objects (32 connections) and 1 MiB objects (8 connections), wrk for the
# HTTP servers, ROUNDS rounds alternating, medians and ratios.
#
# The cluster has one node, so that every GET reaches the node that holds
# the object (the endpoint's sendfile path, as nginx's): a multi-node
# cluster behind one endpoint adds the hop to the owner (S3_NODES=3 shows
# it). wrk does not sign: the nodes allow unsigned reads (s3_anonymous =
# read); a signed GET adds its SigV4 check (one HMAC chain and SHA-256 of
# the canonical request).
#
#   test/bench/s3.sh [BUILD_DIR]    (default ./build-rel)
#
# $S3B_ROUNDS (3), $S3B_SECONDS (10), $S3B_SMALL (8000 objects),
# $S3B_BIG (1000 objects of 1 MiB), $S3B_NODES (1), $S3B_PORT (19400; nginx
# on +99), $S3B_DIR (/var/tmp/aisbench-s3: removed at the end).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${1:-build-rel}" && pwd)
ROUNDS=${S3B_ROUNDS:-3} SECS=${S3B_SECONDS:-10}
NSMALL=${S3B_SMALL:-8000} NBIG=${S3B_BIG:-1000} NODES=${S3B_NODES:-1}
P=${S3B_PORT:-19400} NP=$((${S3B_PORT:-19400} + 99))
W=${S3B_DIR:-/var/tmp/aisbench-s3}
# The CA and token local up saves stay in the work dir, out of $HOME.
export XDG_CONFIG_HOME=$W/xdg
AIS=$B/tools/ais AISLOADER=$B/tools/aisloader/aisloader
NGINX_PID=
S3P=$((P + 2 * NODES))

cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
	[ -d "$W/c" ] && "$AIS" local down --dir "$W/c" >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W/nginx/tmp"
python3 "$HERE/gendata.py" small "$W/data/small" --count "$NSMALL" --size 4096 >/dev/null
python3 "$HERE/gendata.py" small "$W/data/big" --count "$NBIG" --size 1048576 >/dev/null
# Both servers keep every small object open (aisd's open_cache of 8192
# by default, nginx's open_file_cache), as for a hot data set.
# Unsigned reads on a cluster without auth (--insecure): with auth they
# would need a user "anonymous" with read rights.
echo "s3_anonymous = read" >"$W/aisd.conf"

up() { AIS_AISD=$B/daemon/aisd "$AIS" local up --dir "$W/c" --port "$P" \
	--nodes "$NODES" --s3-port "$S3P" --config "$W/aisd.conf" \
	--insecure >/dev/null 2>&1; }
down() { "$AIS" local down --dir "$W/c" >/dev/null; }

cat >"$W/paths.lua" <<'EOF'
local n, i, threads, prefix = 1, 0, 0, "/"
function setup(thread)
	thread:set("first", threads * 7919)
	threads = threads + 1
end
function init(args) prefix = args[1]; n = tonumber(args[2]); i = first or 0 end
function request()
	i = i + 1
	return wrk.format("GET", string.format("%s/o%06d", prefix, i % n))
end
EOF
# wrk URL PREFIX COUNT CONNS: "ops/s MiB/s p99us", every answer a 200.
wrkload() {
	wrk -t2 -c"$4" -d"${SECS}s" --latency -s "$W/paths.lua" "$1" -- "$2" "$3" |
		awk '
		/^Requests\/sec:/ { r = $2 }
		/^Transfer\/sec:/ { t = $2; if (t ~ /GB$/) m = 1024; else if (t ~ /MB$/) m = 1;
			else if (t ~ /KB$/) m = 1 / 1024; else m = 1 / 1048576
			sub(/[A-Za-z]+$/, "", t); bw = t * m }
		/Non-2xx or 3xx responses/ { bad = $NF }
		$1 == "99%" { v = $2; u = 1; if (v ~ /ms$/) u = 1000
			else if (v ~ /[0-9]s$/) u = 1000000
			sub(/[a-z]+$/, "", v); p = v * u }
		END { if (bad) { print "non-2xx answers: " bad > "/dev/stderr"
				system("tail -3 '"$W"'/nginx/error.log >&2"); exit 1 }
			printf "%d %.0f %.0f\n", r, bw, p }'
}
# aisload BUCKET CONNS: the native protocol's "ops/s MiB/s p99us".
aisload() {
	"$AISLOADER" --endpoint "127.0.0.1:$P" --bucket "$1" --workers 2 \
		--conns "$2" --duration "${SECS}s" -q --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["errors"] == 0 and j["ops"] > 0, j
print(int(j["ops_per_s"]), "%.0f" % j.get("mib_per_s", 0), "%.0f" % j["latency_us"]["p99"])'
}
nginx_up() {
	cat >"$W/nginx/nginx.conf" <<EOF
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 2;
daemon off;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off; sendfile on; tcp_nopush on;
	keepalive_timeout 65; keepalive_requests 100000000;
	open_file_cache max=16384 inactive=60s; open_file_cache_valid 1s;
	default_type application/octet-stream;
	client_body_temp_path $W/nginx/tmp/body; proxy_temp_path $W/nginx/tmp/proxy;
	fastcgi_temp_path $W/nginx/tmp/fcgi; uwsgi_temp_path $W/nginx/tmp/uwsgi;
	scgi_temp_path $W/nginx/tmp/scgi;
	server { listen 127.0.0.1:$NP; root $W/data; }
}
EOF
	nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/error.log" &
	NGINX_PID=$!
	sleep 1
}
nginx_down() {
	kill "$NGINX_PID"
	wait "$NGINX_PID" || true
	NGINX_PID=
}

up
for b in small big; do
	AIS_ENDPOINT=127.0.0.1:$P "$AIS" bucket create "ais://$b" >/dev/null
	AIS_ENDPOINT=127.0.0.1:$P "$AIS" put -r -q "$W/data/$b" "ais://$b/"
done
down

declare -A res
for ((r = 1; r <= ROUNDS; r++)); do
	up
	for c in "small 32 $NSMALL" "big 8 $NBIG"; do
		read -r b conns n <<<"$c"
		wrkload "http://127.0.0.1:$S3P" "/$b" "$n" "$conns" >/dev/null # warm
		v=$(wrkload "http://127.0.0.1:$S3P" "/$b" "$n" "$conns")
		echo "round $r: $b s3:     $v (ops/s, MiB/s, p99 us)"
		res[s3_$b]+="${v%% *} "
		v=$(aisload "$b" "$conns")
		echo "round $r: $b native: $v"
		res[native_$b]+="${v%% *} "
	done
	down
	nginx_up
	for c in "small 32 $NSMALL" "big 8 $NBIG"; do
		read -r b conns n <<<"$c"
		wrkload "http://127.0.0.1:$NP" "/$b" "$n" "$conns" >/dev/null
		v=$(wrkload "http://127.0.0.1:$NP" "/$b" "$n" "$conns")
		echo "round $r: $b nginx:  $v"
		res[nginx_$b]+="${v%% *} "
	done
	nginx_down
done
median() { echo "$1" | tr ' ' '\n' | grep . | sort -n |
	awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for b in small big; do
	s=$(median "${res[s3_$b]}") n=$(median "${res[nginx_$b]}") a=$(median "${res[native_$b]}")
	echo "median $b: s3 $s, nginx $n, native $a ops/s; s3/nginx $(awk -v s="$s" -v n="$n" 'BEGIN { printf "%.2f", s / n }'), s3/native $(awk -v s="$s" -v a="$a" 'BEGIN { printf "%.2f", s / a }')"
done
