"""Study metrics from an `EvalResult`, their normalisation, and the method's original formulas.

Default mode (what the study reports). Units are in the names:
- one MAC is 2 operations (a multiply and an add): ``ops = 2 * MACs``, for every design;
- ``latency_s = cycles / clock_Hz`` with the cycles of the result (the model already
  includes CiM latency and every level's bandwidth, one consistent model);
- ``tops_per_w = ops / energy_J / 1e12``; ``gops = ops / latency_s / 1e9``;
- ``edp_Js = energy_J * latency_s``; ``area_mm2`` from the design (or the result).

Paper-compat mode (`paper_metrics`) reproduces the post-processing of the method's
original scripts, flaws included, only to compare with published numbers:
total ops = 2*MACs - M*N; CiM energy adds 0.05 pJ per temporal reduction; CiM cycles
= CiM-unit cycles x macro latency x CiM-storage loop bounds (although Timeloop's
CiM-unit cycles already count those loops), bounded below by reads/bandwidth and
updates/bandwidth per instance of every level: SMEM 42 words/cycle, DRAM 32, any other
level 1 (WWWtoCiM post-process/get_stats.py); throughput in MACs/ns
(GMAC/s) for CiM but ops/ns (GOPS) for the baseline -- a 2x unit mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cim_plugin.model.result import EvalResult

OPS_PER_MAC = 2                    # one multiply + one add
DEFAULT_CLOCK_HZ = 1e9             # method: 45 nm baseline at 1 GHz

METRIC_COLUMNS = ("macs", "ops", "cycles", "latency_s", "energy_J", "edp_Js",
                  "tops_per_w", "gops", "utilization", "area_mm2")


@dataclass(frozen=True)
class DesignInfo:
    """What the metrics need beyond the result: clock and (iso-)area of the design."""

    name: str = ""
    clock_hz: float = DEFAULT_CLOCK_HZ
    area_mm2: float | None = None          # None: take the result's area


def gemm_metrics(result: EvalResult, design: DesignInfo | None = None) -> dict[str, float]:
    """Default-mode metrics of one evaluated GEMM (see module docstring for units)."""
    d = design or DesignInfo()
    macs = int(result.computes)
    ops = OPS_PER_MAC * macs
    energy_J = result.energy_pJ * 1e-12
    latency_s = result.cycles / d.clock_hz
    area = d.area_mm2 if d.area_mm2 is not None else result.area_um2 * 1e-6
    return {
        "macs": macs,
        "ops": ops,
        "cycles": int(result.cycles),
        "latency_s": latency_s,
        "energy_J": energy_J,
        "edp_Js": energy_J * latency_s,
        "tops_per_w": ops / energy_J / 1e12 if energy_J > 0 else math.nan,
        "gops": ops / latency_s / 1e9 if latency_s > 0 else math.nan,
        "utilization": float(result.utilization),
        "area_mm2": float(area),
    }


def metrics_row(result: EvalResult, *, design: DesignInfo | None = None,
                workload: str = "", gemm: str = "", m: int | None = None,
                n: int | None = None, k: int | None = None, count: int = 1) -> dict[str, Any]:
    """One row of a study table: identifiers plus `gemm_metrics`."""
    d = design or DesignInfo()
    row: dict[str, Any] = {"design": d.name, "workload": workload, "gemm": gemm,
                           "m": m, "n": n, "k": k, "count": int(count)}
    row.update(gemm_metrics(result, d))
    return row


# ----------------------------------------------------------------- normalisation

def ratios(df, baseline: str, *, keys: Sequence[str] = ("workload", "gemm"),
           metrics: Sequence[str] = ("tops_per_w", "gops", "energy_J", "latency_s", "edp_Js"),
           design_col: str = "design", ids: Sequence[str] = (), keep_baseline: bool = False,
           suffix: str = "_ratio"):
    """Per-GEMM ratio design / baseline for each metric (`<metric><suffix>` columns).

    `df` holds rows of several designs, one of them named `baseline` in `design_col`;
    rows are matched on `keys` and keep the identifier columns `ids` (e.g. the macro).
    The baseline's own rows are left out unless `keep_baseline` (their ratio is 1). A
    ratio > 1 is better for tops_per_w and gops, worse for energy, latency and EDP.
    """
    import pandas as pd

    keys = list(keys)
    base = df[df[design_col] == baseline]
    if base.empty:
        raise ValueError(f"no rows of baseline {baseline!r} in column {design_col!r}")
    if base.duplicated(keys).any():
        raise ValueError(f"baseline rows are not unique on {keys}")
    other = df if keep_baseline else df[df[design_col] != baseline]
    merged = other.merge(base[keys + list(metrics)], on=keys, how="left",
                         suffixes=("", "_baseline"), validate="many_to_one")
    out = merged[[design_col, *ids, *keys]].copy()
    for m in metrics:
        out[f"{m}{suffix}"] = merged[m] / merged[f"{m}_baseline"]
    return pd.DataFrame(out).reset_index(drop=True)


def mean_std(df, columns: Sequence[str], *, by: Sequence[str] = ("design", "workload"),
             ddof: int = 0):
    """Mean and standard deviation over each group's GEMMs, unweighted (as the method
    plots them). `ddof=0` is the population std (numpy's default)."""
    g = df.groupby(list(by), sort=False)
    out = g.size().rename("n_gemms").to_frame()
    for c in columns:
        out[f"{c}_mean"] = g[c].mean()
        out[f"{c}_std"] = g[c].std(ddof=ddof)
    return out.reset_index()


def model_totals(df, *, by: Sequence[str] = ("design", "workload"), count_col: str = "count"):
    """Count-weighted totals per model: each GEMM weighs by how often it runs.

    MACs, ops, energy and latency add up (GEMMs run one after another); tops_per_w,
    gops and edp follow from the totals; utilization is MAC-weighted.
    """
    work = df.copy()
    c = work[count_col] if count_col in work else 1
    for col in ("macs", "ops", "energy_J", "latency_s", "cycles"):
        work[f"_{col}"] = work[col] * c
    work["_util"] = work["utilization"] * work["_macs"]
    g = work.groupby(list(by), sort=False)
    out = g[["_macs", "_ops", "_energy_J", "_latency_s", "_cycles", "_util"]].sum()
    out.columns = ["macs", "ops", "energy_J", "latency_s", "cycles", "_util"]
    out["utilization"] = out["_util"] / out["macs"]
    out = out.drop(columns="_util")
    out["tops_per_w"] = out["ops"] / out["energy_J"] / 1e12
    out["gops"] = out["ops"] / out["latency_s"] / 1e9
    out["edp_Js"] = out["energy_J"] * out["latency_s"]
    out["n_gemms"] = g.size()
    return out.reset_index()


# ------------------------------------------------------------------ paper compat

#: primitive latencies in cycles (method.md primitive table; WWWtoCiM cim-primitives.txt)
PRIMITIVE_LATENCY_CYCLES = {"analog6T": 9, "analog8T": 144, "digital6T": 18, "digital8T": 233}
#: words/cycle the original post-processing bounds cycles with (method.md "Metrics")
PAPER_BANDWIDTHS = {"SMEM": 42.0, "DRAM": 32.0}
#: words/cycle it assumes for every other level (get_stats.py `calculate_new_cycles`
#: starts each level at 1 read and 1 update per cycle)
PAPER_OTHER_BANDWIDTH = 1.0
#: energy of the 8-bit adder added per temporal reduction (method.md "Metrics")
PAPER_ADDER_PJ = 0.05


def paper_total_ops(macs: int, m: int, n: int) -> int:
    """The original's op count: MACs multiplies plus MACs - M*N additions."""
    return OPS_PER_MAC * macs - m * n


def storage_loop_bound(mapping: Any, level: str = "CiMStorage") -> int:
    """Product of the temporal factors of `level` in a `Mapping` (1 when absent)."""
    lm = mapping.levels.get(level) if hasattr(mapping, "levels") else None
    return math.prod(lm.temporal.values()) if lm is not None and lm.temporal else 1


def bandwidth_bound_cycles(result: EvalResult, bandwidths: Mapping[str, float],
                           other: float | None = None) -> float:
    """max over the named levels of (reads / bw) and (updates / bw), per instance;
    `other`: the bandwidth of every other level (None: leave them out)."""
    bound = 0.0
    for lv in result.levels:
        bw = bandwidths.get(lv.name, other)
        if not bw:
            continue
        reads = sum(ds.reads for ds in lv.dataspaces.values())
        updates = sum(ds.updates for ds in lv.dataspaces.values())
        bound = max(bound, reads / bw, updates / bw)
    return bound


def temporal_reductions(result: EvalResult) -> int:
    """Per-instance temporal reductions summed over every level and dataspace.

    Per instance, as stats.txt prints them: multiplying by the utilized instances
    would not reproduce the published figures (analog6T RF: 2.56 instead of 2.728 TOPS/W).
    """
    return sum(ds.temporal_reductions for lv in result.levels for ds in lv.dataspaces.values())


def paper_metrics(result: EvalResult, *, m: int, n: int, cim: bool,
                  latency_cycles: float = 1.0, storage_bound: int = 1,
                  bandwidths: Mapping[str, float] = PAPER_BANDWIDTHS,
                  adder_pJ: float = PAPER_ADDER_PJ,
                  clock_hz: float = DEFAULT_CLOCK_HZ,
                  other_bandwidth: float | None = PAPER_OTHER_BANDWIDTH) -> dict[str, Any]:
    """The original post-processing of one Timeloop run (see module docstring).

    For CiM, throughput is MACs per ns ("GMAC/s"); for the baseline, ops per ns
    ("GOPS") with ops = 2*MACs - M*N, i.e. Timeloop's "GFLOPs (@1GHz)". The default
    mode counts 2 ops per MAC for both.
    """
    macs = int(result.computes)
    ops = paper_total_ops(macs, m, n)
    energy_pJ = float(result.energy_pJ)
    if cim:
        energy_pJ += adder_pJ * temporal_reductions(result)
        cim_cycles = result.compute.cycles * latency_cycles * storage_bound
        bw_cycles = bandwidth_bound_cycles(result, bandwidths, other_bandwidth)
        cycles = max(cim_cycles, bw_cycles)
        throughput = macs / (cycles / clock_hz) / 1e9
        unit = "GMAC/s"
    else:
        cim_cycles = bw_cycles = math.nan
        cycles = float(result.cycles)
        throughput = ops / (cycles / clock_hz) / 1e9
        unit = "GOPS"
    return {
        "total_ops": ops,
        "energy_pJ": energy_pJ,
        "tops_per_w": ops / (energy_pJ * 1e-12) / 1e12,
        "cycles": cycles,
        "cim_cycles": cim_cycles,
        "bandwidth_bound_cycles": bw_cycles,
        "throughput": throughput,
        "throughput_unit": unit,
        "utilization": float(result.utilization),
    }
