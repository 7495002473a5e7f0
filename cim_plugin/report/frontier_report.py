"""Outputs of a macro sweep: `frontier.csv`, one frontier plot per parameter pair (PNG
and SVG, the library's macros placed on it) and the report's break-even section.

Everything is computed from `sweep.csv` as written (`cim_plugin.study.frontier` reads it
in pieces), so the outputs are the same whether the sweep was run now or read back
from the cache, and never need every point in memory.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from cim_plugin.library.sweep import macro_parameters
from cim_plugin.report.markdown import md_text, plot_text
from cim_plugin.study.frontier import BreakEven, break_even

#: how the report names a placement's level
LEVELS = {"cim_rf": "RF level", "cim_smem": "SMEM level",
          "cim_smem_beside": "SMEM level (beside the tensor cores)", "cim_l2": "L2 level"}
LABELS = {"energy_per_mac_pJ": "energy per MAC [pJ, 45 nm]", "latency_cycles":
          "latency [cycles per macro operation]", "write_energy_pJ": "write energy [pJ/word]",
          "area_factor": "area factor [x plain SRAM]", "bits": "precision [bits]",
          "Rp": "Rp", "Cp": "Cp", "Rh": "Rh", "Ch": "Ch"}


def plot_name(x: str, y: str) -> str:
    return f"frontier_{x}_vs_{y}"


def library_points() -> list[tuple[str, dict[str, Any]]]:
    """(name, parameters at 45 nm) of every macro of the library, sorted by name."""
    from cim_plugin.library.loader import load_macro_library

    out = []
    for name, macro in sorted(load_macro_library().items()):
        try:
            out.append((name, macro_parameters(macro)))
        except Exception:  # noqa: BLE001 - a macro that cannot be placed is left off the plot
            continue
    return out


def _plot(table: pd.DataFrame, x: str, y: str, macros: list[tuple[str, dict[str, Any]]]) -> dict[str, bytes]:
    import matplotlib.ticker

    from cim_plugin.report.plots import _render, plt

    plt.rcParams.update({"svg.hashsalt": "cim_plugin", "font.size": 9})   # same bytes each run
    workloads = sorted(table["workload"].unique()) if len(table) else []
    cols = 2 if len(workloads) > 1 else 1
    rows = max(1, (len(workloads) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.4 * cols, 4.2 * rows), squeeze=False)
    for ax, w in zip(axes.flat, workloads):
        grp = table[table["workload"] == w]
        for i, (d, rows_d) in enumerate(grp.groupby("design", sort=True)):
            for metric, style in (("both", "-"), ("tops_per_w", ":")):
                pts = rows_d[(rows_d["metric"] == metric) & rows_d["x_break"].notna()] \
                    .sort_values("y_value")
                if len(pts):
                    ax.plot(pts["x_break"], pts["y_value"], style, marker="o", ms=3,
                            color=f"C{i}", label=f"{plot_text(d)} ({'TOPS/W and GOPS' if metric == 'both' else 'TOPS/W only'})")
        for name, p in macros:
            ax.scatter([p[x]], [p[y]], marker="x", color="k", s=22, zorder=3)
            ax.annotate(plot_text(name), (p[x], p[y]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_title(plot_text(w))
        for axis, name, setter in ((ax.xaxis, x, ax.set_xscale), (ax.yaxis, y, ax.set_yscale)):
            vals = [p[name] for _, p in macros] + list(grp["x_break" if name == x else "y_value"]
                                                       .dropna())
            if vals and min(vals) > 0 and max(vals) / min(vals) > 10:    # spans decades
                setter("log")
                axis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0,)))
                axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
                axis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel(LABELS.get(x, x))
        ax.set_ylabel(LABELS.get(y, y))
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, title="break-even (CiM wins below/left)", title_fontsize=6)
    if not workloads:
        axes.flat[0].text(0.5, 0.5, "no frontier: no sweep point could be evaluated",
                          ha="center", va="center", transform=axes.flat[0].transAxes)
        axes.flat[0].set_axis_off()
    for ax in list(axes.flat)[max(1, len(workloads)):]:
        ax.axis("off")
    fig.suptitle(f"Break-even frontier: {LABELS.get(x, x)} vs {LABELS.get(y, y)} "
                 "(x: library macros)")
    fig.tight_layout()
    return _render(fig, plot_name(x, y))


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _condition(b: BreakEven, x: str, y: str) -> str:
    """"pJ/MAC < 0.3 at <= 9 cycles" (or the parameters' own names)."""
    name = "pJ/MAC" if x == "energy_per_mac_pJ" else md_text(x)
    bound = (f"{name} <= {_fmt(b.x_max)} (the whole swept range)" if b.x_everywhere
             else f"{name} < {_fmt(b.x_max)}")
    at = f"at <= {_fmt(b.y_max)} cycles" if y == "latency_cycles" \
        else f"at {md_text(y)} <= {_fmt(b.y_max)}"
    return f"{bound} {at}"


def sentences(table: pd.DataFrame, x: str, y: str) -> list[str]:
    """One sentence per workload and placement from an (energy, latency)-like frontier."""
    out = []
    tops_only = {(b.workload, b.design): b for b in break_even(table, "tops_per_w")}
    for b in break_even(table):
        where = LEVELS.get(b.design, b.design)
        if b.x_max is None:
            t = tops_only.get((b.workload, b.design))
            alone = (f"; on TOPS/W alone when {_condition(t, x, y)}"
                     if t is not None and t.x_max is not None else "")
            out.append(f"- At {md_text(where)} no macro of the sweep beats the baseline on "
                       f"{md_text(b.workload)} at the lowest swept {md_text(y)} in both TOPS/W "
                       f"and GOPS (best ratios {b.best_tops:.3g}x and {b.best_gops:.3g}x)"
                       f"{alone}.")
            continue
        out.append(f"- At {md_text(where)} a macro beats the baseline on {md_text(b.workload)} "
                   f"when {_condition(b, x, y)} (TOPS/W and GOPS both at least the "
                   "baseline's).")
    return out


def render_frontiers(tables: dict[tuple[str, str], pd.DataFrame],
                     summary_line: str) -> tuple[dict[str, bytes], list[str]]:
    """({file name: bytes}, report.md lines) from the frontier table of each pair."""
    files: dict[str, bytes] = {}
    lines = ["", "## Break-even frontiers (macro sweep)", "", summary_line, ""]
    macros = library_points()
    for (x, y), table in tables.items():
        files.update(_plot(table, x, y, macros))
        lines += [f"### {md_text(x)} vs {md_text(y)}", ""]
        lines += sentences(table, x, y) or ["- no sweep point could be evaluated"]
        lines += ["", f"![frontier]({plot_name(x, y)}.png)", ""]
    frontier = pd.concat(list(tables.values()), ignore_index=True) if tables else pd.DataFrame()
    buf = io.StringIO()
    frontier.to_csv(buf, index=False, float_format="%.9g", lineterminator="\n")
    files["frontier.csv"] = buf.getvalue().encode()
    lines += ["The frontier points (per workload, placement and y value, where the best "
              "design's ratio to the baseline crosses 1) are in `frontier.csv`; every "
              "hypothetical macro's figures are in `sweep.csv`.", ""]
    return files, lines


__all__ = ["library_points", "plot_name", "render_frontiers", "sentences"]
