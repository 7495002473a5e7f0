"""Lower bounds: what no completion of a partial mapping can beat.

A partial mapping fixes the placement (keeps, fan-outs) and the temporal loops of
the levels above a boundary. Its exact costs so far come from `PlacedNest`; what is
still open is bounded from below by three facts, each proven in the docstring of
the function that uses it:
  - the transfers into keepers below the boundary are at least those of a nest in
    which every loop still to be placed gives reuse (`not_reused` at the boundary);
  - energy and every level's reads and writes only grow as transfers are added;
  - cycles are at least the compute time of the placement and at least each
    level's bandwidth time for the counts known so far plus the bound above.
The objective is monotone in energy and cycles (`objective.py`), so pricing the two
bounds gives a bound on the objective.
"""

from __future__ import annotations

from typing import Any

from cim_plugin.mapping.objective import Objective
from cim_plugin.model.partial import PlacedNest


def open_transfers(placed: PlacedNest, boundary: int, remaining: tuple[Any, ...],
                   runs: tuple[Any, ...], energy: Any, reads: list[Any], writes: list[Any]
                   ) -> tuple[Any, list[Any], list[Any]]:
    """Energy and per-level counts after adding the least transfers the keepers below
    `boundary` can have.

    For a keeper c below the boundary b, pas_c = part_c x NR_c, where NR_c is the
    product of the loops above c irrelevant to the tensor, divided by the run (the
    innermost such loops). The run of c is a product of irrelevant loops between b
    and c, times the run at b if it reaches past b; so NR_c >= NR_b, the not-reused
    iterations already fixed above b. Every count grows with pas.
    """
    nr = placed.not_reused(remaining, runs)
    reads = list(reads)
    writes = list(writes)
    links = [lk for lk in placed.links if lk.c > boundary]
    energy = placed.price_links(links, lambda lk: lk.part_c * nr[lk.t], energy, reads, writes)
    return energy, reads, writes


def objective_bound(placed: PlacedNest, objective: Objective, boundary: int,
                    remaining: tuple[Any, ...], runs: tuple[Any, ...], energy: Any,
                    reads: list[Any], writes: list[Any]) -> Any:
    """Lower bound of the objective over every completion below `boundary`."""
    e, r, w = open_transfers(placed, boundary, remaining, runs, energy, reads, writes)
    cycles = placed.cycles(r, w)
    return objective.score(e + placed.leak_per_cycle * cycles, cycles)


def placement_bound(placed: PlacedNest, objective: Objective) -> float:
    """Lower bound of every mapping of a placement: no loop placed yet, so every
    transfer is at least one pass over its partition (NR >= 1)."""
    ones = tuple(placed.t_tot)
    return float(objective_bound(placed, objective, -1, ones, (1,) * len(placed.tensors),
                                 placed.energy0, list(placed.reads0), list(placed.writes0)))
