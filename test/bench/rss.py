#!/usr/bin/env python3
"""Background RSS sampler for test/bench/run.sh.

  rss.py OUT.json TAG

Every 0.5 s, reads /proc/PID/status of every process whose command line
contains TAG (the bench's work dir) and whose program is aisd or aisfs, and
keeps per program the peak VmRSS seen and the peak VmHWM (the kernel's own
high-water mark, which also catches peaks between two samples). Rewrites
OUT.json every few seconds and at SIGTERM/SIGINT, then exits:
{"aisd": {"rss_kib", "hwm_kib", "pids", "samples"}, "aisfs": {...}}.
"""
import json
import os
import signal
import sys
import time

KINDS = ("aisd", "aisfs")


def status_kib(pid):
    rss = hwm = None
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def main():
    out, tag = sys.argv[1], sys.argv[2].encode()
    peaks = {k: {"rss_kib": 0, "hwm_kib": 0, "pids": 0, "samples": 0}
             for k in KINDS}
    seen = {k: set() for k in KINDS}
    stop = []

    def dump():
        for k in KINDS:
            peaks[k]["pids"] = len(seen[k])
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(peaks, f)
        os.replace(tmp, out)

    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    last = 0.0
    while not stop:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if not argv or tag not in b" ".join(argv):
                continue
            prog = os.path.basename(argv[0]).decode(errors="replace")
            if prog not in KINDS:
                continue
            rss, hwm = status_kib(pid)
            if rss is None:
                continue
            p = peaks[prog]
            seen[prog].add(pid)
            p["samples"] += 1
            p["rss_kib"] = max(p["rss_kib"], rss)
            p["hwm_kib"] = max(p["hwm_kib"], hwm or 0)
        now = time.monotonic()
        if now - last > 3:
            dump()
            last = now
        time.sleep(0.5)
    dump()
    return 0


if __name__ == "__main__":
    sys.exit(main())
