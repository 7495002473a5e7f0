"""The mapper's front door: one call maps a problem on an architecture.

`search(space, engine, objective=..., mode=...)`:
  - `exact` (alias `exhaustive`): branch and bound (`exact.py`) until the best mapping
    is proven optimal, or until `timeout`, and then with the smallest bound left as
    the certificate;
  - `fast` (default): the same search from the same seeds, but it follows only the
    most promising children at each level (`fast.py`), then reports the bound of
    what it did not explore;
  - `seed`: the best of the given seeds, unchanged.

Seeds (the priority-based CiM mappings, a user's mapping) start the search as the
incumbent, so the answer is never worse than any of them. Every answer is
re-evaluated by the engine, so its numbers are `cim-plugin model`'s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from cim_plugin.errors import InputError, InvalidMappingError
from cim_plugin.mapping.exact import Outcome, probed_search
from cim_plugin.mapping.mapspace import Choice, MapSpace
from cim_plugin.mapping.padding import Padding, pad, padding_for
from cim_plugin.model.engine import Engine
from cim_plugin.model.objective import OBJECTIVES, Objective
from cim_plugin.model.result import EvalResult
from cim_plugin.spec.mapping import Mapping

MODES = ("fast", "exact", "exhaustive", "seed")


@dataclass
class SearchResult:
    mapping: Mapping
    choice: Choice
    result: EvalResult
    score: float
    search: str
    seconds: float
    optimal: bool
    lower_bound: float
    stats: dict = field(default_factory=dict)
    seeds_used: int = 0
    space: MapSpace | None = None        # the mapspace searched (padded when `padding`)
    padding: Padding | None = None

    @property
    def gap(self) -> float:
        """Relative distance to the lower bound (0 when proven optimal)."""
        if self.optimal or self.lower_bound <= 0 or not math.isfinite(self.lower_bound):
            return 0.0 if self.optimal else math.inf
        return max(0.0, self.score / self.lower_bound - 1.0)

    def mapper_json(self) -> dict:
        def finite(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"search": self.search, "seconds": round(self.seconds, 4),
                "optimal": self.optimal, "objective_value": self.score,
                "lower_bound": finite(self.lower_bound), "gap": finite(self.gap),
                "seeds": self.seeds_used,
                "padding": {d: [r, p] for d, r, p in self.padding.dims} if self.padding else None,
                **self.stats}


def search(space: MapSpace, engine: Engine, *, objective: str = "edp", mode: str = "fast",
           seeds: Iterable[Choice] = (), timeout: float | None = None,
           energy_weight: float = 1.0, delay_weight: float = 1.0) -> SearchResult:
    """Best mapping of `space` for `objective` (see module doc)."""
    if mode not in MODES:
        raise InputError(f"unknown search mode {mode!r}", field="search", expected=", ".join(MODES))
    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective {objective!r}", field="objective",
                         expected=", ".join(OBJECTIVES))
    obj = Objective(objective, energy_weight, delay_weight)
    t0 = time.perf_counter()
    padding = padding_for(space)
    real_problem = space.problem
    if padding is not None:
        space, engine = pad(space, engine, padding)
        seeds = []              # seeds factor the real problem, not the padded one
    deadline = t0 + timeout if timeout else None
    seeds = list(seeds)
    incumbent = _best_seed(space, engine, obj, seeds)
    seeds_used = len(seeds)
    if mode == "seed":
        if incumbent is None:
            raise space.empty_reason()
        outcome = Outcome(incumbent, False, -math.inf)
    elif mode in ("exact", "exhaustive"):
        outcome = probed_search(space, engine, obj, incumbent, deadline)
    else:
        from cim_plugin.mapping.fast import fast_search

        outcome = fast_search(space, engine, obj, incumbent, deadline)
    if outcome.best is None and not outcome.complete:
        raise InvalidMappingError(
            f"the search stopped ({'--timeout' if deadline else 'its work budget'}) before it "
            f"reached a complete mapping ({outcome.stats.nodes} nodes)", field="search",
            expected="a longer --timeout, or --search exact")
    if outcome.best is None:
        raise space.empty_reason()
    score, choice = outcome.best
    mapping = space.to_mapping(choice)
    result = engine.evaluate(space.to_nest(choice))
    if padding is not None:
        result.warnings.append(padding.warning(real_problem))
    exact_score = obj.of(result)
    return SearchResult(mapping=mapping, choice=choice, result=result, score=exact_score,
                        search=mode, seconds=time.perf_counter() - t0,
                        optimal=outcome.complete and mode != "seed",
                        lower_bound=min(outcome.lower_bound, exact_score),
                        stats=outcome.stats.to_json(), seeds_used=seeds_used, space=space,
                        padding=padding)


def _best_seed(space: MapSpace, engine: Engine, obj: Objective, seeds: Iterable[Choice]
               ) -> tuple[float, Choice] | None:
    """The best seed the model accepts (a seed whose tiles overflow is no mapping)."""
    best: tuple[float, Choice] | None = None
    for c in seeds:
        status, result = engine.try_evaluate(space.to_nest(c))
        if not status.ok:
            continue
        score = obj.of(result)
        if best is None or score < best[0] or (score == best[0]
                                               and c.order_key() < best[1].order_key()):
            best = (score, c)
    return best
