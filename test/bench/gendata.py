#!/usr/bin/env python3
"""Deterministic bench data for test/bench/run.sh.

Every generator takes a seed; the same arguments always give the same bytes.
File contents come from SHAKE-128 keyed by the seed and the file's number, so
they are incompressible (LZ4 and gzip gain nothing) and generated at a few
hundred MiB/s. Each command prints one JSON line: {"files": N, "bytes": B}
(plus "shards" for `shards`).

  gendata.py samples DIR --count N [--min B] [--max B] [--classes C]
                     [--parts P] [--seed S]
      WebDataset layout: DIR/part-NN/<class>/<id>.jpg (MIN..MAX bytes) +
      <id>.cls; the classes are spread over P part dirs (see run.sh: one
      passthrough_ll mount per part keeps it under its fd limit)
  gendata.py shards SRC OUT --size B
      Packs SRC's samples (both files of a sample in one shard) into
      OUT/shard-NNNNNN.tar of about B bytes each, with GNU tar.
  gendata.py big FILE --size B [--seed S]
  gendata.py small DIR --count N [--size B] [--seed S]    DIR/oNNNNNN
  gendata.py meta DIR --count N --dirs D [--parts P] [--size S]
                                                        DIR/part-NN/dNNNN/fNNNNNNN
"""
import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile

MTIME = 1_700_000_000  # fixed, so that tar output is byte-identical
CHUNK = 1 << 20


def content(seed, n, size):
    """size incompressible bytes, a function of (seed, n) only."""
    return hashlib.shake_128(b"aisbench:%d:%d" % (seed, n)).digest(size)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (MTIME, MTIME))


def parse_size(s):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    s = s.strip().lower().removesuffix("ib").removesuffix("b")
    if s and s[-1] in units:
        return int(float(s[:-1]) * units[s[-1]])
    return int(s)


def cmd_samples(a):
    rng = random.Random(a.seed)
    files = total = 0
    for i in range(a.count):
        cls = i % a.classes
        d = os.path.join(a.dir, "part-%02d" % (cls * a.parts // a.classes),
                         "c%03d" % cls)
        os.makedirs(d, exist_ok=True)
        size = rng.randint(a.min, a.max)
        key = os.path.join(d, "%07d" % i)
        write(key + ".jpg", content(a.seed, i, size))
        label = b"%d\n" % cls
        write(key + ".cls", label)
        files += 2
        total += size + len(label)
    return {"files": files, "bytes": total}


def cmd_shards(a):
    # Samples in key order (class dir, then id): .cls and .jpg of one id
    # are adjacent, and a shard is closed before a sample would overflow it.
    samples = []
    for d, dirs, names in os.walk(a.src):
        dirs.sort()
        by_key = {}
        for n in sorted(names):
            by_key.setdefault(n.rsplit(".", 1)[0], []).append(n)
        rel = os.path.relpath(d, a.src)
        for key in sorted(by_key):
            paths = [os.path.join(rel, m) for m in by_key[key]]
            size = sum(os.path.getsize(os.path.join(a.src, p)) for p in paths)
            samples.append((paths, size))
    os.makedirs(a.out, exist_ok=True)
    groups, cur, cur_size = [], [], 0
    for paths, size in samples:
        if cur and cur_size + size > a.size:
            groups.append(cur)
            cur, cur_size = [], 0
        cur.extend(paths)
        cur_size += size + 512 * len(paths)
    if cur:
        groups.append(cur)
    total = files = 0
    for i, g in enumerate(groups):
        out = os.path.join(a.out, "shard-%06d.tar" % i)
        with tempfile.NamedTemporaryFile("w", delete=False) as lst:
            lst.write("\n".join(g) + "\n")
        try:
            subprocess.run(["tar", "--format=gnu", "--owner=0", "--group=0",
                            "--numeric-owner", "--mtime=@%d" % MTIME,
                            "--no-recursion", "-C", a.src, "-cf", out,
                            "-T", lst.name], check=True)
        finally:
            os.unlink(lst.name)
        total += os.path.getsize(out)
        files += len(g)
    return {"files": files, "bytes": total, "shards": len(groups)}


def cmd_big(a):
    left, n = a.size, 0
    os.makedirs(os.path.dirname(os.path.abspath(a.file)), exist_ok=True)
    with open(a.file, "wb") as f:
        while left > 0:
            k = min(CHUNK, left)
            f.write(content(a.seed, n, k))
            left -= k
            n += 1
    return {"files": 1, "bytes": a.size}


def cmd_small(a):
    os.makedirs(a.dir, exist_ok=True)
    for i in range(a.count):
        write(os.path.join(a.dir, "o%06d" % i), content(a.seed, i, a.size))
    return {"files": a.count, "bytes": a.count * a.size}


def cmd_meta(a):
    per = -(-a.count // a.dirs)
    total = 0
    for i in range(a.count):
        k = i // per
        d = os.path.join(a.dir, "part-%02d" % (k * a.parts // a.dirs),
                         "d%04d" % k)
        if i % per == 0:
            os.makedirs(d, exist_ok=True)
        data = (content(a.seed, i, a.size) if a.size else b"%d\n" % i)
        write(os.path.join(d, "f%07d" % i), data)
        total += len(data)
    return {"files": a.count, "bytes": total}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("samples")
    s.add_argument("dir")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--min", type=parse_size, default=60 << 10)
    s.add_argument("--max", type=parse_size, default=140 << 10)
    s.add_argument("--classes", type=int, default=100)
    s.add_argument("--parts", type=int, default=1)
    s.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("shards")
    s.add_argument("src")
    s.add_argument("out")
    s.add_argument("--size", type=parse_size, required=True)
    s = sub.add_parser("big")
    s.add_argument("file")
    s.add_argument("--size", type=parse_size, required=True)
    s.add_argument("--seed", type=int, default=2)
    s = sub.add_parser("small")
    s.add_argument("dir")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--size", type=parse_size, default=4096)
    s.add_argument("--seed", type=int, default=3)
    s = sub.add_parser("meta")
    s.add_argument("dir")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--dirs", type=int, required=True)
    s.add_argument("--size", type=parse_size, default=0)
    s.add_argument("--seed", type=int, default=4)
    s.add_argument("--parts", type=int, default=1)
    a = p.parse_args()
    r = {"samples": cmd_samples, "shards": cmd_shards, "big": cmd_big,
         "small": cmd_small, "meta": cmd_meta}[a.cmd](a)
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
