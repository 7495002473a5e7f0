"""Accelergy ERT/ART tables.

Timeloop matches a table to an architecture level by the last dotted token of the
table name with `[..]` stripped, and uses the maximum energy over an action's
argument variants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.yamlio import load_yaml


def table_key(name: str) -> str:
    """`system_top_level.RF[1..4]` -> `RF`."""
    base = str(name).split("[")[0]
    return base.split(".")[-1]


@dataclass(frozen=True)
class ERTAction:
    name: str
    energy: float                       # pJ per access of the component's full width
    arguments: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class ERT:
    """Energy per action (pJ), by level base name."""

    tables: dict[str, dict[str, float]]          # level -> action -> max energy
    full_names: dict[str, str] = field(default_factory=dict)
    actions: dict[str, tuple[ERTAction, ...]] = field(default_factory=dict, compare=False)
    source: str | None = None

    def energy(self, level: str, *candidates: str) -> float | None:
        """First action in `candidates` the level's table has (Timeloop's priority lists)."""
        table = self.tables.get(level)
        if table is None:
            return None
        for c in candidates:
            if c in table:
                return table[c]
        return None

    def to_yaml_dict(self) -> dict[str, Any]:
        tables = []
        for level, acts in self.actions.items():
            tables.append({
                "name": self.full_names.get(level, level),
                "actions": [{"name": a.name, "arguments": dict(a.arguments), "energy": a.energy}
                            for a in acts],
            })
        return {"ERT": {"version": "0.4", "tables": tables}}


@dataclass(frozen=True)
class ART:
    """Area per instance (um^2), by level base name."""

    areas: dict[str, float]
    full_names: dict[str, str] = field(default_factory=dict)
    source: str | None = None

    def to_yaml_dict(self) -> dict[str, Any]:
        return {"ART": {"version": "0.4", "tables": [
            {"name": self.full_names.get(k, k), "area": v} for k, v in self.areas.items()]}}


def ert_from_dict(doc: dict[str, Any], file: str | None = None) -> ERT:
    body = doc.get("ERT", doc)
    if not isinstance(body, dict) or not isinstance(body.get("tables"), list):
        raise InputError("no ERT tables", file=file, field="ERT.tables",
                         expected="ERT: {version: '0.4', tables: [{name, actions}]}")
    tables: dict[str, dict[str, float]] = {}
    names: dict[str, str] = {}
    actions: dict[str, tuple[ERTAction, ...]] = {}
    for i, t in enumerate(body["tables"]):
        if not isinstance(t, dict) or "name" not in t:
            raise InputError("table without a name", file=file, field=f"ERT.tables[{i}]")
        key = table_key(t["name"])
        names[key] = str(t["name"])
        acts: list[ERTAction] = []
        table: dict[str, float] = {}
        for j, a in enumerate(t.get("actions") or []):
            try:
                e = float(a["energy"])
                n = str(a["name"])
            except (KeyError, TypeError, ValueError):
                raise InputError("action needs a name and a numeric energy", file=file,
                                 field=f"ERT.tables[{i}].actions[{j}]",
                                 expected="{name, arguments, energy}") from None
            acts.append(ERTAction(n, e, dict(a.get("arguments") or {})))
            table[n] = max(table.get(n, e), e)
        tables[key] = table
        actions[key] = tuple(acts)
    return ERT(tables=tables, full_names=names, actions=actions, source=file)


def art_from_dict(doc: dict[str, Any], file: str | None = None) -> ART:
    body = doc.get("ART", doc)
    if not isinstance(body, dict) or not isinstance(body.get("tables"), list):
        raise InputError("no ART tables", file=file, field="ART.tables",
                         expected="ART: {version: '0.4', tables: [{name, area}]}")
    areas: dict[str, float] = {}
    names: dict[str, str] = {}
    for i, t in enumerate(body["tables"]):
        try:
            key = table_key(t["name"])
            areas[key] = float(t["area"])
            names[key] = str(t["name"])
        except (KeyError, TypeError, ValueError):
            raise InputError("table needs a name and a numeric area", file=file,
                             field=f"ART.tables[{i}]", expected="{name, area}") from None
    return ART(areas=areas, full_names=names, source=file)


def load_ert(path: str | Path) -> ERT:
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise InputError("not an ERT file", file=str(path), expected="ERT: {tables: [...]}")
    return ert_from_dict(doc, str(path))


def load_art(path: str | Path) -> ART:
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise InputError("not an ART file", file=str(path), expected="ART: {tables: [...]}")
    return art_from_dict(doc, str(path))
