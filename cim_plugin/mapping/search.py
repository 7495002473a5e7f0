"""Mapping search: exhaustive over the (pruned) mapspace, or a fast seeded local search.

Both are deterministic for a given seed. The fast mode samples valid mappings,
adds the seeds it is given (e.g. the priority-based CiM mapping or an existing
Timeloop mapping), then improves the best few by steepest descent over
neighbouring mappings (move one prime factor between two loops, reorder one
level's loops, keep or bypass one tensor at one level).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tqdm import tqdm

from cim_plugin.errors import InputError, InvalidMappingError
from cim_plugin.mapping.factors import prime_factors
from cim_plugin.mapping.mapspace import Candidate, MapSpace
from cim_plugin.model.engine import Engine
from cim_plugin.model.result import EvalResult
from cim_plugin.spec.mapping import Mapping

OBJECTIVES = ("edp", "energy", "delay")


def objective_fn(name: str, energy_weight: float = 1.0, delay_weight: float = 1.0
                 ) -> Callable[[EvalResult], float]:
    """Lower is better. `weighted` = energy^a * cycles^b."""
    if name == "edp":
        return lambda r: r.energy_pJ * r.cycles
    if name == "energy":
        return lambda r: r.energy_pJ
    if name == "delay":
        return lambda r: float(r.cycles) + r.energy_pJ * 1e-30
    if name == "weighted":
        return lambda r: (r.energy_pJ ** energy_weight) * (float(r.cycles) ** delay_weight)
    raise InputError(f"unknown objective {name!r}", field="objective",
                     expected="edp, energy, delay or weighted")


@dataclass
class SearchResult:
    mapping: Mapping
    result: EvalResult
    score: float
    evaluated: int
    valid: int
    seconds: float
    search: str
    complete: bool = True
    trace: list[float] = field(default_factory=list)

    def mapper_json(self) -> dict:
        return {"evaluated": self.evaluated, "valid": self.valid,
                "seconds": round(self.seconds, 4), "search": self.search,
                "complete": self.complete}


def _order_key(c: Candidate) -> tuple:
    """A tie-break independent of string hashing (sets print in hash order)."""
    return (c.fac, c.perm, tuple(tuple(sorted(k)) for k in c.keep))


class _Scorer:
    def __init__(self, space: MapSpace, engine: Engine, objective: Callable[[EvalResult], float]):
        self.space, self.engine, self.objective = space, engine, objective
        self.cache: dict[Candidate, tuple[float, EvalResult] | None] = {}
        self.evaluated = 0
        self.valid = 0

    def __call__(self, c: Candidate) -> tuple[float, EvalResult] | None:
        hit = self.cache.get(c, False)
        if hit is not False:
            return hit
        self.evaluated += 1
        out: tuple[float, EvalResult] | None
        try:
            r = self.engine.evaluate(self.space.to_nest(c))
            out = (self.objective(r), r)
            self.valid += 1
        except InvalidMappingError:
            out = None
        self.cache[c] = out
        return out


def _neighbours(space: MapSpace, c: Candidate) -> Iterable[Candidate]:
    n_slots = len(space.slots)
    # move one prime factor of one dimension between two slots
    for di, d in enumerate(space.dims):
        chain = c.fac[di]
        bounds = space.bounds[d]
        for a in range(n_slots):
            if chain[a] == 1:
                continue
            for p in sorted(set(prime_factors(chain[a]))):
                for b in range(n_slots):
                    if b == a:
                        continue
                    new = list(chain)
                    new[a] //= p
                    new[b] *= p
                    if not (bounds[a].allows(new[a]) and bounds[b].allows(new[b])):
                        continue
                    sb = space.slots[b]
                    if sb.kind != "T" and new[b] > space.fanout[(sb.level, sb.kind)]:
                        continue
                    nt = tuple(new)
                    if not space._spatial_exact_ok(nt, d):
                        continue
                    fac = c.fac[:di] + (nt,) + c.fac[di + 1:]
                    if not space.spatial_ok(fac) or not space.capacity_ok(fac, c.keep):
                        continue
                    yield Candidate(fac, space.normalize_perm(fac, c.perm), c.keep)
    # reorder one level
    for i in range(space.n_levels):
        for p in space.perm_choices(i, c.fac):
            if p != c.perm[i]:
                yield Candidate(c.fac, c.perm[:i] + (p,) + c.perm[i + 1:], c.keep)
    # keep / bypass one tensor at one level
    for i in range(space.n_levels):
        for ds in space.keep_free[i]:
            keep = c.keep[i] ^ frozenset((ds,))
            new_keep = c.keep[:i] + (keep,) + c.keep[i + 1:]
            if space.capacity_ok(c.fac, new_keep):
                yield Candidate(c.fac, c.perm, new_keep)


def _no_mapping_error(space: MapSpace) -> InvalidMappingError:
    """Name the constraint that makes the mapspace empty."""
    for d in space.dims:
        if not space.chains(d):
            pinned = [f"{space.arch.storage[s.level].base_name}.{s.kind}"
                      for s, b in zip(space.slots, space.bounds[d])
                      if b.exact is not None or b.max is not None or b.min is not None]
            return InvalidMappingError(
                f"no factorization of {d}={space.problem.bounds[d]} satisfies the factor "
                f"constraints and fan-outs at {', '.join(pinned) or 'the spatial levels'}",
                field=f"constraints factors of {d}", expected="factors that divide the dimension")
    # smallest tiles: all free factors at the outermost level
    minimal = tuple(min(space.chains(d), key=lambda ch: math.prod(ch[1:])) for d in space.dims)
    tiles = space.tiles(minimal)
    for i, level in enumerate(space.arch.storage):
        eff = level.effective_size
        if eff is None:
            continue
        used = sum(math.prod(tiles[i][x] for x in ds.dims) for ds in space.problem.data_spaces
                   if ds.name in space.keep_fixed[i])
        if used > eff:
            return InvalidMappingError(
                f"even the smallest tiles the constraints allow need {used} words at "
                f"{level.base_name}, whose capacity is {eff}",
                field=f"level {level.base_name}", expected="looser factor or keep constraints")
    return InvalidMappingError("no valid mapping found (spatial fan-outs and capacities "
                               "exclude every sampled mapping)", field="mapspace",
                               expected="looser constraints")


def search(space: MapSpace, engine: Engine, *, objective: str = "edp", mode: str = "fast",
           seeds: Iterable[Candidate] = (), seed: int = 0, samples: int = 150, starts: int = 6,
           timeout: float | None = None, progress: bool = False,
           energy_weight: float = 1.0, delay_weight: float = 1.0) -> SearchResult:
    """Best mapping for `objective` in `space` (see module doc)."""
    obj = objective_fn(objective, energy_weight, delay_weight)
    scorer = _Scorer(space, engine, obj)
    t0 = time.perf_counter()
    deadline = t0 + timeout if timeout else None
    if mode == "exhaustive":
        seed_best, _ = _fast(space, scorer, list(seeds), seed, samples, starts, deadline, False)
        best, complete = _exhaustive(space, scorer, deadline, progress, seed_best,
                                     _lower_bound(space, engine, objective, energy_weight, delay_weight))
    elif mode == "fast":
        best, complete = _fast(space, scorer, list(seeds), seed, samples, starts, deadline, progress)
    elif mode == "seed":
        best, complete = None, True
        for c in seeds:
            s = scorer(c)
            if s is not None and (best is None or s[0] < best[1][0]):
                best = (c, s)
    else:
        raise InputError(f"unknown search mode {mode!r}", field="search",
                         expected="fast, exhaustive or seed")
    if best is None:
        raise _no_mapping_error(space)
    cand, (score, result) = best
    return SearchResult(mapping=space.to_mapping(cand), result=result, score=score,
                        evaluated=scorer.evaluated, valid=scorer.valid,
                        seconds=time.perf_counter() - t0, search=mode, complete=complete)


def _fast(space: MapSpace, scorer: _Scorer, seeds: list[Candidate], seed: int, samples: int,
          starts: int, deadline: float | None, progress: bool):
    rng = random.Random(seed)
    pool: dict[Candidate, float] = {}
    for c in seeds:
        s = scorer(c)
        if s is not None:
            pool[c] = s[0]
    tries = 0
    found = 0
    while found < samples and tries < samples * 40:
        tries += 1
        c = space.random_candidate(rng)
        if c is None:
            continue
        s = scorer(c)
        if s is not None:
            found += 1
            pool[c] = s[0]
    if not pool:
        return None, True
    ranked = sorted(pool, key=lambda c: (pool[c], _order_key(c)))
    # seeds always get refined, plus the best sampled starts
    start_points = list(dict.fromkeys([c for c in seeds if c in pool] + ranked[:starts]))
    best_c = ranked[0]
    complete = True
    bar = tqdm(total=len(start_points), desc="mapper", disable=not progress, leave=False)
    for c in start_points:
        cur = c
        cur_s = pool[c]
        while True:
            if deadline and time.perf_counter() > deadline:
                complete = False
                break
            nxt, nxt_s = None, cur_s
            for nb in _neighbours(space, cur):
                s = scorer(nb)
                if s is not None and s[0] < nxt_s:
                    nxt, nxt_s = nb, s[0]
            if nxt is None:
                break
            cur, cur_s = nxt, nxt_s
        if cur_s < scorer(best_c)[0] or (cur_s == scorer(best_c)[0] and _order_key(cur) < _order_key(best_c)):
            best_c = cur
        bar.update(1)
        if not complete:
            break
    bar.close()
    return (best_c, scorer(best_c)), complete


def _lower_bound(space: MapSpace, engine: Engine, objective: str, energy_weight: float,
                 delay_weight: float) -> Callable[[int], float] | None:
    """Objective lower bound from the temporal product C0 of a factorization alone.

    cycles >= C0 x compute latency; energy >= every MAC's compute energy + reading each
    read-only tensor from, and writing Z to, the outermost level once (it keeps all).
    None where no bound depends on the factorization (objective `energy`).
    """
    if objective == "energy":
        return None
    top = space.arch.storage[0]
    e = engine.level_energy[0]
    energy = engine.macs * (engine.compute_energy or 0.0)
    for ds in space.problem.data_spaces:
        unit = e.update if ds.read_write else e.read
        energy += -(-engine.sizes[ds.name] // top.block_size) * (unit or 0.0)
    lat = engine.compute_latency
    if objective == "edp":
        return lambda c0: energy * c0 * lat
    if objective == "delay":
        return lambda c0: float(c0 * lat)
    return lambda c0: (energy ** energy_weight) * (float(c0 * lat) ** delay_weight)


_SORT_LIMIT = 2_000_000      # factorizations held in memory to visit them by C0


def _spatially_valid(space: MapSpace):
    """Factorizations whose spatial factors fit every fan-out, pruned dimension by
    dimension (a partial product over an axis already above its fan-out is dropped)."""
    chains = [space.chains(d) for d in space.dims]
    axes = [(k, space.fanout[(sl.level, sl.kind)]) for k, sl in enumerate(space.slots) if sl.kind != "T"]

    def gen(di: int, prod: list[int], acc: list):
        if di == len(chains):
            yield tuple(acc)
            return
        for ch in chains[di]:
            ok = True
            for j, (k, cap) in enumerate(axes):
                if prod[j] * ch[k] > cap:
                    ok = False
                    break
            if not ok:
                continue
            acc.append(ch)
            yield from gen(di + 1, [prod[j] * ch[k] for j, (k, _) in enumerate(axes)], acc)
            acc.pop()

    return gen(0, [1] * len(axes), [])


def _exhaustive(space: MapSpace, scorer: _Scorer, deadline: float | None, progress: bool,
                incumbent: tuple[Candidate, tuple[float, EvalResult]] | None = None,
                bound: Callable[[int], float] | None = None):
    """Every factorization x keep set x distinct loop order, pruned exactly.

    Factorizations are visited by increasing temporal product C0; once the lower bound
    of the next one reaches the best score, no later one can win, so the search stops
    (`complete` stays True). The fast search's result is the starting incumbent. A
    mapspace with more than `_SORT_LIMIT` factorizations is enumerated lazily in
    generation order (bounded memory), skipping those whose bound cannot win.
    """
    slot_t = [k for k, sl in enumerate(space.slots) if sl.kind == "T"]
    with_c0 = ((math.prod(f[di][k] for di in range(len(f)) for k in slot_t), f)
               for f in _spatially_valid(space))
    # in increasing C0 order, once the bound of the next factorization reaches the best
    # score no later one can win; too many to sort, they are only skipped one by one
    bound_breaks = math.prod(len(space.chains(d)) for d in space.dims) <= _SORT_LIMIT
    combos = sorted(with_c0, key=lambda x: x[0]) if bound_breaks else with_c0
    best = incumbent
    complete = True
    bar = tqdm(total=None, desc="mapper (exhaustive)", disable=not progress, leave=False)
    keep_sets = list(itertools.product(*(space.keep_choices(i) for i in range(space.n_levels))))
    for c0, fac in combos:
        bar.update(1)
        if deadline and time.perf_counter() > deadline:
            complete = False
            break
        if bound is not None and best is not None and bound(c0) > best[1][0]:
            if bound_breaks:
                break
            continue
        perms = list(itertools.product(*(space.perm_choices(i, fac) for i in range(space.n_levels))))
        for keep in keep_sets:
            if not space.capacity_ok(fac, keep):
                continue
            for perm in perms:
                c = Candidate(fac, perm, keep)
                s = scorer(c)
                if s is not None and (best is None or s[0] < best[1][0]
                                      or (s[0] == best[1][0] and _order_key(c) < _order_key(best[0]))):
                    best = (c, s)
    bar.close()
    return best, complete
