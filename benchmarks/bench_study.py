"""Study benchmark (prints JSON): the default `cim-plugin study` from a cold cache and a
warm rerun (target: cold under 60 s on 2 cores; the rerun recomputes nothing).

Usage: python benchmarks/bench_study.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(out: Path, jobs: int) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cim_plugin", "study", "-o", str(out), "--jobs", str(jobs),
                    "--no-progress"], check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "study"
        cold = _run(out, args.jobs)
        warm = _run(out, args.jobs)
        points = len(list((out / "cache").glob("*.json")))
        rows = sum(1 for _ in (out / "results.csv").open()) - 1
    print(json.dumps({"jobs": args.jobs, "design_points": points, "result_rows": rows,
                      "cold_seconds": round(cold, 2), "warm_rerun_seconds": round(warm, 2),
                      "target_seconds": 60, "meets_target": cold < 60}, indent=1))


if __name__ == "__main__":
    main()
