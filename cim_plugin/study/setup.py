"""A design point built: the design sized, its energy/area tables, the model engine and
the mapspace of its constraints (`setup_point`), and the JSON record of its evaluation
(`point_record`). Shared by the study's own points (`point.py`) and the original
pipeline's (`paper.py`), so neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cim_plugin.study.config import StudyConfig

PRESET_DESIGNS = ("cim_rf", "cim_smem")


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


def setup_point(point: Any, cfg: StudyConfig, mode: str, *, original: bool = False,
                paper_compat: bool = False, extra_targets: list[dict[str, Any]] | None = None,
                macro_obj: Any = None) -> PointSetup:
    """Build and size the design, generate its tables and the model engine, and the
    mapspace of the design's own constraints (plus `extra_targets`). `original`: the
    authors' priority algorithm; `paper_compat`: the WWW placeholder CiM area;
    `macro_obj`: a macro that is not in the library (macro sweeps)."""
    from cim_plugin.api import make_engine
    from cim_plugin.export.build import Sizing, build
    from cim_plugin.library.ert_gen import generate_tables
    from cim_plugin.library.loader import get_macro
    from cim_plugin.mapping.constraints import parse_constraints
    from cim_plugin.mapping.mapspace import MapSpace
    from cim_plugin.spec.problem import gemm_problem
    from cim_plugin.spec.v4 import flatten_v4_constraints

    macro = macro_obj if macro_obj is not None else get_macro(point.macro) if point.macro else None
    sizing = Sizing(mode=mode, banks=cfg.banks)
    b = build(point.design, macro, (point.m, point.n, point.k), sizing,
              duplicate=cfg.duplicate and not original, original=original)
    arch = b.architecture
    problem = gemm_problem(point.m, point.n, point.k)
    ert, art = generate_tables(arch, paper_compat=paper_compat, macros=_with_macro(macro_obj))
    engine, latency, _ = make_engine(arch, problem, ert, art)
    targets = flatten_v4_constraints(b.v4)["targets"] + list(extra_targets or [])
    space = MapSpace(arch, problem, parse_constraints(targets, arch, problem))
    return PointSetup(macro, b, problem, ert, art, latency, engine, space)


def point_record(point: Any, cfg: StudyConfig, ps: PointSetup, r: Any, mapping: Any,
                 mapper: dict[str, Any], mode: str, workdir: Path | None) -> dict[str, Any]:
    """The JSON-ready record of an evaluated point (`evaluate_point`: timeloop backend)."""
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
    from cim_plugin.io.yamlout import write_yaml

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
