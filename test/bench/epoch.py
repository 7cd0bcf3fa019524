#!/usr/bin/env python3
"""One training epoch over a directory tree, as a data loader does it.

  epoch.py ROOT [--procs 4] [--no-isatty] [--expect-files N] [--expect-bytes B]

Walks ROOT (os.walk, so shards shown as directories are entered too), then a
multiprocessing pool of --procs workers open()s and read()s every file to
its end, with default buffering (--no-isatty: unbuffered, which skips the
isatty() ioctl Python up to 3.13 makes at every buffered open; CPython
3.14 skips it for regular files itself, gh-90102). Prints one JSON line
{"files", "bytes", "seconds"};
the time covers the walk and the reads. Exits 1 when the files or bytes
read differ from the expected numbers, so that a benchmark that silently
reads nothing (or too little) fails instead of looking fast.
"""
import argparse
import json
import multiprocessing
import os
import sys
import time

def read_file(path):
    """Reads path as a data loader does (default buffering, one read() of
    the whole sample); returns the byte count. Default buffering matters:
    Python sizes its buffer from st_blksize, so a file system that reports
    a huge one pays for it here, as it would in a real training job."""
    with open(path, "rb") as f:
        return len(f.read())


def read_file_raw(path):
    """The same read without a buffer, hence without Python's isatty()
    ioctl at open (a FUSE file system gets every ioctl: one more round
    trip per file, which no kernel cache answers)."""
    with open(path, "rb", buffering=0) as f:
        return len(f.read())


def walk(root):
    paths = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            paths.append(os.path.join(d, name))
    return paths


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("root")
    p.add_argument("--procs", type=int, default=4)
    p.add_argument("--no-isatty", action="store_true",
                   help="read unbuffered: no isatty() ioctl per open")
    p.add_argument("--expect-files", type=int)
    p.add_argument("--expect-bytes", type=int)
    a = p.parse_args()
    if not os.path.isdir(a.root):
        print("epoch: %s is not a directory" % a.root, file=sys.stderr)
        return 1
    # The pool is started before the clock: a training job has its
    # workers up before the epoch begins.
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(a.procs) as pool:
        t0 = time.monotonic()
        paths = walk(a.root)
        reader = read_file_raw if a.no_isatty else read_file
        total = sum(pool.imap_unordered(reader, paths, chunksize=16))
        secs = time.monotonic() - t0
    res = {"files": len(paths), "bytes": total, "seconds": round(secs, 4)}
    print(json.dumps(res))
    bad = []
    if a.expect_files is not None and len(paths) != a.expect_files:
        bad.append("files %d, expected %d" % (len(paths), a.expect_files))
    if a.expect_bytes is not None and total != a.expect_bytes:
        bad.append("bytes %d, expected %d" % (total, a.expect_bytes))
    if bad:
        print("epoch: %s: %s" % (a.root, "; ".join(bad)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
