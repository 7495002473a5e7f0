"""Fast search: the exact search's order of decisions, following only the best few.

It visits the placements with the lowest bounds first and, at each level, only the
children with the lowest bounds (a beam), starting from the seeds. Everything it
leaves out is bounded, so the answer carries the same kind of certificate as the
exact search: `optimal` when nothing left out could beat it, else the smallest bound
left out. Budgets count nodes, not seconds, so the answer does not depend on the
machine.
"""

from __future__ import annotations

from cim_plugin.mapping.exact import BranchAndBound, Outcome
from cim_plugin.mapping.mapspace import Choice, MapSpace
from cim_plugin.mapping.objective import Objective
from cim_plugin.model.engine import Engine

BEAM = 3
PLACEMENTS = 6


def fast_search(space: MapSpace, engine: Engine, objective: Objective,
                incumbent: tuple[float, Choice] | None, deadline: float | None) -> Outcome:
    bb = BranchAndBound(space, engine, objective, deadline=deadline, beam=BEAM,
                        max_placements=PLACEMENTS)
    return bb.run(incumbent)
