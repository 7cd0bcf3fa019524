#!/usr/bin/env bash
# Configures (once) and builds aisfs into BUILD_DIR (default: build).
#   scripts/build.sh [--sanitize] [--werror] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

opts=()
dir=build
for a in "$@"; do
	case "$a" in
	--sanitize) opts+=(-Db_sanitize=address,undefined -Db_lundef=false) ;;
	--werror) opts+=(-Dwerror=true) ;;
	-*) echo "build.sh: unknown option $a" >&2; exit 2 ;;
	*) dir=$a ;;
	esac
done

scripts/deps.sh
if [ -f "$dir/build.ninja" ]; then
	[ ${#opts[@]} -eq 0 ] || meson configure "$dir" "${opts[@]}" >/dev/null
else
	meson setup "$dir" "${opts[@]}" >/dev/null
fi
meson compile -C "$dir"
