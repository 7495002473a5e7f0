"""A study with a `macro_sweep:`: the sweep runs after the study's own design points
(the baseline's totals are what every hypothetical macro is compared with), and its
files are published together with the study's outputs, or not at all."""

from __future__ import annotations

from typing import Any

from cim_plugin.dse.run import SWEEP_FILE, baseline_totals, run_sweep
from cim_plugin.library.sweep import MacroSweep


def sweep_and_publish(cfg: Any, sweep: MacroSweep, gemms: list[Any], df: Any, summary: Any,
                      total_points: int, folder: Any, executor: Any, progress: bool,
                      waterfall: Any = None) -> str:
    """Run the sweep, render every output (with the study's `waterfall` rows), publish
    them all; returns a one-line note."""
    from cim_plugin.dse.refine import refine_tables
    from cim_plugin.report.frontier_report import render_frontiers
    from cim_plugin.report.study_report import render_outputs
    from cim_plugin.study.frontier import frontier_rows, reduce_file

    baseline = baseline_totals(summary, cfg.baseline)
    run = run_sweep(cfg, sweep, gemms, baseline, folder, executor, progress)
    try:
        reduced = reduce_file(folder.path / run.temp_name, list(sweep.frontiers))
        tables = {(x, y): frontier_rows(reduced[(x, y)].best, x, y) for x, y in sweep.frontiers}
        tables, refined = refine_tables(tables, reduced, cfg, sweep.refine, gemms, baseline,
                                        folder.path, executor)
        line = (f"Macro sweep: {run.macros} hypothetical macro placements (base "
                f"{sweep.base}; {sweep.macros()} macros x {len(cfg.designs)} placements), "
                f"{run.rows} rows in `sweep.csv`, evaluated with the method's priority "
                "mapping and the model (no mapping search); "
                + (f"{run.failed_chunks} groups of macros could not be evaluated (their rows "
                   "carry the error). " if run.failed_chunks else "every macro was evaluated. ")
                + (f"The mapper ({cfg.cim_strategy}, search {cfg.search}) refined {refined} "
                   "crossings (`x_break_refined` in `frontier.csv`)." if refined else
                   "No crossing was refined with the mapper (`refine:` in `macro_sweep`, "
                   "with a search strategy)."))
        extra = render_frontiers(tables, line)
        render_outputs(cfg, df, summary, total_points, extra=extra,
                       waterfall=waterfall).publish(folder)
        folder.publish(run.temp_name, SWEEP_FILE)
    except BaseException:
        folder.remove(run.temp_name)
        raise
    return (f"macro sweep: {run.macros} macro placements, {run.rows} rows"
            + (f", {run.failed_chunks} groups not evaluated" if run.failed_chunks else "")
            + (f", {refined} crossings refined" if refined else ""))


__all__ = ["sweep_and_publish"]
