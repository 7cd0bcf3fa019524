#!/usr/bin/env bash
# The "run" command: installs dependencies, builds, starts a 3-node cluster
# on this machine, loads a small sample data set (as plain objects and as
# tar shards), mounts the cluster with aisfs and shows both as plain files.
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
	# The same samples twice: as plain objects, and packed into tar shards
	# (WebDataset style: the files of one sample in one shard), which
	# the mount shows as directories.
	ais put -r "$sample/train" ais://demo/train
	ais shard create --size 1MiB --shuffle --seed 1 "$sample/train" \
		ais://demo/shards/train
	rm -rf "$sample"
fi
mnt="$data/mnt"
mkdir -p "$mnt"
if ! mountpoint -q "$mnt"; then
	aisfs mount -o log="$data/aisfs.log" 127.0.0.1:51080 "$mnt"
fi
echo
echo "\$ ls $mnt/demo/train | head -3"
ls "$mnt/demo/train" | head -3
echo "\$ ls -l $mnt/demo/train/n00000000 | head -5"
ls -l "$mnt/demo/train/n00000000" | head -5
echo "\$ du -sh $mnt/demo/train"
du -sh "$mnt/demo/train"
echo "\$ ls $mnt/demo/shards | head -3"
ls "$mnt/demo/shards" | head -3
first=$( (ls "$mnt/demo/shards" || true) | head -1)
echo "\$ find $mnt/demo/shards/$first.d | head -5    # a tar shard's members"
(find "$mnt/demo/shards/$first.d" || true) | head -5
echo
echo "The cluster is mounted at $mnt (aisfs) and keeps running; data under $data."
echo "Try:      ls $mnt/demo;  PATH=$bin/tools:\$PATH ais --help"
echo "Unmount:  $bin/fuse/aisfs umount $mnt"
echo "Stop:     $bin/tools/ais local down --dir $data"
