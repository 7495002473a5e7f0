"""Imperfect factorization: pad a dimension when the constraints pin factors that do not
divide it.

Example: K=147 with a spatial K=16 pinned. No perfect factorization exists;
timeloop-mapper (its `ruby` mapspace) then runs the pinned loop 16 times except in the
last iteration and writes factors whose product exceeds the dimension (K16 x K10 in
map.yaml). We pad K to the next multiple of the pinned product (160), map the padded
problem, and count it as Timeloop does where Timeloop is consistent: computes,
compute energy, utilization and GFLOPs from the real problem's MACs, cycles from the
padded loops, and the accesses of the padded tiles (an upper bound of the real ones:
Timeloop counts the last, partial iteration at its real size in most places).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cim_plugin.mapping.mapspace import MapSpace
from cim_plugin.model.engine import Engine
from cim_plugin.model.padded import padded_engine, padding_warning
from cim_plugin.spec.problem import Problem


@dataclass(frozen=True)
class Padding:
    dims: tuple[tuple[str, int, int], ...]        # (dim, real bound, padded bound)

    def warning(self, real: Problem) -> str:
        return padding_warning(real, {d: padded for d, _, padded in self.dims})


def padding_for(space: MapSpace) -> Padding | None:
    """The padding the pinned factors need, or None when they divide every dimension."""
    out = []
    for di, d in enumerate(space.dims):
        pinned = 1
        for lv in space.levels:
            for b in (lv.temporal[di], lv.spatial[di]):
                if b.exact is not None:
                    pinned *= b.exact
        real = space.bounds[di]
        if real % pinned:
            out.append((d, real, math.ceil(real / pinned) * pinned))
    return Padding(tuple(out)) if out else None


def pad(space: MapSpace, engine: Engine, padding: Padding) -> tuple[MapSpace, Engine]:
    """The padded mapspace and an engine that counts the real problem's computes."""
    padded = padded_engine(engine, {d: p for d, _, p in padding.dims})
    return MapSpace(space.arch, padded.problem, space.cons), padded
