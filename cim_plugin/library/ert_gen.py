"""ERT/ART generation for every component of an architecture from the library.

Output follows Accelergy's ERT/ART format: full table names
(`<top>.<component name>`), one row per action with its arguments, energies in pJ
and areas in um^2 per instance. Dummy `inter_*_spatial` levels get an area and no
energy table, as Accelergy reports them. Every figure comes from
`tables.estimate_component`, the code the Accelergy plug-in runs for the compound
components of `components/`, so Accelergy's ERT/ART equal these.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cim_plugin.library.loader import load_macro_library
from cim_plugin.library.macro import Macro
from cim_plugin.library.tables import (
    BaselineTables,
    Estimate,
    estimate_component,
    load_baseline_tables,
)
from cim_plugin.spec.arch import Architecture
from cim_plugin.spec.ert import ART, ERT, art_from_rows, ert_from_rows

DEFAULT_TOP = "system_top_level"


def generate_tables(arch: Architecture, *, extra: list[str | Path] | None = None,
                    macros: dict[str, Macro] | None = None,
                    tables: BaselineTables | None = None,
                    top_name: str = DEFAULT_TOP, paper_compat: bool = False,
                    estimate: Callable[..., Estimate | None] = estimate_component
                    ) -> tuple[ERT, ART]:
    """ERT and ART of `arch` (component library + baseline tables; `extra` user files).

    `paper_compat`: CiM components get the WWW placeholder area instead of the macro's.
    `estimate`: `estimate_component` or a caller's stand-in giving the same estimates
    (a sweep keeps those of the components that do not change between its designs).
    """
    macros = macros if macros is not None else load_macro_library(extra)
    tables = tables or load_baseline_tables(extra)
    ert_rows: list[tuple[str, list[tuple[str, float, dict[str, Any]]]]] = []
    art_rows: list[tuple[str, float]] = []
    for comp in arch.components:
        est = estimate(comp, macros, tables, paper_compat=paper_compat)
        if est is None:
            continue
        full = f"{top_name}.{comp.name}"
        if est.actions:
            ert_rows.append((full, [(a, round(e, 9), args) for a, e, args in est.actions]))
        art_rows.append((full, round(est.area_um2, 6)))
    # (the tables' own readers check them, without a document to build and walk)
    ert = ert_from_rows(ert_rows, "<generated>")
    art = art_from_rows(art_rows, "<generated>")
    return ert, art
