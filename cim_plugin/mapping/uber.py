"""Timeloop's `Uber` mapspace of one of our mapspaces, indexed as Timeloop indexes it.

Timeloop's random mapper draws four IDs per mapping (index factorization, loop
permutation, spatial split, bypass) and builds the mapping from them
(timeloop src/mapspaces/uber.cpp, subspaces.cpp, src/util/numeric.cpp). To draw the same
mappings from the same IDs, this module lists each subspace in Timeloop's order:

- **Tiling levels**, innermost first: every storage level has a temporal tiling level,
  and a spatial one below it when its fan-out is above 1 (ArchProperties).
- **Index factorizations** per problem dimension: the ordered cofactor lists of
  Timeloop's `Factors` (the divisors of the bound in the order 1, n, 2, n/2, ...; a
  list's last entry varies slowest; fixed factors inserted at their tiling level; lists
  breaking a maximum or minimum pruned). A mapping's ID is a mixed-radix number over the
  dimensions, the first dimension the least significant digit.
- **Loop permutations** per tiling level: the innermost temporal level and the 1-D
  spatial levels without a permutation constraint use the canonical order; the others
  put the constraint's loops first (innermost first) and permute the rest by the
  factoradic of their digit, the innermost tiling level the least significant digit.
- **Spatial splits** per spatial tiling level: the constraint's split, or one of
  (dimensions + 1) split points; the loops before the split go to X, the others to Y,
  and a split whose X or Y product exceeds the fan-out is no mapping.

Levels whose temporal loops our mapspace folds into the level above
(`LevelSpace.free_temporal` false) keep factor 1 there: Timeloop's own constraints pin
them to 1 in the designs this is used for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cim_plugin.errors import InvalidMappingError
from cim_plugin.mapping.constraints import FactorBound
from cim_plugin.mapping.factors import divisors
from cim_plugin.mapping.mapspace import Choice, MapSpace, Spatial

#: refuse a dimension whose factorization list would not fit in memory
MAX_FACTORIZATIONS = 2_000_000


def timeloop_divisors(n: int) -> list[int]:
    """Factors::CalculateAllFactors_: 1, n, 2, n/2, ... up to the square root."""
    out = []
    i = 1
    while i * i <= n:
        if n % i == 0:
            out.append(i)
            if i * i != n:
                out.append(n // i)
        i += 1
    return out


def cofactor_lists(n: int, order: int, given: dict[int, int], bounds: dict[int, FactorBound]
                   ) -> list[tuple[int, ...]]:
    """Every factorization of n over `order` tiling levels, in Timeloop's order
    (Factors::Factors with given factors, then PruneMax and PruneMin)."""
    partial = 1
    kept: dict[int, int] = {}
    for level in sorted(given):           # a given factor that does not divide is freed
        if n % (given[level] * partial) == 0:
            partial *= given[level]
            kept[level] = given[level]
    divisors = timeloop_divisors(n)
    count = 0

    def split(m: int, k: int) -> list[list[int]]:
        nonlocal count
        if k == 0:
            return [[]] if m == 1 else []
        if k == 1:
            count += 1
            if count > MAX_FACTORIZATIONS:
                raise InvalidMappingError("too many factorizations to list", field="random")
            return [[m]]
        out = []
        for f in divisors:
            if m % f == 0:
                for sub in split(m // f, k - 1):
                    sub.append(f)
                    out.append(sub)
        return out

    lists = split(n // partial, order - len(kept))
    for c in lists:
        for level in sorted(kept):
            c.insert(level, kept[level])
    return _pruned(lists, bounds)


def _pruned(lists: list[list[int]], bounds: dict[int, FactorBound]) -> list[tuple[int, ...]]:
    """The factorizations every bound allows (Timeloop's PruneMax and PruneMin; the given
    factors are already in place)."""
    return [tuple(c) for c in lists if all(b.allows(c[lv]) for lv, b in bounds.items())]


#: refuse a Ruby factor enumeration larger than this many candidate tuples (Timeloop
#: itself would build and hold every one of them)
MAX_RUBY_CANDIDATES = 50_000_000


def ruby_cofactor_lists(n: int, order: int, given: dict[int, int],
                        bounds: dict[int, FactorBound]) -> list[tuple[int, ...]]:
    """Every factorization of n over `order` tiling levels, in the order of the Ruby
    mapspace's `ResidualFactors` without remainder constraints (timeloop
    src/util/numeric.cpp): the given factors taken out in level order; the rest split
    over the free levels as Cartesian products of the ascending divisors, first with
    any divisor at the first free position and the others at most sqrt(n) + 1.5, then,
    for each other position in turn, a divisor of at least that there and small ones
    elsewhere (a tuple may come twice when a divisor lies between sqrt(n) and
    sqrt(n) + 1.5, as in Timeloop); kept when the product is right; the given factors
    inserted at their levels; the list of a dimension without given factors reversed
    level for level. A given factor that does not divide what is left would make Ruby
    build a residual loop, which this reproduction does not: refused."""
    remaining = n
    for level in sorted(given):
        if remaining % given[level]:
            raise InvalidMappingError(
                f"factor {given[level]} does not divide the remaining {remaining}: the Ruby "
                "mapspace would use a residual loop", field="random",
                expected="constraint factors that divide the dimension")
        remaining //= given[level]
    k = max(order - len(given), 1)
    divs = list(divisors(remaining))                  # ascending
    thr = int(math.sqrt(n) + 1.5)
    small = [a for a in divs if a <= thr]
    large = [a for a in divs if a >= thr]
    count = len(divs) * len(small) ** (k - 1) + (k - 1) * len(large) * len(small) ** (k - 1)
    if count > MAX_RUBY_CANDIDATES:
        raise InvalidMappingError(
            f"the Ruby mapspace would enumerate {count} factor tuples for a bound of {n}",
            field="random", expected="smaller dimensions or more factor constraints")
    out: list[tuple[int, ...]] = []

    def rec_lists(rec: int) -> list[list[int]]:
        lists = [divs if rec == 0 else large] + [small] * (k - 1)
        lists[0], lists[rec] = lists[rec], lists[0]
        return lists

    def walk(lists: list[list[int]], j: int, rem: int, acc: list[int]) -> None:
        if j == len(lists):
            if rem == 1:
                out.append(tuple(acc))
            return
        for a in lists[j]:
            if rem % a == 0:
                acc.append(a)
                walk(lists, j + 1, rem // a, acc)
                acc.pop()

    for rec in range(k):
        walk(rec_lists(rec), 0, remaining, [])
    full = []
    for t in out:
        c = list(t)
        for level in sorted(given):
            c.insert(level, given[level])
        if not given:
            c.reverse()
        full.append(c)
    return _pruned(full, bounds)


def factoradic_permute(items: list[str], index: int) -> list[str]:
    """Factoradic::Permute: the index-th permutation of `items`."""
    buf = list(items)
    scale = math.factorial(len(buf))
    for i in range(len(buf) - 1):
        scale //= len(buf) - i
        d, index = divmod(index, scale)
        if d:
            buf.insert(i, buf.pop(i + d))
    return buf


@dataclass(frozen=True)
class _PermLevel:
    prefix: tuple[str, ...]
    infix: tuple[str, ...]
    size: int

    def pattern(self, digit: int) -> tuple[str, ...]:
        """The level's loop order (innermost first) for its permutation digit."""
        return self.prefix + tuple(factoradic_permute(list(self.infix), digit))


class UberSpace:
    """One MapSpace as Timeloop's Uber mapspace (module doc)."""

    def __init__(self, space: MapSpace, template: str = "uber") -> None:
        if template not in ("uber", "ruby"):
            raise ValueError(f"unknown mapspace template {template!r}")
        self.space = space
        self.template = template
        lists = cofactor_lists if template == "uber" else ruby_cofactor_lists
        dims = list(space.dims)
        n = space.n_levels
        # tiling levels innermost first: (our level index, spatial?)
        self.tiling: list[tuple[int, bool]] = []
        for i in reversed(range(n)):
            fx, fy = space.levels[i].fanout
            if fx * fy > 1:
                self.tiling.append((i, True))
            self.tiling.append((i, False))
        self.options: list[list[tuple[int, ...]]] = []
        for di in range(len(dims)):
            given: dict[int, int] = {}
            bounds: dict[int, FactorBound] = {}
            for t, (i, spatial) in enumerate(self.tiling):
                lv = space.levels[i]
                b = lv.spatial[di] if spatial else lv.temporal[di]
                if not spatial and not lv.free_temporal:
                    b = FactorBound(1, None, None)
                if b.exact is not None:
                    given[t] = b.exact
                elif b.max is not None or b.min is not None:
                    bounds[t] = b
            self.options.append(lists(space.bounds[di], len(self.tiling), given, bounds))
        self.sizes = [len(o) for o in self.options]
        self.if_size = math.prod(self.sizes)
        self.perm_levels: list[_PermLevel] = []
        self.splits: list[tuple[int, int | None]] = []   # (tiling level, user split)
        for t, (i, spatial) in enumerate(self.tiling):
            lv = space.levels[i]
            lc = space.cons.levels.get(lv.name)
            user = tuple((lc.spatial_permutation if spatial else lc.temporal_permutation)
                         if lc else ())
            fx, fy = lv.fanout
            canonical = (not user and not (fx > 1 and fy > 1)) if spatial else t == 0
            prefix = tuple(dims) if canonical else tuple(d for d in user if d in dims)
            infix = tuple(d for d in dims if d not in prefix)
            self.perm_levels.append(_PermLevel(prefix, infix, math.factorial(len(infix))))
            if spatial:
                self.splits.append((t, lc.split if lc else None))
        self.perm_size = math.prod(p.size for p in self.perm_levels)
        self.split_sizes = [1 if s is not None else len(dims) + 1 for _, s in self.splits]
        self.split_size = math.prod(self.split_sizes)

    def patterns(self, perm_id: int) -> list[tuple[str, ...]]:
        """PermutationSpace::GetPatterns: each tiling level's loop order, innermost
        first."""
        out = []
        for p in self.perm_levels:
            perm_id, j = divmod(perm_id, p.size)      # a level with nothing to permute: 1
            out.append(p.pattern(j))
        return out

    def split_points(self, split_id: int) -> list[int]:
        """SpatialSplitSpace::GetSplits, per spatial tiling level in order."""
        out = []
        for (_, user), size in zip(self.splits, self.split_sizes):
            if user is not None:
                out.append(user)
            else:
                split_id, j = divmod(split_id, size)
                out.append(j)
        return out

    def digits(self, global_id: int) -> list[int]:
        out = []
        for size in self.sizes:
            global_id, j = divmod(global_id, size)
            out.append(j)
        return out

    def construct(self, digits: list[int], perm_id: int, split_id: int,
                  keep: tuple[frozenset[str], ...]) -> Choice | None:
        """Uber::ConstructMapping as one of our Choices, or None when a spatial split
        overflows its fan-out."""
        sp = self.space
        dims = list(sp.dims)
        picks = [self.options[di][j] for di, j in enumerate(digits)]
        patterns = self.patterns(perm_id)
        n = sp.n_levels
        temporal = [[1] * len(dims) for _ in range(n)]
        sfac = [[1] * len(dims) for _ in range(n)]
        axes = [[""] * len(dims) for _ in range(n)]
        perm: list[tuple[str, ...]] = [tuple(reversed(dims))] * n
        splits = iter(self.split_points(split_id))
        for t, (i, spatial) in enumerate(self.tiling):
            if not spatial:
                for di in range(len(dims)):
                    temporal[i][di] = picks[di][t]
                perm[i] = tuple(reversed(patterns[t]))
                continue
            split = next(splits)
            fx, fy = sp.levels[i].fanout
            x = y = 1
            for pos, d in enumerate(patterns[t]):
                di = dims.index(d)
                f = picks[di][t]
                sfac[i][di] = f
                if pos < split:
                    x *= f
                    axes[i][di] = "X" if f > 1 else ""
                else:
                    y *= f
                    axes[i][di] = "Y" if f > 1 else ""
            if x > fx or y > fy:
                return None
        return Choice(keep=keep, spatial=Spatial(tuple(map(tuple, sfac)), tuple(map(tuple, axes))),
                      temporal=tuple(map(tuple, temporal)), perm=tuple(perm))
