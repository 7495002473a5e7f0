"""Fast search, the default: the exact search under a node budget.

On the GEMMs of the study the exact search proves its answer in well under a second,
so the fast mode is the exact search with a cap on the nodes it may visit: almost
always it ends with the optimum proven; on a mapspace too large for the cap it
stops, keeps the best mapping found and reports the smallest bound it left
unexplored (`lower_bound`, `gap`). The cap counts nodes, not seconds, so the answer
does not depend on the machine.
"""

from __future__ import annotations

from cim_plugin.mapping.exact import BranchAndBound, Outcome
from cim_plugin.mapping.mapspace import Choice, MapSpace
from cim_plugin.mapping.objective import Objective
from cim_plugin.model.engine import Engine

#: nodes the fast search may visit (the study's largest GEMMs need about 2500)
NODE_BUDGET = 5_000


def fast_search(space: MapSpace, engine: Engine, objective: Objective,
                incumbent: tuple[float, Choice] | None, deadline: float | None) -> Outcome:
    bb = BranchAndBound(space, engine, objective, deadline=deadline, max_nodes=NODE_BUDGET)
    return bb.run(incumbent)
