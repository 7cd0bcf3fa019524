#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs every test (unit and
# integration, FUSE included) and ends with one "N passed, N failed" line.
#   scripts/test.sh [--sanitize] [--werror] [--suite S] [--no-suite S]
set -euo pipefail
cd "$(dirname "$0")/.."

build_opts=()
test_opts=()
dir=build
while [ $# -gt 0 ]; do
	case "$1" in
	--sanitize) build_opts+=(--sanitize); dir=build-asan ;;
	--werror) build_opts+=(--werror) ;;
	--suite) test_opts+=(--suite "$2"); shift ;;
	--no-suite) test_opts+=(--no-suite "$2"); shift ;;
	*) echo "test.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

scripts/build.sh "${build_opts[@]}" "$dir"

# Sanitizer reports must fail the test that triggered them.
# A smaller quarantine keeps the memory-bound tests meaningful under ASan.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:quarantine_size_mb=64}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# /dev/fuse is there and we are root: a FUSE test that skips is a failure.
if [ -e /dev/fuse ] && [ "$(id -u)" -eq 0 ]; then
	export AIS_TEST_REQUIRE_FUSE=${AIS_TEST_REQUIRE_FUSE:-1}
fi

rc=0
meson test -C "$dir" --print-errorlogs --num-processes 2 "${test_opts[@]}" || rc=$?

python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    counts[r["result"]] = counts.get(r["result"], 0) + 1
ok = counts.get("OK", 0)
skip = counts.get("SKIP", 0)
bad = sum(v for k, v in counts.items() if k not in ("OK", "SKIP"))
print(f"{ok} passed, {bad} failed, {skip} skipped")
PY
exit $rc
