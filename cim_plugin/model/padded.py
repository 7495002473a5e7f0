"""Padded problems: factors that multiply to more than a dimension.

Timeloop's mapper writes such factors when constraints pin a factor that does not
divide a dimension (K16 x K10 for K=147). The engine evaluates them as the padded
problem (K=160): cycles and accesses of the padded loops, but computes, compute energy,
utilization and GFLOPs of the real problem, as Timeloop counts them (docs/model.md).
"""

from __future__ import annotations

import dataclasses
import math

from cim_plugin.model.engine import Engine
from cim_plugin.spec.mapping import Mapping
from cim_plugin.spec.problem import Problem


def padded_engine(engine: Engine, bounds: dict[str, int]) -> Engine:
    """An engine for `engine`'s problem padded to `bounds`, counting the real computes."""
    real = engine.problem
    problem = Problem(real.name, real.dimensions, {**real.bounds, **bounds}, real.data_spaces)
    rw = sum(real.size(ds) for ds in real.data_spaces if ds.read_write)
    options = dataclasses.replace(engine.options, actual_computes=real.macs, actual_rw_size=rw)
    return Engine(engine.arch, problem, engine.ert, engine.art, options)


def mapping_padding(problem: Problem, mapping: Mapping) -> dict[str, int]:
    """Dimensions whose factors in `mapping` multiply past the problem, and their product."""
    out = {}
    for d in problem.dimensions:
        prod = math.prod(lm.temporal.get(d, 1) * lm.spatial.get(d, 1)
                         for lm in mapping.levels.values())
        if prod > problem.bounds[d]:
            out[d] = prod
    return out


def padding_warning(real: Problem, padded: dict[str, int]) -> str:
    parts = [f"{d}={real.bounds[d]} padded to {p} (+{(p / real.bounds[d] - 1) * 100:.1f} % "
             "iterations)" for d, p in padded.items()]
    return ("imperfect factorization: " + ", ".join(parts) + "; computes count the real MACs, "
            "cycles and accesses the padded loops")
