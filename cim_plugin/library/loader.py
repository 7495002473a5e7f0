"""Load and validate the CiM macro library (shipped YAML plus the user's own files).

The shipped library is `components/cim_macros.yaml`. Users add macros (or
override shipped ones by name) with their own YAML files of the same format,
passed as `extra` (CLI `--library`) or listed in the `CIM_PLUGIN_LIBRARY`
environment variable (paths separated by the OS path separator).

Every entry is checked on load, naming the file and the macro: names are identifiers
(they end up in generated YAML and Accelergy class attributes), energies per MAC and
areas are positive and finite, and no figure is absurdly large.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.library import scaling
from cim_plugin.library.macro import Macro, Provenance
from cim_plugin.library.units import BASE_UNIT, parse_quantity
from cim_plugin.resources import data_file
from cim_plugin.spec.limits import MAX_AREA_UM2, MAX_ENERGY_PJ
from cim_plugin.spec.names import check_identifier
from cim_plugin.spec.yamlio import load_yaml

ENV_VAR = "CIM_PLUGIN_LIBRARY"
MACRO_FILE = "cim_macros.yaml"

_INT_FIELDS = ("Rp", "Cp", "Rh", "Ch", "capacity_bytes")
_REQUIRED = (*_INT_FIELDS, "latency_cycles", "energy_per_mac", "write_energy", "node")
# fields whose numbers must be listed under some provenance entry
_SOURCED = (*_INT_FIELDS, "latency_cycles", "clock_GHz", "energy_per_mac", "write_energy",
            "area_um2", "area_factor", "voltage", "precision_bits", "input_bits")
_DEFAULT_WRITE_PER_BIT_45NM = 0.30625  # pJ; overridden by the file's write_energy_rule
MAX_LATENCY_CYCLES = 1e9                # cycles of one macro operation
MAX_CLOCK_GHZ = 1e3


def builtin_library_path() -> Path:
    return data_file("components", MACRO_FILE)


def library_paths(extra: list[str | Path] | None = None, *,
                  builtin: Path | None = None) -> list[Path]:
    """Shipped library file (`builtin`, default the macros), then the env var's files,
    then `extra` (later files override); the macros and the baseline tables are both
    read from this list."""
    paths = [builtin or builtin_library_path()]
    env = os.environ.get(ENV_VAR, "")
    paths += [Path(p) for p in env.split(os.pathsep) if p.strip()]
    paths += [Path(p) for p in (extra or [])]
    return paths


def _quantity(value: Any, kind: str, file: str, field: str, *, positive: bool = False,
              maximum: float | None = None) -> float:
    """`parse_quantity` with ASCII digits only, optionally > 0 and bounded above."""
    if isinstance(value, str) and not value.isascii():
        raise InputError(f"{value!r} has non-ASCII characters", file=file, field=field,
                         expected=f"a number in {BASE_UNIT[kind]} written with ASCII digits")
    v = parse_quantity(value, kind, file=file, field=field)
    if (positive and v <= 0) or (maximum is not None and v > maximum):
        raise InputError(f"{value!r} is out of range", file=file, field=field,
                         expected=f"{kind} > 0" + (f" and at most {maximum:g} {BASE_UNIT[kind]}"
                                                  if maximum is not None else ""))
    return v


def _int(entry: dict[str, Any], key: str, file: str, where: str) -> int:
    v = entry.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or v <= 0:
        raise InputError(f"{key} must be a positive integer, got {v!r}", file=file,
                         field=f"{where}.{key}", expected="a positive integer")
    return int(v)


def _estimated_write_pJ(node: float, vdd: float | None, bits: int, per_bit_45: float,
                        file: str, where: str) -> float:
    try:
        per_bit = scaling.scale_energy(per_bit_45, scaling.Corner(45.0, 1.0),
                                       scaling.Corner(node, vdd))
    except InputError as exc:
        raise InputError(exc.detail, file=file, field=f"{where}.write_energy",
                         expected=exc.expected) from None
    return per_bit * bits


def macro_from_entry(entry: Any, file: str, index: int, write_rule_pJ_per_bit: float) -> Macro:
    """One library entry -> Macro; every problem names the file and the entry."""
    if not isinstance(entry, dict):
        raise InputError("macro entry must be a mapping", file=file, field=f"macros[{index}]",
                         expected="{name, Rp, Cp, Rh, Ch, capacity_bytes, ...}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError("macro entry without a name", file=file, field=f"macros[{index}].name",
                         expected="a non-empty string")
    check_identifier(name, file=file, field=f"macros[{index}].name", what="macro name")
    where = f"macros[{name}]"
    for key in _REQUIRED:
        if entry.get(key) is None:
            raise InputError(f"missing field {key!r}", file=file, field=f"{where}.{key}",
                             expected="see the field list at the top of cim_macros.yaml")
    ints = {k: _int(entry, k, file, where) for k in _INT_FIELDS}
    node = scaling.parse_node(entry["node"], file=file, field=f"{where}.node")
    vdd = None
    if entry.get("voltage") is not None:
        vdd = parse_quantity(entry["voltage"], "voltage", file=file, field=f"{where}.voltage")
    device = str(entry.get("device", "HP"))
    try:  # the macro must be movable to the common 45 nm node
        scaling.energy_factor(node, vdd, device)
        scaling.area_factor(node)
    except InputError as exc:
        raise InputError(exc.detail, file=file, field=f"{where}.node",
                         expected=exc.expected) from None
    latency = _quantity(entry["latency_cycles"], "time", file, f"{where}.latency_cycles",
                        maximum=MAX_LATENCY_CYCLES)
    clock = _quantity(entry.get("clock_GHz", 1.0), "frequency", file, f"{where}.clock_GHz",
                      maximum=MAX_CLOCK_GHZ)
    if latency <= 0 or clock <= 0:
        raise InputError("latency and clock must be positive", file=file,
                         field=f"{where}.latency_cycles", expected="> 0")
    bits = _int({"b": entry.get("precision_bits", 8)}, "b", file, f"{where}.precision_bits")
    in_bits = _int({"b": entry.get("input_bits", bits)}, "b", file, f"{where}.input_bits")
    e_mac = _quantity(entry["energy_per_mac"], "energy", file, f"{where}.energy_per_mac",
                      positive=True, maximum=MAX_ENERGY_PJ)
    write_raw = entry["write_energy"]
    write_estimated = isinstance(write_raw, str) and write_raw.strip().lower() == "estimate"
    if write_estimated:
        write = _estimated_write_pJ(node, vdd, bits, write_rule_pJ_per_bit, file, where)
    else:
        write = _quantity(write_raw, "energy", file, f"{where}.write_energy",
                          maximum=MAX_ENERGY_PJ)
    area = area_f = None
    if entry.get("area_um2") is not None:
        area = _quantity(entry["area_um2"], "area", file, f"{where}.area_um2", positive=True,
                         maximum=MAX_AREA_UM2)
    if entry.get("area_factor") is not None:
        area_f = _quantity(entry["area_factor"], "ratio", file, f"{where}.area_factor",
                           positive=True, maximum=1e6)
    if area is None and area_f is None:
        raise InputError("no area", file=file, field=f"{where}.area_um2",
                         expected="area_um2 and/or area_factor")
    if ints["Rp"] * ints["Cp"] * ints["Rh"] * ints["Ch"] * bits > ints["capacity_bytes"] * 8:
        raise InputError(
            f"Rp*Cp*Rh*Ch weights of {bits} b exceed capacity_bytes={ints['capacity_bytes']}",
            file=file, field=f"{where}.capacity_bytes",
            expected="Rp*Cp*Rh*Ch*precision_bits <= 8*capacity_bytes")
    provenance = _provenance(entry, file, where, write_estimated)
    published = entry.get("published") or {}
    if not isinstance(published, dict):
        raise InputError("published must be a mapping", file=file, field=f"{where}.published")
    for k, v in published.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < 1e300:
            raise InputError(f"published figure {k} must be a positive number", file=file,
                             field=f"{where}.published.{k}")
    return Macro(
        name=name, rp=ints["Rp"], cp=ints["Cp"], rh=ints["Rh"], ch=ints["Ch"],
        capacity_bytes=ints["capacity_bytes"], latency_cycles=latency,
        energy_per_mac_pJ=e_mac, write_energy_pJ=write, area_um2=area, area_factor=area_f,
        node_nm=node, voltage_V=vdd, precision_bits=bits, clock_GHz=clock,
        analog=bool(entry.get("analog", False)), cell=str(entry.get("cell", "")),
        provenance=provenance,
        extra={"title": str(entry.get("title", "")), "input_bits": in_bits, "device": device,
               "published": dict(published), "write_estimated": write_estimated,
               "file": file},
    )


def _provenance(entry: dict[str, Any], file: str, where: str,
                write_estimated: bool) -> tuple[Provenance, ...]:
    items = entry.get("provenance")
    if not isinstance(items, list) or not items:
        raise InputError("no provenance", file=file, field=f"{where}.provenance",
                         expected="a list of {fields, paper, where, kind, how}")
    covered: set[str] = set()
    out = []
    for i, p in enumerate(items):
        if not isinstance(p, dict) or not p.get("paper"):
            raise InputError("provenance item needs a paper", file=file,
                             field=f"{where}.provenance[{i}]", expected="{fields, paper, ...}")
        kind = str(p.get("kind", "measured"))
        if kind not in ("measured", "derived", "scaled"):
            raise InputError(f"unknown provenance kind {kind!r}", file=file,
                             field=f"{where}.provenance[{i}].kind",
                             expected="measured, derived or scaled")
        fields = [str(f) for f in (p.get("fields") or [])]
        covered.update(fields)
        text = "; ".join(t for t in (", ".join(fields), str(p.get("where", ""))) if t)
        out.append(Provenance(paper=str(p["paper"]), where=text,
                              kind=kind, how=str(p.get("how", ""))))
    if write_estimated:
        covered.add("write_energy")
        out.append(Provenance(paper="cim_macros.yaml write_energy_rule", where="write_energy",
                              kind="derived",
                              how="mean per-bit write of the WWW primitives at 45 nm, scaled "
                                  "to this node/voltage (Stillmaker & Baas 2017) x precision"))
    present = [k for k in _SOURCED if entry.get(k) is not None]
    present += [f"published.{k}" for k in (entry.get("published") or {})]
    missing = [k for k in present if k not in covered]
    if missing:
        raise InputError(f"figures without a source: {', '.join(missing)}", file=file,
                         field=f"{where}.provenance",
                         expected="every numeric field listed under a provenance item's fields")
    return tuple(out)


def library_section(path: str | Path, key: str) -> tuple[dict[str, Any], list[Any]]:
    """A library YAML file and its `key:` list (`macros` or `tables`), validated."""
    file = str(path)
    _check_library_path(Path(path))
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise InputError("not a library file", file=file, expected=f"{{{key}: [...]}}")
    entries = doc.get(key) or []
    if not isinstance(entries, list):
        raise InputError(f"{key} must be a list", file=file, field=key)
    return doc, entries


def load_macro_file(path: str | Path) -> dict[str, Macro]:
    """Macros of one library file, in file order."""
    file = str(path)
    doc, entries = library_section(path, "macros")
    rule = _DEFAULT_WRITE_PER_BIT_45NM
    if isinstance(doc.get("write_energy_rule"), dict) and "per_bit_45nm" in doc["write_energy_rule"]:
        rule = parse_quantity(doc["write_energy_rule"]["per_bit_45nm"], "energy", file=file,
                              field="write_energy_rule.per_bit_45nm")
    out: dict[str, Macro] = {}
    for i, entry in enumerate(entries):
        m = macro_from_entry(entry, file, i, rule)
        if m.name in out:
            raise InputError(f"macro {m.name!r} defined twice", file=file,
                             field=f"macros[{m.name}]", expected="unique names in one file")
        out[m.name] = m
    return out


_CACHE: dict[tuple[str, ...], dict[str, Macro]] = {}


def load_macro_library(extra: list[str | Path] | None = None) -> dict[str, Macro]:
    """All macros by name: shipped library, `$CIM_PLUGIN_LIBRARY` files, then `extra`."""
    paths = library_paths(extra)
    key = tuple(str(p) for p in paths)
    if key not in _CACHE:
        merged: dict[str, Macro] = {}
        for p in paths:
            doc_macros = load_macro_file(p) if _has_macros(p) else {}
            merged.update(doc_macros)
        _CACHE[key] = merged
    return dict(_CACHE[key])


def _check_library_path(path: Path) -> None:
    """A library is a YAML file; say what is wrong with anything else."""
    expected = "a YAML file with `macros:` and/or `tables:`"
    if path.is_dir():
        raise InputError("is a folder, not a library file", file=str(path),
                         field=f"--library or ${ENV_VAR}", expected=expected)
    if not path.exists():
        raise InputError("library file not found", file=str(path),
                         field=f"--library or ${ENV_VAR}", expected=expected)
    if not path.is_file():
        raise InputError("not a regular file", file=str(path),
                         field=f"--library or ${ENV_VAR}", expected=expected)


def _has_macros(path: Path) -> bool:
    """A user file may hold only baseline tables; it then adds no macros."""
    _check_library_path(path)
    doc = load_yaml(path)
    if not isinstance(doc, dict) or not ({"macros", "tables"} & set(doc)):
        raise InputError("not a library file: no `macros:` or `tables:`", file=str(path),
                         expected="a YAML file with `macros:` and/or `tables:`")
    return "macros" in doc


def clear_cache() -> None:
    _CACHE.clear()


def get_macro(name: str, extra: list[str | Path] | None = None) -> Macro:
    """One macro by name; an unknown name lists the known ones."""
    lib = load_macro_library(extra)
    if name not in lib:
        raise InputError(f"unknown CiM macro {name!r}", field="macro",
                         expected="one of " + ", ".join(sorted(lib)))
    return lib[name]
