#!/usr/bin/env python3
"""A metadata walk: os.walk + os.stat of every file, as `ls -lR` or rsync do.

  metawalk.py ROOT [--expect-files N] [--expect-bytes B]

Prints one JSON line {"files", "bytes", "seconds"} (bytes: the sum of the
sizes stat reported). Exits 1 when the count or the sum differs from the
expected numbers.
"""
import argparse
import json
import os
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("root")
    p.add_argument("--expect-files", type=int)
    p.add_argument("--expect-bytes", type=int)
    a = p.parse_args()
    t0 = time.monotonic()
    files = total = 0
    for d, _, names in os.walk(a.root):
        for n in names:
            st = os.stat(os.path.join(d, n), follow_symlinks=False)
            files += 1
            total += st.st_size
    secs = time.monotonic() - t0
    print(json.dumps({"files": files, "bytes": total,
                      "seconds": round(secs, 4)}))
    bad = []
    if a.expect_files is not None and files != a.expect_files:
        bad.append("files %d, expected %d" % (files, a.expect_files))
    if a.expect_bytes is not None and total != a.expect_bytes:
        bad.append("bytes %d, expected %d" % (total, a.expect_bytes))
    if bad:
        print("metawalk: %s: %s" % (a.root, "; ".join(bad)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
