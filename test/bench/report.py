#!/usr/bin/env python3
"""Turns the measurements of test/bench/run.sh into its table and JSON line.

  report.py RESULTS.tsv RSS.json --meta KEY=VALUE...

RESULTS.tsv has one measurement a line: case, subject, unit, value (tab
separated; a case measured several times has several lines). The output is
a few header lines, one Markdown table (medians and ratios against the
references of the same run, targets and verdicts) and one JSON line that
starts with {"bench": "aisfs", ...} and also holds min, max and every run.
"""
import argparse
import json
import math
import statistics
import sys

# Each row compares a subject with a reference measured in the same run.
# kind: time (ratio = subject/reference, lower is better, target is a
# maximum), speedup (ratio = reference/subject, target is a minimum), rate
# (throughput ratio subject/reference, target is a minimum).
ROWS = [
    ("cold epoch", "cold_epoch", "aisfs", "local disk", "local_disk",
     "time", None),
    ("cold epoch", "cold_epoch", "aisfs", "passthrough_ll",
     "passthrough_ll", "time", 1.25),
    ("cold epoch", "cold_epoch", "aisfs", "archivemount", "archivemount",
     "speedup", 40.0),
    ("warm epoch", "warm_epoch", "aisfs", "local disk", "local_disk",
     "time", None),
    ("warm epoch", "warm_epoch", "aisfs", "passthrough_ll",
     "passthrough_ll", "time", 1.0),
    ("big file seq read", "big_seq", "aisfs", "passthrough_ll",
     "passthrough_ll", "rate", 0.8),
    ("big file 1 MiB rand read", "big_rand", "aisfs", "passthrough_ll",
     "passthrough_ll", "rate", None),
    ("small GETs", "small_get", "aisloader", "nginx+wrk", "nginx_wrk",
     "rate", 1.2),
    ("small GETs p99 latency", "small_get_p99", "aisloader", "nginx+wrk",
     "nginx_wrk", "time", None),
    ("metadata find+stat", "metadata", "aisfs", "passthrough_ll",
     "passthrough_ll", "time", 1.5),
    ("metadata put -r", "metadata_put", "ais_put_r", "cp -r local",
     "cp_r_local", "time", None),
    ("ingest ais put -r", "ingest", "ais_put_r", "cp -r local",
     "cp_r_local", "time", None),
    ("ingest cp -r to mount", "ingest", "aisfs_cp_r", "cp -r local",
     "cp_r_local", "time", None),
    ("ingest cp -r, writeback", "ingest", "aisfs_cp_r_wb", "cp -r local",
     "cp_r_local", "time", 3.0),
    ("1M ingest ais put -r", "mil_ingest", "ais_put_r", "cp -r local",
     "cp_r_local", "time", 2.0),
    ("1M ingest shard create", "mil_ingest", "ais_shard_create",
     "cp -r local", "cp_r_local", "time", None),
    ("1M cold epoch, objects", "mil_cold", "aisfs", "local disk",
     "local_disk", "time", None),
    ("1M cold epoch, objects", "mil_cold", "aisfs", "passthrough_ll",
     "passthrough_ll", "time", None),
    ("1M warm epoch, objects", "mil_warm", "aisfs", "local disk",
     "local_disk", "time", 3.0),
    ("1M warm epoch, objects", "mil_warm", "aisfs", "passthrough_ll",
     "passthrough_ll", "time", None),
    ("1M warm epoch, no leases", "mil_warm", "aisfs_noleases",
     "local disk", "local_disk", "time", None),
    ("1M cold epoch, shards", "mil_cold", "aisfs_shards", "local disk",
     "local_disk", "time", 1.5),
    ("1M warm epoch, shards", "mil_warm", "aisfs_shards", "local disk",
     "local_disk", "time", 2.0),
    ("1M cold epoch, objects, ro", "mil_cold", "aisfs_ro", "local disk",
     "local_disk", "time", None),
    ("1M warm epoch, objects, ro", "mil_warm", "aisfs_ro", "local disk",
     "local_disk", "time", 3.0),
    ("1M cold epoch, shards, ro", "mil_cold", "aisfs_shards_ro",
     "local disk", "local_disk", "time", 1.5),
    ("1M warm epoch, shards, ro", "mil_warm", "aisfs_shards_ro",
     "local disk", "local_disk", "time", 2.0),
    ("1M warm epoch, shards, ro, no isatty", "mil_warm",
     "aisfs_shards_ro_noisatty", "local disk, no isatty",
     "local_disk_noisatty", "time", 2.0),
]
NAMES = {"ais_put_r": "ais put -r", "aisfs_cp_r": "cp -r to mount",
         "aisfs_cp_r_wb": "cp -r, -o writeback",
         "ais_shard_create": "ais shard create",
         "aisfs_noleases": "aisfs noleases",
         "aisfs_shards": "aisfs over shards",
         "aisfs_ro": "aisfs ro", "aisfs_shards_ro": "aisfs ro over shards",
         "aisfs_shards_ro_noisatty": "aisfs ro over shards, no isatty"}
RSS_LIMITS_MIB = {"aisd": 64, "aisfs": 128}
COLD_CASES = {"cold_epoch", "big_seq", "big_rand", "mil_cold"}


def load(path):
    res = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            case, subj, unit, value = line.split("\t")
            r = res.setdefault(case, {}).setdefault(
                subj, {"unit": unit, "runs": []})
            r["runs"].append(float(value))
    for subjects in res.values():
        for r in subjects.values():
            runs = r["runs"]
            r["median"] = statistics.median(runs)
            r["min"] = min(runs)
            r["max"] = max(runs)
    return res


def fmt(v, unit):
    if v is None or math.isnan(v):
        return "n/a"
    if unit == "s":
        return "%.2f s" % v if v < 100 else "%.0f s" % v
    if unit == "ops/s":
        return "{:,.0f} ops/s".format(v)
    if unit == "MiB/s":
        return "%.0f MiB/s" % v
    return "%g %s" % (v, unit)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("results")
    p.add_argument("rss")
    p.add_argument("--meta", action="append", default=[])
    a = p.parse_args()
    meta = dict(m.split("=", 1) for m in a.meta)
    res = load(a.results)
    cold_ok = meta.get("cold", "1") == "1"
    try:
        with open(a.rss) as f:
            rss = json.load(f)
    except (OSError, ValueError):
        rss = {}

    lines, ratios, missing = [], [], []
    for label, case, subj, ref_label, ref, kind, target in ROWS:
        if case in COLD_CASES and not cold_ok:
            lines.append([label, "cold not measurable (not root)",
                          ref_label, "n/a", "n/a", "n/a"])
            continue
        s = res.get(case, {}).get(subj)
        r = res.get(case, {}).get(ref)
        if s is None or r is None:
            # A run limited with --only leaves out the other cases.
            if not meta.get("only"):
                missing.append("%s/%s vs %s" % (case, subj, ref))
            continue
        sv, rv = s["median"], r["median"]
        if kind == "speedup":
            ratio = rv / sv if sv > 0 else math.inf
            rtxt = "%.1fx faster" % ratio
            ttxt = ">= %gx faster" % target if target else "-"
            ok = target is None or ratio >= target
        elif kind == "rate":
            ratio = sv / rv if rv > 0 else math.inf
            rtxt = "%.2fx" % ratio
            ttxt = ">= %gx" % target if target else "-"
            ok = target is None or ratio >= target
        else:
            ratio = sv / rv if rv > 0 else math.inf
            rtxt = "%.2fx" % ratio
            ttxt = "<= %gx" % target if target else "-"
            ok = target is None or ratio <= target
        verdict = "info" if target is None else ("PASS" if ok else "MISS")
        name = NAMES.get(subj, subj)
        lines.append([label, "%s %s" % (name, fmt(sv, s["unit"])),
                      "%s %s" % (ref_label, fmt(rv, r["unit"])),
                      rtxt, ttxt, verdict])
        ratios.append({"case": case, "subject": subj, "reference": ref,
                       "kind": kind, "ratio": round(ratio, 4),
                       "target": target, "verdict": verdict})
    for prog, limit in RSS_LIMITS_MIB.items():
        peak = rss.get(prog)
        if not peak or not peak.get("samples"):
            # --only small runs no aisfs.
            if not meta.get("only"):
                missing.append("rss/" + prog)
            continue
        mib = max(peak["rss_kib"], peak["hwm_kib"]) / 1024.0
        ok = mib <= limit
        lines.append(["%s RSS peak" % prog,
                      "%.1f MiB (max of %d pids)" % (mib, peak["pids"]),
                      "limit %d MiB" % limit, "%.2fx" % (mib / limit),
                      "<= %d MiB" % limit, "PASS" if ok else "MISS"])
        ratios.append({"case": "rss", "subject": prog, "reference": "limit",
                       "kind": "mib", "ratio": round(mib / limit, 4),
                       "peak_mib": round(mib, 1), "target": limit,
                       "verdict": "PASS" if ok else "MISS"})

    print("aisfs bench (%s): cpus: %s, kernel: %s, date: %s, git rev: %s"
          % (meta.get("mode", "?"), meta.get("cpus", "?"),
             meta.get("kernel", "?"), meta.get("date", "?"),
             meta.get("git_rev", "?")))
    print("build: %s; cluster: %s; reps: %s (median; min/max in JSON); "
          "data: %s" % (meta.get("build", "?"), meta.get("cluster", "?"),
                        meta.get("reps", "?"), meta.get("data", "?")))
    if meta.get("passthrough_ll"):
        print("passthrough_ll: %s" % meta["passthrough_ll"])
    if not cold_ok:
        print("cold runs not measurable: not root, page cache not dropped")
    print()
    head = ["case", "aisfs", "reference", "ratio", "target", "verdict"]
    widths = [max(len(str(row[i])) for row in [head] + lines)
              for i in range(len(head))]
    out = lambda row: "| " + " | ".join(
        str(c).ljust(w) for c, w in zip(row, widths)) + " |"
    print(out(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in lines:
        print(out(row))
    print()
    doc = {"bench": "aisfs"}
    doc.update({k: meta[k] for k in sorted(meta)})
    doc["results"] = res
    doc["ratios"] = ratios
    doc["rss"] = rss
    doc["missing"] = missing
    print(json.dumps(doc, sort_keys=False))
    if missing:
        print("report: missing measurements: %s" % ", ".join(missing),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
