"""Derived figures of a macro at its native node, voltage and precision.

Conventions: 1 MAC = 2 ops; one CiM operation performs Rp*Cp MACs in
`latency_cycles / clock_GHz` ns. TOPS/W = ops per pJ; GOPS = ops per ns.
"""

from __future__ import annotations

from dataclasses import dataclass

from cim_plugin.library.macro import Macro


@dataclass(frozen=True)
class MacroFigures:
    gops: float                 # native-precision throughput, 10^9 ops/s
    tops_per_w: float           # native-precision energy efficiency
    tops_per_mm2: float | None  # None when only an area factor is known and no SRAM density
    area_um2: float | None
    latency_ns: float


def latency_ns(macro: Macro) -> float:
    return macro.latency_cycles / macro.clock_GHz


def gops(macro: Macro) -> float:
    return 2.0 * macro.parallel_macs / latency_ns(macro)


def tops_per_w(macro: Macro) -> float:
    return 2.0 / macro.energy_per_mac_pJ


def tops_per_mm2(macro: Macro, area_um2: float | None) -> float | None:
    if not area_um2:
        return None
    return gops(macro) / 1e3 / (area_um2 / 1e6)


def figures(macro: Macro, area_um2: float | None = None) -> MacroFigures:
    """All derived figures; `area_um2` defaults to the macro's own published area."""
    area = area_um2 if area_um2 is not None else macro.area_um2
    return MacroFigures(gops=gops(macro), tops_per_w=tops_per_w(macro),
                        tops_per_mm2=tops_per_mm2(macro, area), area_um2=area,
                        latency_ns=latency_ns(macro))


def published_native(macro: Macro) -> dict[str, float]:
    """Published figures converted to native precision (1-bit-normalized ones divided by
    input_bits * weight_bits), keyed gops / tops_per_w / tops_per_mm2 / energy_per_mac_pJ."""
    pub = dict(macro.extra.get("published") or {})
    product = int(macro.extra.get("input_bits", macro.precision_bits)) * macro.precision_bits
    out: dict[str, float] = {}
    for key, value in pub.items():
        v = float(value)
        if key == "gops":
            out["gops"] = v
        elif key == "tops_1b":
            out["gops"] = v * 1e3 / product
        elif key == "tops_per_w":
            out["tops_per_w"] = v
        elif key == "tops_per_w_1b":
            out["tops_per_w"] = v / product
        elif key == "tops_per_mm2":
            out["tops_per_mm2"] = v
        elif key == "tops_per_mm2_1b":
            out["tops_per_mm2"] = v / product
        elif key == "energy_per_mac_fJ":
            out["energy_per_mac_pJ"] = v / 1e3
    return out
