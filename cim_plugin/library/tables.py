"""Baseline energy/area tables and the per-component estimates built from them.

Baseline components (DRAM, SRAM/RF buffers, integer MACs) come from recorded
Accelergy estimates (`components/baseline_45nm.yaml`), scaled by a stated rule
for sizes and nodes not in the table. CiM components (`custom_storage`,
`cimmac_unit`) come from the macro library.

`estimate_component` is the one place every energy and area of a component is
decided: `cim-plugin ert`, the embedded model, iso-area sizing and the Accelergy
plug-in (which serves the leaves of `components/cim_components.yaml`) all call it,
so Accelergy and cim_plugin cannot disagree.

CiM area: by default the real macro area (the CiM storage holds its share of the
macro, the CiM unit and the zero-cost buffers 0). The WWW reference runs used a
placeholder of 1 um^2 per CiM instance; `paper_compat=True` (CLI `--paper-compat`)
or the component attribute `cim_area: placeholder` reproduces it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.library import scaling
from cim_plugin.library.loader import ENV_VAR, library_paths, library_section, load_macro_library
from cim_plugin.library.macro import Macro
from cim_plugin.library.units import parse_quantity
from cim_plugin.resources import data_file
from cim_plugin.spec.arch import Component, as_number

BASELINE_FILE = "baseline_45nm.yaml"
SRAM_DEPTH_EXPONENT = 0.78   # energy ~ depth^(1.56/2), CACTI-derived (see baseline_45nm.yaml)
SCALING_RULES = ("sram", "dram", "mac")
CIM_STORAGE_CLASSES = ("custom_storage",)
CIM_UNIT_CLASSES = ("cimmac_unit",)
ZERO_TYPE = "zero"
CIM_AREA_ATTRIBUTE = "cim_area"
CIM_AREA_MODELS = ("macro", "placeholder")   # real macro area | WWW's 1 um^2 per instance


@dataclass(frozen=True)
class TableEntry:
    cls: str
    scaling: str
    match: dict[str, Any]
    actions: tuple[tuple[str, float], ...]
    area_um2: float
    technology_nm: float
    source: str
    kind: str
    file: str
    where: str = ""                 # the row in its file, e.g. "tables[3]"


@dataclass(frozen=True)
class BaselineTables:
    entries: tuple[TableEntry, ...]
    dummy_area_um2: float = 1.0
    cim_type_area_um2: float = 1.0

    def of_class(self, cls: str) -> list[TableEntry]:
        """The rows of one class (case-insensitive), in file order."""
        return list(self._by_class.get(cls.lower(), ()))

    @functools.cached_property
    def _by_class(self) -> dict[str, tuple[TableEntry, ...]]:
        # indexed once: a sweep estimates thousands of components against these tables
        out: dict[str, list[TableEntry]] = {}
        for e in self.entries:
            out.setdefault(e.cls.lower(), []).append(e)
        return {k: tuple(v) for k, v in out.items()}


@dataclass(frozen=True)
class Estimate:
    """What Accelergy would report for one component: actions (pJ) and area per instance."""

    actions: tuple[tuple[str, float, dict[str, Any]], ...]   # (name, energy pJ, arguments)
    area_um2: float
    source: str = ""
    notes: tuple[str, ...] = field(default=(), compare=False)


# ------------------------------------------------------------------ loading

def _table_paths(extra: list[str | Path] | None) -> list[Path]:
    return library_paths(extra, builtin=data_file("components", BASELINE_FILE))


def _entries_of(path: Path) -> tuple[list[TableEntry], dict[str, Any]]:
    file = str(path)
    doc, rows = library_section(path, "tables")
    tech = scaling.parse_node(doc.get("technology", "45nm"), file=file, field="technology")
    out = []
    for i, row in enumerate(rows):
        where = f"tables[{i}]"
        if not isinstance(row, dict) or not row.get("class"):
            raise InputError("table row needs a class", file=file, field=where,
                             expected="{class, scaling, match, actions, area_um2, source}")
        rule = str(row.get("scaling", ""))
        if rule not in SCALING_RULES:
            raise InputError(f"unknown scaling rule {rule!r}", file=file, field=f"{where}.scaling",
                             expected=" | ".join(SCALING_RULES))
        acts = row.get("actions")
        if not isinstance(acts, dict) or not acts:
            raise InputError("no actions", file=file, field=f"{where}.actions",
                             expected="{action: energy pJ}")
        actions = tuple((str(k), parse_quantity(v, "energy", file=file,
                                                field=f"{where}.actions.{k}"))
                        for k, v in acts.items())
        if "area_um2" not in row:
            raise InputError("missing area_um2", file=file, field=f"{where}.area_um2")
        if not row.get("source"):
            raise InputError("table row without a source", file=file, field=f"{where}.source",
                             expected="where the figures come from")
        row_tech = scaling.parse_node(row.get("technology", tech), file=file,
                                      field=f"{where}.technology")
        match = row.get("match") or {}
        if not isinstance(match, dict):
            raise InputError("match must be a mapping", file=file, field=f"{where}.match",
                             expected="{attribute: value} of the component the row describes")
        if _size(match, rule, str(row["class"]), file=file, where=f"{where}.match") <= 0:
            raise InputError("the row's size is 0", file=file, field=f"{where}.match",
                             expected=f"positive size attributes for the {rule} rule")
        out.append(TableEntry(
            cls=str(row["class"]), scaling=rule, match=dict(match),
            actions=actions,
            area_um2=parse_quantity(row["area_um2"], "area", file=file, field=f"{where}.area_um2"),
            technology_nm=row_tech, source=str(row["source"]), kind=str(row.get("kind", "measured")),
            file=file, where=where))
    return out, doc


def load_baseline_tables(extra: list[str | Path] | None = None) -> BaselineTables:
    """Shipped tables plus the user's; user rows come first so they win exact matches."""
    entries: list[TableEntry] = []
    dummy = cim_area = 1.0
    for i, path in enumerate(_table_paths(extra)):
        rows, doc = _entries_of(path)
        entries = rows + entries
        if i == 0:
            dummy = parse_quantity(doc.get("dummy_area_um2", 1.0), "area", file=str(path),
                                   field="dummy_area_um2")
            cim_area = parse_quantity(doc.get("cim_type_area_um2", 1.0), "area", file=str(path),
                                      field="cim_type_area_um2")
    return BaselineTables(tuple(entries), dummy_area_um2=dummy, cim_type_area_um2=cim_area)


# ------------------------------------------------------------------ helpers

def _num(attrs: dict[str, Any], key: str, comp: str, default: float | None = None, *,
         file: str | None = None, where: str | None = None) -> float:
    """A numeric attribute of a component (`architecture.<comp>.attributes.<key>`) or, with
    `where`, of a table row's `match` in library `file`. A component's file is added by
    the command that read the architecture (`commands.model.blame`)."""
    parent = where or f"architecture.{comp}.attributes"
    v = as_number(attrs.get(key), where=f"{parent}.{key}", file=file)
    if v is None:
        if default is None:
            raise InputError(f"missing attribute {key!r}", file=file, field=parent,
                             expected=f"{key}: <number>")
        return default
    return float(v)


def _technology(comp: Component) -> float:
    return scaling.parse_node(comp.attributes.get("technology", "45nm"),
                              field=f"architecture.{comp.name}.attributes.technology")


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a).strip().lower() == str(b).strip().lower()


def _sram_dims(attrs: dict[str, Any], name: str, *, file: str | None = None,
               where: str | None = None) -> tuple[float, float, float, float]:
    w = _num(attrs, "width", name, file=file, where=where)
    d = _num(attrs, "depth", name, file=file, where=where)
    mw = _num(attrs, "metadata_storage_width", name, 0.0, file=file, where=where)
    md = _num(attrs, "metadata_storage_depth", name, 0.0, file=file, where=where)
    return w, d, mw, md


def _size(entry_or_attrs: dict[str, Any], rule: str, name: str, *, file: str | None = None,
          where: str | None = None) -> float:
    if rule == "sram":
        w, d, mw, md = _sram_dims(entry_or_attrs, name, file=file, where=where)
        return w * d + mw * md
    if rule == "dram":
        return _num(entry_or_attrs, "width", name, file=file, where=where)
    return _num(entry_or_attrs, "multiplier_width", name, file=file, where=where)


def _row_size(e: TableEntry) -> float:
    """Size of a table row's `match` under its rule (errors name the library file)."""
    return _size(e.match, e.scaling, e.cls, file=e.file, where=f"{e.where}.match")


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return 0.0 if a == 0 else math.inf
    return a / b


def _scale_entry(entry: TableEntry, attrs: dict[str, Any], name: str) -> tuple[dict[str, float], float]:
    """Energies and area of `entry` moved to the component's size (rule of the entry)."""
    energies = dict(entry.actions)
    area = entry.area_um2
    if entry.scaling == "sram":
        w, d, mw, md = _sram_dims(attrs, name)
        w0, d0, mw0, md0 = _sram_dims(entry.match, entry.cls, file=entry.file,
                                      where=f"{entry.where}.match")
        data = _ratio(w, w0) * _ratio(d, d0) ** SRAM_DEPTH_EXPONENT
        if mw0 and md0:
            meta = _ratio(mw, mw0) * _ratio(md, md0) ** SRAM_DEPTH_EXPONENT
        else:
            meta = 0.0
        bits = _ratio(w * d + mw * md, w0 * d0 + mw0 * md0)
        out = {}
        for act, e in energies.items():
            if act.startswith("metadata_"):
                out[act] = e * meta
            elif act == "leak":
                out[act] = e * bits
            elif act in ("compression_count", "decompression_count"):
                out[act] = e
            else:
                out[act] = e * data
        return out, area * bits
    if entry.scaling == "dram":
        k = _ratio(_num(attrs, "width", name), _num(entry.match, "width", entry.cls,
                                                    file=entry.file, where=f"{entry.where}.match"))
        return {a: e * k for a, e in energies.items()}, area * k
    k = _ratio(_num(attrs, "multiplier_width", name),
               _num(entry.match, "multiplier_width", entry.cls, file=entry.file,
                    where=f"{entry.where}.match")) ** 2
    return {a: e * k for a, e in energies.items()}, area * k


def _baseline_estimate(comp: Component, tables: BaselineTables) -> Estimate:
    cls = comp.estimator_class
    candidates = tables.of_class(cls)
    if not candidates:
        known = sorted({e.cls for e in tables.entries} | set(CIM_STORAGE_CLASSES)
                       | set(CIM_UNIT_CLASSES) | {"dummy_storage"})
        raise InputError(f"no energy/area table for class {cls!r}",
                         field=f"architecture.{comp.name}.class",
                         expected="one of " + ", ".join(known)
                                  + " (or add rows with --library / $" + ENV_VAR + ")")
    rule = candidates[0].scaling
    attrs = comp.attributes
    if rule == "dram":
        dtype = str(attrs.get("type", "LPDDR4"))
        typed = [e for e in candidates if _same(e.match.get("type"), dtype)]
        if not typed:
            raise InputError(f"no DRAM table for type {dtype!r}",
                             field=f"architecture.{comp.name}.attributes.type",
                             expected="one of " + ", ".join(sorted({str(e.match.get('type'))
                                                                    for e in candidates})))
        candidates = typed
    tech = _technology(comp)
    exact = [e for e in candidates
             if e.technology_nm == tech
             and all(_same(attrs.get(k), v) for k, v in e.match.items())]
    notes: list[str] = []
    if exact:
        entry = exact[0]
        energies, area = dict(entry.actions), entry.area_um2
    else:
        size = _size(attrs, rule, comp.name)

        def distance(e: TableEntry) -> tuple[float, float]:
            s0 = _size(e.match, rule, e.cls, file=e.file, where=f"{e.where}.match")
            d = abs(math.log(max(size, 1e-12) / max(s0, 1e-12)))
            return (d, abs(math.log(tech / e.technology_nm)))

        entry = min(candidates, key=distance)
        energies, area = _scale_entry(entry, attrs, comp.name)
        notes.append(f"scaled from the {entry.cls} row {entry.match} by the {rule} rule")
        if entry.technology_nm != tech and rule != "dram":   # DRAM energy is off-chip
            ke = scaling.scale_energy(1.0, scaling.Corner(entry.technology_nm),
                                      scaling.Corner(tech))
            energies = {a: e * ke for a, e in energies.items()}
            area = scaling.scale_area(area, entry.technology_nm, tech)
            notes.append(f"{entry.technology_nm:g} nm -> {tech:g} nm (Stillmaker & Baas 2017)")
    args: dict[str, Any] = {}
    if rule == "dram":
        gcs = as_number(attrs.get("global_cycle_seconds", 1e-9), where="global_cycle_seconds")
        args = {"global_cycle_seconds": float(gcs or 1e-9), "action_latency_cycles": 1}
    return Estimate(actions=tuple((a, float(e), dict(args)) for a, e in energies.items()),
                    area_um2=float(area), source=entry.source, notes=tuple(notes))


# ------------------------------------------------------------------ CiM components

def cim_selector(comp: Component) -> tuple[str, str]:
    """(mode, name): mode 'macro' (attribute `macro:`), 'type' (WWW `type:`) or 'zero'."""
    attrs = comp.attributes
    if attrs.get("macro") not in (None, ""):
        return "macro", str(attrs["macro"])
    t = attrs.get("type")
    if t in (None, ""):
        raise InputError("CiM component without `type` or `macro`",
                         field=f"architecture.{comp.name}.attributes",
                         expected="type: <macro name or zero> or macro: <macro name>")
    if str(t).strip().lower() == ZERO_TYPE:
        return "zero", ZERO_TYPE
    return "type", str(t).strip()


def _lookup(name: str, macros: dict[str, Macro], comp: Component) -> Macro:
    if name not in macros:
        raise InputError(f"unknown CiM macro {name!r}",
                         field=f"architecture.{comp.name}.attributes",
                         expected="one of " + ", ".join(sorted(macros)) + ", zero")
    return macros[name]


def macro_energies_pJ(macro: Macro, technology_nm: float, datawidth: int,
                      vdd: float | None = None) -> tuple[float, float]:
    """(pJ per MAC, pJ per weight write) at a node and a datawidth.

    Node/voltage: Stillmaker & Baas (2017). Precision: a datawidth other than the
    macro's is composed from native MACs by bit slicing, energy x (d/wbits)(d/inbits),
    the normalization the IMC benchmarking database uses; writes scale with bits.
    """
    src = scaling.Corner(macro.node_nm, macro.voltage_V, str(macro.extra.get("device", "HP")))
    dst = scaling.Corner(technology_nm, vdd)
    k = 1.0 if (src.node_nm == dst.node_nm and vdd is None) else scaling.scale_energy(1.0, src, dst)
    in_bits = int(macro.extra.get("input_bits", macro.precision_bits))
    mac = macro.energy_per_mac_pJ * k * (datawidth / macro.precision_bits) * (datawidth / in_bits)
    write = macro.write_energy_pJ * k * datawidth / macro.precision_bits
    return mac, write


def cim_area_model(comp: Component, paper_compat: bool = False) -> str:
    """'placeholder' under --paper-compat or with attribute `cim_area: placeholder`, else
    'macro'. An explicit `cim_area: macro` wins over --paper-compat."""
    value = comp.attributes.get(CIM_AREA_ATTRIBUTE)
    if value in (None, ""):
        return "placeholder" if paper_compat else "macro"
    text = str(value).strip().lower()
    if text not in CIM_AREA_MODELS:
        raise InputError(f"unknown CiM area model {value!r}",
                         field=f"architecture.{comp.name}.attributes.{CIM_AREA_ATTRIBUTE}",
                         expected=" | ".join(CIM_AREA_MODELS))
    return text


def _cim_estimate(comp: Component, macros: dict[str, Macro], tables: BaselineTables,
                  area_model: str) -> Estimate:
    mode, name = cim_selector(comp)
    storage = comp.estimator_class in CIM_STORAGE_CLASSES
    placeholder = area_model == "placeholder"
    if mode == "zero":
        acts = (("read", 0.0, {}), ("write", 0.0, {}), ("update", 0.0, {}), ("leak", 0.0, {})) \
            if storage else (("compute", 0.0, {}),)
        area = tables.cim_type_area_um2 if placeholder else 0.0
        return Estimate(acts, area, source="zero-cost CiM buffer (method: buffers are free)")
    macro = _lookup(name, macros, comp)
    tech = _technology(comp)
    dw = int(_num(comp.attributes, "datawidth", comp.name, float(macro.precision_bits)))
    vdd = comp.attributes.get("voltage")
    vdd = parse_quantity(vdd, "voltage", field=f"architecture.{comp.name}.attributes.voltage") \
        if vdd not in (None, "") else None
    mac, write = macro_energies_pJ(macro, tech, dw, vdd)
    src = f"macro {macro.name} ({macro.node_nm:g} nm) from the CiM macro library"
    if storage:
        acts = (("read", 0.0, {}), ("write", write, {}), ("update", write, {}), ("leak", 0.0, {}))
    else:
        acts = (("compute", mac, {}),)
    if placeholder:
        return Estimate(acts, tables.cim_type_area_um2, source=src + "; area: WWW placeholder")
    if not storage:
        return Estimate(acts, 0.0, source=src + "; area counted on the CiM storage")
    # one storage instance holds one compute element's weights: Rh rows of Ch words, as
    # the designs declare it (width = Ch x datawidth, depth = Rh)
    width = _num(comp.attributes, "width", comp.name, float(macro.ch * dw))
    depth = _num(comp.attributes, "depth", comp.name, float(macro.rh))
    share = width * depth / (macro.capacity_bytes * 8)
    return Estimate(acts, macro_area_um2(macro, tech, tables) * share,
                    source=src + "; area: macro area x bits held / macro bits")


# ------------------------------------------------------------------ areas

def sram_um2_per_bit(tables: BaselineTables | None = None, technology_nm: float = 45.0) -> float:
    """Plain SRAM density: the smartbuffer_SRAM row with the most bits, per bit."""
    tables = tables or load_baseline_tables()
    rows = tables.of_class("smartbuffer_SRAM")
    if not rows:
        raise InputError("no smartbuffer_SRAM row to derive an SRAM density from",
                         field="tables", expected="a smartbuffer_SRAM row")
    row = max(rows, key=_row_size)
    density = row.area_um2 / _row_size(row)
    return scaling.scale_area(density, row.technology_nm, technology_nm)


def sram_area_um2(capacity_bytes: float, technology_nm: float = 45.0,
                  tables: BaselineTables | None = None) -> float:
    """Area of plain SRAM holding `capacity_bytes` (linear in bits, the sram rule)."""
    return capacity_bytes * 8 * sram_um2_per_bit(tables, technology_nm)


def macro_area_um2(macro: Macro, technology_nm: float | None = None,
                   tables: BaselineTables | None = None) -> float:
    """Macro area at `technology_nm` (default: the macro's own node).

    Published area when known (node-scaled with Stillmaker & Baas); otherwise
    area_factor x plain SRAM of the same capacity at that node.
    """
    node = macro.node_nm if technology_nm is None else float(technology_nm)
    if macro.area_um2 is not None:
        return scaling.scale_area(macro.area_um2, macro.node_nm, node)
    assert macro.area_factor is not None
    return macro.area_factor * sram_area_um2(macro.capacity_bytes, node, tables)


# ------------------------------------------------------------------ entry points

def estimate_component(comp: Component, macros: dict[str, Macro] | None = None,
                       tables: BaselineTables | None = None, *,
                       paper_compat: bool = False) -> Estimate | None:
    """Estimate for one component (actions in pJ, area per instance in um^2).

    Dummy `inter_*_spatial` levels get the dummy area and no actions, as Accelergy's
    dummy estimator reports them. `paper_compat` gives CiM components the WWW
    placeholder area (see the module docstring).
    """
    macros = macros if macros is not None else load_macro_library()
    tables = tables or load_baseline_tables()
    cls = comp.estimator_class
    if comp.cls.lower() == "dummy_storage" or cls.lower() == "dummy_storage":
        return Estimate((), tables.dummy_area_um2, source="Accelergy dummy estimator")
    if cls in CIM_STORAGE_CLASSES or cls in CIM_UNIT_CLASSES:
        return _cim_estimate(comp, macros, tables, cim_area_model(comp, paper_compat))
    return _baseline_estimate(comp, tables)


def level_area_um2(component: Component, macros: dict[str, Macro] | None = None,
                   tables: BaselineTables | None = None) -> float:
    """Area of the whole level (all `component.instances`) for iso-area sizing (um^2).

    The ART's per-instance area times the instances, with real CiM areas always (CiM
    storage gets its share of the macro area, CiM units and zero-cost buffers 0) and
    dummy levels 0, so sizing never depends on the WWW placeholder.
    """
    if component.cls.lower() == "dummy_storage":
        return 0.0
    attrs = {k: v for k, v in component.attributes.items() if k != CIM_AREA_ATTRIBUTE}
    component = dataclasses.replace(component, attributes=attrs)
    est = estimate_component(component, macros, tables)
    return 0.0 if est is None else est.area_um2 * component.instances
