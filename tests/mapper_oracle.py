"""An independent brute-force mapper, for tests: every mapping Timeloop's mapspace allows.

It shares no code with cim_plugin.mapping: it enumerates, through public `Mapping`
objects, every factorization of every dimension over every level's temporal loops and
every fan-out axis, every loop order (orders that differ only in loops of bound 1 are
the same loop nest), and every keep/bypass choice the constraints leave open, and
evaluates each with the public `evaluate()`, skipping the mappings it rejects.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from cim_plugin.errors import InvalidMappingError
from cim_plugin.model.engine import ModelOptions
from cim_plugin.model.evaluate import evaluate
from cim_plugin.spec.mapping import LevelMapping, Mapping


def _splits(total: int, parts: int):
    if parts == 0:
        if total == 1:
            yield ()
        return
    for f in range(1, total + 1):
        if total % f == 0:
            for rest in _splits(total // f, parts - 1):
                yield (f, *rest)


def _orders(factors: dict[str, int], dims: tuple[str, ...]):
    """Innermost-first permutations that differ in their loops of bound above 1."""
    nonunit = [d for d in dims if factors[d] > 1]
    rest = tuple(d for d in dims if factors[d] == 1)
    for p in itertools.permutations(nonunit):
        yield tuple(p) + rest


def brute_force(arch, problem, ert, *, keep_fixed: dict[str, frozenset[str]],
                keep_free: dict[str, tuple[str, ...]], objective: str = "edp",
                options: ModelOptions | None = None, temporal_levels: list[str] | None = None,
                temporal_bounds: dict[str, dict[str, tuple[str, int]]] | None = None
                ) -> tuple[float, Mapping] | None:
    """(best objective, mapping) over the whole mapspace, or None if it is empty.

    `temporal_levels` names the levels that may hold temporal loops (default: all);
    levels with a fan-out get spatial loops on X or Y (one axis per dimension);
    `temporal_bounds[level][dim] = (op, value)` with op "=" or "<=" restricts a factor.
    """
    dims = problem.dimensions
    names = [lv.base_name for lv in arch.storage]
    tlevels = temporal_levels if temporal_levels is not None else names
    fan = {lv.base_name: arch.fanout(i) for i, lv in enumerate(arch.storage)}
    slots: list[tuple[str, str]] = [(n, "T") for n in tlevels]
    for n in names:
        fx, fy = fan[n]
        if fx > 1:
            slots.append((n, "X"))
        if fy > 1:
            slots.append((n, "Y"))
    per_dim = {d: list(_splits(problem.bounds[d], len(slots))) for d in dims}
    keep_options = []
    for n in names:
        free = keep_free.get(n, ())
        keep_options.append([keep_fixed.get(n, frozenset()) | frozenset(c)
                             for r in range(len(free) + 1)
                             for c in itertools.combinations(free, r)])
    all_ds = frozenset(ds.name for ds in problem.data_spaces)
    options = options or ModelOptions()
    best: tuple[float, Mapping] | None = None
    for combo in itertools.product(*(per_dim[d] for d in dims)):
        fac = {d: dict(zip(slots, combo[i])) for i, d in enumerate(dims)}
        ok = True
        for n in names:
            fx, fy = fan[n]
            px = math.prod(fac[d].get((n, "X"), 1) for d in dims)
            py = math.prod(fac[d].get((n, "Y"), 1) for d in dims)
            both = any(fac[d].get((n, "X"), 1) > 1 and fac[d].get((n, "Y"), 1) > 1 for d in dims)
            if px > fx or py > fy or both:
                ok = False
        if not ok:
            continue
        temporal = {n: {d: fac[d].get((n, "T"), 1) for d in dims} for n in names}
        for n, bounds in (temporal_bounds or {}).items():
            for d, (op, v) in bounds.items():
                f = temporal[n][d]
                if v > problem.bounds[d]:
                    continue                # Timeloop ignores a factor above the dimension
                if (op == "=" and f != v) or (op == "<=" and f > v):
                    ok = False
        if not ok:
            continue
        for perms in itertools.product(*(list(_orders(temporal[n], dims)) for n in names)):
            for keeps in itertools.product(*keep_options):
                levels = {}
                for n, perm, keep in zip(names, perms, keeps):
                    lm = LevelMapping(n, temporal=dict(temporal[n]), temporal_permutation=perm,
                                      keep=keep, bypass=all_ds - keep)
                    fx, fy = fan[n]
                    if fx > 1 or fy > 1:
                        xs = [d for d in dims if fac[d].get((n, "X"), 1) > 1]
                        ys = [d for d in dims if d not in xs]
                        lm.spatial = {d: fac[d].get((n, "X"), 1) * fac[d].get((n, "Y"), 1)
                                      for d in dims}
                        lm.spatial_permutation = tuple(xs + ys)
                        lm.split = len(xs)
                    levels[n] = lm
                try:
                    r = evaluate(arch, problem, Mapping(levels), ert, options=options)
                except InvalidMappingError:
                    continue
                score = _score(objective, r)
                if best is None or score < best[0]:
                    best = (score, Mapping(levels))
    return best


def _score(objective: str, r: Any) -> float:
    if objective == "edp":
        return r.energy_pJ * r.cycles
    if objective == "energy":
        return r.energy_pJ
    return r.cycles + r.energy_pJ * 1e-30
