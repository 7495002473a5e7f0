"""The random-mapper emulation of the method's baseline mapping, over seeds; prints JSON.

On a GEMM (default: BERT-Large 512x1024x1024, the reference run's shape) it maps the
tensor-core baseline under the method's constraints with `mapping.random_mapper` for
each seed (8 threads, victory condition 100, EDP) and reports utilization, cycles,
energy and EDP per seed and their spread, beside the optimum under the same constraints,
the reference run of Timeloop's own random mapper (WWWtoCiM tensor_core_like/outputs
timeloop-mapper.stats.txt: 3295525 cycles, 1838.76 uJ, utilization 15.91 %) and the
spread of real timeloop-mapper runs on the same input.

Real timeloop-mapper is deterministic for a given input and thread count (its engines
start from their default seed), so its spread comes from varying the thread count and the
order in which the problem lists its dimensions (which renumbers the index-factorization
space and so draws another sample of the same search). `TIMELOOP_RUNS` holds such runs
(Timeloop c116d0b35b91d99001021bccb02e935a184bbda1; input: the study's paper-compat
baseline mapper input, `study.paper.method_mapper_input`, the library's energy tables
embedded). `--timeloop 8:MNK,8:KNM,...` reruns them (threads:dimension order) when
timeloop-mapper is installed (CIM_PLUGIN_TIMELOOP_BIN); each takes minutes.

Usage: python benchmarks/bench_random_baseline.py [--seeds 30] [--gemm 512,1024,1024]
       [--threads 8] [--timeloop 8:MNK,8:MKN]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cim_plugin.mapping.random_mapper import random_search  # noqa: E402
from cim_plugin.mapping.search import search  # noqa: E402
from cim_plugin.study.config import load_config  # noqa: E402
from cim_plugin.study.paper import method_baseline_targets, method_mapper_input  # noqa: E402
from cim_plugin.study.runner import Point, setup_point  # noqa: E402

REFERENCE = {"source": "WWWtoCiM reference run tensor_core_like/outputs (timeloop-mapper, "
                       "random, 8 threads, victory 100)",
             "cycles": 3295525, "energy_uJ": 1838.76, "utilization": 0.1591}

#: real timeloop-mapper on BERT 512x1024x1024 (module doc): threads, dimension order,
#: cycles, energy in uJ
TIMELOOP_RUNS = [
    (1, "MNK", 3395389, 1862.9), (2, "MNK", 3395389, 1862.9), (3, "MNK", 3295525, 1769.92),
    (4, "MNK", 3295525, 2102.2), (8, "MNK", 3395389, 1787.65), (8, "MKN", 3295525, 1734.44),
]


def _figures(r) -> dict:
    return {"utilization": round(r.utilization, 6), "cycles": int(r.cycles),
            "energy_uJ": round(r.energy_pJ / 1e6, 4),
            "edp_Js": float(f"{r.energy_pJ * 1e-12 * r.cycles * 1e-9:.6g}")}


def _spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values),
            "min": min(values), "max": max(values), "n": len(values)}


def _timeloop(ps, extra, runs: str) -> list[dict]:
    from cim_plugin.backends import timeloop as tl
    from cim_plugin.io.yamlout import write_yaml

    out = []
    for item in runs.split(","):
        threads, order = item.split(":")
        with tempfile.TemporaryDirectory() as d:
            inp = Path(d) / "in.yaml"
            write_yaml(inp, method_mapper_input(ps, extra, threads=int(threads), dim_order=order))
            t0 = time.perf_counter()
            _, r = tl.run_mapper([inp], Path(d) / "out", timeout=None, compute_latency=ps.latency)
        out.append({"threads": int(threads), "order": order, **_figures(r),
                    "seconds": round(time.perf_counter() - t0, 1)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--gemm", default="512,1024,1024")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--timeloop", default="", help="threads:order,... run real timeloop-mapper")
    args = ap.parse_args()
    m, n, k = (int(x) for x in args.gemm.split(","))
    extra = method_baseline_targets(m, n, k)
    ps = setup_point(Point("tensor_core", None, m, n, k, "paper"), load_config(None), "preset",
                     paper_compat=True, extra_targets=extra)
    runs = []
    for seed in range(args.seeds):
        t0 = time.process_time()
        out = random_search(ps.space, ps.engine, objective="edp", seed=seed, threads=args.threads)
        runs.append({"seed": seed, **_figures(out.result), "valid": out.valid,
                     "invalid": out.invalid, "cpu_seconds": round(time.process_time() - t0, 2)})
    best = search(ps.space, ps.engine, objective="edp", mode="exact")
    ref_edp = REFERENCE["energy_uJ"] * 1e-6 * REFERENCE["cycles"] * 1e-9
    report = {
        "gemm": [m, n, k], "threads": args.threads, "runs": runs,
        "spread": {key: _spread([r[key] for r in runs])
                   for key in ("utilization", "cycles", "energy_uJ", "edp_Js")},
        "optimum_same_constraints": _figures(best.result),
        "timeloop_reference": {**REFERENCE, "edp_Js": float(f"{ref_edp:.6g}")},
    }
    if (m, n, k) == (512, 1024, 1024):
        edps = [c * 1e-9 * e * 1e-6 for _, _, c, e in TIMELOOP_RUNS]
        mean = statistics.fmean(r["edp_Js"] for r in runs)
        report["timeloop_runs"] = {
            "runs": [{"threads": t, "order": o, "cycles": c, "energy_uJ": e,
                      "utilization": round(m * n * k / 1024 / c, 6),
                      "edp_Js": float(f"{c * 1e-9 * e * 1e-6:.6g}")}
                     for t, o, c, e in TIMELOOP_RUNS],
            "edp_Js": _spread(edps),
            "emulation_mean_within_spread": min(edps) <= mean <= max(edps)}
    if args.timeloop:
        report["timeloop_rerun"] = _timeloop(ps, extra, args.timeloop)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
