#!/usr/bin/env bash
# bench_quick: runs `run.sh --quick` and checks that it completed and printed
# a well-formed report: the header lines, a table with a row for every case
# (a number and a verdict in each), and a JSON line with the medians, min
# and max of every subject, the ratios and the RSS peaks. Targets may miss
# (the bench measures); a failure to run, wrong bytes or a malformed report
# fail the test. It never skips: a missing reference tool is a failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp "${TMPDIR:-/tmp}/bench-quick.XXXXXX")
trap 'rm -f "$out"' EXIT

rc=0
"$here/run.sh" --quick >"$out" || rc=$?
cat "$out"
if [ "$rc" -ne 0 ]; then
	echo "FAIL: run.sh --quick exited with $rc" >&2
	exit 1
fi

python3 - "$out" <<'PY'
import json, re, sys

lines = open(sys.argv[1]).read().splitlines()
def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)

head = [l for l in lines if l.startswith("aisfs bench (quick): cpus: ")]
if not head or not re.search(r"cpus: \d+, kernel: \S+, date: \S+, git rev: \S+",
                             head[0]):
    fail("no header line with cpus, kernel, date, git rev")

rows = [l for l in lines if l.startswith("| ") and not l.startswith("| case")]
cases = {}
for r in rows:
    cells = [c.strip() for c in r.strip("|").split("|")]
    if len(cells) != 6:
        fail("table row with %d cells: %r" % (len(cells), r))
    case, subj, ref, ratio, target, verdict = cells
    if verdict not in ("PASS", "MISS", "info"):
        fail("bad verdict in %r" % r)
    if not re.search(r"\d", subj) or not re.search(r"\d", ratio):
        fail("row without numbers: %r" % r)
    cases.setdefault(case, []).append(ref)
want = ["cold epoch", "warm epoch", "big file seq read",
        "big file 1 MiB rand read", "small GETs", "metadata find+stat",
        "metadata put -r", "ingest ais put -r", "ingest cp -r to mount",
        "aisd RSS peak", "aisfs RSS peak"]
for c in want:
    if c not in cases:
        fail("table has no row %r" % c)
refs = " ".join(cases["cold epoch"])
for r in ("local disk", "passthrough_ll", "archivemount"):
    if r not in refs:
        fail("cold epoch has no %s reference" % r)

js = [l for l in lines if l.startswith('{"bench": "aisfs"')]
if len(js) != 1:
    fail("expected one JSON line, got %d" % len(js))
doc = json.loads(js[0])
if doc.get("missing"):
    fail("missing measurements: %s" % doc["missing"])
subjects = {
    "cold_epoch": ["aisfs", "local_disk", "passthrough_ll", "archivemount"],
    "warm_epoch": ["aisfs", "local_disk", "passthrough_ll"],
    "big_seq": ["aisfs", "passthrough_ll"],
    "big_rand": ["aisfs", "passthrough_ll"],
    "small_get": ["aisloader", "nginx_wrk"],
    "small_get_p99": ["aisloader", "nginx_wrk"],
    "metadata": ["aisfs", "passthrough_ll"],
    "ingest": ["ais_put_r", "aisfs_cp_r", "aisfs_cp_r_wb", "cp_r_local"],
}
if doc.get("cold") != "1":
    for c in ("cold_epoch", "big_seq", "big_rand"):
        subjects.pop(c)
for case, subs in subjects.items():
    for s in subs:
        m = doc["results"].get(case, {}).get(s)
        if not m:
            fail("JSON has no result %s/%s" % (case, s))
        if not (m["min"] <= m["median"] <= m["max"]) or m["median"] <= 0:
            fail("JSON %s/%s: bad median/min/max %r" % (case, s, m))
for p in ("aisd", "aisfs"):
    if not doc["rss"].get(p, {}).get("samples"):
        fail("no RSS samples of %s" % p)
if not all(r["verdict"] in ("PASS", "MISS", "info") for r in doc["ratios"]):
    fail("bad verdict in JSON ratios")
print("bench_quick: report well-formed: %d table rows, %d ratios"
      % (len(rows), len(doc["ratios"])))
PY
