#!/usr/bin/env bash
# The "run" command: installs dependencies, builds, starts a 3-node cluster
# on this machine, loads a small sample data set and shows it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh
bin="$PWD/build"
export PATH="$bin/tools:$bin/daemon:$bin/fuse:$PATH"
export AIS_AISD="$bin/daemon/aisd"

data=${AIS_LOCAL_DIR:-/tmp/ais-local-$(id -u)}
ais local up --dir "$data"
echo
ais cluster show
echo

if ! ais bucket ls | grep -qx 'demo'; then
	ais bucket create ais://demo
	sample=$(mktemp -d)
	python3 scripts/sample-data.py "$sample/train"
	ais put -r "$sample/train" ais://demo/train
	rm -rf "$sample"
fi
echo
echo "\$ ais ls ais://demo/train/"
ais ls ais://demo/train/ | head -5
echo "\$ ais ls ais://demo/train/n00000000/ | head"
ais ls ais://demo/train/n00000000/ | head
echo
echo "The cluster keeps running: data under $data, endpoint 127.0.0.1:51080."
echo "Try:   PATH=$bin/tools:\$PATH ais --help"
echo "Stop:  $bin/tools/ais local down --dir $data"
