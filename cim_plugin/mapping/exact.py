"""Exact search: branch and bound over placements and temporal loops, with a certificate.

Order of decisions (coarse to fine, each pruned as soon as it is decided):
  1. placement: what every level keeps and every fan-out factor (`MapSpace`);
     placements are visited by increasing lower bound (`bounds.placement_bound`) and
     the search stops at the first whose bound reaches the best mapping found;
  2. temporal loops, level by level from the outermost in: a node is a boundary
     between levels; its children are every factor choice of the next level times
     every loop order that changes reuse, priced all at once (`PlacedNest`). A child
     whose tiles overflow a level below is dropped (capacity only shrinks as more
     factors move out), one whose lower bound reaches the best score is pruned, the
     rest are visited by increasing bound.

When the search ends, every pruned subtree had a bound at least the best score, so
the best mapping is optimal (`optimal`, gap 0). When a deadline or a node budget
stops it first, the smallest bound left unexplored is reported as `lower_bound`:
no mapping of the mapspace is better than that.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from cim_plugin.errors import InputError
from cim_plugin.mapping.factors import divisors
from cim_plugin.mapping.mapspace import Choice, MapSpace, Spatial, SpatialTable
from cim_plugin.model.bounds import objective_bound, placement_bound
from cim_plugin.model.engine import Engine
from cim_plugin.model.objective import Objective
from cim_plugin.model.partial import NestModel, PlacedNest, Placement, run_after

#: relative tolerance of the optimality proof: subtrees that could improve the best
#: score by less than this are not explored (float rounding is ~1e-15)
TOLERANCE = 1e-9
_CHUNK = 1 << 15
_BATCH = 64           # sibling nodes whose children are priced together
_MAX_CHOICES = 50_000_000   # factor choices of one node beyond which the space is refused


class _Stop(Exception):
    """Deadline or node budget reached."""


class _Skip(_Stop):
    """The node budget of one placement reached: go on with the next placement."""


@dataclass
class Stats:
    placements: int = 0
    placements_pruned: int = 0
    nodes: int = 0
    children: int = 0
    pruned_capacity: int = 0
    pruned_bound: int = 0
    equivalent_orders: int = 0
    leaves: int = 0
    #: partial choices dropped because their tiles overflow a level, per level: the
    #: failures by level and reason Timeloop's mapper counts
    pruned_capacity_at: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: Stats) -> Stats:
        """The counts of two runs together (the probe and the search after it)."""
        at = dict(self.pruned_capacity_at)
        for name, n in other.pruned_capacity_at.items():
            at[name] = at.get(name, 0) + n
        return Stats(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                        for f in fields(Stats) if f.name != "pruned_capacity_at"},
                     pruned_capacity_at=at)

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "pruned_capacity_at": dict(sorted(
            self.pruned_capacity_at.items()))}


@dataclass
class Outcome:
    best: tuple[float, Choice] | None
    complete: bool
    lower_bound: float
    stats: Stats = field(default_factory=Stats)


@dataclass
class _Node:
    j: int                          # index of the next temporal level to decide
    remaining: tuple[int, ...]      # temporal product left for that level and below
    runs: tuple[int, ...]           # trailing run per tensor at the boundary
    energy: float
    reads: list[float]
    writes: list[float]
    loops: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]   # (factors, order) per temporal level


class BranchAndBound:
    """One exact search of a mapspace for an objective."""

    def __init__(self, space: MapSpace, engine: Engine, objective: Objective, *,
                 deadline: float | None = None, max_nodes: int | None = None,
                 max_children: int | None = None, placement_nodes: int | None = None,
                 max_placements: int | None = None) -> None:
        self.space = space
        self.engine = engine
        self.objective = objective
        self.deadline = deadline
        self.max_nodes = max_nodes
        self.max_children = max_children        # children priced (a node can have millions)
        self.placement_nodes = placement_nodes  # nodes per placement before moving on
        self._placement_start = 0
        self.max_placements = max_placements    # placements visited before stopping
        self.cut = 1.0 / (1.0 + TOLERANCE)     # prune bounds within TOLERANCE of the best
        self.stats = Stats()
        self.best: tuple[float, Choice] | None = None
        self.open_bound = math.inf          # smallest bound left unexplored on a stop
        self._recorded = 0                  # how many times a stop recorded open bounds
        self.tl = space.temporal_levels
        self.limits = space.deeper_limits()
        self.dim_index = {d: i for i, d in enumerate(space.dims)}
        self.D = len(space.dims)
        self._orders_idx: dict[int, list[tuple[int, ...]]] = {}

    # ------------------------------------------------------------------ driver
    def placements(self) -> Iterator[tuple[float, PlacedNest, Spatial]]:
        """Placements by increasing lower bound. The bounds of every spatial assignment
        of a keep choice are priced at once; a placement is only built when reached."""
        model = NestModel(self.engine)
        table = self.space.spatial_table()
        ones = (1,) * len(self.space.dims)
        ranked: list[tuple[float, int, int]] = []
        keeps = self.space.keep_choices()
        for k, keep in enumerate(keeps):
            self._check_deadline()
            bounds = self._placement_bounds(model, keep, table, ones)
            ranked.extend((float(b), k, row) for row, b in enumerate(bounds) if math.isfinite(b))
        ranked.sort()
        for idx, (lb, k, row) in enumerate(ranked):
            sp = table.get(row)
            self._pending = len(ranked) - idx - 1
            yield lb, PlacedNest(model, Placement(keeps[k], sp.factors)), sp

    def _placement_bounds(self, model: NestModel, keep: tuple[frozenset[str], ...],
                          table: SpatialTable, ones: tuple[int, ...]) -> np.ndarray:
        """Bound of each spatial assignment under `keep` (inf where infeasible)."""
        if len(table) == 0:
            return np.zeros(0)
        # counts beyond 2**53 are priced in floats: bounds lose ~1e-16, far below TOLERANCE
        factors = table.factors if model.macs < 2 ** 53 else table.factors.astype(np.float64)
        try:
            batch = PlacedNest(model, Placement(keep, factors))
        except ValueError:
            return np.full(len(table), math.inf)
        bound = np.asarray(placement_bound(batch, self.objective, self.tl), dtype=np.float64)
        for c in range(self.space.n_levels):
            bound = np.where(np.asarray(batch.fits(c, ones)), bound, math.inf)
        return np.broadcast_to(bound, (len(table),))

    def run(self, incumbent: tuple[float, Choice] | None = None) -> Outcome:
        """Search from `incumbent`; the outcome is proven optimal when no subtree left
        unexplored (by a deadline or the node budget) has a bound below it."""
        self.best = incumbent
        self._pending = 0
        ranked = self.placements()
        try:
            first = next(ranked, None)
        except _Stop:                       # stopped before every placement was bounded
            self.open_bound = 0.0
            first = None
        for lb, placed, sp in itertools.chain([first] if first else [], ranked):
            if self.best is not None and lb >= self.best[0] * self.cut:
                self.stats.placements_pruned += 1 + self._pending
                break
            if self.max_placements is not None and self.stats.placements >= self.max_placements:
                self.open_bound = min(self.open_bound, lb)      # this one and all after it
                break
            self.stats.placements += 1
            root = _Node(0, placed.t_tot, (1,) * len(placed.tensors), placed.energy0,
                         [float(x) for x in placed.reads0], [float(x) for x in placed.writes0], ())
            recorded = self._recorded
            self._placement_start = self.stats.nodes
            try:
                self._visit(placed, sp, [root])
            except _Skip:                           # what was left of it is recorded
                if self._recorded == recorded:
                    self.open_bound = min(self.open_bound, lb)
                continue
            except _Stop:
                if self._recorded == recorded:      # stopped before any child was ranked
                    self.open_bound = min(self.open_bound, lb)
                following = next(ranked, None)
                if following is not None:
                    self.open_bound = min(self.open_bound, following[0])
                break
        best = self.best[0] if self.best else math.inf
        lower = min(self.open_bound, best)
        complete = self.best is None and self.open_bound == math.inf or \
            lower >= best * self.cut
        return Outcome(self.best, complete, lower, self.stats)

    def _check_budget(self, nodes: int = 1) -> None:
        self.stats.nodes += nodes
        if self.max_nodes is not None and self.stats.nodes > self.max_nodes:
            raise _Stop
        if self.placement_nodes is not None and \
                self.stats.nodes - self._placement_start > self.placement_nodes:
            raise _Skip
        self._check_deadline()

    def _check_deadline(self) -> None:
        if self.deadline_reached():
            raise _Stop

    def deadline_reached(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    # ------------------------------------------------------------------ search
    def _visit(self, placed: PlacedNest, sp: Spatial, nodes: list[_Node]) -> None:
        """Depth first over the children of `nodes` (siblings at one level, expanded
        together so that numpy prices all their children in one pass)."""
        self._check_budget(len(nodes))
        children = self._expand(placed, sp, nodes)
        i = 0
        batch = 1           # the most promising children one by one, then growing batches
        while i < len(children):
            chunk_start = i
            chunk: list[_Node] = []
            while i < len(children) and len(chunk) < batch and not self._pruned(children[i][0]):
                chunk.append(children[i][1])
                i += 1
            if not chunk:
                self.stats.pruned_bound += len(children) - i
                return
            batch = min(2 * batch, _BATCH)
            try:
                self._visit(placed, sp, chunk)
            except _Stop:
                self.open_bound = min(self.open_bound, children[chunk_start][0])
                self._recorded += 1
                raise

    def _pruned(self, lb: float) -> bool:
        return self.best is not None and lb >= self.best[0] * self.cut

    def _options(self, j: int, level: int, remaining: tuple[int, ...], placed: PlacedNest,
                 nxt: int) -> list[list[int]] | None:
        """Factor choices per dimension at `level`: its bounds, what the deeper levels'
        bounds need, and tiles that fit the levels down to the next decision alone."""
        last = j == len(self.tl) - 1
        opts = []
        for di, r in enumerate(remaining):
            bound = self.space.levels[level].temporal[di]
            ex, mn, mx = self.limits[j][di]
            for c in range(level + 1, nxt + 1):
                lim = placed.max_remaining(c, di)
                if lim is not None:
                    mx = lim if mx is None else min(mx, lim)
            choices = [r] if last else divisors(r)
            ok = [f for f in choices if bound.allows(f) and (r // f) % ex == 0
                  and r // f >= mn and (mx is None or r // f <= mx)]
            if not ok:
                return None
            opts.append(ok)
        return opts

    def _grids(self, placed: PlacedNest, nodes: list[_Node], j: int, level: int, nxt: int):
        """Rows (parent index, factor per dim) of the child factor choices whose tiles can
        fit the levels down to the next decision, in pieces of at most _CHUNK rows."""
        pieces: list[tuple[np.ndarray, tuple[np.ndarray, ...]]] = []
        size = 0
        for pi, node in enumerate(nodes):
            opts = self._options(j, level, node.remaining, placed, nxt)
            if opts is None:
                continue
            for T in self._fitting(placed, node.remaining, opts, level, nxt):
                pieces.append((np.full(len(T[0]), pi), T))
                size += len(T[0])
                if size >= _CHUNK:
                    yield pieces
                    pieces, size = [], 0
        if pieces:
            yield pieces

    def _fitting(self, placed: PlacedNest, remaining: tuple[int, ...], opts: list[list[int]],
                 level: int, nxt: int):
        """The factor combinations of `opts` whose tiles can fit, built one dimension at a
        time: a partial choice is dropped as soon as its tiles, with every dimension still
        open at its smallest, overflow a level (tiles only grow as factors stay below)."""
        arrays = [np.asarray(o, dtype=np.float64) for o in opts]
        D = len(arrays)
        smallest = [remaining[d] / arrays[d].max() for d in range(D)]
        bounded = [c for c in range(level + 1, nxt + 1) if placed.capacity[c] is not None]
        rows = np.zeros((1, 0), dtype=np.int64)
        for d in range(D):
            grown = []
            step = max(1, _CHUNK // len(arrays[d]))
            for start in range(0, len(rows), step):
                self._check_deadline()
                part = rows[start:start + step]
                pairs = np.repeat(part, len(arrays[d]), axis=0)
                new = np.tile(np.arange(len(arrays[d])), len(part))[:, None]
                cand = np.concatenate([pairs, new], axis=1)
                R2 = tuple(remaining[e] / arrays[e][cand[:, e]] if e <= d else smallest[e]
                           for e in range(D))
                ok = np.ones(len(cand), dtype=bool)
                for c in bounded:
                    fit = np.asarray(placed.fits(c, R2), dtype=bool)
                    dropped = int((ok & ~fit).sum())
                    if dropped:
                        name = self.space.levels[c].name
                        at = self.stats.pruned_capacity_at
                        at[name] = at.get(name, 0) + dropped
                    ok &= fit
                self.stats.pruned_capacity += int((~ok).sum())
                grown.append(cand[ok])
            rows = np.concatenate(grown) if grown else np.zeros((0, d + 1), dtype=np.int64)
            if len(rows) > _MAX_CHOICES:
                name = self.space.levels[level].name
                raise InputError(
                    f"the mapspace is too large to search: more than {_MAX_CHOICES:.3g} factor "
                    f"choices fit at {name}", field=f"constraints of {name}",
                    expected=f"temporal factor constraints at {name} that leave fewer choices")
        for start in range(0, len(rows), _CHUNK):
            block = rows[start:start + _CHUNK]
            yield tuple(arrays[d][block[:, d]] for d in range(D))

    def _expand(self, placed: PlacedNest, sp: Spatial, nodes: list[_Node]
                ) -> list[tuple[float, _Node]]:
        """Price every child of `nodes`; record leaves; return the open children by bound.

        A child is a factor choice for the next temporal level times one of its loop
        orders that changes reuse; all children of the batch are priced at once.
        """
        j = nodes[0].j
        level = self.tl[j]
        last = j == len(self.tl) - 1
        nxt = self.space.n_levels - 1 if last else self.tl[j + 1]
        orders = self._level_orders(level)
        links = placed.links_into(level, nxt)
        D = self.D
        rem_all = np.array([n.remaining for n in nodes], dtype=np.float64).reshape(len(nodes), D)
        runs_all = np.array([n.runs for n in nodes], dtype=np.float64).reshape(len(nodes), -1)
        energy_all = np.array([n.energy for n in nodes], dtype=np.float64)
        reads_all = np.array([n.reads for n in nodes], dtype=np.float64)
        writes_all = np.array([n.writes for n in nodes], dtype=np.float64)
        out: list[tuple[float, _Node]] = []
        for pieces in self._grids(placed, nodes, j, level, nxt):
            self._check_deadline()
            parent = np.concatenate([p for p, _ in pieces])
            T = tuple(np.concatenate([t[d] for _, t in pieces]) for d in range(D))
            R2 = tuple(rem_all[parent, d] / T[d] for d in range(D))
            self.stats.children += len(parent) * len(orders)
            if self.max_children is not None and self.stats.children > self.max_children:
                raise _Stop
            # (every row fits the levels down to the next decision: `_fitting`)
            # every loop order that changes reuse, stacked: one pricing pass for all
            shape = parent.shape
            seen: list[tuple[np.ndarray, ...]] = []
            picks: list[tuple[int, np.ndarray, tuple[np.ndarray, ...]]] = []
            for k, order in enumerate(orders):
                runs = tuple(_full(run_after(order, T, rel, runs_all[parent, t]), shape)
                             for t, (rel, _, _) in enumerate(placed.tensors))
                new = np.ones(shape, dtype=bool)
                for prev in seen:
                    same = np.ones(shape, dtype=bool)
                    for a, b in zip(prev, runs):
                        same &= a == b
                    new &= ~same
                seen.append(runs)
                self.stats.equivalent_orders += int((~new).sum())
                rows = np.flatnonzero(new)
                if len(rows):
                    picks.append((k, rows, tuple(r[rows] for r in runs)))
            if not picks:
                continue
            row = np.concatenate([r for _, r, _ in picks])
            order_of = np.concatenate([np.full(len(r), k) for k, r, _ in picks])
            runs_k = tuple(np.concatenate([rs[t] for _, _, rs in picks])
                           for t in range(len(placed.tensors)))
            pk = parent[row]
            Tk = tuple(t[row] for t in T)
            Rk = tuple(r[row] for r in R2)
            reads = list(reads_all[pk].T)
            writes = list(writes_all[pk].T)
            energy = _full(placed.price_links(links, placed.pas_exact(Rk, runs_k),
                                              energy_all[pk], reads, writes), pk.shape)
            if last:
                cycles = placed.cycles(reads, writes)
                score = _full(self.objective.score(energy + placed.leak_per_cycle * cycles,
                                                   cycles), pk.shape)
                self.stats.leaves += len(score)
                q = int(np.argmin(score))
                self._offer(float(score[q]), placed, sp, nodes[int(pk[q])].loops
                            + ((tuple(int(round(t[q])) for t in Tk), orders[int(order_of[q])]),))
                continue
            lb = _full(objective_bound(placed, self.objective, nxt, Rk, runs_k, energy, reads,
                                       writes, self.tl,
                                       self.best[0] * self.cut if self.best else None), pk.shape)
            keep = np.ones(lb.shape, dtype=bool) if self.best is None else \
                lb < self.best[0] * self.cut
            self.stats.pruned_bound += int((~keep).sum())
            kept = np.flatnonzero(keep)
            # columns as Python numbers once, so that each child only gathers its own
            as_int = [np.rint(np.asarray(_full(x, pk.shape))[kept]).astype(np.int64).tolist()
                      for x in (*Rk, *runs_k, *Tk)]
            as_float = [np.asarray(_full(x, pk.shape), dtype=np.float64)[kept].tolist()
                        for x in (energy, *reads, *writes, lb)]
            parents = pk[kept].tolist()
            order_ix = order_of[kept].tolist()
            nR, nruns = len(Rk), len(runs_k)
            nr = len(reads)
            for i in range(len(kept)):
                if not i % 4096:
                    self._check_deadline()
                ints = [col[i] for col in as_int]
                flo = [col[i] for col in as_float]
                child = _Node(
                    j + 1, tuple(ints[:nR]), tuple(ints[nR:nR + nruns]), flo[0],
                    flo[1:1 + nr], flo[1 + nr:-1],
                    nodes[parents[i]].loops + ((tuple(ints[nR + nruns:]),
                                                orders[order_ix[i]]),))
                out.append((flo[-1], child))
        out.sort(key=lambda x: (x[0], x[1].loops))
        return out

    def _offer(self, score: float, placed: PlacedNest, sp: Spatial, loops) -> None:
        """A complete mapping: keep it if it beats the best so far."""
        if self.best is not None and score >= self.best[0]:
            return
        self.best = (score, self._choice(placed, sp, loops))

    def _level_orders(self, level: int) -> list[tuple[int, ...]]:
        if level not in self._orders_idx:
            self._orders_idx[level] = [tuple(self.dim_index[d] for d in o)
                                       for o in self.space.distinct_orders(level)]
        return self._orders_idx[level]

    def _choice(self, placed: PlacedNest, sp: Spatial,
                loops: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]) -> Choice:
        space = self.space
        D = len(space.dims)
        temporal = [[1] * D for _ in range(space.n_levels)]
        perm = [space.orders(i)[0] for i in range(space.n_levels)]
        for level, (factors, order) in zip(self.tl, loops):
            temporal[level] = list(factors)
            perm[level] = tuple(space.dims[d] for d in order)
        return Choice(placed.placement.keep, sp, tuple(tuple(t) for t in temporal), tuple(perm))


#: the probe: nodes per placement, nodes in all, and placements (the most promising)
PROBE_PER_PLACEMENT = 24
PROBE_BUDGET = 2_000
PROBE_PLACEMENTS = 32


def probed_search(space: MapSpace, engine: Engine, objective: Objective,
                  incumbent: tuple[float, Choice] | None, deadline: float | None, *,
                  max_nodes: int | None = None, max_children: int | None = None) -> Outcome:
    """A probe of every placement, then branch and bound from the best mapping it found.

    Depth first under a node cap, the search can spend all of it below the first few
    placements while the optimum sits in a later one (a CiM level with thousands of
    fan-out assignments); unbounded, it explores placements that a good incumbent
    would have pruned. So every placement, by increasing bound, first gets a few nodes
    (`PROBE_PER_PLACEMENT`; `PROBE_BUDGET` nodes and `PROBE_PLACEMENTS` placements in all)
    to dive to a complete mapping; the best becomes the incumbent of the search that follows. Both runs keep their
    certificate (a placement cut short records its bound), so each run's lower bound
    holds for the whole mapspace, and the larger is reported.
    """
    probe = BranchAndBound(space, engine, objective, deadline=deadline, max_nodes=PROBE_BUDGET,
                           max_children=max_children, placement_nodes=PROBE_PER_PLACEMENT,
                           max_placements=PROBE_PLACEMENTS)
    first = probe.run(incumbent)
    if first.complete or probe.deadline_reached():
        return first
    bb = BranchAndBound(space, engine, objective, deadline=deadline, max_nodes=max_nodes,
                        max_children=max_children)
    second = bb.run(first.best)
    lower = max(first.lower_bound, second.lower_bound)
    best = second.best
    complete = second.complete or (best is not None and lower >= best[0] * bb.cut)
    stats = first.stats + second.stats
    return Outcome(best, complete, lower, stats)


def _full(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    """`x` as an array of `shape` (counts that do not depend on the choice are scalars)."""
    if isinstance(x, np.ndarray) and x.shape == shape:
        return x
    return np.broadcast_to(np.asarray(x, dtype=np.float64), shape)

