"""The random-mapper emulation of the method's baseline mapping, over seeds; prints JSON.

On a GEMM (default: BERT-Large 512x1024x1024, the reference run's shape) it maps the
tensor-core baseline under the method's constraints with `mapping.random_mapper` for
each seed (8 threads, victory condition 100, EDP) and reports utilization, cycles,
energy and EDP per seed and their spread, beside the optimum under the same constraints
and the reference run of Timeloop's own random mapper (WWWtoCiM tensor_core_like/outputs
timeloop-mapper.stats.txt: 3295525 cycles, 1838.76 uJ, utilization 15.91 %).

Usage: python benchmarks/bench_random_baseline.py [--seeds 10] [--gemm 512,1024,1024]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cim_plugin.mapping.random_mapper import random_search  # noqa: E402
from cim_plugin.mapping.search import search  # noqa: E402
from cim_plugin.study.config import load_config  # noqa: E402
from cim_plugin.study.paper import method_baseline_targets  # noqa: E402
from cim_plugin.study.runner import Point, setup_point  # noqa: E402

REFERENCE = {"source": "WWWtoCiM reference run tensor_core_like/outputs (timeloop-mapper, "
                       "random, 8 threads, victory 100)",
             "cycles": 3295525, "energy_uJ": 1838.76, "utilization": 0.1591}


def _figures(r) -> dict:
    return {"utilization": round(r.utilization, 6), "cycles": int(r.cycles),
            "energy_uJ": round(r.energy_pJ / 1e6, 4),
            "edp_Js": float(f"{r.energy_pJ * 1e-12 * r.cycles * 1e-9:.6g}")}


def _spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values),
            "min": min(values), "max": max(values)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--gemm", default="512,1024,1024")
    args = ap.parse_args()
    m, n, k = (int(x) for x in args.gemm.split(","))
    extra = method_baseline_targets(m, n, k)
    ps = setup_point(Point("tensor_core", None, m, n, k, "paper"), load_config(None), "preset",
                     paper_compat=True, extra_targets=extra)
    runs = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        out = random_search(ps.space, ps.engine, objective="edp", seed=seed)
        runs.append({"seed": seed, **_figures(out.result), "valid": out.valid,
                     "invalid": out.invalid, "seconds": round(time.perf_counter() - t0, 2)})
    best = search(ps.space, ps.engine, objective="edp", mode="exact")
    ref_edp = REFERENCE["energy_uJ"] * 1e-6 * REFERENCE["cycles"] * 1e-9
    print(json.dumps({
        "gemm": [m, n, k], "runs": runs,
        "spread": {key: _spread([r[key] for r in runs])
                   for key in ("utilization", "cycles", "energy_uJ", "edp_Js")},
        "optimum_same_constraints": _figures(best.result),
        "timeloop_reference": {**REFERENCE, "edp_Js": float(f"{ref_edp:.6g}")},
    }, indent=1))


if __name__ == "__main__":
    main()
