#!/usr/bin/env bash
# Builds the fuzz targets of test/fuzz/ with clang, libFuzzer, ASan and UBSan
# into their own build directory and runs each for N seconds on a temporary
# copy of its seed corpus (generated inputs never land in the tree). Prints
# one line per target; exits 1 naming the target and the crash file when
# one crashes, leaks, times out or trips UBSan.
#   scripts/fuzz.sh [--seconds N] [--dir BUILD_DIR] [TARGET...]
# TARGET: frame names config shard s3 etl (default: all). HACKING.md,
# "Fuzzing", has longer runs and how to reproduce a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(frame names config shard s3 etl)
secs=10
dir=build-fuzz
targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) secs=$2; shift ;;
	--dir) dir=$2; shift ;;
	-*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1") ;;
	esac
	shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
	[ -f "test/fuzz/fuzz_$t.c" ] || { echo "fuzz.sh: no target '$t' (${all[*]})" >&2; exit 2; }
done

# The longest input worth trying, per target: larger ones only slow it.
max_len() {
	case "$1" in
	names) echo 2048 ;;
	config) echo 4096 ;;
	frame | etl) echo 16384 ;;
	s3) echo 32768 ;;
	shard) echo 65536 ;;
	esac
}

scripts/deps.sh
if [ ! -f "$dir/build.ninja" ]; then
	CC=clang meson setup "$dir" -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dfuse=disabled -Dsystemd=disabled \
		--buildtype=debugoptimized >/dev/null
fi
ninja -C "$dir" -j2 "${targets[@]/#/test/fuzz/fuzz_}" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
work=$(mktemp -d "${TMPDIR:-/tmp}/ais-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
keep="$dir/fuzz-crashes"

failed=0
for t in "${targets[@]}"; do
	mkdir -p "$work/$t/corpus"
	cp -r "test/fuzz/corpus/$t/." "$work/$t/corpus/"
	opts=(-max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10
		-rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$work/$t/")
	[ -f "test/fuzz/$t.dict" ] && opts+=(-dict="test/fuzz/$t.dict")
	rc=0
	"$dir/test/fuzz/fuzz_$t" "${opts[@]}" "$work/$t/corpus" \
		>"$work/$t/log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t/log")
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/$t/log" | tail -1)
	crash=$(find "$work/$t" -maxdepth 1 -type f \
		\( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' -o -name 'slow-unit-*' \) | head -1)
	if [ "$rc" -ne 0 ] || [ -n "$crash" ]; then
		failed=1
		mkdir -p "$keep"
		if [ -n "$crash" ]; then
			cp "$crash" "$keep/"
			crash="$keep/$(basename "$crash")"
		fi
		cp "$work/$t/log" "$keep/$t.log"
		printf '%-7s FAILED (exit %s): %s; log %s\n' "$t" "$rc" \
			"${crash:-no crash file}" "$keep/$t.log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' \
			"$work/$t/log" | head -5 | sed 's/^/        /'
		continue
	fi
	printf '%-7s ok: %s exec/s, %s, corpus %s inputs\n' "$t" "${execs:-?}" \
		"${cov:-cov: ?}" "$(find "$work/$t/corpus" -type f | wc -l)"
done
exit $failed
