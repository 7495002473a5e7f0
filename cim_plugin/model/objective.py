"""Search objectives: lower is better, and never lower for more energy or more cycles.

That monotonicity is what lets the bounds of `bounds.py` price an objective: the
objective of a lower bound on energy and on cycles is a lower bound of the objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cim_plugin.errors import InputError

OBJECTIVES = ("edp", "energy", "delay", "weighted")

#: weight of energy in the `delay` objective: it only breaks ties between equal cycles
DELAY_TIE_BREAK = 1e-30


@dataclass(frozen=True)
class Objective:
    name: str = "edp"
    energy_weight: float = 1.0          # a in energy^a * cycles^b (weighted)
    delay_weight: float = 1.0           # b

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise InputError(f"unknown objective {self.name!r}", field="objective",
                             expected=", ".join(OBJECTIVES))

    def score(self, energy_pJ: Any, cycles: Any) -> Any:
        """Objective of (energy, cycles): numbers or numpy arrays."""
        if self.name == "edp":
            return energy_pJ * cycles
        if self.name == "energy":
            return energy_pJ + 0.0 * cycles
        if self.name == "delay":
            return cycles * 1.0 + energy_pJ * DELAY_TIE_BREAK
        return (energy_pJ ** self.energy_weight) * (cycles * 1.0) ** self.delay_weight

    def of(self, result: Any) -> float:
        """Objective of an `EvalResult`."""
        return float(self.score(result.energy_pJ, result.cycles))
