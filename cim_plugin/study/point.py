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
from cim_plugin.study.setup import PRESET_DESIGNS, PointSetup, point_record, setup_point


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


def main_variant(cfg: StudyConfig) -> str:
    """The variant of the study's own points: the original pipeline under --paper-compat."""
    return "paper" if cfg.paper_compat else ""


def evaluate_point(point: Point, cfg: StudyConfig, workdir: Path | None = None,
                   macro_obj: Any = None) -> dict[str, Any]:
    """Build, map and evaluate one design point; returns a JSON-ready record.

    The mapping is the study's search preset for the design (`api.PRESETS`). With
    `cfg.backend == "timeloop"` the chosen mapping is evaluated by the real
    timeloop-model in `workdir` (processed-form input with the library's ERT/ART
    embedded, so Accelergy is not needed) and its parsed stats replace the embedded
    model's numbers; the embedded figures are kept under "embedded".
    """
    from cim_plugin.api import search_with_preset

    if point.variant == "paper":
        from cim_plugin.study.paper import evaluate_paper_point

        return evaluate_paper_point(point, cfg, workdir)
    mode = point.variant or cfg.sizing
    if mode == "preset" and point.design not in PRESET_DESIGNS:
        mode = "iso-area"          # the method has presets only for RF and SMEM placements
    ps = setup_point(point, cfg, mode, macro_obj=macro_obj)
    b = ps.built
    strategy = cfg.cim_strategy if ps.macro is not None else cfg.baseline_strategy
    sr = search_with_preset(strategy, ps.space, ps.engine,
                            design_mapping=b.mapping.mapping() if b.mapping else None,
                            mode=cfg.search, objective=cfg.objective)
    return point_record(point, cfg, ps, sr.result, sr.mapping, sr.mapper_json(), mode, workdir)


__all__ = ["PRESET_DESIGNS", "Point", "PointSetup", "evaluate_point", "main_variant",
           "point_record", "setup_point"]
