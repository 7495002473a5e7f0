"""The mapspace of one (architecture, problem, constraints): factor slots, orders, keeps.

A candidate mapping is
  - `fac[d][s]`: the factor of dimension d at slot s, where a slot is a level's
    temporal loops ("T") or one axis ("X"/"Y") of its spatial fan-out;
  - `perm[i]`: the temporal loop order at storage level i, outermost first;
  - `keep[i]`: the dataspaces level i keeps.
Factors of a dimension multiply to its bound (perfect factorization, Timeloop's
`uber` mapspace); spatial factors on an axis multiply to at most the fan-out.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

from cim_plugin.errors import InvalidMappingError
from cim_plugin.mapping.constraints import Constraints, FactorBound
from cim_plugin.mapping.factors import divisors
from cim_plugin.model.nest import LevelNest, LoopNest
from cim_plugin.spec.arch import Architecture
from cim_plugin.spec.mapping import LevelMapping, Mapping
from cim_plugin.spec.problem import Problem


@dataclass(frozen=True)
class Slot:
    level: int          # storage level, outermost-first index
    kind: str           # "T" temporal, "X"/"Y" spatial axis


@dataclass(frozen=True)
class Candidate:
    fac: tuple[tuple[int, ...], ...]                 # [dim][slot]
    perm: tuple[tuple[str, ...], ...]                # [level] outermost first
    keep: tuple[frozenset[str], ...]                 # [level]


class MapSpace:
    def __init__(self, arch: Architecture, problem: Problem, constraints: Constraints | None = None
                 ) -> None:
        self.arch = arch
        self.problem = problem
        self.cons = constraints or Constraints()
        self.dims = problem.dimensions
        self.n_levels = len(arch.storage)
        slots: list[Slot] = []
        self.fanout: dict[tuple[int, str], int] = {}
        for i in range(len(arch.storage)):
            slots.append(Slot(i, "T"))
            fx, fy = arch.fanout(i)
            if fx > 1:
                slots.append(Slot(i, "X"))
                self.fanout[(i, "X")] = fx
            if fy > 1:
                slots.append(Slot(i, "Y"))
                self.fanout[(i, "Y")] = fy
        self.slots = tuple(slots)
        self.bounds = {d: [self._slot_bound(s, d) for s in self.slots] for d in self.dims}
        all_ds = frozenset(ds.name for ds in problem.data_spaces)
        self.all_ds = all_ds
        self.keep_fixed: list[frozenset[str]] = []
        self.keep_free: list[tuple[str, ...]] = []
        for i, level in enumerate(arch.storage):
            lc = self.cons.levels.get(level.base_name)
            keep = set(lc.keep) if lc else set()
            byp = set(lc.bypass) if lc else set()
            if i == 0:
                keep |= all_ds - byp          # the outermost level holds every tensor
            if level.dummy and not keep:
                byp |= all_ds - keep
            free = tuple(sorted(all_ds - keep - byp))
            self.keep_fixed.append(frozenset(keep))
            self.keep_free.append(free)
        self._chains: dict[str, list[tuple[int, ...]]] = {}

    # -------------------------------------------------------------- bounds
    def _slot_bound(self, slot: Slot, dim: str) -> FactorBound:
        level = self.arch.storage[slot.level]
        lc = self.cons.levels.get(level.base_name)
        if slot.kind == "T":
            b = lc.temporal.get(dim) if lc else None
            return FactorBound(b.exact, b.max, b.min) if b else FactorBound()
        cap = self.fanout[(slot.level, slot.kind)]
        if lc is None:
            return FactorBound(max=cap)
        axis = lc.spatial_axis(dim)
        b = lc.spatial.get(dim)
        if axis is not None and axis != slot.kind:
            return FactorBound(exact=1)
        if b is None:
            return FactorBound(max=cap)
        other = "Y" if slot.kind == "X" else "X"
        if axis is None and b.exact is not None and (slot.level, other) in self.fanout:
            # unpinned exact spatial factor: may land on either axis; allow any split
            return FactorBound(max=min(cap, b.exact))
        return FactorBound(b.exact, min(cap, b.max) if b.max else cap, b.min)

    def _spatial_exact_ok(self, fac_d: tuple[int, ...], dim: str) -> bool:
        """One axis per dimension and level (Timeloop's `split`); an exact spatial
        factor must be met."""
        for i in range(self.n_levels):
            if sum(1 for s, f in zip(self.slots, fac_d) if s.level == i and s.kind != "T" and f > 1) > 1:
                return False
        for i, level in enumerate(self.arch.storage):
            lc = self.cons.levels.get(level.base_name)
            if not lc or dim not in lc.spatial or lc.spatial[dim].exact is None:
                continue
            prod = 1
            for s, f in zip(self.slots, fac_d):
                if s.level == i and s.kind != "T":
                    prod *= f
            if prod != lc.spatial[dim].exact:
                return False
        return True

    # -------------------------------------------------------------- chains
    def chains(self, dim: str) -> list[tuple[int, ...]]:
        """Every assignment of `dim`'s factors to slots that satisfies its bounds.

        Slots are filled from the innermost out; the outermost slot takes the remainder.
        """
        if dim in self._chains:
            return self._chains[dim]
        bounds = self.bounds[dim]
        order = list(reversed(range(len(self.slots))))      # innermost slot first
        caps = [None if self.slots[k].kind == "T" else self.fanout[(self.slots[k].level,
                                                                    self.slots[k].kind)]
                for k in range(len(self.slots))]
        out: list[tuple[int, ...]] = []
        chain = [1] * len(self.slots)

        def rec(j: int, rem: int) -> None:
            k = order[j]
            if j == len(order) - 1:
                if bounds[k].allows(rem) and (caps[k] is None or rem <= caps[k]):
                    chain[k] = rem
                    c = tuple(chain)
                    if self._spatial_exact_ok(c, dim):
                        out.append(c)
                return
            for f in divisors(rem):
                if bounds[k].allows(f) and (caps[k] is None or f <= caps[k]):
                    chain[k] = f
                    rec(j + 1, rem // f)
            chain[k] = 1

        rec(0, self.problem.bounds[dim])
        self._chains[dim] = out
        return out

    # ---------------------------------------------------------- validity
    def spatial_ok(self, fac: tuple[tuple[int, ...], ...]) -> bool:
        for k, s in enumerate(self.slots):
            if s.kind == "T":
                continue
            prod = 1
            for di in range(len(self.dims)):
                prod *= fac[di][k]
            if prod > self.fanout[(s.level, s.kind)]:
                return False
        return True

    def tiles(self, fac: tuple[tuple[int, ...], ...]) -> list[dict[str, int]]:
        """Tile size of each dimension at each level (product of factors at and below it)."""
        per_level = []
        for i in range(self.n_levels):
            t = {}
            for di, d in enumerate(self.dims):
                prod = 1
                for k, s in enumerate(self.slots):
                    if s.level >= i:
                        prod *= fac[di][k]
                t[d] = prod
            per_level.append(t)
        return per_level

    def capacity_ok(self, fac: tuple[tuple[int, ...], ...], keep: tuple[frozenset[str], ...]) -> bool:
        tiles = self.tiles(fac)
        for i, level in enumerate(self.arch.storage):
            eff = level.effective_size
            if eff is None:
                continue
            used = 0
            for ds in self.problem.data_spaces:
                if ds.name in keep[i]:
                    used += math.prod(tiles[i][d] for d in ds.dims)
            if used > eff:
                return False
        return True

    # ---------------------------------------------------------- orders
    def perm_choices(self, i: int, fac: tuple[tuple[int, ...], ...]) -> list[tuple[str, ...]]:
        """Distinct temporal orders (outermost first) at level i; unit loops collapse."""
        k = self.slots.index(Slot(i, "T"))
        nonunit = [d for di, d in enumerate(self.dims) if fac[di][k] > 1]
        level = self.arch.storage[i]
        lc = self.cons.levels.get(level.base_name)
        fixed_inner = [d for d in (lc.temporal_permutation if lc else ()) if d in nonunit]
        free = [d for d in nonunit if d not in fixed_inner]
        rest_units = [d for d in self.dims if d not in nonunit]
        out = []
        seen: set[tuple[frozenset[str], ...]] = set()
        for p in itertools.permutations(free):
            # outermost first: unit dims, free dims, then the fixed innermost ones (reversed)
            order = tuple(rest_units) + tuple(p) + tuple(reversed(fixed_inner))
            sig = self._reuse_signature([d for d in order if d in nonunit])
            if sig not in seen:
                seen.add(sig)
                out.append(order)
        return out or [tuple(self.dims)]

    def _reuse_signature(self, nonunit_outer_first: list[str]) -> tuple[frozenset[str], ...]:
        """What a level's loop order changes in the counts.

        Reuse (Timeloop's R) of a tensor below this level stops at the innermost loop
        relevant to it, so an order matters only through, per tensor, the set of
        irrelevant loops innermost at this level. Orders with equal signatures give
        identical counts, energy and cycles.
        """
        sig = []
        for ds in self.problem.data_spaces:
            run = []
            for d in reversed(nonunit_outer_first):
                if d in ds.dims:
                    break
                run.append(d)
            sig.append(frozenset(run))
        return tuple(sig)

    def keep_choices(self, i: int) -> list[frozenset[str]]:
        free = self.keep_free[i]
        out = []
        for r in range(len(free) + 1):
            for combo in itertools.combinations(free, r):
                out.append(self.keep_fixed[i] | frozenset(combo))
        return out

    def default_keep(self) -> tuple[frozenset[str], ...]:
        """Timeloop's default for unconstrained dataspaces: keep."""
        return tuple(self.keep_fixed[i] | frozenset(self.keep_free[i]) for i in range(self.n_levels))

    # ------------------------------------------------------- conversion
    def to_nest(self, c: Candidate) -> LoopNest:
        levels = []
        slot_index = {s: k for k, s in enumerate(self.slots)}
        dim_index = {d: di for di, d in enumerate(self.dims)}
        for i in range(self.n_levels):
            kT = slot_index[Slot(i, "T")]
            temporal = tuple((d, c.fac[dim_index[d]][kT]) for d in c.perm[i]
                             if c.fac[dim_index[d]][kT] > 1)
            spatial = []
            for axis in ("X", "Y"):
                k = slot_index.get(Slot(i, axis))
                if k is None:
                    continue
                for di, d in enumerate(self.dims):
                    if c.fac[di][k] > 1:
                        spatial.append((d, c.fac[di][k], axis))
            levels.append(LevelNest(temporal, tuple(spatial), c.keep[i]))
        return LoopNest(tuple(levels))

    def to_mapping(self, c: Candidate) -> Mapping:
        levels: dict[str, LevelMapping] = {}
        slot_index = {s: k for k, s in enumerate(self.slots)}
        for i, level in enumerate(self.arch.storage):
            kT = slot_index[Slot(i, "T")]
            lm = LevelMapping(target=level.base_name)
            lm.temporal = {d: c.fac[di][kT] for di, d in enumerate(self.dims)}
            lm.temporal_permutation = tuple(reversed(c.perm[i]))
            kx, ky = slot_index.get(Slot(i, "X")), slot_index.get(Slot(i, "Y"))
            if kx is not None or ky is not None:
                sp = {}
                xs, ys = [], []
                for di, d in enumerate(self.dims):
                    fx = c.fac[di][kx] if kx is not None else 1
                    fy = c.fac[di][ky] if ky is not None else 1
                    if fx > 1 and fy > 1:
                        raise InvalidMappingError(
                            f"dimension {d} split over both axes of {level.base_name}",
                            field=f"mapping.{level.base_name}.spatial",
                            expected="one axis per dimension (Timeloop's split)")
                    sp[d] = fx * fy
                    (xs if fx > 1 else ys).append(d)
                lm.spatial = sp
                lm.spatial_permutation = tuple(xs + ys)
                lm.split = len(xs)
            lm.keep = c.keep[i]
            lm.bypass = self.all_ds - c.keep[i]
            levels[level.base_name] = lm
        return Mapping(levels=levels)

    def from_mapping(self, m: Mapping) -> Candidate | None:
        """Candidate for an existing mapping (None when it is outside this mapspace's slots)."""
        fac = [[1] * len(self.slots) for _ in self.dims]
        perm = []
        keep = []
        for i, level in enumerate(self.arch.storage):
            lm = m.levels.get(level.base_name) or LevelMapping(target=level.base_name)
            for di, d in enumerate(self.dims):
                fac[di][self.slots.index(Slot(i, "T"))] = lm.temporal.get(d, 1)
                v = lm.spatial.get(d, 1)
                if v > 1:
                    order = list(lm.spatial_permutation) + [x for x in self.dims if x not in lm.spatial_permutation]
                    split = lm.split if lm.split is not None else len(order)
                    axis = "X" if order.index(d) < split else "Y"
                    if Slot(i, axis) not in self.slots:
                        return None
                    fac[di][self.slots.index(Slot(i, axis))] = v
            inner = [d for d in lm.temporal_permutation if d in self.dims]
            rest = [d for d in self.dims if d not in inner]
            perm.append(tuple(reversed(rest)) + tuple(reversed(inner)))
            if lm.keep is None and lm.bypass is None:
                keep.append(self.default_keep()[i])
            else:
                keep.append(self.all_ds - (lm.bypass or frozenset()))
        return Candidate(tuple(tuple(x) for x in fac), tuple(perm), tuple(keep))

    # ------------------------------------------------------------ sampling
    def random_candidate(self, rng: random.Random) -> Candidate | None:
        fac = []
        for d in self.dims:
            ch = self.chains(d)
            if not ch:
                return None
            fac.append(ch[rng.randrange(len(ch))])
        fac_t = tuple(fac)
        if not self.spatial_ok(fac_t):
            return None
        keep = tuple(rng.choice(self.keep_choices(i)) for i in range(self.n_levels))
        if not self.capacity_ok(fac_t, keep):
            return None
        perm = tuple(rng.choice(self.perm_choices(i, fac_t)) for i in range(self.n_levels))
        return Candidate(fac_t, perm, keep)

    def normalize_perm(self, fac: tuple[tuple[int, ...], ...], perm: tuple[tuple[str, ...], ...]
                       ) -> tuple[tuple[str, ...], ...]:
        """Keep a previous order where still valid, else the first allowed one."""
        out = []
        for i in range(self.n_levels):
            choices = self.perm_choices(i, fac)
            k = self.slots.index(Slot(i, "T"))
            nonunit = [d for di, d in enumerate(self.dims) if fac[di][k] > 1]
            want = [d for d in perm[i] if d in nonunit]
            match = next((c for c in choices if [d for d in c if d in nonunit] == want), None)
            out.append(match or choices[0])
        return tuple(out)
