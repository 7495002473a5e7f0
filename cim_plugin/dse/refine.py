"""Refining a frontier with the mapper, only where it matters: next to each crossing.

The cheap path maps every hypothetical macro with the method's priority algorithm. With
a search strategy (`cim_strategy: priority+search` or `search`) the study's own points
are mapped by the mapper (`search: fast`, or `exact`), which can only do at least as
well on the objective. Running the mapper on every macro of a sweep would cost seconds
per point, so it runs on the two grid macros that bracket a crossing: for each of the
first `refine` crossings of the "both" frontier, the best macro at the grid value just
below and just above the break-even is evaluated on every GEMM of the workload exactly
as the study evaluates its own points (`evaluate_point`: the mapper seeded with the
priority mappings), and the crossing between the two refined ratios is reported as
`x_break_refined` next to the cheap path's `x_break`, with both refined ratios
(min of TOPS/W and GOPS ratio; `x_break_refined` is empty when they no longer cross
between the two grid values: the mapper moved the break-even past a neighbour). Refined points are cached like
the study's, on the client, so a rerun reuses them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pandas as pd

from cim_plugin.dse.cheap import HYPOTHETICAL, hypothetical_macro, sizing_mode
from cim_plugin.library.sweep import PARAMS, STRUCTURAL
from cim_plugin.study.cache import PointCache, fingerprint, point_key
from cim_plugin.study.executors import in_order
from cim_plugin.study.frontier import Reduced, crossings
from cim_plugin.study.metrics import DEFAULT_CLOCK_HZ


def _bracket(arg: pd.DataFrame, row: pd.Series) -> tuple[dict, dict] | None:
    """The best macros at the grid x values just below and above `row`'s crossing."""
    x, y = row["x"], row["y"]
    here = arg[(arg["workload"] == row["workload"]) & (arg["design"] == row["design"])
               & (arg[y] == row["y_value"])].sort_values(x)
    below = here[here[x] <= row["x_break"]]
    above = here[here[x] > row["x_break"]]
    if below.empty or above.empty:
        return None
    return below.iloc[-1].to_dict(), above.iloc[0].to_dict()


def _macro(params: dict) -> Any:
    structure = {p: params[p] for p in STRUCTURAL}
    for p in ("Rp", "Cp", "Rh", "Ch", "bits"):
        structure[p] = int(structure[p])
    return hypothetical_macro(structure, params["latency_cycles"],
                              params["energy_per_mac_pJ"], params["write_energy_pJ"])


def refine_tables(tables: dict[tuple[str, str], pd.DataFrame],
                  reduced: dict[tuple[str, str], Reduced], cfg: Any, limit: int,
                  gemms: list[Any], baseline: Any, out_dir: Any,
                  executor: Any) -> tuple[dict[tuple[str, str], pd.DataFrame], int]:
    """The tables with `x_break_refined` filled for up to `limit` crossings, and how many
    crossings were refined (0 with `cim_strategy: priority`: nothing to refine)."""
    from cim_plugin.study.point import Point
    from cim_plugin.study.remote import PointTask, evaluate_task

    if limit <= 0 or cfg.cim_strategy == "priority":
        return tables, 0
    rcfg = dataclasses.replace(cfg, sizing=sizing_mode(cfg.sizing))
    per_workload: dict[str, list[tuple[tuple[int, int, int], int]]] = {}
    for g in gemms:
        per_workload.setdefault(g.workload, []).append(((g.m, g.n, g.k), int(g.count)))
    todo = []                              # (pair, row index, below, above)
    for pair, table in tables.items():
        rows = table[(table["metric"] == "both") & table["wins"].isin(["below", "above"])]
        for idx, row in rows.iterrows():
            if len(todo) >= limit:
                break
            br = _bracket(reduced[pair].argbest, row)
            if br is not None:
                todo.append((pair, idx, *br))
    # every (design, macro, shape) to evaluate, once
    wanted: dict[tuple, tuple[Any, Any, dict]] = {}
    for _, _, lo, hi in todo:
        for params in (lo, hi):
            key_params = tuple((p, float(params[p])) for p in PARAMS)
            for shape, _ in per_workload[params["workload"]]:
                k = (params["design"], key_params, shape)
                if k not in wanted:
                    wanted[k] = (Point(params["design"], HYPOTHETICAL, *shape), _macro(params),
                                 dict(key_params))
    fp = fingerprint(cfg.backend)
    figures: dict[tuple, tuple[float, float] | None] = {}
    with PointCache(out_dir) as cache:
        def jobs():
            for k, (point, macro, params) in wanted.items():
                key = point_key({**point.__dict__, "macro_parameters": params}, rcfg.key_dict(), fp)
                yield (k, key, point), PointTask(point, rcfg, macro), cache.get(key, point.__dict__)

        for (k, key, _), rec, fresh in in_order(executor, evaluate_task, jobs(),
                                                3 * executor.workers):
            if not isinstance(rec, dict):
                figures[k] = None
                continue
            if fresh:
                cache.put(key, rec)
            figures[k] = (float(rec["result"]["energy_pJ"]), float(rec["result"]["cycles"]))

    def ratio(params: dict) -> float:
        w = params["workload"]
        key_params = tuple((p, float(params[p])) for p in PARAMS)
        energy = cycles = 0.0
        for shape, count in per_workload[w]:
            f = figures.get((params["design"], key_params, shape))
            if f is None:
                return math.nan
            energy += count * f[0]
            cycles += count * f[1]
        t = baseline.energy_J.get(w, math.nan) / (energy * 1e-12)
        g = baseline.latency_s.get(w, math.nan) / (cycles / DEFAULT_CLOCK_HZ)
        return min(t, g)

    out = {pair: table.copy() for pair, table in tables.items()}
    for pair, idx, lo, hi in todo:
        x = pair[0]
        r_lo, r_hi = ratio(lo), ratio(hi)
        found = crossings([lo[x], hi[x]], [r_lo, r_hi])
        out[pair].loc[idx, ["x_break_refined", "refined_ratio_below", "refined_ratio_above"]] = \
            [found[0].x_break if found else math.nan, r_lo, r_hi]
    return out, len(todo)


__all__ = ["refine_tables"]
