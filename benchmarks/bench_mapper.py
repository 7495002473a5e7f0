"""Mapper benchmark (prints JSON).

Every GEMM of the default study on the tensor-core baseline and on every CiM design x
every library macro, in free mapspaces (only the keep/bypass targets of the design's
constraints, as a user gets by dropping the pinned priority factors), searched in the
fast mode (seeded with the priority mappings) and in the exact mode (no seeds). Per
design (and per design x macro), the JSON gives the median and maximum seconds of
each mode (wall clock, and the process's CPU time, which a busy machine does not
inflate), how many answers each proved optimal, and the fast mode's gap to the exact
optimum (targets: exact proven everywhere, <= 10 s each, median <= 2 s; fast within
1 % on >= 95 % of the points, never 5 % off, median < 1 s).

With ../shared/reference present, the method's Timeloop inputs (only their keep/bypass
constraints) are searched too, against the EDP of the mapping stored beside them.

Usage: python benchmarks/bench_mapper.py [--jobs 2] [--macros analog6T,digital6T]
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

from cim_plugin.api import map_problem  # noqa: E402
from cim_plugin.export.build import Sizing, build  # noqa: E402
from cim_plugin.library import load_macro_library  # noqa: E402
from cim_plugin.library.ert_gen import generate_tables  # noqa: E402
from cim_plugin.library.loader import get_macro  # noqa: E402
from cim_plugin.spec.problem import gemm_problem  # noqa: E402
from cim_plugin.study.config import load_config  # noqa: E402
from cim_plugin.study.runner import PRESET_DESIGNS, study_gemms  # noqa: E402

CIM_DESIGNS = ("cim_rf", "cim_smem", "cim_smem_beside", "cim_l2")
METHOD = ("analog6T", "analog8T", "digital6T", "digital8T")
KEEP_TYPES = ("bypass", "dataspace", "datatype")


def free_design(design: str, macro: str | None, gemm: tuple[int, int, int]):
    """(architecture, problem, ERT, ART, keep/bypass targets) of a design point."""
    mac = get_macro(macro) if macro else None
    sizing = Sizing("preset" if design in PRESET_DESIGNS and macro in METHOD else "iso-area")
    try:
        b = build(design, mac, gemm, sizing)
    except Exception:                      # a macro too large for the level: one macro
        b = build(design, mac, gemm, Sizing("explicit", (1, 1)))
    arch = b.architecture
    ert, art = generate_tables(arch)
    targets = [t for t in b.processed["architecture_constraints"]["targets"]
               if t.get("type") in KEEP_TYPES]
    return arch, gemm_problem(*gemm), ert, art, targets


def one(task: tuple[str, str | None, tuple[int, int, int]]) -> dict:
    design, macro, gemm = task
    arch, problem, ert, art, targets = free_design(design, macro, gemm)
    t, c = time.perf_counter(), time.process_time()
    fast = map_problem(arch, problem, ert, art, targets=targets, mode="fast").search
    t_fast, c_fast = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()      # a new engine and mapspace
    exact = map_problem(arch, problem, ert, art, targets=targets, mode="exact",
                        cim_seeds=False).search
    t_exact, c_exact = time.perf_counter() - t, time.process_time() - c
    return {"design": design, "macro": macro, "gemm": list(gemm), "fast_s": t_fast,
            "exact_s": t_exact, "fast_cpu_s": c_fast, "exact_cpu_s": c_exact,
            "fast_optimal": fast.optimal, "exact_optimal": exact.optimal,
            "gap": fast.score / exact.score - 1.0}


def summarize(rows: list[dict]) -> dict:
    gaps = [r["gap"] for r in rows]
    return {
        "points": len(rows),
        "fast_median_s": round(statistics.median(r["fast_s"] for r in rows), 4),
        "fast_max_s": round(max(r["fast_s"] for r in rows), 4),
        "exact_median_s": round(statistics.median(r["exact_s"] for r in rows), 4),
        "exact_max_s": round(max(r["exact_s"] for r in rows), 4),
        "fast_cpu_median_s": round(statistics.median(r["fast_cpu_s"] for r in rows), 4),
        "fast_cpu_max_s": round(max(r["fast_cpu_s"] for r in rows), 4),
        "exact_cpu_median_s": round(statistics.median(r["exact_cpu_s"] for r in rows), 4),
        "exact_cpu_max_s": round(max(r["exact_cpu_s"] for r in rows), 4),
        "slowest_exact": {k: v for k, v in max(rows, key=lambda r: r["exact_cpu_s"]).items()
                          if k in ("macro", "gemm", "exact_s", "exact_cpu_s")},
        "exact_proven": sum(r["exact_optimal"] for r in rows),
        "fast_proven": sum(r["fast_optimal"] for r in rows),
        "fast_within_1pct": sum(g <= 0.01 for g in gaps),
        "fast_max_gap": max(gaps),
    }


def reference_runs() -> list[dict]:
    from cim_plugin.mapping.constraints import constraint_targets
    from cim_plugin.model.engine import ModelOptions
    from cim_plugin.model.evaluate import evaluate
    from cim_plugin.spec import load_architecture, load_ert, load_inputs, load_mapping, load_problem

    base = ROOT.parent / "shared" / "reference" / "wwwcim" / "runs"
    out = []
    for run in sorted(p.parent for p in base.glob("*/*/parsed-processed-input.yaml")):
        doc, _ = load_inputs([run / "parsed-processed-input.yaml"])
        arch, problem = load_architecture(doc), load_problem(doc)
        ert = load_ert(run / "timeloop-mapper.ERT.yaml")
        options = ModelOptions(compute_latency_cycles=1.0)       # as Timeloop counted them
        stored = evaluate(arch, problem, load_mapping(run / "timeloop-mapper.map.yaml"), ert,
                          options=options)
        targets = [t for t in constraint_targets(doc) if t.get("type") in KEEP_TYPES]
        row = {"run": f"{run.parent.name}/{run.name}", "edp_stored": stored.edp}
        for mode in ("fast", "exact"):
            t = time.perf_counter()
            sr = map_problem(arch, problem, ert, targets=targets, mode=mode,
                             cim_seeds=mode == "fast", compute_latency=1.0).search
            row[f"{mode}_s"] = round(time.perf_counter() - t, 3)
            row[f"{mode}_edp"] = sr.result.edp
            row[f"{mode}_optimal"] = sr.optimal
        row["stored_over_exact"] = round(stored.edp / row["exact_edp"], 4)
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--macros", default=None, help="comma-separated subset (default: all)")
    args = ap.parse_args()
    macros = args.macros.split(",") if args.macros else sorted(load_macro_library())
    shapes = sorted({(g.m, g.n, g.k) for g in study_gemms(load_config(None))})
    tasks = [(d, None, s) for d in ("tensor_core", "tensor_core_l2") for s in shapes]
    tasks += [(d, m, s) for d in CIM_DESIGNS for m in macros for s in shapes]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as ex:
        rows = list(ex.map(one, tasks, chunksize=1))
    per_design = {}
    for d in ("tensor_core", "tensor_core_l2", *CIM_DESIGNS):
        sel = [r for r in rows if r["design"] == d]
        per_design[d] = summarize(sel)
        if d in CIM_DESIGNS:
            per_design[d]["per_macro"] = {m: summarize([r for r in sel if r["macro"] == m])
                                          for m in macros}
    print(json.dumps({"study_gemms": len(shapes), "wall_s": round(time.perf_counter() - t0, 1),
                      "all": summarize(rows), "per_design": per_design,
                      "reference_runs": reference_runs()}, indent=2))


if __name__ == "__main__":
    main()
