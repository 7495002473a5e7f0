"""The CiM macro ("primitive") abstraction of the method.

A macro has Rp x Cp compute elements working in parallel (rows map K, columns map N);
each holds Rh x Ch weights processed sequentially. One CiM operation performs
Rp*Cp MACs and takes `latency_cycles` cycles of the system clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Provenance:
    paper: str
    where: str = ""             # table / figure / section
    kind: str = "measured"      # measured | derived | scaled
    how: str = ""               # how derived or scaled


@dataclass(frozen=True)
class Macro:
    name: str
    rp: int
    cp: int
    rh: int
    ch: int
    capacity_bytes: int
    latency_cycles: float                  # system cycles per CiM operation
    energy_per_mac_pJ: float               # at `node_nm`, `precision_bits`
    write_energy_pJ: float                 # per weight word of `precision_bits`
    area_um2: float | None = None          # macro area at `node_nm`
    area_factor: float | None = None       # area relative to plain SRAM of the same capacity
    node_nm: float = 45.0
    voltage_V: float | None = None
    precision_bits: int = 8
    clock_GHz: float = 1.0
    analog: bool = False
    cell: str = ""
    provenance: tuple[Provenance, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def parallel_macs(self) -> int:
        return self.rp * self.cp

    @property
    def weights(self) -> int:
        return self.rp * self.cp * self.rh * self.ch
