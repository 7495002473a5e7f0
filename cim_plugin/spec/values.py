"""Numbers in input files and on the command line, read strictly.

Python's `int()` and `float()` accept spellings that are almost always typos in an
input: `6_4` (64), full-width or other non-ASCII digits, `1.5` where a count is due
(truncated to 1), `nan` and `inf`. Coercing them silently changes a result, so these
readers accept ASCII decimal numbers only, refuse booleans, refuse non-integral
values where an integer is due and refuse anything that is not finite. Every refusal
is an InputError naming the file, the field and what would be valid.
"""

from __future__ import annotations

import math
import re
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.limits import MAX_NUMBER_TEXT

_INT_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_REAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def show(value: Any, limit: int = 60) -> str:
    """`repr` of a value for a one-line message, shortened when long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def int_from_text(text: str) -> int | None:
    """The integer an ASCII decimal literal spells (surrounding blanks allowed), else None."""
    t = text.strip(" \t")
    if len(t) > MAX_NUMBER_TEXT or not _INT_TEXT.fullmatch(t):
        return None
    return int(t)


def grid_from_text(text: str) -> tuple[int, int] | None:
    """`"1x4"` (or `1×4`, `1X4`) -> (1, 4) with ASCII digits only, else None."""
    parts = text.strip(" \t").replace("×", "x").replace("X", "x").split("x")
    if len(parts) != 2:
        return None
    x, y = (int_from_text(p) if p.strip(" \t") == p else None for p in parts)
    return (x, y) if x is not None and y is not None else None


def real_from_text(text: str) -> float | None:
    """The finite number an ASCII decimal literal spells (`1e-9`, `.5`), else None."""
    t = text.strip(" \t")
    if len(t) > MAX_NUMBER_TEXT or not _REAL_TEXT.fullmatch(t):
        return None
    x = float(t)
    return x if math.isfinite(x) else None


def number_text(x: float) -> str:
    """A bound as people read it: powers of two from 2**20 up as `2**k`."""
    if isinstance(x, int) and x >= 2**20 and x & (x - 1) == 0:
        return f"2**{x.bit_length() - 1}"
    return f"{x:g}" if isinstance(x, float) else str(x)


def _range_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"from {number_text(minimum)} to {number_text(maximum)}"
    if minimum is not None:
        return f">= {number_text(minimum)}"
    if maximum is not None:
        return f"<= {number_text(maximum)}"
    return ""


def _in_range(x: float, minimum: float | None, maximum: float | None) -> bool:
    return (minimum is None or x >= minimum) and (maximum is None or x <= maximum)


def _check_range(x: float, value: Any, minimum: float | None, maximum: float | None,
                 file: str | None, field: str | None, expected: str) -> None:
    if not _in_range(x, minimum, maximum):
        raise InputError(f"{show(value)} is out of range", file=file, field=field,
                         expected=expected)


def to_int(value: Any, *, file: str | None = None, field: str | None = None,
           minimum: int | None = None, maximum: int | None = None,
           expected: str | None = None) -> int:
    """An integer from an int, an integral float or an ASCII integer string."""
    out: int | None = None
    if isinstance(value, bool):
        out = None
    elif isinstance(value, int):
        out = value
    elif isinstance(value, float):
        out = int(value) if math.isfinite(value) and value.is_integer() else None
    elif isinstance(value, str):
        out = int_from_text(value)
    if out is not None and _in_range(out, minimum, maximum):
        return out                      # the usual case: no message to word
    exp = expected or " ".join(p for p in ("an integer", _range_text(minimum, maximum)) if p)
    if out is None:
        raise InputError(f"{show(value)} is not an integer", file=file, field=field, expected=exp)
    _check_range(out, value, minimum, maximum, file, field, exp)
    return out


def to_real(value: Any, *, file: str | None = None, field: str | None = None,
            minimum: float | None = None, maximum: float | None = None,
            positive: bool = False, expected: str | None = None) -> float:
    """A finite number from an int, a float or an ASCII decimal string.

    `positive` refuses zero as well as negative values.
    """
    out: float | None = None
    if isinstance(value, bool):
        out = None
    elif isinstance(value, int):
        out = float(value) if abs(value) < 10**300 else None
    elif isinstance(value, float):
        out = value if math.isfinite(value) else None
    elif isinstance(value, str):
        out = real_from_text(value)
    if out is not None and not (positive and out <= 0) and _in_range(out, minimum, maximum):
        return out                      # the usual case: no message to word
    rng = "> 0" if positive and maximum is None else _range_text(minimum, maximum)
    if positive and maximum is not None:
        rng = f"> 0 and <= {maximum:g}"
    exp = expected or " ".join(p for p in ("a finite number", rng) if p)
    if out is None:
        raise InputError(f"{show(value)} is not a finite number", file=file, field=field,
                         expected=exp)
    if positive and out <= 0:
        raise InputError(f"{show(value)} is not positive", file=file, field=field, expected=exp)
    _check_range(out, value, minimum, maximum, file, field, exp)
    return out


__all__ = ["grid_from_text", "int_from_text", "number_text", "real_from_text", "show", "to_int", "to_real"]
