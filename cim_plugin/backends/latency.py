"""The compute latency applied to timeloop-model's counts, as the embedded model applies it.

Timeloop counts one cycle per compute operation. The embedded model takes L cycles per
operation (`cim_plugin.library.latency.compute_latency`: a CiM macro performs one
operation on all its compute elements every L cycles), so that its cycles are
    cycles = max(ceil(C0 x L), each level's bandwidth time at C0 x L compute cycles)
and leakage follows those cycles (docs/model.md). Timeloop's per-level counts (reads,
fills, updates per instance) do not depend on L, so the same rule, through the same
counting functions (`cim_plugin.model.counts`), turns Timeloop's result into the figures
the embedded model reports: cycles, per-level cycles and throttling, leakage (rescaled
with the cycles), total energy, fJ/compute, utilization (busy fraction of the compute
units) and GFLOPs. Dynamic energies are Timeloop's, unchanged.

An architecture that already throttles the CiM storage to one read per L cycles (as
exported designs do) gives Timeloop cycles that already include L; applying the rule
again changes nothing.
"""

from __future__ import annotations

import math

from cim_plugin.errors import InputError
from cim_plugin.model.counts import level_cycles, slowdown
from cim_plugin.model.result import EvalResult
from cim_plugin.spec.arch import Architecture
from cim_plugin.spec.problem import Problem

NOTE_KEY = "compute_latency_source"


def compute_cycles_of(result: EvalResult) -> int:
    """C0: Timeloop's cycles of the compute level (the product of the temporal loops)."""
    if result.compute.cycles > 0:
        return int(result.compute.cycles)
    if result.compute.utilized_instances > 0:
        return -(-int(result.computes) // int(result.compute.utilized_instances))
    raise InputError("timeloop-model printed no compute cycles", field="stats.txt",
                     expected="a compute level with Cycles and utilized instances")


def apply_compute_latency(result: EvalResult, arch: Architecture, problem: Problem,
                          latency: float, source: str) -> EvalResult:
    """`result` (parsed from timeloop-model) with `latency` cycles per compute operation."""
    if not (math.isfinite(latency) and latency > 0):
        raise InputError(f"compute latency {latency} is not positive", field="compute latency",
                         expected="cycles > 0")
    c0 = compute_cycles_of(result)
    busy = c0 * latency
    by_name = {s.base_name: s for s in arch.storage}
    old_cycles = result.cycles
    new_levels: list[int] = []
    for lv in result.levels:
        spec = by_name.get(lv.name)
        if spec is None:
            raise InputError(f"timeloop-model printed level {lv.name}, which the architecture "
                             "lacks", field=f"architecture.{lv.name}",
                             expected="the architecture Timeloop ran")
        reads = sum(s.reads for s in lv.dataspaces.values())
        writes = sum(s.fills + s.updates for s in lv.dataspaces.values())
        slow = slowdown(busy, reads, writes, spec.read_bandwidth, spec.write_bandwidth,
                        spec.shared_bandwidth)
        lv.bandwidth_throttling = float(slow)
        lv.cycles = int(level_cycles(busy, slow))
        new_levels.append(lv.cycles)
    cycles = max([int(math.ceil(busy)), *new_levels])
    scale = cycles / old_cycles if old_cycles else 1.0
    energy = result.energy_pJ
    for lv in result.levels:
        new_leak = lv.leakage_pJ * scale          # leak x cycles x instances (engine.py)
        lv.energy_pJ += new_leak - lv.leakage_pJ
        energy += new_leak - lv.leakage_pJ
        lv.leakage_pJ = new_leak
    computes = int(result.computes)
    result.compute.cycles = int(math.ceil(busy))
    result.cycles = cycles
    result.energy_pJ = energy
    rw_size = sum(problem.size(ds) for ds in problem.data_spaces if ds.read_write)
    result.gflops = (2 * computes - rw_size) / cycles
    result.utilization = computes * latency / (arch.compute.instances * cycles)
    result.compute_latency_cycles = float(latency)
    if computes:
        per_level = {lv.name: lv.energy_pJ * 1000.0 / computes for lv in result.levels}
        result.fj_per_compute = {
            k: energy * 1000.0 / computes if k == "Total" else per_level.get(k, v)
            for k, v in result.fj_per_compute.items()}
    result.extra["timeloop_cycles"] = old_cycles
    result.extra[NOTE_KEY] = f"{source}; applied to timeloop-model's counts"
    return result
