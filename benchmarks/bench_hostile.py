"""Hostile-input corpus (tests/hostile_corpus.py) in separate processes with a time limit;
prints JSON: per subcommand, how many inputs ended as clean errors (exit 2, one line
naming file, field and expectation), unclear errors (exit 2 without them), internal
errors (exit 1 or a traceback), hangs (over the limit) and silent accepts (exit 0, or
for `compare` exit 1, its "the figures differ"); plus every case that did not end cleanly.
Valid inputs count as ok (exit 0) or failed.

Usage: python benchmarks/bench_hostile.py [--timeout 60] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile_corpus import (  # noqa: E402
    Case,
    classify,
    corpus,
    prepare,
    snapshot,
    valid_cases,
)


def run(case: Case, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work, decoy, argv, env = prepare(case, Path(tmp))
        before, decoy_before = snapshot(work), snapshot(decoy)
        try:
            proc = subprocess.run([sys.executable, "-m", "cim_plugin", *argv], cwd=tmp,
                                  capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, **env})
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc, out = None, ""
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        o = classify(case, rc, out, err, before, snapshot(work), decoy_before, snapshot(decoy))
        if case.command == "compare" and rc == 1 and ": error:" not in err:
            o.status = "silent"            # exit 1 is compare's "the figures differ"
        return {"id": case.id, "command": case.command, "status": o.status, "rc": rc,
                "problems": o.problems, "err": err.strip().splitlines()[-1:] if err else []}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    cases = corpus() + valid_cases()
    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        results = list(ex.map(lambda c: run(c, args.timeout), cases))
    table: dict[str, dict[str, int]] = {}
    for r in results:
        row = table.setdefault(r["command"], {"inputs": 0, "clean": 0, "unclear": 0,
                                              "internal": 0, "hang": 0, "silent": 0,
                                              "ok": 0, "failed": 0})
        row["inputs"] += 1
        row[r["status"]] += 1
    print(json.dumps({"timeout_s": args.timeout, "table": table,
                      "not_clean": [r for r in results if r["status"] not in ("clean", "ok")]},
                     indent=1))


if __name__ == "__main__":
    main()
