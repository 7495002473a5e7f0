"""The cheap path of a macro sweep: priority mapping plus the model, no search.

For one placement and one macro geometry (Rp, Cp, Rh, Ch, bits, area factor) every
GEMM shape is built, sized and mapped once with the method's priority algorithm and
counted once by the engine; the latency, energy-per-MAC and write-energy variants of
that geometry are then priced together by `cim_plugin.model.recost` (numpy arrays), so
thousands of hypothetical macros cost about as much as one. The counts of a geometry
are kept per process (`_counted`), so the chunks of one geometry reuse them.

Figures are per workload: count-weighted sums of energy (pJ) and cycles over the
workload's GEMMs (they run one after another), as the study's totals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from cim_plugin.export.build import default_threshold, plain_levels
from cim_plugin.library.macro import Macro
from cim_plugin.library.sweep import Chunk, MacroSweep
from cim_plugin.mapping.priority import priority_mapping
from cim_plugin.model.nest import build_nest
from cim_plugin.model.recost import ledger, price

#: name the hypothetical macro has in the designs it is built into
HYPOTHETICAL = "hypothetical"


@dataclass(frozen=True)
class Workloads:
    """The study's GEMM shapes and, per workload, (shape index, count) pairs."""

    shapes: tuple[tuple[int, int, int], ...]
    table: tuple[tuple[str, tuple[tuple[int, int], ...]], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.table)


def workloads_of(gemms: list[Any]) -> Workloads:
    shapes = sorted({(g.m, g.n, g.k) for g in gemms})
    index = {s: i for i, s in enumerate(shapes)}
    per: dict[str, list[tuple[int, int]]] = {}
    for g in gemms:
        per.setdefault(g.workload, []).append((index[(g.m, g.n, g.k)], int(g.count)))
    return Workloads(tuple(shapes), tuple((w, tuple(v)) for w, v in sorted(per.items())))


def hypothetical_macro(structure: dict[str, Any], latency: float = 1.0,
                       energy_per_mac: float = 1.0, write_energy: float = 1.0) -> Macro:
    """A macro of the sweep at 45 nm, its energies as the designs see them."""
    bits = int(structure["bits"])
    weights = int(structure["Rp"]) * int(structure["Cp"]) * int(structure["Rh"]) * \
        int(structure["Ch"])
    return Macro(name=HYPOTHETICAL, rp=int(structure["Rp"]), cp=int(structure["Cp"]),
                 rh=int(structure["Rh"]), ch=int(structure["Ch"]),
                 capacity_bytes=max(1, math.ceil(weights * bits / 8)),
                 latency_cycles=float(latency), energy_per_mac_pJ=float(energy_per_mac),
                 write_energy_pJ=float(write_energy), area_factor=float(structure["area_factor"]),
                 node_nm=45.0, precision_bits=bits, extra={"input_bits": bits})


def sizing_mode(mode: str) -> str:
    """The method's presets name shipped macros only; a hypothetical macro is sized by
    area (its area factor decides how many fit), as the study sizes L2 placements."""
    return "iso-area" if mode == "preset" else mode


@dataclass(frozen=True)
class Counted:
    """One shape on one geometry: the engine, its checked counts and the nest's temporal
    product (priced by `cim_plugin.model.recost`, not by the engine), and the counts as
    pricing reads them (`recost.ledger`, gathered once for every chunk that prices them)."""

    engine: Any
    counts: Any
    temporal_product: int
    cim_levels: tuple[str, ...]
    banks: tuple[int, int]
    area_um2: float
    ledger: Any


@dataclass(frozen=True)
class Geometry:
    """One placement built for one macro geometry: what every GEMM shape shares."""

    macro: Macro
    params: Any
    architecture: Any
    ert: Any
    art: Any
    cim_levels: tuple[str, ...]
    engine: Any                 # the model on this architecture; `for_problem` per GEMM
    area_um2: float


@lru_cache(maxsize=1)
def _library() -> dict[str, Macro]:
    """The shipped macro library, read once per process (not once per geometry)."""
    from cim_plugin.library.loader import load_macro_library

    return load_macro_library()


@lru_cache(maxsize=1)
def _baseline_tables() -> Any:
    """The baseline energy/area tables, read once per process."""
    from cim_plugin.library.tables import load_baseline_tables

    return load_baseline_tables()


@lru_cache(maxsize=1)
def _default_params() -> Any:
    """The designs' default parameters, checked once per process (each geometry replaces
    its macro's fields, which are checked then)."""
    from cim_plugin.export.templates import DesignParams

    return DesignParams.from_mapping(None)


#: estimates of the components that are not CiM, by what they are estimated from
_ESTIMATES: dict[Any, Any] = {}


def _estimate(comp: Any, macros: dict[str, Macro], tables: Any, *,
              paper_compat: bool = False) -> Any:
    """`estimate_component`, kept per process for the components that are not CiM (DRAM,
    SMEM, the fan-out levels): their estimate depends on their class and attributes
    alone, and they are the same in every geometry of a placement. A CiM component
    depends on the macro and is estimated each time."""
    from cim_plugin.library.tables import CIM_STORAGE_CLASSES, CIM_UNIT_CLASSES, estimate_component

    cls = comp.estimator_class
    if cls in CIM_STORAGE_CLASSES or cls in CIM_UNIT_CLASSES or tables is not _baseline_tables():
        return estimate_component(comp, macros, tables, paper_compat=paper_compat)
    try:
        # (the attributes in their own order: the same template gives the same order,
        # and another order only misses the cache)
        key = (comp.name, comp.cls, comp.subclass, comp.instances, paper_compat,
               tuple(comp.attributes.items()))
        hash(key)
    except TypeError:                   # an attribute that is a list or a mapping
        return estimate_component(comp, macros, tables, paper_compat=paper_compat)
    if key not in _ESTIMATES:
        if len(_ESTIMATES) >= 4096:
            _ESTIMATES.clear()
        _ESTIMATES[key] = estimate_component(comp, macros, tables, paper_compat=paper_compat)
    return _ESTIMATES[key]


@lru_cache(maxsize=64)
def _geometry(design: str, structure: tuple[tuple[str, Any], ...], sizing: str,
              banks: tuple[int, int], duplicate: bool, paper_compat: bool) -> Geometry:
    """Rendered, sized and priced once: the architecture does not depend on the GEMM."""
    from cim_plugin.export.build import Sizing, build_architecture
    from cim_plugin.library.ert_gen import generate_tables
    from cim_plugin.library.tables import CIM_STORAGE_CLASSES, cim_selector
    from cim_plugin.model.engine import Engine, ModelOptions

    macro = hypothetical_macro(dict(structure))
    params, arch = build_architecture(design, macro, Sizing(mode=sizing_mode(sizing),
                                                            banks=banks),
                                      params=_default_params())
    macros = {**_library(), HYPOTHETICAL: macro}
    ert, art = generate_tables(arch, macros=macros, tables=_baseline_tables(),
                               paper_compat=paper_compat, estimate=_estimate)
    # the levels priced with the macro's write energy (zero-cost CiM buffers are not)
    cim = tuple(s.base_name for s in arch.storage
                if s.estimator_class in CIM_STORAGE_CLASSES
                and cim_selector(s)[0] != "zero" and cim_selector(s)[1] == HYPOTHETICAL)
    engine = Engine(arch, _problem((1, 1, 1)), ert, art, ModelOptions(compute_latency_cycles=1.0))
    return Geometry(macro, params, arch, ert, art, cim, engine, float(engine.area_um2()))


@lru_cache(maxsize=256)
def _problem(shape: tuple[int, int, int]) -> Any:
    """A GEMM's problem, shared by every geometry it is mapped on (frozen)."""
    from cim_plugin.spec.problem import gemm_problem

    return gemm_problem(*shape)


@lru_cache(maxsize=512)
def _counted(design: str, structure: tuple[tuple[str, Any], ...], shape: tuple[int, int, int],
             sizing: str, banks: tuple[int, int], duplicate: bool, paper_compat: bool) -> Counted:
    """One shape on one geometry, mapped by the method's priority algorithm (as `build`
    maps it) and counted once."""
    g = _geometry(design, structure, sizing, banks, duplicate, paper_compat)
    p, arch = g.params, g.architecture
    pm = priority_mapping(*shape, g.macro, (p.banks_x, p.banks_y),
                          threshold=default_threshold(design),
                          levels=plain_levels(design, p), duplicate=duplicate)
    problem = _problem(shape)
    engine = g.engine.for_problem(problem)
    nest = build_nest(arch, problem, pm.mapping())
    counts = engine.checked_counts(nest)
    temporal_product = int(nest.temporal_product)
    return Counted(engine, counts, temporal_product, g.cim_levels, (p.banks_x, p.banks_y),
                   g.area_um2, ledger(engine, counts, temporal_product))


#: a small geometry every design can hold, built once by `warm_up`
_WARM_UP = (("Rp", 16), ("Cp", 16), ("Rh", 1), ("Ch", 1), ("bits", 8), ("area_factor", 1.0))


def warm_up(designs: tuple[str, ...]) -> None:
    """Build, map and count one small geometry on each design, so that this process has
    read what every chunk needs (its modules, the component library, the baseline tables,
    the designs' templates) before its first chunk: a fresh worker's first chunk then
    costs what its others cost, and workers started together do this in parallel."""
    for design in designs:
        try:
            _counted(design, _WARM_UP, (16, 16, 16), "iso-area", (1, 4), False, False)
        except Exception:  # noqa: BLE001 - a design that refuses it is warm all the same
            pass


def _rounded(values: list[float]) -> np.ndarray:
    """The ERT keeps energies to 9 decimals (`generate_tables`); so does the re-pricing."""
    return np.array([round(v, 9) for v in values], dtype=float)


@dataclass(frozen=True)
class SweepTask:
    """Everything a worker needs for one chunk (no file is read on the worker)."""

    chunk: Chunk
    sweep: MacroSweep
    workloads: Workloads
    sizing: str
    banks: tuple[int, int]
    duplicate: bool
    paper_compat: bool


def evaluate_chunk(task: SweepTask) -> dict[str, Any]:
    """Per-workload energy (pJ) and cycles of every variant of one chunk, or an error
    that holds for the whole geometry (e.g. not one macro fits the level's area).

    A chunk of one variant (a sweep where every macro has its own geometry) is priced and
    summed on Python floats: the same IEEE operations in the same order as on one-element
    arrays, without numpy's per-operation cost."""
    ch = task.chunk
    var = task.sweep.costing(ch.start, ch.stop)
    e_mac, e_write = _rounded(var["energy_per_mac_pJ"]), _rounded(var["write_energy_pJ"])
    lat = np.array(var["latency_cycles"], dtype=float)
    one = len(lat) <= 1
    prices: tuple[Any, Any, Any] = (e_mac, lat, e_write) if not one else \
        (float(e_mac[0]), float(lat[0]), float(e_write[0]))
    # the write energy replaces the fill and update units of the CiM levels (the
    # geometry's, so the same for every shape of the chunk)
    units: dict[str, dict[str, Any]] | None = None
    per_shape = {}
    try:
        for i, shape in enumerate(task.workloads.shapes):
            c = _counted(ch.design, ch.structure, shape, task.sizing, task.banks,
                         task.duplicate, task.paper_compat)
            if units is None:
                units = {name: {"fill": prices[2], "update": prices[2]} for name in c.cim_levels}
            per_shape[i] = (c, price(c.ledger, compute_energy=prices[0], latency=prices[1],
                                     level_units=units))
    except Exception as exc:  # noqa: BLE001 - reported for the geometry, the sweep goes on
        return {"error": f"{type(exc).__name__}: {exc}"}
    energy, cycles = {}, {}
    for name, rows in task.workloads.table:
        e: Any = 0.0 if one else np.zeros(len(lat))
        cy: Any = 0.0 if one else np.zeros(len(lat))
        for idx, count in rows:
            shape_energy, shape_cycles = per_shape[idx][1]
            e = e + count * shape_energy
            cy = cy + count * shape_cycles
        energy[name] = [float(e)] if one else e.tolist()
        cycles[name] = [float(cy)] if one else cy.tolist()
    first = per_shape[0][0]
    return {"error": "", "energy_pJ": energy, "cycles": cycles, "banks": list(first.banks),
            "area_um2": first.area_um2}


__all__ = ["HYPOTHETICAL", "SweepTask", "Workloads", "evaluate_chunk", "hypothetical_macro",
           "sizing_mode", "warm_up", "workloads_of"]
