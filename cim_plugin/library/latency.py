"""The compute latency every command applies: one rule, so one design point has one
cycle count in `map`, `model`, `study` and `export`.

Cycles per compute operation, first of:
  1. an explicit override (`--compute-latency`);
  2. the compute level's `cim_latency_cycles` attribute (exported CiM designs carry it);
  3. for a CiM unit whose `type` names a library macro, that macro's latency;
  4. 1, Timeloop's assumption (a MAC array, or an unknown CiM unit).
"""

from __future__ import annotations

import math

from cim_plugin.errors import InputError
from cim_plugin.spec.arch import Architecture, as_number

ATTRIBUTE = "cim_latency_cycles"


def compute_latency(arch: Architecture, override: float | None = None,
                    attribute: str = ATTRIBUTE) -> tuple[float, str]:
    """(cycles per compute operation, where the number comes from)."""
    comp = arch.compute
    where = f"architecture.{comp.name}.attributes.{attribute}"
    if override is not None:
        value, source = float(override), "--compute-latency"
    elif comp.attributes.get(attribute) is not None:
        raw = as_number(comp.attributes[attribute], where=where, file=arch.source)
        value, source = float(raw if raw is not None else math.nan), f"attribute {attribute}"
    elif comp.is_cim and isinstance(comp.attributes.get("type"), str):
        from cim_plugin.library.loader import get_macro

        try:
            macro = get_macro(comp.attributes["type"])
        except (InputError, KeyError):
            return 1.0, "Timeloop's default; no library macro matches the CiM type"
        value, source = float(macro.latency_cycles), f"library macro {macro.name}"
    else:
        return 1.0, "Timeloop's default"
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"compute latency {value} is not positive",
                         file=arch.source if source != "--compute-latency" else None,
                         field=where if source != "--compute-latency" else "--compute-latency",
                         expected="cycles > 0")
    return value, source
