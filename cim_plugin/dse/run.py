"""Run a macro sweep chunk by chunk and stream its rows to `sweep.csv`.

Chunks (`cim_plugin.library.sweep.chunks`) are enumerated lazily, looked up in the study's
cache, sent to the executor (local processes or Dask) with a bounded number in flight,
small chunks several to a task (`batch_weight`: a task's round trip through a Dask
scheduler costs about as much as building one geometry), and read back in order; each
chunk's rows are appended to a temporary `sweep.csv` in the output folder as soon as it
is back, and its figures are cached by the client. So a sweep of millions of points
never holds more than a window of tasks (each under two full chunks' worth) in memory,
an interrupted sweep resumes from its cache, and the file is the same bytes whatever
the number or kind of workers. The file is published (renamed into place) with the
other outputs at the end.

Columns: the placement, the macro's sweep-wide number and parameters, its banks and the
design's area, then per workload the count-weighted totals (energy, latency), TOPS/W,
GOPS and both as ratios to the baseline's totals of the same workload, and an error
(empty when evaluated).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from cim_plugin.dse.cheap import SweepTask, Workloads, evaluate_chunk, warm_up, workloads_of
from cim_plugin.library.sweep import CHUNK, COSTING, PARAMS, STRUCTURAL, Chunk, MacroSweep, chunks
from cim_plugin.study.cache import fingerprint, point_key
from cim_plugin.study.config import StudyConfig
from cim_plugin.study.executors import in_order
from cim_plugin.study.metrics import DEFAULT_CLOCK_HZ, OPS_PER_MAC

SWEEP_FILE = "sweep.csv"
COLUMNS = ("design", "macro_id", *PARAMS, "banks", "area_mm2", "workload", "energy_J",
           "latency_s", "tops_per_w", "gops", "tops_per_w_vs_baseline", "gops_vs_baseline",
           "error")
#: tasks in flight per worker: enough that a worker never waits for the client, which
#: shares the machine with the workers on a local cluster and answers late (with 3 the
#: two workers of a 2-core LocalCluster sat idle a fifth of the time; benchmarks/bench_dse.py)
WINDOW_PER_WORKER = 8
#: per GEMM shape, building, mapping and counting one geometry costs about as much as
#: pricing this many of its variants (the cheap path's throughputs, docs/dse.md)
GEOMETRY_WEIGHT = 200
#: tasks per worker at least, so that the workers of a small sweep finish together
TASKS_PER_WORKER = 8


@dataclass(frozen=True)
class Baseline:
    """The baseline's count-weighted totals per workload."""

    energy_J: dict[str, float]
    latency_s: dict[str, float]


@dataclass(frozen=True)
class SweepRun:
    """What a finished sweep left: the temporary file and its counts."""

    temp_name: str
    macros: int
    rows: int
    failed_chunks: int


def _chunk_key(task: SweepTask, cfg: StudyConfig, fp: str) -> tuple[str, dict[str, Any]]:
    """Cache key of a chunk: its design, geometry, variants and the study's GEMMs."""
    ch = task.chunk
    content = json.dumps({"design": ch.design, "structure": dict(ch.structure),
                          "variants": task.sweep.costing(ch.start, ch.stop),
                          "workloads": [task.workloads.shapes, task.workloads.table],
                          "sizing": task.sizing, "banks": list(task.banks),
                          "duplicate": task.duplicate, "paper_compat": task.paper_compat},
                         sort_keys=True)
    point = {"sweep_chunk": hashlib.sha256(content.encode()).hexdigest()}
    return point_key(point, cfg.key_dict(), fp), point


def _ops(workloads: Workloads) -> dict[str, float]:
    return {name: float(sum(OPS_PER_MAC * count * np.prod(workloads.shapes[i], dtype=float)
                            for i, count in rows))
            for name, rows in workloads.table}


def chunk_frame(chunk: Chunk, sweep: MacroSweep, workloads: Workloads, result: dict[str, Any],
                baseline: Baseline) -> pd.DataFrame:
    """The rows of one chunk: variant-major, then workload."""
    var = sweep.costing(chunk.start, chunk.stop)
    n = chunk.stop - chunk.start
    names = list(workloads.names)
    w = len(names)
    cols: dict[str, Any] = {"design": chunk.design,
                            "macro_id": np.repeat(np.arange(chunk.first_macro,
                                                            chunk.first_macro + n), w)}
    st = dict(chunk.structure)
    for p in PARAMS:
        cols[p] = st[p] if p in STRUCTURAL else np.repeat(np.asarray(var[p]), w)
    if result.get("error"):
        cols.update({"banks": "", "area_mm2": np.nan, "workload": np.tile(names, n)})
        for c in ("energy_J", "latency_s", "tops_per_w", "gops", "tops_per_w_vs_baseline",
                  "gops_vs_baseline"):
            cols[c] = np.nan
        cols["error"] = result["error"]
        return pd.DataFrame(cols, columns=COLUMNS)
    ops = _ops(workloads)
    energy = np.stack([np.asarray(result["energy_pJ"][k]) for k in names], axis=1) * 1e-12
    latency = np.stack([np.asarray(result["cycles"][k]) for k in names], axis=1) / DEFAULT_CLOCK_HZ
    op = np.array([ops[k] for k in names])
    tops = op / energy / 1e12
    gops = op / latency / 1e9
    b_tops = np.array([op[i] / baseline.energy_J[k] / 1e12 if k in baseline.energy_J
                       else np.nan for i, k in enumerate(names)])
    b_gops = np.array([op[i] / baseline.latency_s[k] / 1e9 if k in baseline.latency_s
                       else np.nan for i, k in enumerate(names)])
    cols.update({"banks": "x".join(str(b) for b in result["banks"]),
                 "area_mm2": result["area_um2"] * 1e-6, "workload": np.tile(names, n),
                 "energy_J": energy.ravel(), "latency_s": latency.ravel(),
                 "tops_per_w": tops.ravel(), "gops": gops.ravel(),
                 "tops_per_w_vs_baseline": (tops / b_tops).ravel(),
                 "gops_vs_baseline": (gops / b_gops).ravel(), "error": ""})
    return pd.DataFrame(cols, columns=COLUMNS)


def baseline_totals(summary: pd.DataFrame, baseline: str) -> Baseline:
    rows = summary[summary["design"] == baseline]
    return Baseline(dict(zip(rows["workload"], rows["energy_J"].astype(float))),
                    dict(zip(rows["workload"], rows["latency_s"].astype(float))))


def chunk_weight(task: SweepTask) -> float:
    """A chunk's work in priced design points: its geometry and its variants, per shape."""
    return len(task.workloads.shapes) * (GEOMETRY_WEIGHT + task.chunk.stop - task.chunk.start)


def batch_weight(sweep: MacroSweep, designs: tuple[str, ...], workloads: Workloads,
                 workers: int, chunk_size: int | None = None) -> float:
    """How much work `in_order` puts in one task: the weight of one full chunk (so a
    task holds no more results than a chunk of `chunk_size` variants did, and a full
    chunk is a task of its own), or less for a sweep too small to give every worker
    TASKS_PER_WORKER tasks of that size. Chunks of few variants (every macro its own
    geometry: a few milliseconds each) then travel by tens."""
    size = chunk_size or CHUNK
    n = sweep.costings
    shapes = len(workloads.shapes)
    total = len(designs) * (sweep.macros() // n) * shapes * \
        (math.ceil(n / size) * GEOMETRY_WEIGHT + n)
    return min(shapes * (GEOMETRY_WEIGHT + size), total / (max(1, workers) * TASKS_PER_WORKER))


def tasks_of(cfg: StudyConfig, sweep: MacroSweep, workloads: Workloads, chunk_size: int | None = None):
    kw = {} if chunk_size is None else {"size": chunk_size}
    for ch in chunks(sweep, cfg.designs, **kw):
        yield SweepTask(ch, sweep, workloads, cfg.sizing, tuple(cfg.banks), cfg.duplicate,
                        cfg.paper_compat)


def run_sweep(cfg: StudyConfig, sweep: MacroSweep, gemms: list[Any], baseline: Baseline,
              folder: Any, executor: Any, progress: bool = True,
              chunk_size: int | None = None) -> SweepRun:
    """Every chunk from the cache or the executor, its rows appended to a temporary
    `sweep.csv` in `folder` (a `SafeFolder`); the caller publishes it."""
    from cim_plugin.study.cache import PointCache

    workloads = workloads_of(gemms)
    fp = fingerprint(cfg.backend)
    total = len(cfg.designs) * sweep.macros()
    tmp, fh = folder.open_temp(SWEEP_FILE)
    rows = failed = 0
    done = False
    bar = tqdm(total=total, desc="sweep", disable=not progress, unit="macro")
    try:
        with fh, PointCache(folder.path) as cache:
            fh.write((",".join(COLUMNS) + "\n").encode())

            def jobs():
                for task in tasks_of(cfg, sweep, workloads, chunk_size):
                    key, point = _chunk_key(task, cfg, fp)
                    rec = cache.get(key, point)
                    yield (task.chunk, key, point), task, (rec["result"] if rec else None)

            executor.warm(warm_up, tuple(cfg.designs))
            batch = batch_weight(sweep, cfg.designs, workloads, executor.workers, chunk_size)
            for (chunk, key, point), result, fresh in in_order(
                    executor, evaluate_chunk, jobs(), WINDOW_PER_WORKER * executor.workers,
                    weight=chunk_weight, batch=batch):
                if result.get("error"):
                    failed += 1
                elif fresh:
                    cache.put(key, {"point": point, "result": result})
                frame = chunk_frame(chunk, sweep, workloads, result, baseline)
                fh.write(frame.to_csv(header=False, index=False, float_format="%.9g",
                                      lineterminator="\n").encode())
                rows += len(frame)
                bar.update(chunk.stop - chunk.start)
        done = True
    finally:
        bar.close()
        if not done:
            folder.remove(tmp)
    return SweepRun(tmp, total, rows, failed)


__all__ = ["Baseline", "COLUMNS", "COSTING", "SWEEP_FILE", "SweepRun", "batch_weight",
           "baseline_totals", "chunk_frame", "chunk_weight", "run_sweep"]
