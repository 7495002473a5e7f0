"""One design point of a study: what it is, its cache key, and its evaluation (build the
design, map it with the study's search preset through `cim_plugin.api`, evaluate it).

Apart from the runner (`runner.py`) and the Dask worker side (`remote.py`), which both
evaluate points, so neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cim_plugin.study.cache import fingerprint, point_key
from cim_plugin.study.config import StudyConfig

PRESET_DESIGNS = ("cim_rf", "cim_smem")


@dataclass(frozen=True)
class Point:
    design: str
    macro: str | None
    m: int
    n: int
    k: int

    def key(self, cfg: StudyConfig, fingerprint_hex: str | None = None) -> str:
        """Cache key: the point, the configuration that reaches its evaluation, and the
        fingerprint of code, data and library files (`cim_plugin.study.cache`)."""
        fp = fingerprint_hex if fingerprint_hex is not None else fingerprint(cfg.backend)
        return point_key(self.__dict__, cfg.key_dict(), fp)


def evaluate_point(point: Point, cfg: StudyConfig, workdir: Path | None = None,
                   macro_obj: Any = None) -> dict[str, Any]:
    """Build, map and evaluate one design point; returns a JSON-ready record.

    With `cfg.backend == "timeloop"` the chosen mapping is evaluated by the real
    timeloop-model in `workdir` (processed-form input with the library's ERT/ART
    embedded, so Accelergy is not needed) and its parsed stats replace the embedded
    model's numbers; the embedded figures are kept under "embedded".
    """
    from cim_plugin.api import map_with_preset
    from cim_plugin.export.build import Sizing, build
    from cim_plugin.library.ert_gen import generate_tables
    from cim_plugin.library.loader import get_macro
    from cim_plugin.spec.problem import gemm_problem
    from cim_plugin.spec.v4 import flatten_v4_constraints

    macro = macro_obj if macro_obj is not None else get_macro(point.macro) if point.macro else None
    mode = cfg.sizing
    if mode == "preset" and point.design not in PRESET_DESIGNS:
        mode = "iso-area"          # the method has presets only for RF and SMEM placements
    sizing = Sizing(mode=mode, banks=cfg.banks)
    b = build(point.design, macro, (point.m, point.n, point.k), sizing, duplicate=cfg.duplicate)
    arch = b.architecture
    problem = gemm_problem(point.m, point.n, point.k)
    ert, art = generate_tables(arch, paper_compat=cfg.paper_compat,
                               macros=_with_macro(macro_obj))
    strategy = cfg.cim_strategy if macro is not None else cfg.baseline_strategy
    mapped = map_with_preset(strategy, arch, problem, ert, art,
                             design_mapping=b.mapping.mapping() if b.mapping else None,
                             mode=cfg.search, targets=flatten_v4_constraints(b.v4)["targets"],
                             objective=cfg.objective)
    sr, latency = mapped.search, mapped.latency
    r = sr.result
    embedded = None
    if cfg.backend == "timeloop":
        r, embedded = _timeloop_model(b.processed, ert, art, sr.mapping, workdir), r
    n_macros = b.params.banks_x * b.params.banks_y if macro is not None else 0
    order = [s.base_name for s in arch.storage_inner_first]
    return {
        "point": point.__dict__,
        "sizing": mode if macro is not None else "-",
        "macros": n_macros,
        "banks": [b.params.banks_x, b.params.banks_y] if macro is not None else None,
        "latency_cycles": latency,
        "result": r.to_json_dict(),
        "mapper": sr.mapper_json(),
        "mapping": sr.mapping.to_yaml_list(order, problem.dimensions),
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
