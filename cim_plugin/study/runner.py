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
from cim_plugin.study.cache import PointCache, fingerprint, point_key
from cim_plugin.study.config import StudyConfig
from cim_plugin.study.importers import load_entry, model_entry
from cim_plugin.study.pool import capped_jobs, default_jobs, run_parallel
from cim_plugin.study.workloads import Gemm

PRESET_DESIGNS = ("cim_rf", "cim_smem")


@dataclass(frozen=True)
class Point:
    design: str
    macro: str | None
    m: int
    n: int
    k: int
    #: "" = the study's own pipeline; `paper.VARIANTS`: the original pipeline and the
    #: sizings the paper-fidelity waterfall needs (`cim_plugin.study.paper`)
    variant: str = ""

    def key(self, cfg: StudyConfig, fingerprint_hex: str | None = None) -> str:
        """Cache key: the point, the configuration that reaches its evaluation, and the
        fingerprint of code, data and library files (`cim_plugin.study.cache`)."""
        fp = fingerprint_hex if fingerprint_hex is not None else fingerprint(cfg.backend)
        return point_key(self.__dict__, cfg.key_dict(), fp)


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


def main_variant(cfg: StudyConfig) -> str:
    """The variant of the study's own points: the original pipeline under --paper-compat."""
    return "paper" if cfg.paper_compat else ""


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


def evaluate_point(point: Point, cfg: StudyConfig, workdir: Path | None = None,
                   macro_obj: Any = None) -> dict[str, Any]:
    """Build, map and evaluate one design point; returns a JSON-ready record.

    With `cfg.backend == "timeloop"` the chosen mapping is evaluated by the real
    timeloop-model in `workdir` (processed-form input with the library's ERT/ART
    embedded, so Accelergy is not needed) and its parsed stats replace the embedded
    model's numbers; the embedded figures are kept under "embedded".
    """
    from cim_plugin.mapping.cim import priority_seeds
    from cim_plugin.mapping.search import search

    if point.variant == "paper":
        from cim_plugin.study.paper import evaluate_paper_point

        return evaluate_paper_point(point, cfg, workdir)
    mode = point.variant or cfg.sizing
    if mode == "preset" and point.design not in PRESET_DESIGNS:
        mode = "iso-area"          # the method has presets only for RF and SMEM placements
    ps = setup_point(point, cfg, mode, macro_obj=macro_obj)
    b, space, engine = ps.built, ps.space, ps.engine
    seeds = []
    if b.mapping is not None:
        seeds.append(space.from_mapping(b.mapping.mapping()))
    strategy = cfg.cim_strategy if ps.macro is not None else cfg.baseline_strategy
    if strategy in ("priority", "seed") and seeds:
        sr = search(space, engine, objective=cfg.objective, mode="seed", seeds=seeds)
    else:
        if strategy == "priority+search":
            seeds += [c for c in priority_seeds(space) if c not in seeds]
        elif strategy == "search":
            seeds = []
        sr = search(space, engine, objective=cfg.objective, mode=cfg.search, seeds=seeds)
    return point_record(point, cfg, ps, sr.result, sr.mapping, sr.mapper_json(), mode, workdir)


@dataclass
class PointSetup:
    """One design point built, with its tables, model engine and mapspace."""

    macro: Any
    built: Any
    problem: Any
    ert: Any
    art: Any
    latency: float
    engine: Any
    space: Any


def setup_point(point: Point, cfg: StudyConfig, mode: str, *, original: bool = False,
                paper_compat: bool = False, extra_targets: list[dict[str, Any]] | None = None,
                macro_obj: Any = None) -> PointSetup:
    """Build and size the design, generate its tables and the model engine, and the
    mapspace of the design's own constraints (plus `extra_targets`). `original`: the
    authors' priority algorithm; `paper_compat`: the WWW placeholder CiM area;
    `macro_obj`: a macro that is not in the library (macro sweeps)."""
    from cim_plugin.export.build import Sizing, build, get_macro
    from cim_plugin.library.ert_gen import generate_tables
    from cim_plugin.library.latency import compute_latency
    from cim_plugin.mapping.constraints import parse_constraints
    from cim_plugin.mapping.mapspace import MapSpace
    from cim_plugin.model.engine import Engine, ModelOptions
    from cim_plugin.spec.problem import gemm_problem
    from cim_plugin.spec.v4 import flatten_v4_constraints

    macro = macro_obj if macro_obj is not None else get_macro(point.macro) if point.macro else None
    sizing = Sizing(mode=mode, banks=cfg.banks)
    b = build(point.design, macro, (point.m, point.n, point.k), sizing,
              duplicate=cfg.duplicate and not original, original=original)
    arch = b.architecture
    problem = gemm_problem(point.m, point.n, point.k)
    ert, art = generate_tables(arch, paper_compat=paper_compat, macros=_with_macro(macro_obj))
    latency, _ = compute_latency(arch)
    engine = Engine(arch, problem, ert, art, ModelOptions(compute_latency_cycles=latency))
    targets = flatten_v4_constraints(b.v4)["targets"] + list(extra_targets or [])
    space = MapSpace(arch, problem, parse_constraints(targets, arch, problem))
    return PointSetup(macro, b, problem, ert, art, latency, engine, space)


def point_record(point: Point, cfg: StudyConfig, ps: PointSetup, r: Any, mapping: Any,
                 mapper: dict[str, Any], mode: str, workdir: Path | None) -> dict[str, Any]:
    """The JSON-ready record of an evaluated point (module doc: timeloop backend)."""
    b, macro, problem, ert, art, latency = ps.built, ps.macro, ps.problem, ps.ert, ps.art, ps.latency
    arch = b.architecture
    embedded = None
    if cfg.backend == "timeloop":
        r, embedded = _timeloop_model(b.processed, ert, art, mapping, workdir), r
    n_macros = b.params.banks_x * b.params.banks_y if macro is not None else 0
    order = [s.base_name for s in arch.storage_inner_first]
    return {
        "point": point.__dict__,
        "sizing": mode if macro is not None else "-",
        "macros": n_macros,
        "banks": [b.params.banks_x, b.params.banks_y] if macro is not None else None,
        "latency_cycles": latency,
        "result": r.to_json_dict(),
        "mapper": mapper,
        "mapping": mapping.to_yaml_list(order, problem.dimensions),
        "embedded": embedded.to_json_dict() if embedded is not None else None,
    }


def _with_macro(macro: Any) -> dict[str, Any] | None:
    """The library plus a macro that is not in it (a hypothetical macro of a sweep)."""
    if macro is None:
        return None
    from cim_plugin.library.loader import load_macro_library

    return {**load_macro_library(), macro.name: macro}


def _timeloop_model(processed: dict[str, Any], ert: Any, art: Any, mapping: Any,
                    workdir: Path | None) -> Any:
    """The mapping evaluated by the real timeloop-model on the point's processed input,
    with the library's ERT/ART embedded (no Accelergy needed). The backend applies the
    point's compute latency to Timeloop's counts, so the figures are the embedded
    model's rule on Timeloop's counts (cim_plugin.backends.latency)."""
    from cim_plugin.backends import timeloop as tl
    from cim_plugin.backends.yamlout import write_yaml

    if workdir is None:
        raise ValueError("the timeloop backend needs a working folder")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    doc = {k: v for k, v in processed.items() if k != "architecture_constraints"}
    doc.update(ert.to_yaml_dict())
    doc.update(art.to_yaml_dict())
    inp = workdir / "input.yaml"
    write_yaml(inp, doc)
    return tl.run_model([inp], mapping, workdir, drop_arch_constraints=True)


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


__all__ = ["PRESET_DESIGNS", "Point", "capped_jobs", "default_jobs", "evaluate_point",
           "run_points", "study_gemms", "study_points"]
