"""Accelergy outputs: `*.ERT.yaml`, `*.ART.yaml` and the `*_summary.yaml` files.

ERT/ART go through `cim_plugin.spec.ert` (max energy over argument variants, as
Timeloop uses). The summaries (Accelergy 0.4 `ERT_summary`/`ART_summary`) list per
table either `energy` or `average/max/min_energy` per action; we keep the maximum,
matching what Timeloop charges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.ert import ART, ERT, load_art, load_ert, table_key
from cim_plugin.spec.mapping import Mapping, load_mapping
from cim_plugin.spec.yamlio import load_yaml


def parse_ert(path: str | Path) -> ERT:
    return load_ert(path)


def parse_art(path: str | Path) -> ART:
    return load_art(path)


def parse_map_yaml(path: str | Path, dims: tuple[str, ...] | None = None) -> Mapping:
    """A `*.map.yaml` written by timeloop-mapper (also accepts a bare list)."""
    return load_mapping(path, dims=dims)


def _summary_body(path: str | Path, key: str) -> list[Any]:
    doc = load_yaml(path)
    body = doc.get(key, doc) if isinstance(doc, dict) else None
    tables = body.get("table_summary") if isinstance(body, dict) else None
    if not isinstance(tables, list):
        raise InputError(f"no {key}.table_summary list", file=str(path),
                         field=f"{key}.table_summary",
                         expected=f"{key}: {{version, table_summary: [{{name, ...}}]}}")
    return tables


def parse_ert_summary(path: str | Path) -> dict[str, dict[str, float]]:
    """`*.ERT_summary.yaml` -> {level base name: {action: pJ}} (max over variants)."""
    out: dict[str, dict[str, float]] = {}
    for i, t in enumerate(_summary_body(path, "ERT_summary")):
        if not isinstance(t, dict) or "name" not in t:
            raise InputError("table without a name", file=str(path),
                             field=f"ERT_summary.table_summary[{i}]")
        acts: dict[str, float] = {}
        for a in t.get("actions") or []:
            if not isinstance(a, dict) or "name" not in a:
                continue
            for key in ("max_energy", "energy", "average_energy"):
                if a.get(key) is not None:
                    acts[str(a["name"])] = float(a[key])
                    break
        out[table_key(t["name"])] = acts
    return out


def parse_art_summary(path: str | Path) -> dict[str, float]:
    """`*.ART_summary.yaml` -> {level base name: area um^2 per instance}."""
    out: dict[str, float] = {}
    for i, t in enumerate(_summary_body(path, "ART_summary")):
        try:
            out[table_key(t["name"])] = float(t["area"])
        except (KeyError, TypeError, ValueError):
            raise InputError("table needs a name and a numeric area", file=str(path),
                             field=f"ART_summary.table_summary[{i}]", expected="{name, area}") from None
    return out
