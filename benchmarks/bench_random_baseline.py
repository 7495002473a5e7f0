"""Timeloop's random mapper, reproduced, on the method's baseline; prints JSON.

On BERT-Large 512x1024x1024 (the reference run's shape; `--gemm` for another) under the
method's constraints, with the method's settings (EDP, victory condition 100, 8 threads):

- `timeloop_runs`: real timeloop-mapper runs (Timeloop c116d0b35b91d99001021bccb02e935a184bbda1;
  input: `study.paper.method_mapper_input`, the library's energy tables embedded), on the
  method's mapspace template (ruby) and on Timeloop's default (uber), under the method's
  constraints and under its factor constraints alone (a larger mapspace), by thread
  count and by the order in which the problem lists its dimensions, beside the
  reproduction with seed 0 (Timeloop's own random numbers), which should return the
  same mapping;
- `spread`: the reproduction as `--paper-compat` runs it (ruby, the method's
  constraints) over seeds 0..N-1 (other start states of Timeloop's engines):
  utilization, cycles, energy, EDP per seed, their mean, std, min and max;
- the optimum under the same constraints and the authors' reference run
  (WWWtoCiM tensor_core_like/outputs timeloop-mapper.stats.txt: 3295525 cycles,
  1838.76 uJ, utilization 15.91 %).

`--timeloop 8:MNK,3:NKM,...` (threads:dimension order) reruns timeloop-mapper for those
when it is installed (CIM_PLUGIN_TIMELOOP_BIN); each takes minutes.

Usage: python benchmarks/bench_random_baseline.py [--seeds 40] [--gemm 512,1024,1024]
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
from cim_plugin.study.paper import (  # noqa: E402
    METHOD_MAPSPACE,
    method_baseline_targets,
    method_mapper_input,
)
from cim_plugin.study.runner import Point, setup_point  # noqa: E402

REFERENCE = {"source": "WWWtoCiM reference run tensor_core_like/outputs (timeloop-mapper, "
                       "random, 8 threads, victory 100, the authors' energy tables)",
             "cycles": 3295525, "energy_uJ": 1838.76, "utilization": 0.1591}

#: real timeloop-mapper on BERT 512x1024x1024 (module doc): mapspace template,
#: constraints ("method": the method's; "factors_only": its factor constraints without
#: its orders and splits), threads, dimension order, cycles, energy in uJ as printed
TIMELOOP_RUNS = [
    ("ruby", "method", 1, "MNK", 3395389, 1862.91), ("ruby", "method", 3, "NMK", 3395389, 1858.62),
    ("ruby", "method", 8, "MNK", 3295525, 1838.76), ("ruby", "method", 8, "KNM", 3245593, 1761.06),
    ("uber", "method", 1, "MNK", 3395389, 2140.39), ("uber", "method", 3, "NMK", 3295525, 1838.76),
    ("uber", "method", 8, "MNK", 3395389, 1752.16), ("uber", "method", 8, "KNM", 3595118, 1787.61),
    ("uber", "factors_only", 1, "MNK", 3395389, 1862.91),
    ("uber", "factors_only", 2, "MNK", 3395389, 1862.9),
    ("uber", "factors_only", 3, "MNK", 3295525, 1769.9),
    ("uber", "factors_only", 4, "MNK", 3295525, 2102.2),
    ("uber", "factors_only", 8, "MNK", 3395389, 1787.65),
    ("uber", "factors_only", 8, "MKN", 3295525, 1734.44),
    ("uber", "factors_only", 8, "NMK", 3295525, 1734.44),
    ("uber", "factors_only", 8, "NKM", 3245593, 1761.06),
    ("uber", "factors_only", 8, "KMN", 3245593, 1761.06),
]


def _figures(r) -> dict:
    return {"utilization": round(r.utilization, 6), "cycles": int(r.cycles),
            "energy_uJ": round(r.energy_pJ / 1e6, 4),
            "edp_Js": float(f"{r.energy_pJ * 1e-12 * r.cycles * 1e-9:.6g}")}


def _spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values),
            "min": min(values), "max": max(values), "n": len(values)}


def _input(gemm, template: str, variant: str, threads: int, order: str, folder: Path) -> Path:
    from cim_plugin.io.yamlout import write_yaml

    extra = method_baseline_targets(*gemm, orders=variant != "factors_only")
    ps = setup_point(Point("tensor_core", None, *gemm, "paper"), load_config(None), "preset",
                     paper_compat=True, extra_targets=extra)
    path = folder / f"in-{template}-{variant}-{threads}-{order}.yaml"
    write_yaml(path, method_mapper_input(ps, extra, threads=threads, dim_order=order,
                                         template=template))
    return path


def _reproduce(path: Path, threads: int, template: str):
    """The reproduction on the very input timeloop-mapper reads (its dimension order)."""
    from cim_plugin.api import load_spec

    space, engine = load_spec([path]).search_space()
    return random_search(space, engine, seed=0, threads=threads, template=template)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=40)
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
        out = random_search(ps.space, ps.engine, objective="edp", seed=seed, threads=args.threads,
                            template=METHOD_MAPSPACE)
        runs.append({"seed": seed, **_figures(out.result), "valid": out.valid,
                     "invalid": out.invalid, "cpu_seconds": round(time.process_time() - t0, 2)})
    best = search(ps.space, ps.engine, objective="edp", mode="exact")
    ref_edp = REFERENCE["energy_uJ"] * 1e-6 * REFERENCE["cycles"] * 1e-9
    report = {
        "gemm": [m, n, k], "threads": args.threads,
        "spread": {key: _spread([r[key] for r in runs])
                   for key in ("utilization", "cycles", "energy_uJ", "edp_Js")},
        "runs": runs,
        "optimum_same_constraints": _figures(best.result),
        "timeloop_reference": {**REFERENCE, "edp_Js": float(f"{ref_edp:.6g}")},
    }
    with tempfile.TemporaryDirectory() as tmp:
        if (m, n, k) == (512, 1024, 1024):
            rows = []
            for template, variant, threads, order, cycles, energy in TIMELOOP_RUNS:
                got = _reproduce(_input((m, n, k), template, variant, threads, order, Path(tmp)),
                                 threads, template).result
                rows.append({"template": template, "constraints": variant, "threads": threads,
                             "order": order,
                             "timeloop_cycles": cycles,
                             "timeloop_energy_uJ": energy, "reproduced": _figures(got),
                             "same": int(got.cycles) == cycles
                             and abs(got.energy_pJ / 1e6 - energy) <= 0.051})
            report["timeloop_runs"] = rows
        if args.timeloop:
            from cim_plugin.backends import timeloop as tl

            rerun = []
            for item in args.timeloop.split(","):
                threads, order = int(item.split(":")[0]), item.split(":")[1]
                path = _input((m, n, k), METHOD_MAPSPACE, "method", threads, order, Path(tmp))
                t0 = time.perf_counter()
                _, r = tl.run_mapper([path], Path(tmp) / f"out-{threads}-{order}", timeout=None,
                                     compute_latency=ps.latency)
                got = _reproduce(path, threads, METHOD_MAPSPACE).result
                rerun.append({"threads": threads, "order": order, "timeloop": _figures(r),
                              "timeloop_seconds": round(time.perf_counter() - t0, 1),
                              "reproduced": _figures(got),
                              "same": int(got.cycles) == int(r.cycles)
                              and abs(got.energy_pJ - r.energy_pJ) <= 1e-6 * r.energy_pJ})
            report["timeloop_rerun"] = rerun
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
