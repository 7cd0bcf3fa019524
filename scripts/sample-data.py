#!/usr/bin/env python3
"""Writes a small image-classification-like sample data set into DIR:
CLASS/sample_NNNN.jpg (random bytes standing in for an image) and
CLASS/sample_NNNN.cls (the class index), the WebDataset convention of one
basename per sample.  Deterministic: the same seed gives the same bytes.

usage: sample-data.py DIR [--classes 10] [--per-class 20] [--seed 1]
"""
import argparse
import os
import random


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-kib", type=int, default=8)
    ap.add_argument("--max-kib", type=int, default=48)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    for c in range(a.classes):
        cdir = os.path.join(a.dir, f"n{c:08d}")
        os.makedirs(cdir, exist_ok=True)
        for s in range(a.per_class):
            base = os.path.join(cdir, f"sample_{s:04d}")
            size = rnd.randint(a.min_kib * 1024, a.max_kib * 1024)
            with open(base + ".jpg", "wb") as f:
                f.write(rnd.randbytes(size))
            with open(base + ".cls", "w") as f:
                f.write(f"{c}\n")


if __name__ == "__main__":
    main()
