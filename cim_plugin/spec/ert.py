"""Accelergy ERT/ART tables.

Timeloop matches a table to an architecture level by the last dotted token of the
table name with `[..]` stripped, and uses the maximum energy over an action's
argument variants.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.limits import MAX_AREA_UM2, MAX_ENERGY_PJ
from cim_plugin.spec.values import show, to_real
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


def _table_name(t: Any, file: str | None, section: str, i: int) -> str:
    """The name of table `i` of `section` (ERT/ART); its path is worded only for an error."""
    if not isinstance(t, dict) or "name" not in t:
        raise InputError("table without a name", file=file, field=f"{section}.tables[{i}]",
                         expected="{name: system_top_level.LEVEL[1..n], ...}")
    name = t["name"]
    if not isinstance(name, str) or not name.strip() or not name.isprintable() or len(name) > 512:
        raise InputError(f"table name {show(name)} is not allowed", file=file,
                         field=f"{section}.tables[{i}].name",
                         expected="a component path such as system_top_level.RF[1..4]")
    return name


def _check_key(key: str, name: str, names: dict[str, str], file: str | None, section: str,
               i: int) -> None:
    if key in names:
        raise InputError(f"tables {names[key]!r} and {name!r} both describe level {key!r}",
                         file=file, field=f"{section}.tables[{i}].name",
                         expected="one table per architecture level")


def ert_from_dict(doc: dict[str, Any], file: str | None = None) -> ERT:
    """ERT from `{ERT: {tables: [{name, actions: [{name, arguments, energy}]}]}}`.

    Every energy must be a finite number from 0 to MAX_ENERGY_PJ pJ: a negative, NaN,
    infinite or absurd value is refused, naming the table, the action and the value.
    """
    body = doc.get("ERT", doc)
    if not isinstance(body, dict) or not isinstance(body.get("tables"), list):
        raise InputError("no ERT tables", file=file, field="ERT.tables",
                         expected="ERT: {version: '0.4', tables: [{name, actions}]}")

    def actions(t: dict[str, Any], i: int) -> Iterator[tuple[str, Any, Any]]:
        raw_actions = t.get("actions")
        if raw_actions is None:
            raw_actions = []
        if not isinstance(raw_actions, list):
            raise InputError("actions must be a list", file=file, field=f"ERT.tables[{i}].actions",
                             expected="[{name, arguments, energy}, ...]")
        for j, a in enumerate(raw_actions):
            if not isinstance(a, dict) or not isinstance(a.get("name"), str) or "energy" not in a:
                raise InputError("action needs a name and a numeric energy", file=file,
                                 field=f"ERT.tables[{i}].actions[{j}]",
                                 expected="{name, arguments, energy}")
            yield a["name"], a["energy"], a.get("arguments")

    # (lazily: each table's name, level and actions are checked in the file's order)
    return ert_from_rows(((_table_name(t, file, "ERT", i), actions(t, i))
                          for i, t in enumerate(body["tables"])), file)


def ert_from_rows(tables: Iterable[tuple[str, Iterable[tuple[str, Any, Any]]]],
                  file: str | None = None) -> ERT:
    """ERT from (full table name, [(action, energy, arguments)]) per table: what
    `ert_from_dict` reads from a file, or what `generate_tables` estimated (thousands of
    tables in a sweep, with no document to build and walk). One table per level, and
    every energy from 0 to MAX_ENERGY_PJ pJ, as in a file."""
    out: dict[str, dict[str, float]] = {}
    names: dict[str, str] = {}
    acts_of: dict[str, tuple[ERTAction, ...]] = {}
    for i, (name, rows) in enumerate(tables):
        key = table_key(name)
        _check_key(key, name, names, file, "ERT", i)
        names[key] = name
        acts: list[ERTAction] = []
        table: dict[str, float] = {}
        for j, (n, e, args) in enumerate(rows):
            # (the entry's path is worded only for an error: tables are made by the
            # thousand in a sweep)
            if not (type(e) is float and 0.0 <= e <= MAX_ENERGY_PJ):    # else: read strictly
                e = to_real(e, file=file, field=f"ERT.tables[{i}].actions[{j}].energy ({name} {n})",
                            minimum=0.0, maximum=MAX_ENERGY_PJ,
                            expected=f"an energy in pJ from 0 to {MAX_ENERGY_PJ:g}")
            if args is not None and not isinstance(args, dict):
                raise InputError("arguments must be a mapping", file=file,
                                 field=f"ERT.tables[{i}].actions[{j}].arguments",
                                 expected="{argument: value}")
            acts.append(ERTAction(n, e, dict(args or {})))
            table[n] = max(table.get(n, e), e)
        out[key] = table
        acts_of[key] = tuple(acts)
    return ERT(tables=out, full_names=names, actions=acts_of, source=file)


def art_from_dict(doc: dict[str, Any], file: str | None = None) -> ART:
    """ART from `{ART: {tables: [{name, area}]}}`; areas are finite, from 0 to
    MAX_AREA_UM2 um^2."""
    body = doc.get("ART", doc)
    if not isinstance(body, dict) or not isinstance(body.get("tables"), list):
        raise InputError("no ART tables", file=file, field="ART.tables",
                         expected="ART: {version: '0.4', tables: [{name, area}]}")

    def rows() -> Iterator[tuple[str, Any]]:
        for i, t in enumerate(body["tables"]):
            name = _table_name(t, file, "ART", i)
            if "area" not in t:
                raise InputError("table needs a name and a numeric area", file=file,
                                 field=f"ART.tables[{i}]", expected="{name, area}")
            yield name, t["area"]

    return art_from_rows(rows(), file)


def art_from_rows(tables: Iterable[tuple[str, Any]], file: str | None = None) -> ART:
    """ART from (full table name, area per instance) pairs (`art_from_dict`'s rows, or
    `generate_tables`' estimates): one table per level, areas from 0 to MAX_AREA_UM2."""
    areas: dict[str, float] = {}
    names: dict[str, str] = {}
    for i, (name, area) in enumerate(tables):
        key = table_key(name)
        _check_key(key, name, names, file, "ART", i)
        if not (type(area) is float and 0.0 <= area <= MAX_AREA_UM2):   # else: read strictly
            area = to_real(area, file=file, field=f"ART.tables[{i}].area ({name})", minimum=0.0,
                           maximum=MAX_AREA_UM2,
                           expected=f"an area in um^2 from 0 to {MAX_AREA_UM2:g}")
        areas[key] = area
        names[key] = name
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


def given_tables(doc: dict[str, Any], *, ert: str | Path | None = None,
                 art: str | Path | None = None, ert_file: str | None = None,
                 art_file: str | None = None) -> tuple[ERT | None, ART | None]:
    """The energy and area tables a user gave: a named file first, else the `ERT`/`ART`
    key of the inputs (`ert_file`/`art_file`: the file each key came from); None for a
    table given neither way (callers decide what follows: the component library, or an
    error)."""
    energies = load_ert(ert) if ert else (
        ert_from_dict(doc, ert_file) if doc.get("ERT") is not None else None)
    areas = load_art(art) if art else (
        art_from_dict(doc, art_file) if doc.get("ART") is not None else None)
    return energies, areas
