"""Mapper benchmark (prints JSON).

1. Per reference Timeloop run (when ../shared/reference is present): fast-search seconds,
   mappings evaluated, EDP found vs the EDP of Timeloop's mapping (our model), and the
   fast mode's gap to the exhaustive optimum (exhaustive capped at 300 s).
2. Whole-workload sweep: every BERT-Large, GPT-J-6B, DLRM and ResNet50 GEMM on the
   tensor-core baseline, fast search, on 2 processes (targets: median < 1 s per GEMM,
   none over 5 s, whole sweep < 30 s).
3. Gap of the fast mode to the exhaustive optimum on small GEMMs.

Usage: python benchmarks/bench_mapper.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cim_plugin.export.build import build  # noqa: E402
from cim_plugin.library.ert_gen import generate_tables  # noqa: E402
from cim_plugin.mapping.constraints import constraints_from_doc, parse_constraints  # noqa: E402
from cim_plugin.mapping.mapspace import MapSpace  # noqa: E402
from cim_plugin.mapping.search import search  # noqa: E402
from cim_plugin.model.engine import Engine  # noqa: E402
from cim_plugin.model.evaluate import evaluate  # noqa: E402
from cim_plugin.spec import load_architecture, load_ert, load_inputs, load_mapping, load_problem  # noqa: E402
from cim_plugin.spec.problem import gemm_problem  # noqa: E402
from cim_plugin.spec.v4 import flatten_v4_constraints  # noqa: E402
from cim_plugin.study.workloads import load_workload  # noqa: E402


def reference_runs() -> list[dict]:
    base = ROOT.parent / "shared" / "reference" / "wwwcim" / "runs"
    out = []
    if not base.is_dir():
        return out
    for run in sorted(p.parent for p in base.glob("*/*/parsed-processed-input.yaml")):
        doc, _ = load_inputs([run / "parsed-processed-input.yaml"])
        arch, problem = load_architecture(doc), load_problem(doc)
        ert = load_ert(run / "timeloop-mapper.ERT.yaml")
        ref = evaluate(arch, problem, load_mapping(run / "timeloop-mapper.map.yaml"), ert)
        space = MapSpace(arch, problem, constraints_from_doc(doc, arch, problem))
        t = time.perf_counter()
        sr = search(space, Engine(arch, problem, ert), objective="edp", mode="fast")
        secs = time.perf_counter() - t
        t = time.perf_counter()
        ex = search(space, Engine(arch, problem, ert), objective="edp", mode="exhaustive", timeout=300)
        out.append({"run": f"{run.parent.name}/{run.name}", "seconds": round(secs, 3),
                    "evaluated": sr.evaluated, "edp_found": sr.result.edp, "edp_reference": ref.edp,
                    "improvement": round(ref.edp / sr.result.edp, 4),
                    "exhaustive_seconds": round(time.perf_counter() - t, 1),
                    "exhaustive_complete": ex.complete, "gap_to_exhaustive": round(sr.score / ex.score - 1, 6)})
    return out


def _baseline_gemm(shape: tuple[int, int, int]) -> dict:
    t = time.perf_counter()
    b = build("tensor_core", None, shape)
    problem = gemm_problem(*shape)
    ert, art = generate_tables(b.architecture)
    targets = flatten_v4_constraints(b.v4)["targets"]
    space = MapSpace(b.architecture, problem, parse_constraints(targets, b.architecture, problem))
    sr = search(space, Engine(b.architecture, problem, ert, art), objective="edp", mode="fast")
    return {"gemm": "x".join(map(str, shape)), "seconds": time.perf_counter() - t,
            "evaluated": sr.evaluated}


def workload_sweep(jobs: int) -> dict:
    shapes = sorted({g.shape for w in ("bert-large", "gpt-j-6b", "dlrm", "resnet50")
                     for g in load_workload(w).gemms})
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        per = list(ex.map(_baseline_gemm, shapes))
    wall = time.perf_counter() - t
    secs = [p["seconds"] for p in per]
    return {"gemms": len(shapes), "jobs": jobs, "wall_seconds": round(wall, 2),
            "median_seconds_per_gemm": round(statistics.median(secs), 3),
            "max_seconds_per_gemm": round(max(secs), 3),
            "slowest": max(per, key=lambda p: p["seconds"])["gemm"]}


def fast_vs_exhaustive() -> list[dict]:
    out = []
    for shape in ((8, 8, 8), (16, 4, 12), (6, 10, 15)):
        b = build("tensor_core", None, shape, params={"subpartitions": 2, "pe_x": 2, "pe_y": 2,
                                                        "rf_depth": 64, "smem_depth": 64})
        problem = gemm_problem(*shape)
        ert, art = generate_tables(b.architecture)
        targets = [t for t in flatten_v4_constraints(b.v4)["targets"] if t.get("type") != "spatial"
                   or "factors" not in t]
        space = MapSpace(b.architecture, problem, parse_constraints(targets, b.architecture, problem))
        engine = Engine(b.architecture, problem, ert, art)
        t = time.perf_counter()
        ex = search(space, engine, mode="exhaustive", timeout=120)
        te = time.perf_counter() - t
        t = time.perf_counter()
        fa = search(space, engine, mode="fast")
        tf = time.perf_counter() - t
        out.append({"gemm": "x".join(map(str, shape)), "exhaustive_complete": ex.complete,
                    "exhaustive_evaluated": ex.evaluated, "exhaustive_seconds": round(te, 2),
                    "fast_evaluated": fa.evaluated, "fast_seconds": round(tf, 3),
                    "gap": round(fa.score / ex.score - 1.0, 6)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    print(json.dumps({"reference_runs": reference_runs(), "workload_sweep": workload_sweep(args.jobs),
                      "fast_vs_exhaustive": fast_vs_exhaustive()}, indent=1))


if __name__ == "__main__":
    main()
