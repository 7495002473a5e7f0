"""Technology-node and supply-voltage scaling of energy, delay and area.

Model: A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction
of CMOS device performance from 180 nm to 7 nm", Integration, the VLSI Journal
58 (2017) 74-81, doi:10.1016/j.vlsi.2017.02.002. The paper fits, per node,
delay as a cubic and energy (and power) as a quadratic polynomial of VDD, and
gives node-to-node area factors. The coefficients below are the paper's fitted
values (the same numbers are tabulated in the MIT-licensed UCLA NanoCAD
`nodeScale` tool, which we used to cross-check the transcription).

A quantity is scaled by the ratio of the fitted factors:
    E_dst = E_src * fE(dst, Vdst) / fE(src, Vsrc)
    D_dst = D_src * fD(dst, Vdst) / fD(src, Vsrc)
    A_dst = A_src * a(dst) / a(src)
Nodes between two fitted nodes (e.g. 28 nm, 22 nm, 12 nm) are interpolated
geometrically in log(node) between the neighbouring fitted nodes, at the same
voltage. That interpolation is ours, not the paper's; nodes outside 7-180 nm
are refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cim_plugin.errors import InputError

# Per node: delay cubic (d3, d2, d1, d0), energy quadratic (e2, e1, e0).
# 45 nm and below have HP and LP device flavours; 65 nm and above one flavour.
_COEFFS: dict[str, tuple[tuple[float, float, float, float], tuple[float, float, float]]] = {
    "180": ((0.0, 97.09, -356.7, 406.5), (0.0, 24.64, -17.98)),
    "130": ((-76.65, 334.9, -493.4, 275.8), (7.171, -6.709, 2.904)),
    "90": ((-60.34, 262.5, -384.2, 210.9), (4.762, -4.781, 2.092)),
    "65": ((-53.3, 230.4, -333.9, 178.6), (3.755, -4.398, 1.975)),
    "HP45": ((-501.6, 1567.0, -1619.0, 566.1), (1.018, -0.3107, 0.1539)),
    "HP32": ((-1047.0, 2982.0, -2797.0, 873.5), (0.8367, -0.4341, 0.1701)),
    "HP20": ((0.0, 34.63, -66.37, 41.15), (0.373, -0.1582, 0.04104)),
    "HP16": ((0.0, 24.8, -47.52, 28.87), (0.2958, -0.1241, 0.03024)),
    "HP14": ((-40.66, 109.2, -100.6, 35.92), (0.2363, -0.09675, 0.02239)),
    "HP10": ((-34.95, 93.65, -85.99, 30.4), (0.2068, -0.09311, 0.02375)),
    "HP7": ((-28.58, 76.6, -70.26, 24.69), (0.1776, -0.09097, 0.02447)),
    "LP45": ((-285.7, 1239.0, -1795.0, 898.8), (1.103, -0.362, 0.2767)),
    "LP32": ((-325.9, 1374.0, -1922.0, 913.2), (0.9559, -0.7823, 0.471)),
    "LP20": ((-160.5, 514.1, -558.6, 217.5), (0.2632, -0.14, 0.06841)),
    "LP16": ((-114.6, 366.7, -397.4, 153.6), (0.2139, -0.1187, 0.05639)),
    "LP14": ((-85.37, 271.6, -292.2, 111.4), (0.1556, -0.06472, 0.03066)),
    "LP10": ((-71.76, 228.6, -246.3, 93.91), (0.1261, -0.0518, 0.02769)),
    "LP7": ((-61.79, 196.1, -210.3, 79.55), (0.09365, -0.03409, 0.02043)),
}

# Area of a design at each node relative to 45 nm (the paper's node-to-node
# area factors, 45 nm row).
_AREA_VS_45: dict[int, float] = {
    180: 19.0, 130: 6.4, 90: 2.8, 65: 1.5, 45: 1.0, 32: 0.46,
    20: 0.21, 16: 0.19, 14: 0.17, 10: 0.1, 7: 0.059,
}

FITTED_NODES: tuple[int, ...] = tuple(sorted(_AREA_VS_45))

# Nominal supply used when a voltage is not given: the PTM model cards the
# paper's fits are based on (bulk PTM 180-32 nm, PTM-MG 20-7 nm).
NOMINAL_VDD: dict[int, float] = {
    180: 1.8, 130: 1.3, 90: 1.2, 65: 1.1, 45: 1.0, 32: 0.9,
    20: 0.9, 16: 0.85, 14: 0.8, 10: 0.75, 7: 0.7,
}

_NODE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(nm)?\s*$", re.IGNORECASE)


def parse_node(value: object, *, file: str | None = None, field: str = "node") -> float:
    """`45nm`, `"45 nm"`, `45` -> 45.0 (nanometres); anything else is an input error."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int | float):
        node = float(value)
    else:
        m = _NODE_RE.match(str(value)) if value is not None else None
        if not m:
            raise InputError(f"cannot read technology node {value!r}", file=file, field=field,
                             expected="a node in nm such as 45nm or 22")
        node = float(m.group(1))
    if 0 < node < 1e-3:          # given in metres, as some Accelergy specs do (45e-9)
        node *= 1e9
    if node <= 0:
        raise InputError(f"technology node must be positive, got {value!r}", file=file,
                         field=field, expected="a node in nm such as 45nm")
    return node


def _key(node: int, device: str) -> str:
    return f"{device}{node}" if node <= 45 else str(node)


def _check(node: float, device: str) -> None:
    if not FITTED_NODES[0] <= node <= FITTED_NODES[-1]:
        raise InputError(f"no scaling rule for a {node:g} nm node", field="node",
                         expected=f"a node between {FITTED_NODES[0]} and {FITTED_NODES[-1]} nm "
                                  "(Stillmaker & Baas 2017 range)")
    if device not in ("HP", "LP"):
        raise InputError(f"unknown device flavour {device!r}", field="device",
                         expected="HP or LP")


def _neighbours(node: float) -> tuple[int, int, float]:
    """Fitted nodes bracketing `node` and the log-interpolation weight of the upper one."""
    if node in FITTED_NODES:
        n = int(node)
        return n, n, 0.0
    lower = max(n for n in FITTED_NODES if n < node)
    upper = min(n for n in FITTED_NODES if n > node)
    t = math.log(node / lower) / math.log(upper / lower)
    return lower, upper, t


def _interp(node: float, fn) -> float:
    lo, hi, t = _neighbours(node)
    if t == 0.0:
        return fn(lo)
    return math.exp((1 - t) * math.log(fn(lo)) + t * math.log(fn(hi)))


def nominal_vdd(node: float) -> float:
    """Nominal supply of a node (geometric interpolation between fitted nodes)."""
    _check(node, "HP")
    return _interp(node, lambda n: NOMINAL_VDD[n])


def energy_factor(node: float, vdd: float | None = None, device: str = "HP") -> float:
    """Fitted relative energy of one operation at (node, VDD)."""
    _check(node, device)
    v = nominal_vdd(node) if vdd is None else float(vdd)

    def f(n: int) -> float:
        e2, e1, e0 = _COEFFS[_key(n, device)][1]
        return e2 * v * v + e1 * v + e0

    return _interp(node, f)


def delay_factor(node: float, vdd: float | None = None, device: str = "HP") -> float:
    """Fitted relative gate delay at (node, VDD)."""
    _check(node, device)
    v = nominal_vdd(node) if vdd is None else float(vdd)

    def f(n: int) -> float:
        d3, d2, d1, d0 = _COEFFS[_key(n, device)][0]
        return ((d3 * v + d2) * v + d1) * v + d0

    return _interp(node, f)


def area_factor(node: float) -> float:
    """Area at `node` relative to the same design at 45 nm."""
    _check(node, "HP")
    return _interp(node, lambda n: _AREA_VS_45[n])


@dataclass(frozen=True)
class Corner:
    """A technology corner: node (nm), supply (V; None = nominal) and device flavour."""

    node_nm: float
    vdd: float | None = None
    device: str = "HP"


def scale_energy(value: float, src: Corner, dst: Corner) -> float:
    if src == dst:
        return value
    return value * energy_factor(dst.node_nm, dst.vdd, dst.device) / energy_factor(
        src.node_nm, src.vdd, src.device)


def scale_area(value: float, src_node: float, dst_node: float) -> float:
    if src_node == dst_node:
        return value
    return value * area_factor(dst_node) / area_factor(src_node)
