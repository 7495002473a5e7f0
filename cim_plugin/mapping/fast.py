"""Fast search, the default: the exact search under a work budget.

On the GEMMs of the study the exact search proves its answer in well under a second,
so the fast mode is the exact search (`exact.probed_search`: a probe of every
placement, then branch and bound) with a cap on the nodes it may visit and on the
children it may price: almost always it ends with the optimum proven; on a mapspace too
large for the caps it stops, keeps the best mapping found and reports the smallest
bound it left unexplored (`lower_bound`, `gap`). The caps count work, not seconds, so
the answer does not depend on the machine.
"""

from __future__ import annotations

from cim_plugin.mapping.exact import Outcome, probed_search
from cim_plugin.mapping.mapspace import Choice, MapSpace
from cim_plugin.model.engine import Engine
from cim_plugin.model.objective import Objective

#: nodes the fast search may visit after the probe (the study's largest GEMMs need
#: about 2500), and the children it may price (a node of a huge dimension can have
#: millions)
NODE_BUDGET = 5_000
CHILD_BUDGET = 10_000_000


def fast_search(space: MapSpace, engine: Engine, objective: Objective,
                incumbent: tuple[float, Choice] | None, deadline: float | None) -> Outcome:
    return probed_search(space, engine, objective, incumbent, deadline,
                         max_nodes=NODE_BUDGET, max_children=CHILD_BUDGET)
