"""Values as Timeloop prints them: `1024 (16*64)`, `0.02 pJ`, `15.91%`, `-`, `6.06e+03`."""

from __future__ import annotations

import math
import re

_NUM_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf|nan))",
                     re.IGNORECASE)

# factor to pJ for energy units, to um^2 for area units
ENERGY_UNITS = {"J": 1e12, "mJ": 1e9, "uJ": 1e6, "nJ": 1e3, "pJ": 1.0, "fJ": 1e-3}
AREA_UNITS = {"um^2": 1.0, "mm^2": 1e6, "m^2": 1e12}


def number(text: str | None) -> float | int | None:
    """Leading number of a printed value; `-` or text without a number gives None.

    Integers stay `int` so counts keep their exact value.
    """
    if text is None:
        return None
    m = _NUM_RE.match(text)
    if not m:
        return None
    token = m.group(1)
    if re.fullmatch(r"[-+]?\d+", token):
        return int(token)
    value = float(token)
    return value


def count(text: str | None, default: int = 0) -> int:
    """A counter (reads, fills, instances); float prints such as `4194304.00` are rounded."""
    v = number(text)
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return default
    return int(round(v))


def real(text: str | None, default: float = 0.0) -> float:
    v = number(text)
    return default if v is None else float(v)


def unit_of(text: str | None) -> str:
    """The unit after the number (`pJ`, `uJ`, `%`, `words/cycle`), or ''."""
    if text is None:
        return ""
    m = _NUM_RE.match(text)
    rest = text[m.end():] if m else text
    return rest.strip()


def energy_pJ(text: str | None, default_unit: str = "pJ") -> float:
    """An energy converted to pJ according to its printed unit."""
    unit = unit_of(text) or default_unit
    return real(text) * ENERGY_UNITS.get(unit, 1.0)


def area_um2(text: str | None, default_unit: str = "um^2") -> float:
    unit = unit_of(text) or default_unit
    return real(text) * AREA_UNITS.get(unit, 1.0)


def mesh(text: str | None) -> tuple[int, int] | None:
    """`1024 (16*64)` -> (16, 64) (Timeloop prints X*Y)."""
    if text is None:
        return None
    m = re.search(r"\((\d+)\*(\d+)\)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None
