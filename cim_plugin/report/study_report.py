"""Study outputs: tidy tables, summary.json, plots (PNG + SVG) and report.md/html."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cim_plugin.io.safeio import Staging
from cim_plugin.report.markdown import md_text
from cim_plugin.study.config import StudyConfig
from cim_plugin.study.metrics import (
    DesignInfo,
    gemm_metrics,
    mean_std,
    model_totals,
    ratios,
)
from cim_plugin.study.point import Point, main_variant
from cim_plugin.study.waterfall import WaterfallRow, original_metrics, record_result, waterfall_json
from cim_plugin.study.workloads import Gemm

SCHEMA_VERSION = 1
UNITS = {"tops_per_w": "TOPS/W (2 ops/MAC)", "gops": "GOPS (2 ops/MAC)", "energy_J": "J",
         "latency_s": "s", "edp_Js": "J*s", "utilization": "fraction", "area_mm2": "mm^2"}


def _round(x: Any, digits: int = 6) -> Any:
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return None
        return float(f"{x:.{digits}g}")
    return x


def result_rows(cfg: StudyConfig, gemms: list[Gemm], records: dict[Point, Any]) -> pd.DataFrame:
    """One row per design x macro x GEMM (workload rows repeat shared shapes)."""
    rows = []
    variant = main_variant(cfg)
    for g in gemms:
        for design, macro in [(cfg.baseline, None)] + [(d, m) for d in cfg.designs for m in cfg.macros]:
            rec = records.get(Point(design, macro, g.m, g.n, g.k, variant))
            row: dict[str, Any] = {"design": design, "macro": macro or "-", "workload": g.workload,
                                   "gemm": g.name, "m": g.m, "n": g.n, "k": g.k, "count": g.count}
            if not isinstance(rec, dict):
                row["error"] = rec or "not evaluated"
                rows.append(row)
                continue
            res = rec["result"]
            er = record_result(rec)
            row.update(gemm_metrics(er, DesignInfo(name=design)))
            row.update({"macros_used": rec["macros"], "sizing": rec.get("sizing", "-"),
                        "latency_cycles": rec["latency_cycles"],
                        "mapper_search": rec["mapper"]["search"],
                        "mapper_optimal": bool(rec["mapper"]["optimal"]),
                        "mapper_gap": rec["mapper"]["gap"], "error": ""})
            for lv in res["levels"]:
                if lv["energy_pJ"] or lv["dataspaces"]:
                    row[f"energy_{lv['name']}_J"] = lv["energy_pJ"] * 1e-12
            row[f"energy_{res['compute']['name']}_J"] = res["compute"]["energy_pJ"] * 1e-12
            if cfg.paper_compat:
                pm = original_metrics(rec, g.m, g.n, macro is not None)
                row.update({f"paper_{k}": v for k, v in pm.items()})
            rows.append(row)
    df = pd.DataFrame(rows)
    energy_cols = sorted(c for c in df.columns if c.startswith("energy_") and c != "energy_J")
    df[energy_cols] = df[energy_cols].fillna(0.0)
    return df


def summarize(df: pd.DataFrame, cfg: StudyConfig) -> pd.DataFrame:
    """Per design x macro x workload: count-weighted totals (`metrics.model_totals`), their
    ratios to the baseline's totals, and the mean and std over the workload's GEMMs of the
    per-GEMM ratios (`metrics.ratios`, `metrics.mean_std`; the method's statistic)."""
    by = ["design", "macro", "workload"]
    ok = df[df["error"] == ""]
    totals = model_totals(ok, by=by).drop(columns="cycles").rename(columns={"n_gemms": "gemms"})
    area = ok.groupby(by, sort=False)["area_mm2"].max().reset_index()
    s = totals.merge(area, on=by).sort_values(by, kind="mergesort").reset_index(drop=True)
    s = s.merge(ratios(s, cfg.baseline, keys=["workload"], ids=["macro"], keep_baseline=True,
                       metrics=("tops_per_w", "gops", "energy_J", "latency_s", "edp_Js",
                                "area_mm2"), suffix="_vs_baseline"), on=by, how="left")
    keys = ["workload", "gemm", "m", "n", "k"]        # a name may repeat within a workload
    base = ok[ok["design"] == cfg.baseline]
    per = ratios(pd.concat([ok[ok["design"] != cfg.baseline], base.drop_duplicates(keys)]),
                 cfg.baseline, keys=keys, ids=["macro"], keep_baseline=True,
                 metrics=("tops_per_w", "gops"))
    st = mean_std(per, ["tops_per_w_ratio", "gops_ratio"], by=by, ddof=1).drop(columns="n_gemms")
    return s.merge(st, on=by, how="left").fillna({"tops_per_w_ratio_std": 0.0,
                                                  "gops_ratio_std": 0.0})


def summary_json(summary: pd.DataFrame, cfg: StudyConfig,
                 waterfall: list[WaterfallRow] | None = None) -> str:
    points = {}
    for _, r in summary.iterrows():
        key = f"{r['design']}/{r['macro']}/{r['workload']}"
        points[key] = {c: _round(r[c]) for c in summary.columns
                       if c not in ("design", "macro", "workload")}
        points[key]["gemms"] = int(r["gemms"])
    doc = {"schema_version": SCHEMA_VERSION, "baseline": cfg.baseline,
           "units": UNITS, "points": points}
    if waterfall:
        doc["waterfall"] = waterfall_json(waterfall)
    return json.dumps(doc, indent=1, sort_keys=True, default=_round) + "\n"


def best_choices(summary: pd.DataFrame, cfg: StudyConfig) -> list[dict[str, Any]]:
    out = []
    cim = summary[summary["design"] != cfg.baseline]
    for w, grp in cim.groupby("workload", sort=True):
        e = grp.sort_values(["tops_per_w", "design", "macro"], ascending=[False, True, True]).iloc[0]
        t = grp.sort_values(["gops", "design", "macro"], ascending=[False, True, True]).iloc[0]
        out.append({"workload": w,
                    "best_efficiency": f"{e['macro']} at {e['design']}",
                    "efficiency_ratio": e["tops_per_w_vs_baseline"], "tops_per_w": e["tops_per_w"],
                    "best_throughput": f"{t['macro']} at {t['design']}",
                    "throughput_ratio": t["gops_vs_baseline"], "gops": t["gops"]})
    return out


def render_outputs(cfg: StudyConfig, df: pd.DataFrame, summary: pd.DataFrame,
                   total_points: int | None = None,
                   extra: tuple[dict[str, bytes], list[str]] | None = None,
                   waterfall: list[WaterfallRow] | None = None) -> Staging:
    """Every output of a study, rendered in memory: nothing reaches the folder unless all
    of them could be produced (`Staging.publish`)."""
    from cim_plugin.report.plots import render_plots
    from cim_plugin.report.waterfall_report import render_waterfall_plot

    staging = Staging()
    df_sorted = df.sort_values(["design", "macro", "workload", "gemm"], kind="mergesort")
    staging.add("results.csv", df_sorted.to_csv(index=False, float_format="%.9g"))
    staging.add("results.json", json.dumps(
        {"config": cfg.key_dict(), "rows": json.loads(df_sorted.to_json(orient="records"))},
        indent=1, sort_keys=True) + "\n")
    staging.add("summary.json", summary_json(summary, cfg, waterfall))
    for name, data in render_plots(cfg, df, summary).items():
        staging.add(name, data)
    for name, data in render_waterfall_plot(waterfall or []).items():
        staging.add(name, data)
    images = sorted(n[:-4] for n in (extra[0] if extra else {}) if n.endswith(".svg"))
    md, body = report_text(cfg, df, summary, total_points, extra[1] if extra else None, images,
                           waterfall)
    for name, data in (extra[0] if extra else {}).items():     # e.g. the sweep's frontiers
        staging.add(name, data)
    staging.add("report.md", md)
    staging.add("report.html", body)
    return staging


def write_outputs(out: Path, cfg: StudyConfig, df: pd.DataFrame, summary: pd.DataFrame) -> list[Path]:
    """Render and publish every output into `out` (all or nothing)."""
    from cim_plugin.io.safeio import SafeFolder

    staging = render_outputs(cfg, df, summary)
    with SafeFolder.open(out) as folder:
        return staging.publish(folder)


def failed_points(df: pd.DataFrame) -> pd.DataFrame:
    """One row per design point that could not be evaluated."""
    return df[df["error"] != ""].drop_duplicates(["design", "macro", "m", "n", "k"])


def incomplete_workloads(df: pd.DataFrame) -> list[tuple[str, int, int]]:
    """(workload, GEMM rows missing, GEMM rows) for workloads with failed rows."""
    out = []
    for w, grp in df.groupby("workload", sort=True):
        bad = int((grp["error"] != "").sum())
        if bad:
            out.append((str(w), bad, len(grp)))
    return out


def _table(rows: list[list[str]], header: list[str]) -> str:
    """A Markdown table; cells are escaped (`md_text`), so names render literally."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_text(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def words(cfg: StudyConfig, df: pd.DataFrame, summary: pd.DataFrame,
          best: list[dict[str, Any]]) -> list[str]:
    """The what / when / where answers as sentences."""
    out = []
    for b in best:
        out.append(f"- **What** ({md_text(b['workload'])}): {md_text(b['best_efficiency'])} is the "
                   f"most energy-efficient choice ({b['efficiency_ratio']:.2f}x the baseline's "
                   f"TOPS/W); {md_text(b['best_throughput'])} gives the most throughput "
                   f"({b['throughput_ratio']:.2f}x).")
    ok = df[df["error"] == ""]
    base = ok[ok["design"] == cfg.baseline].drop_duplicates(["m", "n", "k"]) \
        .set_index(["m", "n", "k"])["tops_per_w"]
    cim = ok[ok["design"] != cfg.baseline]
    best_per_shape = cim.groupby(["m", "n", "k"])["tops_per_w"].max()
    wins = [(s, best_per_shape[s] / base[s]) for s in best_per_shape.index if s in base.index]
    if wins:
        n_win = sum(1 for _, g in wins if g > 1.0)
        low = sorted(wins, key=lambda x: x[1])[:3]
        high = sorted(wins, key=lambda x: -x[1])[:3]
        fmt = ", ".join
        out.append(f"- **When**: the best CiM design beats the baseline's energy efficiency on {n_win} of "
                   f"{len(wins)} GEMM shapes; the largest gains are on "
                   f"{fmt(f'{m}x{n}x{k} ({g:.1f}x)' for (m, n, k), g in high)}, the smallest on "
                   f"{fmt(f'{m}x{n}x{k} ({g:.2f}x)' for (m, n, k), g in low)} (MxNxK).")
    models = summary[(summary["design"] != cfg.baseline) & (summary["workload"] != "sweep")]
    if len(models):
        bestmac = models.groupby(["design", "workload"])[["tops_per_w_vs_baseline", "gops_vs_baseline"]].max()
        geo = bestmac.groupby("design").agg(
            e=("tops_per_w_vs_baseline", lambda x: float(np.exp(np.log(x).mean()))),
            t=("gops_vs_baseline", lambda x: float(np.exp(np.log(x).mean()))))
        e_best, t_best = geo["e"].idxmax(), geo["t"].idxmax()
        out.append(f"- **Where**: with the best macro for each workload (geometric mean over the "
                   f"workloads), {md_text(e_best)} gives the best energy efficiency "
                   f"({geo.loc[e_best, 'e']:.2f}x) and {md_text(t_best)} the best throughput "
                   f"({geo.loc[t_best, 't']:.2f}x); per placement, TOPS/W / GOPS vs baseline: "
                   + "; ".join(f"{md_text(d)} {r.e:.2f}x / {r.t:.2f}x" for d, r in geo.iterrows())
                   + ".")
    return out


def failure_lines(df: pd.DataFrame, total_points: int | None = None) -> list[str]:
    """The warning a study with failed points opens its report with (empty if none)."""
    failed = failed_points(df)
    if failed.empty:
        return []
    of = f" of {total_points}" if total_points else ""
    lines = [f"**Incomplete study: {len(failed)}{of} design points could not be evaluated.** "
             "They are listed at the end; totals and ratios below leave them out:", ""]
    lines += [f"- {md_text(w)}: {bad} of {n} GEMM rows missing"
              for w, bad, n in incomplete_workloads(df)]
    return lines + [""]


def report_text(cfg: StudyConfig, df: pd.DataFrame, summary: pd.DataFrame,
                total_points: int | None = None,
                extra_lines: list[str] | None = None,
                extra_images: list[str] | None = None,
                waterfall: list[WaterfallRow] | None = None) -> tuple[str, str]:
    """report.md and report.html; every name from the inputs is escaped."""
    from cim_plugin.report.waterfall_report import published_lines, waterfall_lines

    best = best_choices(summary, cfg)
    parts = ["# CiM study: what, when, where", "", *failure_lines(df, total_points),
             f"Baseline: {md_text(cfg.baseline)} (mapping search, objective {cfg.objective}). "
             f"CiM designs: {md_text(', '.join(cfg.designs))}; macros: "
             f"{md_text(', '.join(cfg.macros))}; sizing: {cfg.sizing}; CiM mapping: "
             f"{cfg.cim_strategy}. "
             "Ops = 2 x MACs; energy efficiency in TOPS/W, throughput in GOPS at 1 GHz; "
             "CiM compute takes the macro's latency per operation inside the model.", "",
             "## Answers per workload (count-weighted totals)", ""]
    rows = [[b["workload"], b["best_efficiency"], f"{b['tops_per_w']:.3f}", f"{b['efficiency_ratio']:.2f}x",
             b["best_throughput"], f"{b['gops']:.1f}", f"{b['throughput_ratio']:.2f}x"] for b in best]
    parts.append(_table(rows, ["workload", "what/where for energy", "TOPS/W", "vs baseline",
                               "what/where for throughput", "GOPS", "vs baseline"]))
    parts += ["", "## In words", ""]
    parts += words(cfg, df, summary, best)
    parts += ["", "## When: per-GEMM winners", ""]
    ok = df[df["error"] == ""]
    keys = ["workload", "gemm", "m", "n", "k"]        # a name may repeat within a workload
    base_rows = ok[ok["design"] == cfg.baseline].drop_duplicates(keys)
    base = base_rows.set_index(keys)["tops_per_w"]
    win_rows = []
    for key, grp in ok[ok["design"] != cfg.baseline].groupby(keys, sort=True):
        if key not in base.index:
            continue
        w, gname = key[0], key[1]
        top = grp.sort_values(["tops_per_w", "design", "macro"], ascending=[False, True, True]).iloc[0]
        gain = top["tops_per_w"] / base.loc[key]
        win_rows.append([w, gname, f"{top['m']}x{top['n']}x{top['k']}", f"{top['macro']} at {top['design']}",
                         f"{gain:.2f}x", "CiM" if gain > 1 else "baseline"])
    parts.append(_table(win_rows, ["workload", "GEMM", "MxNxK", "best CiM (TOPS/W)", "gain", "winner"]))
    parts += [""]
    parts += published_lines(waterfall or [])
    parts += waterfall_lines(waterfall or [], cfg.sizing)
    if waterfall:
        parts += ["![Waterfall from published to ours](waterfall.png)", ""]
    parts += ["## Figures", "", "![TOPS/W vs GOPS](tops_vs_gops.png)", "",
              "![Normalized](normalized.png)", "", "![Energy breakdown](energy_breakdown.png)", "",
              "![Sweep heatmap](sweep_heatmap.png)", ""]
    parts += extra_lines or []
    errors = failed_points(df)
    if len(errors):
        parts += ["## Points that could not be evaluated", ""]
        parts += [f"- {md_text(r['design'])} / {md_text(r['macro'])} / "
                  f"{r['m']}x{r['n']}x{r['k']} ({md_text(r['gemm'])}): {md_text(r['error'], 400)}"
                  for _, r in errors.iterrows()]
    md = "\n".join(parts) + "\n"
    body = "<!doctype html><meta charset='utf-8'><title>CiM study</title><body><pre style='white-space:pre-wrap'>" \
        + html.escape(md) + "</pre>" + "".join(
            f"<p><img src='{n}.svg' alt='{n}' style='max-width:100%'></p>"
            for n in ("tops_vs_gops", "normalized", "energy_breakdown", "sweep_heatmap",
                      *(("waterfall",) if waterfall else ()), *(extra_images or ()))) \
        + "</body>\n"
    return md, body
