"""A deterministic emulation of Timeloop's random mapper (how the method mapped its baseline).

The method mapped the tensor-core baseline with `timeloop-mapper`, algorithm `random`,
objective EDP, victory condition 100, 8 threads (the reference run's
parsed-processed-input.yaml), under the design's constraints. That mapper draws
mappings at random from the mapspace and each thread stops after `victory` valid
mappings in a row that do not improve its best; the best over the threads wins
(timeloop src/applications/mapper/mapper-thread.cpp). On the method's shapes it left
the tensor core at a few percent to 16 % utilization.

`random_search` does the same with a seeded generator, so the study stays
deterministic bit for bit:

- each thread has its own stream, `numpy.random.default_rng([seed, thread])`;
- a draw picks, for every dimension independently, a factorization of its bound over
  the mapspace's temporal levels and fan-outs uniformly among all ordered
  factorizations the constraints allow (prime exponents spread by uniform
  compositions, as Timeloop indexes its factorization space), a loop order per level
  uniformly among the allowed ones, and each free keep/bypass bit at random;
- draws whose spatial factors fit no fan-out are never made (the draw is conditioned
  on fitting, which leaves the distribution of the valid draws unchanged); a draw
  whose tiles overflow a level is invalid and does not count towards the victory
  condition (Timeloop counts those against its `timeout`, here `max_invalid` in a row);
- ties keep the earlier mapping (Timeloop updates only on a strict improvement).

Differences to the real mapper: Timeloop also draws the X/Y split of each fan-out
and rejects a draw whose split overflows, where the emulation takes any split that
fits; its threads share one mapspace split into chunks. The spread of the outcome over
seeds is what to compare (docs/paper-fidelity.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cim_plugin.errors import InvalidMappingError
from cim_plugin.mapping.factors import divisors
from cim_plugin.mapping.mapspace import Choice, MapSpace, Spatial
from cim_plugin.model.engine import Engine
from cim_plugin.model.objective import Objective
from cim_plugin.model.result import EvalResult

#: the reference mapper settings (WWWtoCiM designs/_include/mapper.yaml, 8 threads)
VICTORY = 100
THREADS = 8
MAX_INVALID = 100000
MAX_FACTORIZATIONS = 2_000_000


@dataclass
class RandomOutcome:
    choice: Choice
    result: EvalResult
    score: float
    valid: int                 # valid mappings evaluated over all threads
    invalid: int


class _Sampler:
    """Draws of one mapspace (see module doc). Every dimension's allowed factorizations
    are listed once, so a draw is one index per dimension."""

    def __init__(self, space: MapSpace) -> None:
        self.space = space
        self.slots = [("t", i) for i in space.temporal_levels] + [("s", i) for i in space.fanout_levels]
        self._spatial_rows: dict[int, Spatial] = {}
        self.capacity_levels = [i for i, lv in enumerate(space.arch.storage)
                                if lv.effective_size is not None]
        self.rel = {ds.name: [space.dims.index(d) for d in ds.dims]
                    for ds in space.problem.data_spaces}
        options = [self._factorizations(di) for di in range(len(space.dims))]
        nt = len(space.temporal_levels)
        table = space.spatial_table()
        fl = list(space.fanout_levels)
        # each dimension's factorizations grouped by their spatial part, and every
        # spatial assignment that fits the fan-outs weighted by how many draws give it:
        # drawing a key by weight, then a member of each group, is the uniform draw
        # conditioned on fitting (no draw is wasted on a fan-out that overflows)
        self.groups: list[dict[tuple[int, ...], list[tuple[int, ...]]]] = []
        for opts in options:
            g: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
            for o in opts:
                g.setdefault(o[nt:], []).append(o[:nt])
            self.groups.append(g)
        self.table = table
        self.rows: list[int] = []
        self.keys: list[tuple[tuple[int, ...], ...]] = []
        weights = []
        seen = set()
        for row in range(len(table)):
            key = tuple(tuple(int(x) for x in table.factors[row][fl, di])
                        for di in range(len(space.dims)))
            if key in seen:
                continue
            seen.add(key)
            w = math.prod(len(self.groups[di].get(key[di], ())) for di in range(len(key)))
            if w:
                self.rows.append(row)
                self.keys.append(key)
                weights.append(w)
        total = sum(weights)
        self.cum = np.cumsum(np.array(weights, dtype=float) / total) if total else np.array([])

    def _bound(self, kind: str, i: int, di: int):
        lv = self.space.levels[i]
        return lv.temporal[di] if kind == "t" else lv.spatial[di]

    def _factorizations(self, di: int) -> list[tuple[int, ...]]:
        """Every ordered factorization of dimension di over the slots that its bounds
        allow (Timeloop's index-factorization space of that dimension)."""
        out: list[tuple[int, ...]] = []
        bounds = [self._bound(kind, i, di) for kind, i in self.slots]

        def rec(j: int, rem: int, acc: tuple[int, ...]) -> None:
            if len(out) > MAX_FACTORIZATIONS:
                raise InvalidMappingError("too many factorizations to list", field="random")
            if j == len(bounds) - 1:
                if bounds[j].allows(rem):
                    out.append(acc + (rem,))
                return
            for f in divisors(rem):
                if bounds[j].allows(f):
                    rec(j + 1, rem // f, acc + (f,))

        rec(0, self.space.bounds[di], ())
        return out

    def draw(self, rng: np.random.Generator) -> Choice:
        """One random mapping whose spatial factors fit the fan-outs."""
        sp = self.space
        if not len(self.cum):
            raise sp.empty_reason()
        k = min(int(np.searchsorted(self.cum, rng.random(), side="right")), len(self.cum) - 1)
        key = self.keys[k]
        temporal = [[1] * len(sp.dims) for _ in range(sp.n_levels)]
        for di, part in enumerate(key):
            members = self.groups[di][part]
            pick = members[int(rng.integers(len(members)))]
            for j, i in enumerate(sp.temporal_levels):
                temporal[i][di] = pick[j]
        row = self.rows[k]
        perm = []
        for i in range(sp.n_levels):
            orders = sp.orders(i)
            perm.append(orders[int(rng.integers(len(orders)))])
        keep = []
        for lv in sp.levels:
            free = [d for d in lv.keep_free if rng.integers(2)]
            keep.append(lv.keep_fixed | frozenset(free))
        if row not in self._spatial_rows:
            got = self.table.get(row)
            self._spatial_rows[row] = Spatial(got.factors, got.axes)
        return Choice(keep=tuple(keep), spatial=self._spatial_rows[row],
                      temporal=tuple(tuple(t) for t in temporal), perm=tuple(perm))

    def fits(self, c: Choice) -> bool:
        """The model's capacity rule (every level's kept tiles within its effective
        size), checked before the model is run: most invalid draws end here."""
        sp = self.space
        n = sp.n_levels
        for i in self.capacity_levels:
            cap = sp.arch.storage[i].effective_size
            used = 0
            for name in c.keep[i]:
                t = 1
                for di in self.rel[name]:
                    for j in range(i, n):
                        t *= c.temporal[j][di] * c.spatial.factors[j][di]
                used += t
            if used > cap:
                return False
        return True


def random_search(space: MapSpace, engine: Engine, *, objective: str = "edp", seed: int = 0,
                  threads: int = THREADS, victory: int = VICTORY,
                  max_invalid: int = MAX_INVALID) -> RandomOutcome:
    """The best of `threads` seeded random-search threads (module doc)."""
    obj = Objective(objective)
    sampler = _Sampler(space)
    best: tuple[float, int, Choice, EvalResult] | None = None
    valid = invalid = 0
    for t in range(threads):
        rng = np.random.default_rng([seed, t])
        t_best = math.inf
        since = bad = 0
        while since < victory and bad < max_invalid:
            c = sampler.draw(rng)
            if not sampler.fits(c):
                invalid += 1
                bad += 1
                continue
            try:
                r = engine.evaluate(space.to_nest(c))
            except InvalidMappingError:
                invalid += 1
                bad += 1
                continue
            bad = 0
            valid += 1
            score = obj.of(r)
            if score < t_best:
                t_best, since = score, 0
                if best is None or score < best[0]:
                    best = (score, t, c, r)
            else:
                since += 1
    if best is None:
        raise space.empty_reason()
    return RandomOutcome(choice=best[2], result=best[3], score=best[0], valid=valid,
                         invalid=invalid)
