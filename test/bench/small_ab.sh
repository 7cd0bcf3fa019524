#!/usr/bin/env bash
# Small GETs, A/B: aisd with its open cache off and on (aisd(8)
# open_cache), nginx without and with its own open_file_cache, the same
# 4 KiB objects, the same load (32 connections from 2 threads, like
# run.sh's small case), alternating, ROUNDS rounds. Prints one line per run
# and the medians. Needs nginx and wrk (apt-get install nginx wrk).
#
#   test/bench/small_ab.sh [BUILD_DIR]    (default ./build-rel)
#
# $AB_ROUNDS (default 3), $AB_SECONDS (default 15), $AB_COUNT (default
# 20000 objects), $AB_PORT (default 19300; nginx on +99), $AB_DIR (default
# /var/tmp/aisbench-ab: removed at the end).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${1:-build-rel}" && pwd)
ROUNDS=${AB_ROUNDS:-3} SECS=${AB_SECONDS:-15} COUNT=${AB_COUNT:-20000}
P=${AB_PORT:-19300} NP=$((P + 99)) W=${AB_DIR:-/var/tmp/aisbench-ab}
# The CA and token local up saves stay in the work dir, out of $HOME.
export XDG_CONFIG_HOME=$W/xdg
AIS=$B/tools/ais AISLOADER=$B/tools/aisloader/aisloader
NGINX_PID=

cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
	for m in off on; do
		[ -d "$W/c-$m" ] && "$AIS" local down --dir "$W/c-$m" >/dev/null 2>&1
	done
	rm -rf "$W"
}
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W/nginx/tmp"
python3 "$HERE/gendata.py" small "$W/data/small" --count "$COUNT" >/dev/null
echo "open_cache = 0" >"$W/off.conf"
echo "open_cache = 8192" >"$W/on.conf"

up() { AIS_AISD=$B/daemon/aisd "$AIS" local up --dir "$W/c-$1" --port "$P" \
	--nodes 3 --config "$W/$1.conf" >/dev/null; }
down() { "$AIS" local down --dir "$W/c-$1" >/dev/null; }
aisload() {
	"$AISLOADER" --endpoint "127.0.0.1:$P" --bucket small --workers 2 \
		--conns 32 --duration "${SECS}s" -q --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["errors"] == 0 and j["ops"] > 0, j
print(int(j["ops_per_s"]), "%.0f" % j["latency_us"]["p99"])'
}
nginx_conf() {
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
	default_type application/octet-stream;
	client_body_temp_path $W/nginx/tmp/body; proxy_temp_path $W/nginx/tmp/proxy;
	fastcgi_temp_path $W/nginx/tmp/fcgi; uwsgi_temp_path $W/nginx/tmp/uwsgi;
	scgi_temp_path $W/nginx/tmp/scgi;
	$1
	server { listen 127.0.0.1:$NP; root $W/data; }
}
EOF
}
cat >"$W/paths.lua" <<'EOF'
local n, i, threads = 1, 0, 0
function setup(thread)
	thread:set("first", threads * 7919)
	threads = threads + 1
end
function init(args) n = tonumber(args[1]); i = first or 0 end
function request()
	i = i + 1
	return wrk.format("GET", string.format("/small/o%06d", i % n))
end
EOF
wrkload() {
	wrk -t2 -c32 -d"${SECS}s" --latency -s "$W/paths.lua" \
		"http://127.0.0.1:$NP" -- "$COUNT" | awk '
		/^Requests\/sec:/ { r = $2 }
		$1 == "99%" { v = $2; u = 1; if (v ~ /ms$/) u = 1000
			else if (v ~ /[0-9]s$/) u = 1000000
			sub(/[a-z]+$/, "", v); p = v * u }
		END { printf "%d %.0f\n", r, p }'
}

for m in off on; do
	up "$m"
	AIS_ENDPOINT=127.0.0.1:$P "$AIS" bucket create ais://small >/dev/null
	AIS_ENDPOINT=127.0.0.1:$P "$AIS" put -r -q "$W/data/small" ais://small/
	down "$m"
done
declare -A res
for ((r = 1; r <= ROUNDS; r++)); do
	for m in off on; do
		up "$m"
		aisload >/dev/null # warm the page cache and the open cache
		v=$(aisload)
		echo "round $r: aisd open_cache=$m: $v (ops/s, p99 us)"
		res[aisd_$m]+="${v%% *} "
		down "$m"
	done
	for m in off on; do
		extra=
		[ "$m" = on ] && extra="open_file_cache max=16384 inactive=60s; open_file_cache_valid 1s;"
		nginx_conf "$extra"
		nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/error.log" &
		NGINX_PID=$!
		sleep 1
		wrkload >/dev/null
		v=$(wrkload)
		echo "round $r: nginx open_file_cache=$m: $v (ops/s, p99 us)"
		res[nginx_$m]+="${v%% *} "
		kill "$NGINX_PID"
		wait "$NGINX_PID" || true
		NGINX_PID=
	done
done
for k in aisd_off aisd_on nginx_off nginx_on; do
	echo "median $k: $(echo "${res[$k]}" | tr ' ' '\n' | grep . | sort -n |
		awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }') ops/s"
done
