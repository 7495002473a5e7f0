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

What a price reads of the counts is gathered once per nest (`ledger`): the per-level
sums the bandwidth rule needs and each level's access energy at the engine's own units,
so a price recomputes only the levels whose units it replaces (a sweep prices the same
counts once per chunk of variants, and a chunk replaces the units of its CiM levels).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cim_plugin.model.counts import access_energy, level_cycles, slowdown
from cim_plugin.model.engine import AccessCounts, Engine
from cim_plugin.model.result import DataSpaceStats


@dataclass(frozen=True)
class Repriced:
    """Energy (pJ) and cycles of each variant, arrays of one length."""

    energy_pJ: np.ndarray
    cycles: np.ndarray


@dataclass(frozen=True)
class Ledger:
    """What pricing reads of one nest's counts, per storage level (outermost first).

    `access_pJ` is each level's access energy at the engine's units, summed as
    `Engine.cost` sums it (tensor by tensor from 0.0), so a price that keeps a level's
    units adds the same float it would have summed; `levels` are the counts themselves,
    priced again only for the levels whose units a price replaces."""

    engine: Engine
    temporal_product: int
    levels: list[dict[str, DataSpaceStats]]   # `AccessCounts.levels`
    reads: tuple[int, ...]                  # summed over the level's tensors
    writes: tuple[int, ...]                 # fills + updates, summed over its tensors
    leaks: tuple[int, ...]                  # instances leaking per cycle (at least 1)
    access_pJ: tuple[float, ...]
    #: the levels with traffic: only they can be throttled (a level without reads and
    #: writes is not slowed down, so its cycles are the compute cycles)
    busy: tuple[int, ...]


def _access_energy(kept: Iterable[DataSpaceStats], block: int, read: Any, fill: Any,
                   update: Any, level_total: Any) -> Any:
    """A level's access energy added to `level_total` (0.0, or zeros for arrays), tensor
    by tensor and action by action in the engine's order; actions never counted are not
    priced (their unit may be absent)."""
    for s in kept:
        level_total = level_total + access_energy(s, block, read, fill, update) * \
            s.utilized_instances
    return level_total


def ledger(engine: Engine, counts: AccessCounts, temporal_product: int) -> Ledger:
    """The counts of one nest (`engine.checked_counts`) as pricing reads them; an action
    the counts need and the engine's ERT lacks is refused as `Engine.cost` refuses it."""
    engine.require_units(counts)
    storage = engine.arch.storage
    n = len(storage)
    reads, writes, leaks, access = [0] * n, [0] * n, [1] * n, [0.0] * n
    busy = []
    for i, kept in enumerate(counts.levels):
        if not kept:                      # a fan-out level: no traffic, no energy
            continue
        # sums in the engine's order (exact integers), the largest instance count
        r_sum = w_sum = 0
        leak = 1
        for s in kept.values():
            r_sum += s.reads
            w_sum += s.fills + s.updates
            if s.utilized_instances > leak:
                leak = s.utilized_instances
        reads[i], writes[i], leaks[i] = r_sum, w_sum, leak
        if r_sum or w_sum:
            busy.append(i)
        e = engine.level_energy[i]
        access[i] = _access_energy(kept.values(), storage[i].block_size, e.read, e.fill,
                                   e.update, 0.0)
    return Ledger(engine, temporal_product, counts.levels, tuple(reads), tuple(writes),
                  tuple(leaks), tuple(access), tuple(busy))


def price(book: Ledger, *, compute_energy: Any, latency: Any,
          level_units: dict[str, dict[str, Any]] | None = None) -> tuple[Any, Any]:
    """(energy pJ, cycles) of a ledger under per-variant prices (see `reprice`): Python
    floats when every price is a float, numpy arrays otherwise."""
    engine = book.engine
    units = level_units or {}
    scalar = all(isinstance(v, float) for v in (latency, compute_energy)) and all(
        isinstance(v, float) for own in units.values() for v in own.values())
    storage = engine.arch.storage
    lat = latency if scalar else np.asarray(latency, dtype=float)
    compute_cycles = book.temporal_product * lat
    cycles = float(math.ceil(compute_cycles)) if scalar else np.ceil(compute_cycles)
    for i in book.busy:
        level = storage[i]
        slow = slowdown(compute_cycles, book.reads[i], book.writes[i], level.read_bandwidth,
                        level.write_bandwidth, level.shared_bandwidth)
        c = level_cycles(compute_cycles, slow)
        cycles = max(cycles, float(c)) if scalar else np.maximum(cycles, c)
    total = engine.actual_computes * (compute_energy if scalar else
                                      np.asarray(compute_energy, dtype=float))
    for i in range(len(storage) - 1, -1, -1):
        level = storage[i]
        base = engine.level_energy[i]
        own = units.get(level.base_name)
        if own:
            level_total = _access_energy(
                book.levels[i].values(), level.block_size, own.get("read", base.read),
                own.get("fill", base.fill), own.get("update", base.update),
                0.0 if scalar else np.zeros_like(total))
            leak = own.get("leak", base.leak)
        else:
            # the engine's units: the ledger's sum (never -0.0, as it starts from 0.0, so
            # adding it to zeros would change no bit)
            level_total = book.access_pJ[i]
            leak = base.leak
        level_total = level_total + leak * cycles * book.leaks[i]
        total = total + level_total
    return total, cycles


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
    need and the engine's ERT lacks is refused as `Engine.cost` refuses it. To price the
    same counts several times, make their `ledger` once and call `price`.
    """
    total, cycles = price(ledger(engine, counts, temporal_product),
                          compute_energy=compute_energy, latency=latency,
                          level_units=level_units)
    return Repriced(np.atleast_1d(np.asarray(total, dtype=float)),
                    np.atleast_1d(np.asarray(cycles, dtype=float)))


__all__ = ["Ledger", "Repriced", "ledger", "price", "reprice"]
