"""The loop nest a mapping describes, checked against the architecture.

Loops run outermost first: for each storage level from the outermost (DRAM) in,
its temporal loops, then its spatial (fan-out) loops, which distribute work to the
level below. Permutations in Timeloop mappings list dimensions innermost first.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from cim_plugin.errors import InvalidMappingError
from cim_plugin.spec.arch import Architecture
from cim_plugin.spec.mapping import Mapping
from cim_plugin.spec.problem import Problem


@dataclass(frozen=True)
class LevelNest:
    """Loops of one storage level (outermost-first list of (dim, bound))."""

    temporal: tuple[tuple[str, int], ...]
    spatial: tuple[tuple[str, int, str], ...]          # (dim, bound, "X"|"Y")
    keep: frozenset[str]


@dataclass(frozen=True)
class LoopNest:
    """Per storage level (outermost first) loops and keep sets.

    `source` is the file of the mapping the nest was built from (None for nests a search
    builds), so a mapping the model finds invalid later (a tile larger than its buffer)
    is reported against that file. It takes no part in comparisons.
    """

    levels: tuple[LevelNest, ...]
    source: str | None = field(default=None, compare=False)

    @functools.cached_property
    def temporal_product(self) -> int:
        """Product of every temporal bound (made once: the engine and the re-pricing
        both read it, and a frozen nest's bounds do not change)."""
        return math.prod(b for lv in self.levels for _, b in lv.temporal)


@functools.lru_cache(maxsize=1024)
def _ordered(perm_inner_first: tuple[str, ...], dims: tuple[str, ...]) -> tuple[str, ...]:
    """Dimensions outermost first: the permutation reversed, unlisted dims outermost."""
    listed = [d for d in perm_inner_first if d in dims]
    rest = [d for d in dims if d not in listed]
    return tuple(reversed(rest)) + tuple(reversed(listed)) if rest else tuple(reversed(listed))


@functools.lru_cache(maxsize=1024)
def _spatial_order(perm_inner_first: tuple[str, ...], dims: tuple[str, ...]) -> tuple[str, ...]:
    """Spatial dimensions innermost first: the permutation's, then the unlisted ones (the
    first `split` of them go on X)."""
    listed = [d for d in perm_inner_first if d in dims]
    return tuple(listed + [d for d in dims if d not in listed])


def build_nest(arch: Architecture, problem: Problem, mapping: Mapping,
               default_keep: dict[str, frozenset[str]] | None = None,
               check_fanout: bool = True) -> LoopNest:
    """Turn a mapping into a checked loop nest (raises InvalidMappingError).

    Every mapping is checked here, the ones this package builds included (a search's, the
    priority algorithm's): one place decides what a valid nest is. The checks run in the
    order a user reads their errors: level names, then per level (outermost first) its
    factors' dimensions and values and its fan-out, then the factor products."""
    dims = problem.dimensions
    src = mapping.source
    storage = arch.storage
    names = {s.base_name for s in storage}
    for target in mapping.levels:
        if target not in names:
            if target == arch.compute.base_name:
                continue
            raise InvalidMappingError(
                f"mapping names level {target!r}, which the architecture does not have",
                file=src, field=f"mapping.target={target}",
                expected=f"one of {[s.base_name for s in storage]}")
    all_ds = frozenset(ds.name for ds in problem.data_spaces)
    dim_set = frozenset(dims)
    defaults = default_keep or {}
    product = dict.fromkeys(dims, 1)
    levels: list[LevelNest] = []
    for i, level in enumerate(storage):
        base = level.base_name
        lm = mapping.levels.get(base)
        if lm is None:
            levels.append(LevelNest((), (), _keep_set(None, None, all_ds, level.dummy,
                                                      defaults.get(base))))
            continue
        temporal_factors, spatial_factors = lm.temporal, lm.spatial
        for factors in (temporal_factors, spatial_factors):
            if not factors or _plain(factors, dim_set):
                continue
            for d, v in factors.items():          # the first bad entry, in written order
                if d not in dims:
                    raise InvalidMappingError(f"unknown dimension {d!r}", file=src,
                                              field=f"mapping.{base}.factors",
                                              expected=f"one of {list(dims)}")
                if v < 1:
                    raise InvalidMappingError(f"factor {d}{v} is not positive", file=src,
                                              field=f"mapping.{base}.factors",
                                              expected="factors >= 1")
        temporal: list[tuple[str, int]] = []
        for d in _ordered(tuple(lm.temporal_permutation), dims):
            b = temporal_factors.get(d, 1)
            product[d] *= b
            if b > 1:
                temporal.append((d, b))
        spatial: list[tuple[str, int, str]] = []
        if spatial_factors:
            order_inner = _spatial_order(tuple(lm.spatial_permutation), dims)
            split = lm.split if lm.split is not None else len(order_inner)
            fx, fy = arch.fanout(i)
            x_prod = y_prod = 1
            for pos, d in enumerate(order_inner):
                b = spatial_factors.get(d, 1)
                product[d] *= b
                if pos < split:
                    x_prod *= b
                    if b > 1:
                        spatial.append((d, b, "X"))
                else:
                    y_prod *= b
                    if b > 1:
                        spatial.append((d, b, "Y"))
            spatial.reverse()          # outermost first, like temporal loops
            if check_fanout and (x_prod > fx or y_prod > fy):
                raise InvalidMappingError(
                    f"spatial factors use {x_prod}x{y_prod} (X x Y) but the fan-out below "
                    f"{base} is {fx}x{fy}", file=src, field=f"mapping.{base}.spatial",
                    expected=f"X product <= {fx} and Y product <= {fy}")
        levels.append(LevelNest(tuple(temporal), tuple(spatial),
                                _keep_set(lm.keep, lm.bypass, all_ds, level.dummy,
                                          defaults.get(base))))
    bounds = problem.bounds
    for d in dims:
        if product[d] != bounds[d]:
            raise InvalidMappingError(
                f"factors of {d} multiply to {product[d]}, but the problem has {d}={bounds[d]}",
                file=src, field=f"mapping factors of {d}",
                expected=f"factors over all levels whose product is {bounds[d]}")
    return LoopNest(tuple(levels), source=src)


def _plain(factors: dict[str, int], dim_set: frozenset[str]) -> bool:
    """Whether every factor names a dimension and is at least 1, checked by set and
    `min` in C: true for nearly every mapping, so `build_nest` walks the factors one by
    one only to name the first bad entry."""
    try:
        return factors.keys() <= dim_set and min(factors.values()) >= 1
    except TypeError:                     # a value that does not compare: named there
        return False


def _keep_set(keep: frozenset[str] | None, bypass: frozenset[str] | None, all_ds: frozenset[str],
              dummy: bool, default: frozenset[str] | None) -> frozenset[str]:
    if keep is None and bypass is None:
        if default is not None:
            return default
        return frozenset() if dummy else all_ds
    # Timeloop's model: a dataspace that is not bypassed is kept.
    return all_ds - (bypass or frozenset())
