"""From the method's published ratios to ours, one modelling switch at a time.

For each placement with published figures (cim_rf, cim_smem) x metric (TOPS/W, GOPS)
x workload, the ratio CiM / baseline after each switch, in this order:

0. published -- the method's figures (method.md, "Headline results");
1. original pipeline reproduced -- `--paper-compat`: the method's bank counts, the
   authors' priority algorithm pinned, the baseline under the method's constraints by
   the (reproduced) random mapper, and the original post-processing exactly: ops =
   2 MACs - M*N, CiM energy + 0.05 pJ per temporal reduction, CiM cycles = CiM-unit
   cycles x storage loop bounds bounded by every level's traffic, CiM throughput in
   MAC/s against the baseline's op/s;
2. units fixed (ops vs MACs) -- ops = 2 MACs on both sides, throughput in op/s on both;
3. latency counted once -- cycles and energy of the model itself (macro latency and
   every level's bandwidth in one cycle count; no post-processed adder energy);
4. baseline optimally mapped -- our baseline: the mapper's optimum under the design's
   own constraints instead of the random mapper under the method's;
5. CiM mapping searched -- the CiM mapped by our mapper (corrected priority seeds +
   search) instead of the original priority mapping pinned;
6. iso-area sizing (ours) -- bank counts from the macros' areas instead of the method's
   preset counts.

The synthetic sweep has no waterfall. Each workload's ratio is the mean over its GEMMs of the per-GEMM ratios (the method's
statistic). The macro is the published one (digital 6T) when the study has it, else the
one with the best ratio at step 1; it is held fixed through the steps so that each
factor is the effect of one switch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cim_plugin.model.result import EvalResult
from cim_plugin.study.metrics import OPS_PER_MAC, gemm_metrics, paper_metrics

#: the method's published ratios (method.md, "Headline results"): mean, std per workload
PUBLISHED: dict[tuple[str, str], dict[str, tuple[float, float]]] = {
    ("cim_rf", "tops_per_w"): {"bert-large": (3.01, 0.10), "gpt-j-6b": (2.14, 0.97),
                               "resnet50": (2.49, 0.67), "dlrm": (2.44, 0.70)},
    ("cim_rf", "gops"): {"bert-large": (1.38, 0.01), "gpt-j-6b": (0.98, 0.44),
                         "resnet50": (1.68, 1.52), "dlrm": (1.64, 1.51)},
    ("cim_smem", "tops_per_w"): {"bert-large": (3.30, 0.11), "gpt-j-6b": (2.32, 1.13),
                                 "resnet50": (2.61, 0.65), "dlrm": (2.56, 0.69)},
    ("cim_smem", "gops"): {"bert-large": (14.40, 1.20), "gpt-j-6b": (8.21, 7.10),
                           "resnet50": (8.35, 5.23), "dlrm": (8.10, 5.33)},
}
DESIGNS = ("cim_rf", "cim_smem")
#: the primitive of the published ratios: the authors' per-workload plotting script
#: (WWWtoCiM www-cim/post-process/fig11.py) plots PRIMITIVE = "digital6T", and the method
#: attributes its headline SMEM figures to it
PUBLISHED_MACRO = "digital6T"
#: workloads without a waterfall: the synthetic sweep is a grid of shapes, not a model
#: the method published a ratio for (and would double the waterfall's cost)
WATERFALL_SKIPS = ("sweep",)
METRICS = ("tops_per_w", "gops")
STEPS = ("published", "original", "units", "latency", "baseline", "cim_search", "iso_area")
STEP_TITLES = {"published": "published",
               "original": "original pipeline reproduced",
               "units": "units fixed (ops vs MACs)",
               "latency": "latency counted once",
               "baseline": "baseline optimally mapped",
               "cim_search": "CiM mapping searched",
               "iso_area": "iso-area sizing (ours)"}
#: the point variants each step reads: (CiM, baseline); "paper" is the original
#: pipeline, "preset"/"iso-area" our pipeline with that sizing
STEP_POINTS = {"original": ("paper", "paper"), "units": ("paper", "paper"),
               "latency": ("paper", "paper"), "baseline": ("paper", "ours"),
               "cim_search": ("preset", "ours"), "iso_area": ("iso-area", "ours")}


def waterfall_macros(cfg: Any) -> tuple[str, ...]:
    """The published primitive when the study has it (one macro keeps the waterfall cheap
    and comparable with the published figures), else the study's macros of the method
    (the best at step 1 is shown): the original pipeline and its preset sizing exist for
    those only, so a study of other macros has no waterfall."""
    from cim_plugin.export.sizing import PRESET_METHOD

    if PUBLISHED_MACRO in cfg.macros:
        return (PUBLISHED_MACRO,)
    method = set.intersection(*(set(t) for t in PRESET_METHOD.values()))
    return tuple(m for m in cfg.macros if m in method)


def waterfall_designs(cfg: Any) -> tuple[str, ...]:
    """The study's placements that have published figures (and the method's presets)."""
    return tuple(d for d in cfg.designs if d in DESIGNS) if cfg.waterfall else ()


def point_variant(cfg: Any, want: str) -> str:
    """The Point variant holding `want`: "paper" (the original pipeline), "ours" (our
    pipeline with the study's sizing: variant ""), or a sizing of our pipeline
    ("preset", "iso-area": "" where that is the study's own)."""
    if want == "paper":
        return "paper"
    if want == "ours" or cfg.sizing == want:
        return ""
    return want


def waterfall_points(cfg: Any, shapes: list[tuple[int, int, int]]) -> list[Any]:
    """The extra points the waterfall needs beyond the study's own."""
    from cim_plugin.study.point import Point

    designs = waterfall_designs(cfg)
    macros = waterfall_macros(cfg)
    if not designs or not macros:
        return []
    out = []
    if not cfg.paper_compat:                   # else the study's own points are "paper"
        out += [Point(cfg.baseline, None, *s, variant="paper") for s in shapes]
        out += [Point(d, mac, *s, variant="paper") for d in designs for mac in macros
                for s in shapes]
    else:                                      # ours, with the study's sizing
        out += [Point(cfg.baseline, None, *s) for s in shapes]
        out += [Point(d, mac, *s) for d in designs for mac in macros for s in shapes]
    for want in ("preset", "iso-area"):
        v = point_variant(cfg, want)
        if v:
            out += [Point(d, mac, *s, variant=v) for d in designs for mac in macros
                    for s in shapes]
    return out


def record_result(rec: Mapping[str, Any]) -> EvalResult:
    """The EvalResult of a cached point record."""
    return EvalResult.from_json_dict(rec["result"])


def storage_bound(mapping: list[dict[str, Any]]) -> int:
    """Product of the CiM storage's temporal factors in a record's map.yaml list."""
    bound = 1
    for e in mapping:
        if e.get("target") == "CiMStorage" and e.get("type") == "temporal":
            for tok in str(e.get("factors", "")).split():
                bound *= int(tok[1:])
    return bound


def original_metrics(rec: Mapping[str, Any], m: int, n: int, cim: bool) -> dict[str, Any]:
    """The original post-processing of a record (our compute cycles already include the
    macro latency, so the original's "CiM-unit cycles x latency" uses latency 1)."""
    return paper_metrics(record_result(rec), m=m, n=n, cim=cim, latency_cycles=1.0,
                         storage_bound=storage_bound(rec["mapping"]) if cim else 1)


def _pair(cim: Mapping[str, Any], base: Mapping[str, Any], step: str, m: int, n: int
          ) -> tuple[float, float]:
    """(TOPS/W ratio, GOPS ratio) of one GEMM at one step."""
    if step in ("original", "units"):
        pc, pb = original_metrics(cim, m, n, True), original_metrics(base, m, n, False)
        if step == "original":
            return pc["tops_per_w"] / pb["tops_per_w"], pc["throughput"] / pb["throughput"]
        macs = record_result(cim).computes
        ops = OPS_PER_MAC * macs
        return ((ops / pc["energy_pJ"]) / (ops / pb["energy_pJ"]),
                (ops / pc["cycles"]) / (ops / pb["cycles"]))
    gc, gb = gemm_metrics(record_result(cim)), gemm_metrics(record_result(base))
    return gc["tops_per_w"] / gb["tops_per_w"], gc["gops"] / gb["gops"]


@dataclass
class WaterfallRow:
    design: str
    metric: str
    workload: str
    macro: str
    ratios: dict[str, float]          # step -> ratio (published: the published mean)
    gemms: int

    def factors(self) -> dict[str, float]:
        """Each step's ratio over the previous step's (NaN where either is missing)."""
        out = {}
        for prev, step in zip(STEPS, STEPS[1:]):
            a, b = self.ratios.get(prev, math.nan), self.ratios.get(step, math.nan)
            out[step] = b / a if a and math.isfinite(a) and math.isfinite(b) else math.nan
        return out

    def largest_step(self) -> str:
        """The step whose factor is farthest from 1 (in log terms), published excluded;
        none ("") when every step moves the ratio by less than 0.5 % (a tie of 1.00x
        factors would otherwise name an arbitrary step)."""
        f = {s: v for s, v in self.factors().items() if s != "original" and math.isfinite(v) and v > 0}
        if not f:
            return ""
        step = max(f, key=lambda s: abs(math.log(f[s])))
        return step if abs(math.log(f[step])) >= math.log(1.005) else ""


def waterfall(cfg: Any, gemms: list[Any], records: Mapping[Any, Any]) -> list[WaterfallRow]:
    """Every placement x metric x workload row (module doc); workloads with a GEMM that
    failed in any step are left out."""
    from cim_plugin.study.point import Point

    designs = waterfall_designs(cfg)
    if not designs:
        return []
    var = {w: point_variant(cfg, w) for w in ("paper", "ours", "preset", "iso-area")}
    # per design, macro, workload: the list of per-GEMM (step -> (tops, gops)) ratios
    per: dict[tuple[str, str, str], list[dict[str, tuple[float, float]]]] = {}
    bad: set[tuple[str, str, str]] = set()
    for g in gemms:
        if g.workload in WATERFALL_SKIPS:
            continue
        shape = (g.m, g.n, g.k)
        for d in designs:
            for mac in waterfall_macros(cfg):
                key = (d, mac, g.workload)
                steps = {}
                for step, (cv, bv) in STEP_POINTS.items():
                    c = records.get(Point(d, mac, *shape, variant=var[cv]))
                    b = records.get(Point(cfg.baseline, None, *shape, variant=var[bv]))
                    if not isinstance(c, dict) or not isinstance(b, dict):
                        bad.add(key)
                        break
                    steps[step] = _pair(c, b, step, g.m, g.n)
                per.setdefault(key, []).append(steps)
    rows = []
    for d in designs:
        workloads = sorted({w for (dd, _, w) in per if dd == d})
        for metric in METRICS:
            i = METRICS.index(metric)
            for w in workloads:
                cands = []
                for mac in waterfall_macros(cfg):
                    if (d, mac, w) in bad or (d, mac, w) not in per:
                        continue
                    lst = per[(d, mac, w)]
                    ratios = {s: sum(x[s][i] for x in lst) / len(lst) for s in STEP_POINTS}
                    pub = PUBLISHED.get((d, metric), {}).get(w)
                    ratios = {"published": pub[0] if pub else math.nan, **ratios}
                    cands.append(WaterfallRow(d, metric, w, mac, ratios, len(lst)))
                if cands:
                    rows.append(max(cands, key=lambda r: (r.ratios["original"], r.macro)))
    return rows


def waterfall_json(rows: list[WaterfallRow]) -> dict[str, Any]:
    """summary.json's `waterfall`: design -> metric -> workload -> macro, steps."""
    def num(x: float) -> float | None:
        return float(f"{x:.6g}") if math.isfinite(x) else None

    out: dict[str, Any] = {"steps": [STEP_TITLES[s] for s in STEPS], "rows": {}}
    for r in rows:
        f = r.factors()
        out["rows"].setdefault(r.design, {}).setdefault(r.metric, {})[r.workload] = {
            "macro": r.macro, "gemms": r.gemms,
            "ratio": {s: num(r.ratios[s]) for s in STEPS},
            "factor": {s: num(f[s]) for s in STEPS[1:]},
            "largest_step": r.largest_step()}
    return out
