"""Lower bounds: what no completion of a partial mapping can beat.

A partial mapping fixes the placement (keeps, fan-outs) and the temporal loops of
the levels above a boundary. Its exact costs so far come from `PlacedNest`; what is
still open is bounded from below by these facts, each proven in the docstring of the
function that uses it:
  - the transfers into keepers below the boundary are at least those of a nest in
    which every loop still to be placed gives reuse, and none of the loops above if a
    relevant loop must sit in between (`open_transfers`);
  - loops that capacity forces onto the next level cannot all give reuse
    (`forced_at`, `conflict_penalties`);
  - energy and every level's reads and writes only grow as transfers are added;
  - cycles are at least the compute time of the placement and at least each
    level's bandwidth time for the counts known so far plus the bounds above.
The objective is monotone in energy and cycles (`objective.py`), so pricing the two
bounds gives a bound on the objective.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from cim_plugin.model.objective import Objective
from cim_plugin.model.partial import PlacedNest


def open_transfers(placed: PlacedNest, boundary: int, remaining: tuple[Any, ...],
                   runs: tuple[Any, ...], energy: Any, reads: list[Any], writes: list[Any],
                   penalty: list[Any] | None = None, level: int | None = None
                   ) -> tuple[Any, list[Any], list[Any]]:
    """Energy and per-level counts after adding the least transfers the keepers below
    `boundary` can have (each tensor's NR times `penalty[t]` at keepers below `level`).

    For a keeper c of tensor t below the boundary b, pas_c = part_c x NR_c, where NR_c
    is the product of the loops above c irrelevant to t divided by the run (the
    innermost such loops). The run of c is a product of irrelevant loops between b
    and c, times the run at b if it reaches past b, so NR_c >= NR_b, the not-reused
    iterations already fixed above b. Moreover, when a dimension relevant to t has
    more left at b than t's tile at c can hold, one of its loops must sit between b
    and c; the run of c stops there, so none of the irrelevant iterations above b is
    reused: NR_c >= their product. Every count grows with pas.
    """
    above = placed.irrelevant_above(remaining)
    nr = [x / r for x, r in zip(above, runs)]
    reads = list(reads)
    writes = list(writes)
    links = [lk for lk in placed.links if lk.c > boundary]

    def least_nr(lk: Any) -> Any:
        forced: Any = False
        for d in lk.rel:
            limit = placed.own_tile_limit(lk.c, lk.t, d)
            if limit is not None:
                forced = forced | (remaining[d] > limit)
        if isinstance(forced, np.ndarray):
            out = np.where(forced, above[lk.t], nr[lk.t])
        else:
            out = above[lk.t] if forced else nr[lk.t]
        return out if penalty is None or lk.c <= level else out * penalty[lk.t]

    energy = placed.price_links(links, lambda lk: lk.part_c * least_nr(lk), energy, reads, writes)
    return energy, reads, writes


def forced_at(placed: PlacedNest, level: int, temporal_levels: tuple[int, ...],
              remaining: tuple[Any, ...]) -> list[Any]:
    """Per dimension, the part of what is left that must loop at temporal `level` itself
    (1 where none must): the factors of a dimension placed below `level` all count in
    the tile of its outermost keeper below `level` that bounds it, unless a temporal
    level lies between the two; what that tile cannot hold stays at `level`."""
    out: list[Any] = []
    for d in range(placed.D):
        owners = [(k, t) for t, (rel, _, _) in enumerate(placed.tensors) if d in rel
                  for k in placed.keepers[t] if k > level and placed.capacity[k] is not None]
        if not owners:
            out.append(1)
            continue
        kmin = min(k for k, _ in owners)
        if any(level < j < kmin for j in temporal_levels):
            out.append(1)
            continue
        limit: Any = None
        for k, t in owners:
            if k == kmin:
                own = placed.own_tile_limit(k, t, d)
                limit = own if limit is None else np.minimum(limit, own)
        f = remaining[d] / np.maximum(limit, 1)
        out.append(np.maximum(f, 1.0) if isinstance(f, np.ndarray) else max(f, 1.0))
    return out


def conflict_penalties(placed: PlacedNest, level: int, forced: list[Any],
                       remaining: tuple[Any, ...]) -> list[list[Any]]:
    """Per order of the next level's loops, the NR factor each tensor pays at least.

    A tensor's irrelevant loop that must sit at the next level L gives it reuse at its
    keepers below only if every loop relevant to it between L and those keepers is
    outside it at L: a relevant dimension that does not fit in the tensor's tile at its
    outermost keeper below L loops somewhere between, and if it is not outside the
    irrelevant loop at L, it cuts the run. With the loops that must sit at L, some
    orders give reuse to one tensor only (GEMM: the weights want M inside K, the
    partial sums K inside M); the bound is the least over the orders. Empty when no
    two tensors can lose.
    """
    D = placed.D
    must = [np.asarray(f) > 1 for f in forced]
    cut: list[list[Any]] = []          # per tensor, per relevant dim: must loop above its keeper
    losers = 0
    for t, (rel, irrel, _) in enumerate(placed.tensors):
        below = sorted(lk.c for lk in placed.links if lk.t == t and lk.c > level)
        row: list[Any] = [False] * D
        if below:
            for r in rel:
                limit = placed.own_tile_limit(below[0], t, r)
                if limit is not None:
                    row[r] = np.asarray(remaining[r] > limit)
        cut.append(row)
        if below and any(np.any(must[x]) for x in irrel) and any(np.any(row[r]) for r in rel):
            losers += 1
    if losers < 2:
        return []
    out = []
    for order in itertools.permutations(range(D)):          # outermost first
        pos = {d: i for i, d in enumerate(order)}
        pen = []
        for t, (rel, irrel, _) in enumerate(placed.tensors):
            p: Any = 1.0
            for x in irrel:
                inner: Any = False
                for r in rel:
                    if pos[r] > pos[x]:
                        inner = inner | cut[t][r]
                lose = must[x] & inner
                p = p * (np.where(lose, forced[x], 1.0) if np.ndim(lose) else
                         (forced[x] if lose else 1.0))
            pen.append(p)
        out.append(pen)
    return out


def objective_bound(placed: PlacedNest, objective: Objective, boundary: int,
                    remaining: tuple[Any, ...], runs: tuple[Any, ...], energy: Any,
                    reads: list[Any], writes: list[Any],
                    temporal_levels: tuple[int, ...] = (), threshold: float | None = None) -> Any:
    """Lower bound of the objective over every completion below `boundary`, the index
    of the next temporal level to decide (-1 before the first). With the temporal
    levels given, the loops that must sit at that next level and the reuse they cannot
    all give (`conflict_penalties`) tighten it: the bound is the least over its orders.
    Where the plain bound already reaches `threshold` (the best score), that is kept."""
    e, r, w = open_transfers(placed, boundary, remaining, runs, energy, reads, writes)
    cycles = placed.cycles(r, w)
    base = objective.score(e + placed.leak_per_cycle * cycles, cycles)
    nxt = boundary if boundary >= 0 else (temporal_levels[0] if temporal_levels else None)
    if nxt is None or not temporal_levels:
        return base
    rows: Any = None
    if threshold is not None and np.ndim(base):
        rows = np.flatnonzero(base < threshold)
        if len(rows) == 0:
            return base
        pick = lambda x: x[rows] if np.ndim(x) else x          # noqa: E731
        remaining, runs = tuple(map(pick, remaining)), tuple(map(pick, runs))
        energy, reads, writes = pick(energy), [pick(x) for x in reads], [pick(x) for x in writes]
    options = conflict_penalties(placed, nxt, forced_at(placed, nxt, temporal_levels, remaining),
                                 remaining)
    if not options:
        return base
    best: Any = None
    for pen in options:
        e, r, w = open_transfers(placed, boundary, remaining, runs, energy, reads, writes, pen, nxt)
        cycles = placed.cycles(r, w)
        score = objective.score(e + placed.leak_per_cycle * cycles, cycles)
        best = score if best is None else np.minimum(best, score)
    if rows is None:
        return np.maximum(base, best) if np.ndim(best) or np.ndim(base) else max(base, best)
    out = np.array(base, dtype=np.float64, copy=True)
    out[rows] = np.maximum(out[rows], best)
    return out


def placement_bound(placed: PlacedNest, objective: Objective,
                    temporal_levels: tuple[int, ...] = ()) -> Any:
    """Lower bound of every mapping of a placement (or of each placement of a batch):
    no loop placed yet, so every transfer is at least one pass over its partition."""
    return objective_bound(placed, objective, -1, tuple(placed.t_tot),
                           (1,) * len(placed.tensors), placed.energy0, list(placed.reads0),
                           list(placed.writes0), temporal_levels)


def prefix_bounds(space: Any, engine: Any, objective: Objective, choice: Any) -> list[float]:
    """The bound the search computes at each boundary of a complete mapping, outermost
    first (the placement's bound, then one per temporal level decided). None may exceed
    the mapping's own objective; tests check it, and it explains a certificate."""
    from cim_plugin.model.partial import NestModel, run_after

    placed = PlacedNest(NestModel(engine), choice.placement)
    dims = {d: i for i, d in enumerate(space.dims)}
    out = [float(placement_bound(placed, objective, space.temporal_levels))]
    remaining = tuple(placed.t_tot)
    runs = (1,) * len(placed.tensors)
    energy, reads, writes = placed.energy0, list(placed.reads0), list(placed.writes0)
    tl = space.temporal_levels
    for j, level in enumerate(tl):
        nxt = space.n_levels - 1 if j == len(tl) - 1 else tl[j + 1]
        T = choice.temporal[level]
        order = tuple(dims[d] for d in choice.perm[level])
        runs = tuple(run_after(order, T, rel, runs[t]) for t, (rel, _, _) in enumerate(placed.tensors))
        remaining = tuple(r // f for r, f in zip(remaining, T))
        energy = placed.price_links(placed.links_into(level, nxt), placed.pas_exact(remaining, runs),
                                    energy, reads, writes)
        if j < len(tl) - 1:
            out.append(float(objective_bound(placed, objective, nxt, remaining, runs, energy,
                                             reads, writes, space.temporal_levels)))
    return out
