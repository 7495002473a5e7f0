"""Run a study: one design point = (design, macro, GEMM); results cached by content hash.

Each point is built from the templates, sized, given energy/area tables from the
component library, mapped (priority algorithm and/or search) and evaluated by the
embedded model. CiM compute takes `latency` cycles per macro operation inside the
model (ModelOptions.compute_latency_cycles), so bandwidth bounds and compute time
are one consistent cycle count. Cached results (`cim_plugin.study.cache`) are keyed on
everything that decides them, checksummed and written atomically, so an interrupted
study resumes where it stopped and a damaged entry is recomputed. Worker processes
(`cim_plugin.study.pool`) end with the study.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cim_plugin.errors import InputError
from cim_plugin.study.cache import PointCache, fingerprint
from cim_plugin.study.config import StudyConfig
from cim_plugin.study.importers import load_entry, model_entry
from cim_plugin.study.point import (
    PRESET_DESIGNS,
    Point,
    PointSetup,
    evaluate_point,
    main_variant,
    point_record,
    setup_point,
)
from cim_plugin.study.pool import capped_jobs, default_jobs, run_parallel
from cim_plugin.study.workloads import Gemm


def study_gemms(cfg: StudyConfig, file: str | None = None) -> list[Gemm]:
    """Every GEMM of the study; two sources under one workload name would have their rows
    summed into one total, so that is refused (naming both)."""
    gemms: list[Gemm] = []
    sources: dict[str, str] = {}

    def claim(name: str, source: str) -> None:
        if name in sources:
            raise InputError(f"{sources[name]} and {source} are both named {name!r}", file=file,
                             field="workloads", expected="distinct workload names (set `name:` "
                                                         "in a YAML list or a model entry)")
        sources[name] = source

    for w in cfg.workloads:
        wl = load_entry(w)
        claim(wl.name, f"workload {w}")
        gemms.extend(wl.gemms)
    for i, spec in enumerate(cfg.models):
        wl = model_workload(spec)
        claim(wl.name, f"models[{i}]")
        gemms.extend(wl.gemms)
    if cfg.sweep_m and cfg.sweep_nk:
        claim("sweep", "the synthetic sweep (sweep_m, sweep_nk)")
    for m in cfg.sweep_m:
        for nk in cfg.sweep_nk:
            gemms.append(Gemm(name=f"M{m}_NK{nk}", m=m, n=nk, k=nk, count=1, workload="sweep"))
    return gemms


def model_workload(spec: dict[str, Any]):
    """GEMMs derived from a model description, e.g. {model: gpt-j-6b, phase: prefill}."""
    kw = {k: v for k, v in spec.items() if k not in ("model", "name")}
    w = model_entry(str(spec["model"]), **kw)
    if spec.get("name"):
        name = str(spec["name"])
        w = type(w)(name=name, gemms=[dataclasses.replace(g, workload=name) for g in w.gemms])
    return w


def study_points(cfg: StudyConfig, gemms: list[Gemm]) -> list[Point]:
    """The study's own points, then those of the paper-fidelity waterfall."""
    from cim_plugin.study.waterfall import WATERFALL_SKIPS, waterfall_points

    shapes = sorted({(g.m, g.n, g.k) for g in gemms})
    v = main_variant(cfg)
    pts = [Point(cfg.baseline, None, *s, variant=v) for s in shapes]
    for d in cfg.designs:
        for mac in cfg.macros:
            pts.extend(Point(d, mac, *s, variant=v) for s in shapes)
    wshapes = sorted({(g.m, g.n, g.k) for g in gemms if g.workload not in WATERFALL_SKIPS})
    have = set(pts)
    return pts + [p for p in waterfall_points(cfg, wshapes) if p not in have]


@dataclass(frozen=True)
class _Task:
    point: Point
    cfg: StudyConfig
    out_dir: str
    fingerprint: str


def _worker(task: _Task) -> tuple[Point, dict[str, Any] | str]:
    """One point: a verified cache entry, else evaluated and cached. A failed evaluation is
    reported for the point (the study goes on); a cache that cannot be used safely (a
    link planted in the output folder) stops the study."""
    point, cfg = task.point, task.cfg
    key = point.key(cfg, task.fingerprint)
    with PointCache(task.out_dir) as cache:
        rec = cache.get(key, point.__dict__)
        if rec is not None:
            return point, rec
        workdir = cache.workdir(key) if cfg.backend == "timeloop" else None
        try:
            rec = evaluate_point(point, cfg, workdir)
        except Exception as exc:  # noqa: BLE001 - reported per point, the study goes on
            return point, f"{type(exc).__name__}: {exc}"
        cache.put(key, rec)
    return point, rec


def run_points(cfg: StudyConfig, points: list[Point], out_dir: Path, jobs: int,
               progress: bool = True, executor: Any = None) -> dict[Point, dict[str, Any] | str]:
    """Every point evaluated (or read from `<out_dir>/cache`), in `jobs` processes, or on
    `executor` (a Dask cluster, `cim_plugin.study.remote`) when one is given.

    `jobs` is taken as given (the command caps it at the usable cores); worker
    processes end with the study, however it ends.
    """
    if executor is not None:
        from cim_plugin.study.remote import run_points_on

        return run_points_on(executor, cfg, points, out_dir, progress)
    fp = fingerprint(cfg.backend)
    PointCache(out_dir).close()                  # the cache folder exists and is no link
    tasks = [_Task(p, cfg, str(out_dir), fp) for p in points]
    out: dict[Point, dict[str, Any] | str] = {}
    bar = tqdm(total=len(tasks), desc="study", disable=not progress, unit="pt")
    try:
        results = map(_worker, tasks) if jobs <= 1 else run_parallel(_worker, tasks, jobs)
        for p, rec in results:
            out[p] = rec
            bar.update(1)
    finally:
        bar.close()
    return out


__all__ = ["PRESET_DESIGNS", "Point", "PointSetup", "capped_jobs", "default_jobs",
           "evaluate_point", "main_variant", "point_record", "run_points", "setup_point",
           "study_gemms", "study_points"]
