"""Study figures (PNG and SVG): TOPS/W vs GOPS, normalized bars, energy breakdown, sweep heatmap.

Figures are rendered into memory and published with the other outputs (nothing is
written here); a panel without finite data says so instead of failing the study.
"""

from __future__ import annotations

import io

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cim_plugin.report.markdown import plot_text  # noqa: E402
from cim_plugin.study.config import StudyConfig  # noqa: E402


def _render(fig, name: str) -> dict[str, bytes]:
    """PNG and SVG of a figure, in memory: the caller publishes every output together."""
    files = {}
    try:
        for ext in ("png", "svg"):
            buf = io.BytesIO()
            fig.savefig(buf, format=ext, dpi=130, bbox_inches="tight",
                        metadata={"Date": None} if ext == "svg" else None)
            files[f"{name}.{ext}"] = buf.getvalue()
    finally:
        plt.close(fig)
    return files


def _plottable(frame) -> bool:
    """Some finite number to draw (pandas refuses a plot without numeric data)."""
    values = np.asarray(frame, dtype=float) if len(frame) else np.array([])
    return bool(values.size) and bool(np.isfinite(values).any())


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def render_plots(cfg: StudyConfig, df: pd.DataFrame, summary: pd.DataFrame) -> dict[str, bytes]:
    """Every figure as {file name: bytes} (PNG and SVG); names are drawn as literal text."""
    plt.rcParams.update({"svg.hashsalt": "cim_plugin", "font.size": 9})
    paths: dict[str, bytes] = {}
    models = summary[summary["workload"] != "sweep"]
    if models.empty:                   # a sweep-only study: plot the sweep's totals
        models = summary
    # 1. TOPS/W vs GOPS per workload total: colour = macro, marker = placement
    workloads = sorted(models["workload"].unique())
    macros = sorted(m for m in models["macro"].unique() if m != "-")
    colors = {m: f"C{i}" for i, m in enumerate(macros)}
    designs = sorted(d for d in models["design"].unique() if d != cfg.baseline)
    marks = {d: mk for d, mk in zip(designs, "osD^v<>ph")}
    cols = 2 if len(workloads) > 1 else 1
    rows = (len(workloads) + cols - 1) // cols or 1
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
    for ax, w in zip(axes.flat, workloads):
        grp = models[models["workload"] == w]
        for _, r in grp.iterrows():
            if r["design"] == cfg.baseline:
                ax.scatter(r["gops"], r["tops_per_w"], marker="*", s=160, color="k", zorder=3)
            else:
                ax.scatter(r["gops"], r["tops_per_w"], marker=marks[r["design"]], s=36,
                           color=colors[r["macro"]], alpha=0.85)
        ax.set_title(plot_text(w))
        for axis, col, setter in ((ax.xaxis, "gops", ax.set_xscale), (ax.yaxis, "tops_per_w", ax.set_yscale)):
            lo, hi = grp[col].min(), grp[col].max()
            if lo > 0 and hi / lo > 10:        # log axes only where the data span a decade
                setter("log")
                subs = (1.0,) if hi / lo > 1000 else (1.0, 2.0, 5.0)
                axis.set_major_locator(matplotlib.ticker.LogLocator(subs=subs))
                axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
                axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("throughput [GOPS, 2 ops/MAC, 1 GHz]")
        ax.set_ylabel("energy efficiency [TOPS/W]")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(workloads):]:
        ax.axis("off")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="*", color="k", ls="", ms=11, label=f"{cfg.baseline} (baseline)")]
    handles += [Line2D([], [], marker="o", color=colors[m], ls="", label=m) for m in macros]
    handles += [Line2D([], [], marker=marks[d], color="gray", ls="", label=d) for d in designs]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               title="colour: macro, marker: placement")
    fig.suptitle("What and where: per-workload totals (count-weighted)")
    fig.tight_layout()
    paths.update(_render(fig, "tops_vs_gops"))
    # 2. normalized bars per workload and level (best macro per placement)
    cim = models[models["design"] != cfg.baseline]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, col, title in ((axes[0], "tops_per_w_vs_baseline", "energy efficiency"),
                           (axes[1], "gops_vs_baseline", "throughput")):
        if cim.empty:
            _empty(ax, "no workload totals (only a synthetic sweep)")
            continue
        piv = cim.pivot_table(index="workload", columns="design", values=col, aggfunc="max")
        if not _plottable(piv):
            _empty(ax, "no finite ratios to draw")
            continue
        piv.index = [plot_text(w) for w in piv.index]
        piv.plot.bar(ax=ax, rot=0)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_ylabel(f"{title} vs baseline [x] (best macro)")
        ax.set_xlabel("workload")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.legend(title="placement", fontsize=7)
    fig.tight_layout()
    paths.update(_render(fig, "normalized"))
    # 3. per-level energy breakdown (count-weighted, per workload, best-efficiency macro per design)
    ok = df[df["error"] == ""]
    energy_cols = [c for c in ok.columns if c.startswith("energy_") and c.endswith("_J") and c != "energy_J"]
    w0 = sorted(models["workload"].unique())[0] if len(models) else None
    fig, ax = plt.subplots(figsize=(9, 4.5))
    if w0 is None:
        _empty(ax, "no workload totals (only a synthetic sweep)")
    else:
        sub = ok[ok["workload"] == w0]
        tot = sub.assign(**{c: sub[c] * sub["count"] for c in energy_cols}).groupby(
            ["design", "macro"])[energy_cols].sum()
        tot = tot.loc[:, (tot > 0).any()]
        if tot.empty or not _plottable(tot):
            _empty(ax, f"no energies to draw for {plot_text(w0)}")
        else:
            tot.columns = [c[len("energy_"):-2] for c in tot.columns]
            tot.index = [d if m == "-" else f"{m}@{d}" for d, m in tot.index]
            (tot * 1e3).plot.bar(stacked=True, ax=ax, rot=60)
            ax.set_ylabel(f"energy of {plot_text(w0)} [mJ]")
            ax.set_title(f"Energy by level, {plot_text(w0)}")
            ax.legend(title="level", fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
            plt.setp(ax.get_xticklabels(), ha="right", fontsize=7)
    paths.update(_render(fig, "energy_breakdown"))
    # 4. heatmap over the synthetic sweep: best CiM choice and its gain
    sw = ok[ok["workload"] == "sweep"]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    if not len(sw):
        _empty(ax, "no synthetic (M, N=K) sweep in this study")
    else:
        base = sw[sw["design"] == cfg.baseline].set_index(["m", "n"])["tops_per_w"]
        c = sw[sw["design"] != cfg.baseline]
        best = c.sort_values(["tops_per_w", "design", "macro"], ascending=[False, True, True]) \
            .groupby(["m", "n"]).head(1).set_index(["m", "n"])
        ms, ns = sorted(sw["m"].unique()), sorted(sw["n"].unique())
        grid = np.full((len(ms), len(ns)), np.nan)
        for i, m in enumerate(ms):
            for j, n in enumerate(ns):
                if (m, n) in best.index and (m, n) in base.index:
                    grid[i, j] = best.loc[(m, n), "tops_per_w"] / base.loc[(m, n)]
        im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
        for i, m in enumerate(ms):
            for j, n in enumerate(ns):
                if (m, n) in best.index:
                    bright = grid[i, j] > np.nanmin(grid) + 0.6 * (np.nanmax(grid) - np.nanmin(grid))
                    ax.text(j, i, f"{best.loc[(m, n), 'macro']}\n{best.loc[(m, n), 'design']}\n"
                            f"{grid[i, j]:.2f}x", ha="center", va="center", fontsize=7,
                            color="k" if bright else "w")
        ax.set_xticks(range(len(ns)), [str(n) for n in ns])
        ax.set_yticks(range(len(ms)), [str(m) for m in ms])
        ax.set_xlabel("N = K")
        ax.set_ylabel("M")
        fig.colorbar(im, ax=ax, label="best CiM TOPS/W vs baseline [x]")
        ax.set_title("When: best CiM (macro, placement) per GEMM shape")
    paths.update(_render(fig, "sweep_heatmap"))
    return paths
