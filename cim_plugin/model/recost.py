"""Re-pricing one evaluated loop nest for many energy tables and compute latencies.

A mapping's access counts depend on the architecture, the problem and the mapping,
not on what an action costs nor on how many cycles one compute operation takes. So a
family of CiM macros that share one geometry (and hence one sizing and one priority
mapping) but differ in energy per MAC, write energy or latency has one set of counts:
the engine counts once (`Engine.checked_counts`), and this module prices those counts for
whole numpy arrays of unit energies and latencies. It applies the engine's cycle and
energy rules with the shared counting functions of `cim_plugin.model.counts`, in the
engine's order of summation, so one variant's figures equal a full evaluation of it.
It never counts and never searches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cim_plugin.model.counts import level_cycles, priced, slowdown
from cim_plugin.model.engine import AccessCounts, Engine


@dataclass(frozen=True)
class Repriced:
    """Energy (pJ) and cycles of each variant, arrays of one length."""

    energy_pJ: np.ndarray
    cycles: np.ndarray


def reprice(engine: Engine, counts: AccessCounts, temporal_product: int, *,
            compute_energy: np.ndarray, latency: np.ndarray,
            level_units: dict[str, dict[str, np.ndarray]] | None = None) -> Repriced:
    """Figures of `counts` (`engine.checked_counts` of a nest) under per-variant prices.

    `compute_energy`: pJ per compute action; `latency`: cycles per compute operation;
    `level_units`: for named storage levels, arrays replacing the ERT's `read`, `fill`,
    `update` or `leak` unit (other levels and actions keep the engine's units).
    `temporal_product` is the nest's product of temporal bounds (the compute cycles at a
    latency of one). Given plain floats instead of arrays (one variant), the same rules
    run on Python scalars, as the engine runs them, which is several times cheaper than
    one-element arrays; the result is then arrays of length one. An action the counts
    need and the engine's ERT lacks is refused as `Engine.cost` refuses it.
    """
    engine.require_units(counts)
    units = level_units or {}
    scalar = all(isinstance(v, float) for v in (latency, compute_energy)) and all(
        isinstance(v, float) for own in units.values() for v in own.values())
    arch = engine.arch
    storage = arch.storage
    n = len(storage)
    lat = latency if scalar else np.asarray(latency, dtype=float)
    compute_cycles = temporal_product * lat
    stats = counts.levels
    lcycles = []
    for i, level in enumerate(storage):
        reads = sum(s.reads for s in stats[i].values())
        writes = sum(s.fills + s.updates for s in stats[i].values())
        slow = slowdown(compute_cycles, reads, writes, level.read_bandwidth,
                        level.write_bandwidth, level.shared_bandwidth)
        lcycles.append(level_cycles(compute_cycles, slow))
    cycles = float(math.ceil(compute_cycles)) if scalar else np.ceil(compute_cycles)
    for c in lcycles:
        cycles = max(cycles, float(c)) if scalar else np.maximum(cycles, c)
    real = engine.actual_computes
    total = real * (compute_energy if scalar else np.asarray(compute_energy, dtype=float))
    for i in range(n - 1, -1, -1):
        level = storage[i]
        base = engine.level_energy[i]
        own = units.get(level.base_name, {})
        read = own.get("read", base.read)
        fill = own.get("fill", base.fill)
        update = own.get("update", base.update)
        leak = own.get("leak", base.leak)
        level_total = 0.0 if scalar else np.zeros_like(total)
        for s in stats[i].values():
            energy = 0.0
            for count, unit in ((s.reads, read), (s.fills, fill), (s.updates, update)):
                if count <= 0:
                    continue
                energy = energy + priced(count, level.block_size, unit)
            level_total = level_total + energy * s.utilized_instances
        leaks = max([1, *(s.utilized_instances for s in stats[i].values())])
        level_total = level_total + leak * cycles * leaks
        total = total + level_total
    return Repriced(np.atleast_1d(np.asarray(total, dtype=float)),
                    np.atleast_1d(np.asarray(cycles, dtype=float)))


__all__ = ["Repriced", "reprice"]
