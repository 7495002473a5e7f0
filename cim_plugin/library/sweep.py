"""`macro_sweep:` of a study config: families of hypothetical CiM macros.

A sweep varies the parameters of the CiM primitive (method.md): the array geometry
Rp x Cp (parallel compute elements) and Rh x Ch (weights per element), the precision
in bits, the area factor (area relative to plain SRAM of the same capacity), the
latency of one macro operation in cycles, the energy per MAC and the energy of one
weight write. Every parameter not swept is taken from the base macro (`base:`, by
default the first of the study's `macros`). Each combination is one hypothetical macro.

Energies are given as the design sees them: pJ at the designs' 45 nm node and at the
macro's own precision, so a base macro from another node is first moved to 45 nm
(Stillmaker & Baas, `cim_plugin.library.tables.macro_energies_pJ`).

Each value is checked here, before any work, and the number of design points is
bounded (`MAX_SWEEP_POINTS`): the sweep is enumerated lazily by index, so no list of
every point is ever built.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.limits import MAX_ENERGY_PJ
from cim_plugin.spec.values import show, to_int, to_real

#: design points of one sweep: placements x hypothetical macros x GEMM shapes
MAX_SWEEP_POINTS = 10_000_000
#: values of one swept parameter (a range's steps or a list's entries)
MAX_VALUES = 100_000
#: hypothetical macros sharing one geometry that one task evaluates
CHUNK = 4096

#: swept parameters: name -> (integer?, lower bound, lower bound allowed?, upper bound)
PARAMS: dict[str, tuple[bool, float, bool, float]] = {
    "Rp": (True, 1, True, 1 << 20),
    "Cp": (True, 1, True, 1 << 20),
    "Rh": (True, 1, True, 1 << 20),
    "Ch": (True, 1, True, 1 << 20),
    "bits": (True, 1, True, 64),
    "area_factor": (False, 0.0, False, 1e6),
    "latency_cycles": (False, 0.0, False, 1e9),
    "energy_per_mac_pJ": (False, 0.0, True, MAX_ENERGY_PJ),
    "write_energy_pJ": (False, 0.0, True, MAX_ENERGY_PJ),
}
#: parameters that change the built design (sizing, mapping, counts); the others only
#: re-price fixed counts (`cim_plugin.model.recost`)
STRUCTURAL = ("Rp", "Cp", "Rh", "Ch", "bits", "area_factor")
COSTING = ("latency_cycles", "energy_per_mac_pJ", "write_energy_pJ")
DEFAULT_FRONTIERS = (("energy_per_mac_pJ", "latency_cycles"),)
FIELDS = ("base", *PARAMS, "frontiers", "refine")
#: frontier crossings one study may refine with the mapper
MAX_REFINE = 1000


@dataclass(frozen=True)
class MacroSweep:
    """A validated sweep: the values of every parameter (base values where not swept)."""

    base: str
    values: tuple[tuple[str, tuple[float | int, ...]], ...]     # in PARAMS order
    frontiers: tuple[tuple[str, str], ...] = DEFAULT_FRONTIERS
    refine: int = 0                 # frontier crossings re-evaluated with the mapper

    def of(self, name: str) -> tuple[float | int, ...]:
        return dict(self.values)[name]

    def structures(self) -> Iterator[dict[str, float | int]]:
        """Every geometry (STRUCTURAL values), in enumeration order, one at a time."""
        for combo in itertools.product(*(self.of(n) for n in STRUCTURAL)):
            yield dict(zip(STRUCTURAL, combo))

    @property
    def costings(self) -> int:
        return math.prod(len(self.of(n)) for n in COSTING)

    def costing(self, start: int, stop: int) -> dict[str, list[float]]:
        """Costing values of variants start..stop-1 (mixed radix, last parameter fastest)."""
        lists = [self.of(n) for n in COSTING]
        out: dict[str, list[float]] = {n: [] for n in COSTING}
        for idx in range(start, stop):
            rest = idx
            picks = []
            for vals in reversed(lists):
                rest, i = divmod(rest, len(vals))
                picks.append(vals[i])
            for n, v in zip(COSTING, reversed(picks)):
                out[n].append(float(v))
        return out

    def macros(self) -> int:
        return math.prod(len(v) for _, v in self.values)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MacroSweep:
        """The sweep of a study config (`StudyConfig.macro_sweep`, made by `to_dict`)."""
        return cls(d["base"], tuple((k, tuple(d[k])) for k in PARAMS),
                   tuple((str(x), str(y)) for x, y in d["frontiers"]), int(d.get("refine", 0)))

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, **{k: list(v) for k, v in self.values},
                "frontiers": [list(p) for p in self.frontiers], "refine": self.refine}


@dataclass(frozen=True)
class Chunk:
    """One task: variants start..stop-1 of one geometry on one placement."""

    index: int
    design: str
    structure: tuple[tuple[str, float | int], ...]
    start: int
    stop: int
    first_macro: int = 0            # sweep-wide number of the macro of variant `start`

    def descriptor(self) -> dict[str, Any]:
        return {"design": self.design, "structure": dict(self.structure),
                "start": self.start, "stop": self.stop}


def chunks(sweep: MacroSweep, designs: tuple[str, ...], size: int = CHUNK) -> Iterator[Chunk]:
    """Tasks in output order: placement, geometry, then costing variants."""
    n = sweep.costings
    index = 0
    for design in designs:
        for s_idx, st in enumerate(sweep.structures()):
            for start in range(0, n, size):
                yield Chunk(index, design, tuple(st.items()), start, min(n, start + size),
                            s_idx * n + start)
                index += 1


def _where(key: str) -> str:
    return f"macro_sweep.{key}"


def _number(name: str, value: Any, file: str | None, field: str) -> float | int:
    integer, lo, lo_ok, hi = PARAMS[name]
    if integer:
        return to_int(value, file=file, field=field, minimum=int(lo), maximum=int(hi),
                      expected=f"an integer from {int(lo)} to {int(hi)}")
    x = to_real(value, file=file, field=field, maximum=hi,
                expected=f"a finite number {'>=' if lo_ok else '>'} 0 and <= {hi:g}")
    if x < lo or (x == lo and not lo_ok):
        raise InputError(f"{show(value)} is {'negative' if x < 0 else 'zero'}", file=file,
                         field=field,
                         expected=f"a number {'>=' if lo_ok else '>'} 0 and <= {hi:g}")
    return x


def _range(name: str, spec: dict[str, Any], file: str | None) -> tuple[float | int, ...]:
    where = _where(name)
    allowed = {"from", "to", "steps", "scale"}
    for k in spec:
        if k not in allowed:
            raise InputError(f"unknown range key {show(k)}", file=file, field=f"{where}.{k}",
                             expected="a range {from: A, to: B, steps: N, scale: linear|log}")
    for k in ("from", "to", "steps"):
        if k not in spec:
            raise InputError(f"the range has no {k!r}", file=file, field=f"{where}.{k}",
                             expected="a range {from: A, to: B, steps: N, scale: linear|log}")
    a = _number(name, spec["from"], file, f"{where}.from")
    b = _number(name, spec["to"], file, f"{where}.to")
    steps = to_int(spec["steps"], file=file, field=f"{where}.steps", minimum=1,
                   maximum=MAX_VALUES, expected=f"an integer from 1 to {MAX_VALUES}")
    scale = spec.get("scale", "linear")
    if scale not in ("linear", "log"):
        raise InputError(f"{show(scale)} is not a scale", file=file, field=f"{where}.scale",
                         expected="linear or log")
    if b < a:
        raise InputError(f"the range runs backwards ({a:g} > {b:g})", file=file,
                         field=f"{where}.to", expected=f"'to' >= 'from' ({a:g})")
    if steps == 1 and a != b:
        raise InputError("one step cannot cover a range", file=file, field=f"{where}.steps",
                         expected="steps >= 2, or from == to")
    if steps > 1 and a == b:
        raise InputError(f"{steps} steps over an empty range", file=file,
                         field=f"{where}.steps", expected="steps: 1 when from == to")
    if scale == "log" and a <= 0:
        raise InputError(f"a log range cannot start at {a:g}", file=file, field=f"{where}.from",
                         expected="from > 0 with scale: log")
    if steps == 1:
        vals = [a]
    elif scale == "log":
        vals = [a * (b / a) ** (i / (steps - 1)) for i in range(steps)]
        vals[-1] = b
    else:
        vals = [a + (b - a) * i / (steps - 1) for i in range(steps)]
        vals[-1] = b
    if PARAMS[name][0]:
        ints = [round(v) for v in vals]
        if any(abs(v - i) > 1e-9 * max(1.0, abs(v)) for v, i in zip(vals, ints)) \
                or len(set(ints)) != len(ints):
            raise InputError("the range does not fall on distinct integers", file=file,
                             field=where, expected=f"a list of integers for {name}, or a range "
                                                   "whose steps are whole numbers")
        return tuple(ints)
    return tuple(float(v) for v in vals)


def _values(name: str, raw: Any, file: str | None) -> tuple[float | int, ...]:
    where = _where(name)
    if isinstance(raw, dict):
        return _range(name, raw, file)
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise InputError("the list is empty", file=file, field=where,
                         expected="one value or more, or a range {from, to, steps}")
    if len(items) > MAX_VALUES:
        raise InputError(f"{len(items)} values", file=file, field=where,
                         expected=f"at most {MAX_VALUES} values")
    vals = tuple(_number(name, v, file, f"{where}[{i}]") for i, v in enumerate(items))
    if len(set(vals)) != len(vals):
        dup = next(v for v in vals if vals.count(v) > 1)
        raise InputError(f"{dup:g} is listed twice", file=file, field=where,
                         expected="distinct values (a repeated one would be evaluated twice)")
    return vals


def macro_parameters(base: Any) -> dict[str, float | int]:
    """The base macro's parameters as the designs see them (45 nm, own precision)."""
    from cim_plugin.library.tables import macro_area_um2, macro_energies_pJ, sram_area_um2

    mac, write = macro_energies_pJ(base, 45.0, int(base.precision_bits))
    if base.area_factor:
        af = float(base.area_factor)
    else:
        af = macro_area_um2(base, 45.0) / sram_area_um2(base.capacity_bytes, 45.0)
    return {"Rp": int(base.rp), "Cp": int(base.cp), "Rh": int(base.rh), "Ch": int(base.ch),
            "bits": int(base.precision_bits), "area_factor": af,
            "latency_cycles": float(base.latency_cycles), "energy_per_mac_pJ": float(mac),
            "write_energy_pJ": float(write)}


def _frontiers(raw: Any, file: str | None) -> tuple[tuple[str, str], ...]:
    where = _where("frontiers")
    expected = (f"a list of [x, y] pairs of distinct parameters from {list(PARAMS)}, "
                "e.g. [[energy_per_mac_pJ, latency_cycles]]")
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{show(raw)} is not a list of pairs", file=file, field=where,
                         expected=expected)
    out = []
    for i, pair in enumerate(raw):
        if not (isinstance(pair, list) and len(pair) == 2 and all(
                isinstance(p, str) and p in PARAMS for p in pair) and pair[0] != pair[1]):
            raise InputError(f"{show(pair)} is not a pair of parameters", file=file,
                             field=f"{where}[{i}]", expected=expected)
        if tuple(pair) in out:
            raise InputError(f"{show(pair)} is listed twice", file=file, field=f"{where}[{i}]",
                             expected="distinct pairs")
        out.append(tuple(pair))
    return tuple(out)


def parse_macro_sweep(raw: Any, file: str | None, macros: tuple[str, ...]) -> MacroSweep:
    """A validated `macro_sweep:` mapping (every problem: exit 2 naming the field)."""
    from cim_plugin.library.loader import load_macro_library

    if not isinstance(raw, dict) or not raw:
        raise InputError(f"{show(raw)} is not a mapping of parameters", file=file,
                         field="macro_sweep",
                         expected=f"a mapping of some of {list(FIELDS)}")
    for k in raw:
        if k not in FIELDS:
            raise InputError(f"unknown field {show(k)}", file=file, field=_where(str(k)),
                             expected=f"one of {list(FIELDS)}")
    lib = load_macro_library()
    base_name = raw.get("base", macros[0] if macros else None)
    if not isinstance(base_name, str) or base_name not in lib:
        raise InputError(f"unknown base macro {show(base_name)}", file=file,
                         field=_where("base"), expected=f"one of {sorted(lib)}")
    base = macro_parameters(lib[base_name])
    values = []
    for name in PARAMS:
        vals = _values(name, raw[name], file) if name in raw else (base[name],)
        values.append((name, vals))
    swept = [name for name, vals in values if len(vals) > 1]
    if not swept:
        raise InputError("no parameter is swept", file=file, field="macro_sweep",
                         expected=f"two or more values for one of {list(PARAMS)}")
    if "frontiers" in raw:
        frontiers = _frontiers(raw["frontiers"], file)
    else:
        x = next(p for p in ("energy_per_mac_pJ", *PARAMS) if p in swept)
        frontiers = ((x, "latency_cycles" if x != "latency_cycles" else "energy_per_mac_pJ"),)
    refine = to_int(raw.get("refine", 0), file=file, field=_where("refine"), minimum=0,
                    maximum=MAX_REFINE, expected=f"an integer from 0 to {MAX_REFINE}")
    sweep = MacroSweep(base_name, tuple(values), frontiers, refine)
    for x, _ in sweep.frontiers:
        if len(sweep.of(x)) < 2:
            raise InputError(f"frontier parameter {x} is not swept", file=file,
                             field=_where("frontiers"),
                             expected=f"a swept parameter as x (one of {swept})")
    return sweep


def check_point_count(sweep: MacroSweep, designs: int, shapes: int, file: str | None) -> int:
    """Design points of the sweep (placements x macros x GEMM shapes), bounded."""
    total = designs * sweep.macros() * shapes
    if total > MAX_SWEEP_POINTS:
        raise InputError(f"the sweep has {total} design points ({designs} placements x "
                         f"{sweep.macros()} macros x {shapes} GEMM shapes)", file=file,
                         field="macro_sweep",
                         expected=f"at most {MAX_SWEEP_POINTS} design points")
    return total


__all__ = ["CHUNK", "COSTING", "Chunk", "MAX_SWEEP_POINTS", "MacroSweep", "PARAMS", "macro_parameters",
           "STRUCTURAL", "check_point_count", "chunks", "parse_macro_sweep"]
