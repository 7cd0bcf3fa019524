#!/usr/bin/env bash
# Installs the Debian 12 packages aisfs needs to build, run and test.
# Does nothing when they are all present; uses sudo when not run as root.
set -euo pipefail

pkgs=(
	gcc meson ninja-build pkg-config
	protobuf-c-compiler libprotobuf-c-dev
	libuv1-dev liblz4-dev libssl-dev libarchive-dev libxxhash-dev libraft-dev
	libisal-dev libsystemd-dev libfuse3-dev fuse3 check
	attr python3 python3-venv git rsync tar procps iproute2 xxhash zlib1g-dev
	libarchive-tools zip unzip
	lz4 openssl gzip
	# etl/resize.py and its test
	python3-pil python3-numpy
	# the S3 endpoint (HTTP parser, XML of request bodies) and the S3
	# clients its tests run
	libhttp-parser-dev libexpat1-dev python3-boto3 awscli s3cmd rclone curl
	# scripts/fuzz.sh: clang with libFuzzer
	clang libclang-rt-14-dev
	# test/bench/run.sh: its reference tools (passthrough_ll is built from
	# libfuse3-dev's examples at run time)
	archivemount nginx wrk fio
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
