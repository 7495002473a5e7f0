"""Strict argument types for the command line.

`type=int` and `type=float` accept `6_4`, full-width digits, `nan` and `inf`; these
types accept ASCII decimal numbers only (`cim_plugin.spec.values`), so a typo is an
error message instead of a different number.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cim_plugin.spec.values import int_from_text, real_from_text


def positive_int(text: str) -> int:
    """An integer >= 1 written with ASCII digits."""
    v = int_from_text(text)
    if v is None or v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer "
                                         "(expected ASCII digits such as 4)")
    return v


def finite_float(text: str) -> float:
    """A finite number written with ASCII digits (`1.5`, `2e-3`)."""
    v = real_from_text(text)
    if v is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number "
                                         "(expected ASCII digits such as 1.5)")
    return v


def bounded_float(minimum: float, *, inclusive: bool = True) -> Callable[[str], float]:
    """A finite number >= minimum (or > minimum)."""
    def parse(text: str) -> float:
        v = finite_float(text)
        if v < minimum or (not inclusive and v == minimum):
            sign = ">=" if inclusive else ">"
            raise argparse.ArgumentTypeError(f"{text!r} is out of range (expected a number "
                                             f"{sign} {minimum:g})")
        return v
    parse.__name__ = "number"
    return parse


__all__ = ["bounded_float", "finite_float", "positive_int"]
