"""Timeloop's counting rules, written once for the engine and for the search.

The engine evaluates one complete loop nest with exact Python integers; the mapper
prices thousands of partial nests at once with numpy arrays. Both call these
functions, so a mapping is counted the same way wherever it is counted. Every
function accepts Python numbers or numpy arrays (float64 arrays hold counts exactly
up to 2**53). Formulas and their Timeloop sources: docs/model.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Num = Any          # int, float or numpy array


def fits(used: Num, capacity: int | None) -> Num:
    """Whether `used` words of kept tiles fit a level of `capacity` words (None:
    unbounded); the one capacity rule of the engine, the search and the mapspace."""
    if capacity is None:
        return True
    return used <= capacity


def ceil_div(count: Num, block: int) -> Num:
    """ceil(count / block): vector accesses of `block` words (buffer.cpp)."""
    if isinstance(count, np.ndarray):
        return np.ceil(count / block)
    return -(-count // block)


def priced(count: Num, block: int, unit: float) -> Num:
    """Energy of `count` scalar accesses at `unit` pJ per vector access of `block` words."""
    return ceil_div(count, block) * unit


def access_energy(s: Any, block: int, read: Any, fill: Any, update: Any) -> Num:
    """Energy per instance of one tensor's accesses at one level (`s`: its reads, fills
    and updates), each action priced by `priced` in that order; an action never counted
    is not priced, since its unit may be absent. The engine's cost and the sweep's
    re-pricing (`recost`) both price with it."""
    energy = 0.0
    if s.reads > 0:
        energy = energy + priced(s.reads, block, read)
    if s.fills > 0:
        energy = energy + priced(s.fills, block, fill)
    if s.updates > 0:
        energy = energy + priced(s.updates, block, update)
    return energy


def innermost_accesses(macs: int, instances: int, multicast: int, partition: int,
                       read_write: bool) -> tuple[int, int]:
    """(reads, updates) per instance at a tensor's innermost keeper.

    Every MAC touches the tensor once; a spatial fan-out below the keeper that is
    irrelevant to the tensor multicasts (read-only) or reduces (read-write) it.
    First-read elision: a read-write tensor is not read before its first update.
    """
    accesses = macs // (instances * multicast)
    if read_write:
        return accesses - partition, accesses
    return accesses, 0


def transfer(pas: Num, sc: int, part_child: int, part_parent: int,
             read_write: bool) -> tuple[Num, Num, Num]:
    """(child fills, parent reads, parent updates) per instance between two keepers.

    `pas` = tile x R, the data the child receives over the whole run (parent access
    share); `sc` = the relevant spatial fan-out between the two keepers, over which
    one parent access serves one child each.
    """
    if read_write:
        up = pas * sc
        return pas - part_child, up - part_parent, up
    return pas, pas * sc, 0


def slowdown(compute_cycles: Num, reads: Num, writes: Num, read_bw: float | None,
             write_bw: float | None, shared_bw: float | None) -> Num:
    """Bandwidth throttling of one level (1 = not limited), per instance and cycle."""
    rd = reads / compute_cycles
    wr = writes / compute_cycles
    if isinstance(rd, np.ndarray) or isinstance(wr, np.ndarray):
        slow = np.ones(np.broadcast(rd, wr).shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            for bw, rate in ((read_bw, rd), (write_bw, wr), (shared_bw, rd + wr)):
                if bw is not None:
                    slow = np.where(rate > 0, np.minimum(slow, bw / np.where(rate > 0, rate, 1.0)),
                                    slow)
        return slow
    slow = 1.0
    if read_bw is not None and rd > 0:
        slow = min(slow, read_bw / rd)
    if write_bw is not None and wr > 0:
        slow = min(slow, write_bw / wr)
    if shared_bw is not None and rd + wr > 0:
        slow = min(slow, shared_bw / (rd + wr))
    return slow


def level_cycles(compute_cycles: Num, slow: Num) -> Num:
    """Cycles of one level: ceil(compute cycles / throttling)."""
    if isinstance(slow, np.ndarray) or isinstance(compute_cycles, np.ndarray):
        return np.ceil(compute_cycles / slow)
    if slow >= 1.0:                       # not limited: exact, however large
        return int(math.ceil(compute_cycles))
    return int(math.ceil(compute_cycles / slow))
