"""Read numbers with units from library YAML ("1.9 pJ", "0.124 mm2", "5.5 ns").

Library files are written by hand, so a value may be a bare number (in the
field's base unit) or a string with an explicit unit; anything else is an
input error that names the file and the field. Numbers are ASCII decimal literals
(full-width or other Unicode digits, `6_4`, `nan` and `inf` are refused).
"""

from __future__ import annotations

import re

from cim_plugin.errors import InputError
from cim_plugin.spec.limits import MAX_NUMBER_TEXT
from cim_plugin.spec.values import show

# kind -> unit -> factor to the base unit (pJ, um^2, ns, V, GHz)
UNITS: dict[str, dict[str, float]] = {
    "energy": {"pj": 1.0, "fj": 1e-3, "nj": 1e3, "uj": 1e6, "j": 1e12},
    "area": {"um2": 1.0, "um^2": 1.0, "mm2": 1e6, "mm^2": 1e6, "m2": 1e12, "m^2": 1e12,
             "nm2": 1e-6, "nm^2": 1e-6},
    "time": {"ns": 1.0, "ps": 1e-3, "us": 1e3, "ms": 1e6, "s": 1e9},
    "voltage": {"v": 1.0, "mv": 1e-3},
    "frequency": {"ghz": 1.0, "mhz": 1e-3, "khz": 1e-6, "hz": 1e-9},
    "ratio": {"x": 1.0},
}
BASE_UNIT = {"energy": "pJ", "area": "um^2", "time": "ns", "voltage": "V", "frequency": "GHz", "ratio": "x"}

# ASCII only: `\d` and `\s` would also take full-width and other Unicode digits and blanks
_QTY = re.compile(r"^[ \t]*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)[ \t]*"
                  r"([A-Za-z^0-9]*)[ \t]*$", re.ASCII)


def parse_quantity(value: object, kind: str, *, file: str | None = None,
                   field: str | None = None, allow_negative: bool = False) -> float:
    """Value in the base unit of `kind`; bare numbers are taken as already in it."""
    units = UNITS[kind]
    expected = f"a number in {BASE_UNIT[kind]} or a string with one of {', '.join(units)}"
    if isinstance(value, bool) or value is None:
        raise InputError(f"missing or non-numeric value {value!r}", file=file, field=field,
                         expected=expected)
    if isinstance(value, int) and abs(value) > 10**300:
        raise InputError(f"value {show(value)} is too large", file=file, field=field,
                         expected=expected)
    if isinstance(value, int | float):
        number = float(value)
    else:
        m = _QTY.match(str(value))
        if not m:
            raise InputError(f"cannot read {value!r}", file=file, field=field, expected=expected)
        unit = m.group(2).lower()
        if unit and unit not in units:
            raise InputError(f"unknown unit {m.group(2)!r} in {value!r}", file=file, field=field,
                             expected=expected)
        if len(m.group(1)) > MAX_NUMBER_TEXT:
            raise InputError(f"number {show(m.group(1))} has too many characters", file=file,
                             field=field, expected=expected)
        number = float(m.group(1)) * (units[unit] if unit else 1.0)
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(f"value {value!r} is not finite", file=file, field=field,
                         expected=expected)
    if number < 0 and not allow_negative:
        raise InputError(f"value {value!r} is negative", file=file, field=field,
                         expected=f"a non-negative {kind}")
    return number
