"""Result objects shared by the embedded model and the Timeloop output parsers.

Counts are per instance, as Timeloop prints them; energies are pJ. `energy_pJ` of a
dataspace is over all its utilized instances (Timeloop's "Energy (total)").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DataSpaceStats:
    partition_size: int = 0
    utilized_capacity: int = 0
    utilized_instances: int = 0
    utilized_clusters: int = 0
    reads: int = 0
    fills: int = 0
    updates: int = 0
    temporal_reductions: int = 0
    address_generations: int = 0
    energy_per_instance_pJ: float = 0.0
    energy_pJ: float = 0.0


@dataclass
class LevelStats:
    """One storage level (Timeloop's BufferLevel block)."""

    name: str
    instances: int = 1
    cycles: int = 0
    bandwidth_throttling: float = 1.0
    leakage_pJ: float = 0.0
    energy_pJ: float = 0.0                     # access energy of all dataspaces + leakage
    area_um2: float = 0.0                      # per instance
    dataspaces: dict[str, DataSpaceStats] = field(default_factory=dict)


@dataclass
class ComputeStats:
    name: str
    instances: int = 1
    utilized_instances: int = 0
    computes: int = 0
    cycles: int = 0
    energy_pJ: float = 0.0
    energy_per_compute_pJ: float = 0.0
    area_um2: float = 0.0                      # per instance


@dataclass
class EvalResult:
    """What timeloop-model reports for one (architecture, problem, mapping, ERT)."""

    computes: int
    cycles: int
    energy_pJ: float
    gflops: float
    utilization: float
    levels: list[LevelStats]                   # storage levels, innermost first (Timeloop order)
    compute: ComputeStats
    fj_per_compute: dict[str, float]
    area_um2: float = 0.0
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    compute_latency_cycles: float = 1.0        # cycles per compute operation (docs/model.md)

    @property
    def edp(self) -> float:
        """Energy-delay product in J*cycle, as Timeloop prints it."""
        return self.energy_pJ * 1e-12 * self.cycles

    def level(self, name: str) -> LevelStats:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(name)

    def to_json_dict(self) -> dict[str, Any]:
        """The `--json` shape of `cim-plugin model` (stable keys)."""
        return {
            "computes": int(self.computes),
            "cycles": int(self.cycles),
            "energy_pJ": float(self.energy_pJ),
            "gflops": float(self.gflops),
            "utilization": float(self.utilization),
            "edp_J_cycle": float(self.edp),
            "area_um2": float(self.area_um2),
            "compute_latency_cycles": float(self.compute_latency_cycles),
            "fj_per_compute": {k: float(v) for k, v in self.fj_per_compute.items()},
            "compute": asdict(self.compute),
            "levels": [
                {
                    "name": lv.name,
                    "instances": lv.instances,
                    "cycles": int(lv.cycles),
                    "bandwidth_throttling": float(lv.bandwidth_throttling),
                    "energy_pJ": float(lv.energy_pJ),
                    "leakage_pJ": float(lv.leakage_pJ),
                    "dataspaces": {
                        ds: {
                            "reads_per_instance": s.reads,
                            "fills_per_instance": s.fills,
                            "updates_per_instance": s.updates,
                            "temporal_reductions_per_instance": s.temporal_reductions,
                            "utilized_instances": s.utilized_instances,
                            "utilized_capacity": s.utilized_capacity,
                            "partition_size": s.partition_size,
                            "energy_pJ": float(s.energy_pJ),
                        }
                        for ds, s in lv.dataspaces.items()
                    },
                }
                for lv in self.levels
            ],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json_dict(cls, d: dict[str, Any]) -> EvalResult:
        """The result `to_json_dict` wrote (a cached study point, a `--json` file); the
        per-level figures that JSON leaves out (areas, address generations) are 0."""
        levels = [LevelStats(
            name=lv["name"], instances=lv["instances"], cycles=lv["cycles"],
            bandwidth_throttling=lv["bandwidth_throttling"], leakage_pJ=lv["leakage_pJ"],
            energy_pJ=lv["energy_pJ"],
            dataspaces={name: DataSpaceStats(
                partition_size=s["partition_size"], utilized_capacity=s["utilized_capacity"],
                utilized_instances=s["utilized_instances"], reads=s["reads_per_instance"],
                fills=s["fills_per_instance"], updates=s["updates_per_instance"],
                temporal_reductions=s["temporal_reductions_per_instance"],
                energy_pJ=s["energy_pJ"]) for name, s in lv["dataspaces"].items()})
            for lv in d["levels"]]
        return cls(computes=d["computes"], cycles=d["cycles"], energy_pJ=d["energy_pJ"],
                   gflops=d["gflops"], utilization=d["utilization"], levels=levels,
                   compute=ComputeStats(**d["compute"]), fj_per_compute=dict(d["fj_per_compute"]),
                   area_um2=d["area_um2"], warnings=list(d.get("warnings", [])),
                   compute_latency_cycles=d.get("compute_latency_cycles", 1.0))
