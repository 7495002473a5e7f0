"""The mapspace of one (architecture, problem, constraints): what a mapping may be.

A point of the mapspace (`Choice`) is
  - `keep[i]`: the tensors storage level i keeps (its *dataplacement*);
  - `spatial`: the factor and axis (X/Y) of every dimension at every fan-out;
  - `temporal[i][d]`: the temporal factor of dimension d at level i;
  - `perm[i]`: level i's temporal loop order, outermost first, all dimensions.
Every dimension's factors multiply to its bound (perfect factorization, Timeloop's
`uber` mapspace); a dimension sits on one axis per fan-out; the spatial factors on
an axis multiply to at most the fan-out; every level's kept tiles fit its capacity.

Two reductions keep the space small without losing any optimum:
  - the temporal loops of an `inter_*_spatial` level (which keeps nothing) are the
    same loops as the innermost ones of the nearest level above it, and merging a
    dimension's loops into one never lowers any tensor's reuse; such a level's
    temporal factors are therefore 1 unless a constraint needs them elsewhere;
  - within a level, loop orders that give every tensor the same reuse are
    equivalent (`orders`); spatial assignments that differ only by axes are too.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from cim_plugin.errors import InvalidMappingError
from cim_plugin.mapping.constraints import Constraints, FactorBound
from cim_plugin.mapping.factors import divisors
from cim_plugin.model.counts import fits
from cim_plugin.model.nest import LevelNest, LoopNest
from cim_plugin.model.partial import Placement
from cim_plugin.spec.arch import Architecture
from cim_plugin.spec.mapping import LevelMapping, Mapping
from cim_plugin.spec.problem import Problem


@dataclass(frozen=True)
class Spatial:
    """Spatial factors `[level][dim]` and the axis ("X"/"Y", or "" for factor 1)."""

    factors: tuple[tuple[int, ...], ...]
    axes: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class SpatialTable:
    """Every spatial assignment of a mapspace: `factors[row, level, dim]` and
    `axes[row, level, dim]` (0 for factor 1, 1 for X, 2 for Y)."""

    factors: np.ndarray
    axes: np.ndarray

    def __len__(self) -> int:
        return len(self.factors)

    def get(self, row: int) -> Spatial:
        names = ("", "X", "Y")
        return Spatial(tuple(tuple(int(x) for x in lv) for lv in self.factors[row]),
                       tuple(tuple(names[int(a)] for a in lv) for lv in self.axes[row]))


@dataclass(frozen=True)
class Choice:
    """One complete mapping of the mapspace."""

    keep: tuple[frozenset[str], ...]
    spatial: Spatial
    temporal: tuple[tuple[int, ...], ...]        # [level][dim]
    perm: tuple[tuple[str, ...], ...]            # [level], outermost first, every dim

    @property
    def placement(self) -> Placement:
        return Placement(self.keep, self.spatial.factors)

    def order_key(self) -> tuple:
        """A total order independent of string hashing, for deterministic tie-breaks."""
        return (tuple(tuple(sorted(k)) for k in self.keep), self.spatial.factors,
                self.spatial.axes, self.temporal, self.perm)


@dataclass(frozen=True)
class LevelSpace:
    """What the constraints allow at one storage level."""

    name: str
    capacity: int | None
    dummy: bool
    keep_fixed: frozenset[str]
    keep_free: tuple[str, ...]
    temporal: tuple[FactorBound, ...]          # per dim
    fixed_inner: tuple[str, ...]               # permutation constraint, innermost first
    free_temporal: bool                        # searched (else every factor is 1)
    fanout: tuple[int, int]
    spatial: tuple[FactorBound, ...]           # per dim, over both axes
    axis: tuple[str | None, ...]               # per dim: axis pinned by split, else None


class MapSpace:
    def __init__(self, arch: Architecture, problem: Problem, constraints: Constraints | None = None
                 ) -> None:
        self.arch = arch
        self.problem = problem
        self.cons = constraints or Constraints()
        self.dims = problem.dimensions
        self.bounds = tuple(problem.bounds[d] for d in self.dims)
        self.n_levels = len(arch.storage)
        self.all_ds = frozenset(ds.name for ds in problem.data_spaces)
        levels = []
        for i, level in enumerate(arch.storage):
            lc = self.cons.levels.get(level.base_name)
            keep = set(lc.keep) if lc else set()
            byp = set(lc.bypass) if lc else set()
            if i == 0:
                keep |= self.all_ds - byp          # the outermost level holds every tensor
            if level.dummy and not keep:
                byp |= self.all_ds - keep
            temporal = tuple(self._bound(lc.temporal.get(d) if lc else None) for d in self.dims)
            spatial = tuple(self._bound(lc.spatial.get(d) if lc else None) for d in self.dims)
            axis = tuple(lc.spatial_axis(d) if lc else None for d in self.dims)
            levels.append(LevelSpace(
                name=level.base_name, capacity=level.effective_size, dummy=level.dummy,
                keep_fixed=frozenset(keep), keep_free=tuple(sorted(self.all_ds - keep - byp)),
                temporal=temporal, fixed_inner=tuple(lc.temporal_permutation) if lc else (),
                free_temporal=True, fanout=arch.fanout(i), spatial=spatial, axis=axis))
        # inter_*_spatial levels: their loops belong to the level above (module doc)
        for i, lv in enumerate(levels):
            if i > 0 and lv.dummy and self._absorbable(levels, i):
                levels[i] = _replace(lv, free_temporal=False)
        self.levels: tuple[LevelSpace, ...] = tuple(levels)
        self.temporal_levels = tuple(i for i, lv in enumerate(levels) if lv.free_temporal)
        self.fanout_levels = tuple(i for i, lv in enumerate(levels) if lv.fanout != (1, 1))
        self._orders: dict[int, tuple[tuple[str, ...], ...]] = {}
        self._spatial: SpatialTable | None = None
        self._distinct: dict[int, tuple[tuple[str, ...], ...]] = {}

    @staticmethod
    def _bound(b: FactorBound | None) -> FactorBound:
        return FactorBound(b.exact, b.max, b.min) if b else FactorBound()

    def _absorbable(self, levels: list[LevelSpace], i: int) -> bool:
        lv = levels[i]
        if not all(b.allows(1) for b in lv.temporal):
            return False
        parent = next(levels[j] for j in range(i - 1, -1, -1) if levels[j].free_temporal)
        return not parent.fixed_inner and all(b.exact is None and b.max is None
                                              for b in parent.temporal)

    # ------------------------------------------------------------ dataplacement
    def keep_choices(self) -> list[tuple[frozenset[str], ...]]:
        """Every allowed keep set per level (fixed keeps plus any subset of the free ones)
        whose tensors can fit at all: each kept tile holds at least one word."""
        per_level = []
        for lv in self.levels:
            opts = []
            for r in range(len(lv.keep_free) + 1):
                for combo in itertools.combinations(lv.keep_free, r):
                    keep = lv.keep_fixed | frozenset(combo)
                    if fits(len(keep), lv.capacity) or r == 0:
                        opts.append(keep)
            per_level.append(opts)
        return [tuple(k) for k in itertools.product(*per_level)]

    def default_keep(self) -> tuple[frozenset[str], ...]:
        """Timeloop's default for unconstrained dataspaces: keep."""
        return tuple(lv.keep_fixed | frozenset(lv.keep_free) for lv in self.levels)

    # ------------------------------------------------------------------ spatial
    def spatial_table(self) -> SpatialTable:
        """Every distinct spatial assignment (fan-out factors per level and dimension),
        as arrays: enumerated once per mapspace, dimension by dimension, dropping a
        partial assignment as soon as an axis exceeds its fan-out.

        Assignments whose factors agree differ only in axes, which change no count;
        one valid choice of axes is kept for each.
        """
        if self._spatial is not None:
            return self._spatial
        fl = self.fanout_levels
        D, J = len(self.dims), len(fl)
        caps_x = np.array([self.levels[i].fanout[0] for i in fl], dtype=np.int64)
        caps_y = np.array([self.levels[i].fanout[1] for i in fl], dtype=np.int64)
        chains = [self._spatial_chains(di) for di in range(D)]     # (factor, axis) [n, J]
        # running products per fan-out and axis, and the chain index chosen per dim
        used_x = np.ones((1, J), dtype=np.int64)
        used_y = np.ones((1, J), dtype=np.int64)
        picks = np.zeros((1, 0), dtype=np.int64)
        for f, ax in chains:
            fx = np.where(ax == 1, f, 1)
            fy = np.where(ax == 2, f, 1)
            nx = used_x[:, None, :] * fx[None, :, :]
            ny = used_y[:, None, :] * fy[None, :, :]
            ok = np.all((nx <= caps_x) & (ny <= caps_y), axis=2)
            a, b = np.nonzero(ok)
            used_x, used_y = nx[a, b], ny[a, b]
            picks = np.concatenate([picks[a], b[:, None]], axis=1)
        factors = np.ones((len(picks), self.n_levels, D), dtype=np.int64)
        axes = np.zeros((len(picks), self.n_levels, D), dtype=np.int8)
        for di, (f, ax) in enumerate(chains):
            for j, level in enumerate(fl):
                factors[:, level, di] = f[picks[:, di], j]
                axes[:, level, di] = ax[picks[:, di], j]
        if len(picks) == 0:
            self._spatial = SpatialTable(factors, axes)
            return self._spatial
        first = _first_of_each(factors[:, list(fl), :].reshape(len(picks), -1))
        self._spatial = SpatialTable(factors[first], axes[first])
        return self._spatial

    def _spatial_chains(self, di: int) -> tuple[np.ndarray, np.ndarray]:
        """Every (factor, axis) per fan-out for one dimension: factors dividing the
        dimension that its spatial bounds and pinned axes allow."""
        fl = self.fanout_levels
        rows: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

        def rec(j: int, rem: int, fs: list[int], axs: list[int]) -> None:
            if j == len(fl):
                rows.append((tuple(fs), tuple(axs)))
                return
            lv = self.levels[fl[j]]
            for f in divisors(rem):
                if not lv.spatial[di].allows(f):
                    continue
                if f == 1:
                    rec(j + 1, rem, fs + [1], axs + [0])
                    continue
                for code, cap in ((1, lv.fanout[0]), (2, lv.fanout[1])):
                    if f <= cap and lv.axis[di] in (None, "XY"[code - 1]):
                        rec(j + 1, rem // f, fs + [f], axs + [code])

        rec(0, self.bounds[di], [], [])
        if not rows:
            return (np.zeros((0, len(fl)), dtype=np.int64), np.zeros((0, len(fl)), dtype=np.int8))
        return (np.array([r[0] for r in rows], dtype=np.int64).reshape(len(rows), len(fl)),
                np.array([r[1] for r in rows], dtype=np.int8).reshape(len(rows), len(fl)))

    # ----------------------------------------------------------------- temporal
    def deeper_limits(self) -> list[list[tuple[int, int, int | None]]]:
        """Per temporal level index j and dim: (product of exact factors, product of
        minimum factors, product of maximum factors or None) over the deeper temporal
        levels, which what stays below level j must satisfy."""
        tl = self.temporal_levels
        out = []
        for j in range(len(tl)):
            row = []
            for di in range(len(self.dims)):
                ex = mn = 1
                mx: int | None = 1
                for k in tl[j + 1:]:
                    b = self.levels[k].temporal[di]
                    if b.exact is not None:
                        ex *= b.exact
                        mn *= b.exact
                        if mx is not None:
                            mx *= b.exact
                    else:
                        mn *= b.min or 1
                        mx = None if (b.max is None or mx is None) else mx * b.max
                row.append((ex, mn, mx))
            out.append(row)
        return out

    def orders(self, i: int) -> tuple[tuple[str, ...], ...]:
        """Allowed full loop orders of level i (outermost first): a permutation
        constraint fixes the innermost loops, the others are free."""
        if i not in self._orders:
            fixed = [d for d in self.levels[i].fixed_inner if d in self.dims]
            rest = [d for d in self.dims if d not in fixed]
            self._orders[i] = tuple(tuple(p) + tuple(reversed(fixed))
                                    for p in itertools.permutations(rest))
        return self._orders[i]

    def distinct_orders(self, i: int) -> tuple[tuple[str, ...], ...]:
        """Enough of level i's orders to give every distinct reuse, whatever loops turn
        out to have a bound of 1.

        A tensor's reuse below the level depends only on the run of loops irrelevant to
        it at the inner end of the level's loops with a bound above 1 (and whether that
        run covers them all). For each set of such loops and each distinct outcome, the
        first allowed order that produces it is kept. For GEMM this is 3 of the 6 orders.
        """
        if i not in self._distinct:
            rels = [frozenset(ds.dims) for ds in self.problem.data_spaces]
            groups: dict[tuple, list[tuple[str, ...]]] = {}
            for r in range(len(self.dims), 0, -1):
                for nonunit in itertools.combinations(self.dims, r):
                    for order in self.orders(i):
                        loops = [d for d in order if d in nonunit]
                        sig = []
                        for rel in rels:
                            run = []
                            for d in reversed(loops):
                                if d in rel:
                                    break
                                run.append(d)
                            sig.append((frozenset(run), len(run) == len(loops)))
                        groups.setdefault((nonunit, tuple(sig)), []).append(order)
            keep: list[tuple[str, ...]] = []
            for members in groups.values():
                if not any(o in keep for o in members):
                    keep.append(members[0])
            self._distinct[i] = tuple(o for o in self.orders(i) if o in keep)
        return self._distinct[i]

    # ------------------------------------------------------------- conversions
    def to_mapping(self, c: Choice) -> Mapping:
        levels: dict[str, LevelMapping] = {}
        for i, lv in enumerate(self.levels):
            lm = LevelMapping(target=lv.name)
            lm.temporal = {d: c.temporal[i][di] for di, d in enumerate(self.dims)}
            lm.temporal_permutation = tuple(reversed(c.perm[i]))
            if lv.fanout != (1, 1):
                f, ax = c.spatial.factors[i], c.spatial.axes[i]
                xs = [d for di, d in enumerate(self.dims) if f[di] > 1 and ax[di] == "X"]
                ys = [d for di, d in enumerate(self.dims) if d not in xs]
                lm.spatial = {d: f[di] for di, d in enumerate(self.dims)}
                lm.spatial_permutation = tuple(xs + ys)
                lm.split = len(xs)
            lm.keep = c.keep[i]
            lm.bypass = self.all_ds - c.keep[i]
            levels[lv.name] = lm
        return Mapping(levels=levels)

    def to_nest(self, c: Choice) -> LoopNest:
        out = []
        for i in range(self.n_levels):
            temporal = tuple((d, c.temporal[i][self.dims.index(d)]) for d in c.perm[i]
                             if c.temporal[i][self.dims.index(d)] > 1)
            spatial = []
            for axis in ("X", "Y"):
                for di, d in enumerate(self.dims):
                    f = c.spatial.factors[i][di]
                    if f > 1 and c.spatial.axes[i][di] == axis:
                        spatial.append((d, f, axis))
            out.append(LevelNest(temporal, tuple(spatial), c.keep[i]))
        return LoopNest(tuple(out))

    def from_mapping(self, m: Mapping, file: str | None = None) -> Choice:
        """The mapspace point of an existing mapping (a seed), or an InvalidMappingError
        naming the first constraint it breaks. Loops of `inter_*_spatial` levels move
        into the level above (module doc), which never makes the mapping worse."""
        from cim_plugin.model.nest import build_nest

        nest = build_nest(self.arch, self.problem, m, default_keep=dict(
            zip((lv.name for lv in self.levels), self.default_keep())))
        dims = self.dims
        temporal = [[1] * len(dims) for _ in self.levels]
        perm: list[list[str]] = [[] for _ in self.levels]
        factors = [[1] * len(dims) for _ in self.levels]
        axes = [[""] * len(dims) for _ in self.levels]
        host = 0
        for i, lv in enumerate(self.levels):
            ln = nest.levels[i]
            if lv.free_temporal:
                host = i
            for d, b in ln.temporal:
                di = dims.index(d)
                if temporal[host][di] > 1 and host != i:
                    # the same dimension already loops at the host: merged innermost
                    perm[host].remove(d)
                temporal[host][di] *= b
                perm[host].append(d)
            for d, b, axis in ln.spatial:
                factors[i][dims.index(d)] = b
                axes[i][dims.index(d)] = axis
        full_perm = tuple(tuple(d for d in dims if d not in p) + tuple(p) for p in perm)
        choice = Choice(keep=tuple(ln.keep for ln in nest.levels),
                        spatial=Spatial(tuple(tuple(r) for r in factors),
                                        tuple(tuple(r) for r in axes)),
                        temporal=tuple(tuple(r) for r in temporal), perm=full_perm)
        why = self.why_outside(choice)
        if why is not None:
            raise InvalidMappingError(f"the mapping is outside the mapspace: {why[1]}",
                                      file=file or m.source, field=why[0],
                                      expected="a mapping that satisfies the spec's constraints")
        return self.canonical_orders(choice)

    def canonical_orders(self, c: Choice) -> Choice:
        """The same mapping with each level's order replaced by the first allowed order
        giving the same loop sequence over the loops with a bound above 1."""
        perms = []
        for i in range(self.n_levels):
            nonunit = [d for d in c.perm[i] if c.temporal[i][self.dims.index(d)] > 1]
            match = next((o for o in self.orders(i)
                          if [d for d in o if c.temporal[i][self.dims.index(d)] > 1] == nonunit),
                         c.perm[i])
            perms.append(match)
        return Choice(c.keep, c.spatial, c.temporal, tuple(perms))

    def why_outside(self, c: Choice) -> tuple[str, str] | None:
        """(field, reason) of the first constraint `c` breaks, or None."""
        for i, lv in enumerate(self.levels):
            where = f"constraints of {lv.name}"
            if not lv.keep_fixed <= c.keep[i]:
                missing = sorted(lv.keep_fixed - c.keep[i])
                return f"{where}.keep", f"{lv.name} must keep {', '.join(missing)}"
            extra = c.keep[i] - lv.keep_fixed - frozenset(lv.keep_free)
            if extra:
                return f"{where}.bypass", f"{lv.name} must bypass {', '.join(sorted(extra))}"
            for di, d in enumerate(self.dims):
                t = c.temporal[i][di]
                if not lv.free_temporal and t != 1:
                    return f"{where}.temporal", f"{lv.name} cannot hold temporal loops ({d}{t})"
                if not lv.temporal[di].allows(t):
                    return f"{where}.temporal.factors", f"temporal {d}{t} at {lv.name} breaks the bound"
                s = c.spatial.factors[i][di]
                if lv.fanout != (1, 1) and not lv.spatial[di].allows(s):
                    return f"{where}.spatial.factors", f"spatial {d}{s} at {lv.name} breaks the bound"
                if s > 1 and lv.axis[di] not in (None, c.spatial.axes[i][di]):
                    return f"{where}.spatial.split", f"{d} must be on {lv.axis[di]} at {lv.name}"
            nonunit = [d for d in c.perm[i] if c.temporal[i][self.dims.index(d)] > 1]
            if not any([d for d in o if d in nonunit] == nonunit for o in self.orders(i)):
                return (f"{where}.temporal.permutation",
                        f"loop order {''.join(reversed(nonunit))} (innermost first) at {lv.name} "
                        f"breaks the permutation {''.join(lv.fixed_inner)}")
        return None

    # ------------------------------------------------------------ diagnostics
    def empty_reason(self) -> InvalidMappingError:
        """Name what leaves the mapspace without a mapping: the spatial constraints and
        fan-outs, or the level whose capacity even the smallest tiles exceed."""
        table = self.spatial_table()
        if len(table) == 0:
            pinned = [f"{lv.name}: {d}{op}{v}" for lv in self.levels if lv.fanout != (1, 1)
                      for d, b in zip(self.dims, lv.spatial)
                      for op, v in (("=", b.exact), ("<=", b.max), (">=", b.min)) if v is not None]
            return InvalidMappingError(
                "no spatial assignment fits the fan-outs under the spatial constraints"
                + (f" ({', '.join(pinned)})" if pinned else ""), field="constraints.spatial",
                expected="spatial factors that divide the dimensions and fit the fan-outs")
        for i, lv in enumerate(self.levels):
            if lv.capacity is None:
                continue
            smallest = None
            for keep in self.keep_choices():
                used = np.zeros(len(table), dtype=np.float64)
                for ds in self.problem.data_spaces:
                    if ds.name in keep[i]:
                        rel = [di for di, d in enumerate(self.dims) if d in ds.dims]
                        used += np.prod(table.factors[:, i:, rel].astype(np.float64), axis=(1, 2))
                least = int(used.min())
                smallest = least if smallest is None else min(smallest, least)
            if smallest is not None and not fits(smallest, lv.capacity):
                return InvalidMappingError(
                    f"even the smallest tiles the fan-outs and keep constraints allow need "
                    f"{smallest} words at {lv.name}, whose capacity is {lv.capacity}",
                    field=f"architecture level {lv.name}",
                    expected="a larger level, fewer kept tensors or smaller fan-outs")
        return InvalidMappingError("no valid mapping: the constraints, fan-outs and capacities "
                                   "exclude every mapping", field="mapspace",
                                   expected="looser constraints or larger buffers")


def _first_of_each(rows: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row, in order (rows of small
    positive integers are packed into one integer key when they fit, which is fast)."""
    if rows.shape[1] == 0:
        return np.arange(min(1, len(rows)))
    radix = rows.max(axis=0).astype(object) + 1
    if math.prod(radix) < 2 ** 62:
        weights = np.cumprod([1, *radix[:-1]]).astype(np.int64)
        keys = rows.astype(np.int64) @ weights
        _, first = np.unique(keys, return_index=True)
    else:
        _, first = np.unique(rows, axis=0, return_index=True)
    first.sort()
    return first


def _replace(lv: LevelSpace, **kw) -> LevelSpace:
    import dataclasses

    return dataclasses.replace(lv, **kw)


__all__ = ["Choice", "LevelSpace", "MapSpace", "Spatial"]
