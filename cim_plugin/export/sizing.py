"""How many CiM macros a design gets (X×Y banks).

Rules:
- explicit: the user's X×Y;
- preset "method": the method's iso-area counts (method.md): RF level 3, 2, 3, 4 and
  SMEM level 48, 32, 48, 64 macros for analog6T, analog8T, digital6T, digital8T;
- iso-capacity: floor(capacity of the replaced level / macro capacity);
- iso-area: area of the replaced level / macro area, rounded down by default
  (never more area than the level it replaces); ``rounding="ceil"`` reproduces the
  method's RF counts (≈ 4 / area factor rounded up). Areas come from
  `cim_plugin.library` (`macro_area_um2`, `level_area_um2`) when available; otherwise
  from the macro's area factor: macro area = area factor × plain-SRAM area of the
  same capacity, so the ratio is (level bytes / macro bytes) / area factor.
All counts are laid out as X = 1, Y = n, as in the method. A count above the limit of a
design's banks (`spec.limits.MAX_BANKS`, 4096) is refused, naming the macro's entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.export.templates import DESIGNS, DesignParams, render_design
from cim_plugin.spec.arch import Component, architecture_from_processed
from cim_plugin.spec.limits import MAX_BANKS, check_banks
from cim_plugin.spec.v4 import flatten_v4
from cim_plugin.spec.values import grid_from_text, show

SIZINGS = ("explicit", "iso-area", "iso-capacity", "preset")


@dataclass(frozen=True)
class Sizing:
    """How to size the CiM banks: `mode` in SIZINGS, `banks` for explicit."""

    mode: str = "explicit"
    banks: tuple[int, int] = (1, 4)
    rounding: str = "floor"


PRESET_METHOD: dict[str, dict[str, int]] = {
    # method.md, "Iso-area primitive counts"
    "RF": {"analog6T": 3, "analog8T": 2, "digital6T": 3, "digital8T": 4},
    "SMEM": {"analog6T": 48, "analog8T": 32, "digital6T": 48, "digital8T": 64},
}


def parse_banks(text: str, *, file: str | None = None, field: str = "banks") -> tuple[int, int]:
    """'1x4' -> (1, 4): ASCII integers within the bank limits (`spec.limits.check_banks`)."""
    grid = grid_from_text(str(text))
    if grid is None:
        raise InputError(f"cannot read banks {show(text)}", file=file, field=field,
                         expected="XxY with positive ASCII integers, e.g. 1x4")
    return check_banks(*grid, file=file, field=field)


def replaced_level(design: str) -> str:
    level = DESIGNS[design][1]
    if level is None:
        raise InputError(f"design {design!r} has no CiM to size", field="design",
                         expected="a cim_* design")
    return level


def _capacity_level(design: str) -> str:
    level = replaced_level(design)
    return "RF" if level == "Subpartition" else level


def round_count(ratio: float, rounding: str) -> int:
    if rounding == "floor":
        return math.floor(ratio + 1e-9)
    if rounding == "ceil":
        return math.ceil(ratio - 1e-9)
    if rounding == "nearest":
        return math.floor(ratio + 0.5)
    raise InputError(f"unknown rounding {rounding!r}", field="rounding",
                     expected="floor, ceil or nearest")


def iso_capacity(design: str, macro: Any, params: DesignParams) -> tuple[int, int]:
    level_bytes = params.level_capacity_bytes(_capacity_level(design))
    n = level_bytes // int(macro.capacity_bytes)
    if n < 1:
        raise InputError(f"macro {macro.name} ({macro.capacity_bytes} B) is larger than the "
                         f"{_capacity_level(design)} level ({level_bytes} B), so not even one "
                         f"bank fits on {design}", file=_macro_file(macro),
                         field=f"macros[{macro.name}].capacity_bytes",
                         expected="a macro that fits the level it replaces")
    return 1, _at_most_max_banks(n, design, macro, "capacity_bytes")


def _at_most_max_banks(n: int, design: str, macro: Any, what: str) -> int:
    """A sized bank count within the limit of a design's CiM banks (`MAX_BANKS`)."""
    if n > MAX_BANKS:
        raise InputError(f"{n} {macro.name} macros would replace the "
                         f"{_capacity_level(design)} level on {design}, more than a design may "
                         f"have", file=_macro_file(macro), field=f"macros[{macro.name}].{what}",
                         expected=f"a macro large enough for at most {MAX_BANKS} banks, or "
                                  "explicit banks")
    return n


def _macro_file(macro: Any) -> str | None:
    """The library file a macro was read from (None for macros built in code)."""
    return (getattr(macro, "extra", None) or {}).get("file")


def _area_ratio(design: str, macro: Any, params: DesignParams) -> float:
    """Macros that fit the area of the level they replace.

    A macro with an `area_factor` (area relative to plain SRAM of the same capacity,
    the method's abstraction) is compared at the replaced level's own SRAM density:
    ratio = level capacity / (macro capacity x area factor). This is the method's
    rule (RF 4 KB x 4 -> 4/1.34 = 2.99 analog6T macros) and does not depend on how the
    area of a 4 KB RF and of a 256 KB SMEM scale differently in the baseline tables.
    A macro with only an absolute area is compared with the level's area from the
    component library (same node).
    """
    level = _capacity_level(design)
    if macro.area_factor:
        level_bytes = params.level_capacity_bytes(level)
        return level_bytes / int(macro.capacity_bytes) / float(macro.area_factor)
    from cim_plugin.library import level_area_um2, macro_area_um2

    return float(level_area_um2(level_component(level, params))) / float(macro_area_um2(macro))


def iso_area(design: str, macro: Any, params: DesignParams, rounding: str = "floor") -> tuple[int, int]:
    n = round_count(_area_ratio(design, macro, params), rounding)
    if n < 1:
        what = "area_factor" if macro.area_factor else "area_um2"
        raise InputError(f"not even one {macro.name} macro fits the area of "
                         f"{_capacity_level(design)} on {design}", file=_macro_file(macro),
                         field=f"macros[{macro.name}].{what}",
                         expected="a smaller macro or a larger level")
    return 1, _at_most_max_banks(n, design, macro,
                                 "area_factor" if macro.area_factor else "area_um2")


def preset_method(design: str, macro: Any) -> tuple[int, int]:
    level = replaced_level(design)
    table = PRESET_METHOD.get(level)
    if table is None or macro.name not in table:
        raise InputError(f"no method preset for {macro.name} on {design}", field="preset",
                         expected=f"cim_rf/cim_smem with one of {sorted(PRESET_METHOD['RF'])}")
    return 1, table[macro.name]


def level_component(level: str, params: DesignParams) -> Component:
    """The baseline level a CiM placement replaces, as a Component (for area look-ups)."""
    design = "tensor_core_l2" if level == "L2" else "tensor_core"
    arch = architecture_from_processed(flatten_v4(render_design(design, params)["architecture"]))
    for comp in arch.components:
        if comp.base_name == level:
            return comp
    raise KeyError(level)


def size_banks(design: str, macro: Any, params: DesignParams, s: Sizing) -> tuple[int, int]:
    """(X, Y) CiM banks of `design` for `macro` under the sizing rule `s`."""
    if s.mode == "explicit":
        x, y = s.banks
        for v, name in ((x, "banks X"), (y, "banks Y")):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}", field="banks",
                                 expected="XxY with positive integers")
        return check_banks(x, y, file=None, field="banks")
    if s.mode == "iso-area":
        return iso_area(design, macro, params, s.rounding)
    if s.mode == "iso-capacity":
        return iso_capacity(design, macro, params)
    if s.mode == "preset":
        return preset_method(design, macro)
    raise InputError(f"unknown sizing {s.mode!r}", field="sizing", expected=", ".join(SIZINGS))
