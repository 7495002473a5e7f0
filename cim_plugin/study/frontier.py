"""Break-even frontiers of a macro sweep, read back from `sweep.csv` in pieces.

For a pair of swept parameters (x, y), e.g. (energy per MAC, latency), and for each
workload and placement, the best CiM design at a grid point (x, y) is the best over
every other swept parameter. Per y value, the frontier is where along x that best
design's ratio to the baseline crosses 1, for TOPS/W, for GOPS and for both at once
(the larger of min(TOPS/W ratio, GOPS ratio)).

Between two grid values the crossing is interpolated linearly in 1/ratio: the
baseline's total over the design's total. That is exact whenever the design's total is
linear in x, as energy is in the energy per MAC or the write energy, and as cycles are
in the latency while the macro bounds them; otherwise it is linear interpolation
between two evaluated points.

The file is read in pieces of `READ_ROWS` rows and reduced to one row per (workload,
placement, x, y) as it is read, so the memory needed does not grow with the number of
macros that share a grid point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

READ_ROWS = 100_000
METRICS = {"tops_per_w": "tops_per_w_vs_baseline", "gops": "gops_vs_baseline", "both": None}
FRONTIER_COLUMNS = ("workload", "design", "x", "y", "y_value", "metric", "x_break", "wins",
                    "x_min", "x_max", "best_ratio", "x_break_refined",
                    "refined_ratio_below", "refined_ratio_above")


@dataclass(frozen=True)
class Crossing:
    """Where the best ratio crosses 1 along x: wins "below" x_break or "above" it."""

    x_break: float
    wins: str


def crossings(xs: Sequence[float], ratios: Sequence[float]) -> list[Crossing]:
    """Every crossing of `ratios` (best design / baseline, > 1 wins) through 1 along the
    sorted `xs`, interpolated linearly in 1/ratio. A ratio of exactly 1 counts as a win
    (the design matches the baseline)."""
    out = []
    pts = [(float(x), float(r)) for x, r in zip(xs, ratios) if math.isfinite(r) and r > 0]
    for (x0, r0), (x1, r1) in zip(pts, pts[1:]):
        w0, w1 = r0 >= 1.0, r1 >= 1.0
        if w0 == w1:
            continue
        u0, u1 = 1.0 / r0, 1.0 / r1
        xb = x0 + (1.0 - u0) * (x1 - x0) / (u1 - u0)
        out.append(Crossing(xb, "below" if w0 else "above"))
    return out


@dataclass(frozen=True)
class Reduced:
    """One pair's reduction: the best ratios per (workload, design, x, y), and the macro
    (its number and every parameter) with the best min(TOPS/W ratio, GOPS ratio) there
    (the first in file order on a tie)."""

    best: pd.DataFrame
    argbest: pd.DataFrame


def reduce_file(path: str | Path, pairs: Sequence[tuple[str, str]],
                read_rows: int = READ_ROWS) -> dict[tuple[str, str], Reduced]:
    """Per pair: the best ratios per (workload, design, x, y) over every other parameter."""
    from cim_plugin.library.sweep import PARAMS

    cols = {"workload", "design", "error", "macro_id", "tops_per_w_vs_baseline",
            "gops_vs_baseline", *PARAMS}
    acc: dict[tuple[str, str], tuple[pd.DataFrame | None, pd.DataFrame | None]] = \
        {p: (None, None) for p in pairs}
    for part in pd.read_csv(path, usecols=sorted(cols), chunksize=read_rows,
                            keep_default_na=False, na_values=[""],
                            dtype={"workload": str, "design": str, "error": str}):
        ok = part[part["error"].isna() | (part["error"] == "")]
        if ok.empty:
            continue
        ok = ok.assign(both=np.minimum(ok["tops_per_w_vs_baseline"], ok["gops_vs_baseline"]))
        finite = ok[ok["both"].notna()]
        for x, y in pairs:
            keys = ["workload", "design", x, y]
            g = ok.groupby(keys, sort=False)[
                ["tops_per_w_vs_baseline", "gops_vs_baseline", "both"]].max()
            arg = finite.loc[finite.groupby(keys, sort=False)["both"].idxmax()]
            prev, prev_arg = acc[(x, y)]
            if prev is not None:
                g = pd.concat([prev, g]).groupby(level=[0, 1, 2, 3]).max()
                arg = pd.concat([prev_arg, arg], ignore_index=True)
                arg = arg.loc[arg.groupby(keys, sort=False)["both"].idxmax()]
            acc[(x, y)] = (g, arg.reset_index(drop=True))
    out = {}
    for p, (g, arg) in acc.items():
        out[p] = Reduced(g.reset_index() if g is not None else pd.DataFrame(),
                         arg if arg is not None else pd.DataFrame())
    return out


def frontier_rows(best: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """The frontier table of one pair from `reduce_file`'s reduction."""
    rows = []
    if best.empty:
        return pd.DataFrame(columns=FRONTIER_COLUMNS)
    for (w, d, yv), grp in best.groupby(["workload", "design", y], sort=True):
        grp = grp.sort_values(x)
        xs = grp[x].to_numpy(float)
        for metric, col in METRICS.items():
            r = grp[col if col else "both"].to_numpy(float)
            base = {"workload": w, "design": d, "x": x, "y": y, "y_value": float(yv),
                    "metric": metric, "x_min": float(xs.min()), "x_max": float(xs.max()),
                    "best_ratio": float(np.nanmax(r)) if np.isfinite(r).any() else math.nan}
            found = crossings(xs, r)
            if found:
                rows += [{**base, "x_break": c.x_break, "wins": c.wins} for c in found]
            else:
                wins = "everywhere" if np.isfinite(r).any() and np.nanmin(r) >= 1.0 else "nowhere"
                rows.append({**base, "x_break": math.nan, "wins": wins})
    return pd.DataFrame(rows, columns=FRONTIER_COLUMNS)   # refined columns: NaN until refined


@dataclass(frozen=True)
class BreakEven:
    """A macro beats the baseline at (x < x_max) for every y <= y_max (None: never)."""

    workload: str
    design: str
    x_max: float | None
    y_max: float | None
    x_everywhere: bool          # wins over the whole swept x range up to y_max
    best_tops: float
    best_gops: float


def break_even(table: pd.DataFrame, metric: str = "both") -> list[BreakEven]:
    """Per workload and placement, from the `metric` rows of an (energy, latency) frontier:
    the largest y up to which every swept y has a winning range below some x, and the
    smallest of those x thresholds (so x < x_max wins at every y <= y_max)."""
    out = []
    for (w, d), grp in table.groupby(["workload", "design"], sort=True):
        both = grp[grp["metric"] == metric]
        best_t = float(grp[grp["metric"] == "tops_per_w"]["best_ratio"].max())
        best_g = float(grp[grp["metric"] == "gops"]["best_ratio"].max())
        x_max = y_max = None
        everywhere = True
        for yv, rows in both.groupby("y_value", sort=True):
            below = rows[rows["wins"] == "below"]["x_break"]
            if (rows["wins"] == "everywhere").any():
                limit, full = float(rows["x_max"].iloc[0]), True
            elif len(below) and not (rows["wins"] == "above").any():
                limit, full = float(below.min()), False
            else:
                break
            x_max = limit if x_max is None else min(x_max, limit)
            everywhere = everywhere and full
            y_max = float(yv)
        out.append(BreakEven(str(w), str(d), x_max, y_max, everywhere and x_max is not None,
                             best_t, best_g))
    return out


__all__ = ["BreakEven", "Crossing", "FRONTIER_COLUMNS", "Reduced", "break_even", "crossings",
           "frontier_rows", "reduce_file"]
