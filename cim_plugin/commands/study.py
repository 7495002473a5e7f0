"""`cim-plugin study`: the what/when/where study (built-in default or a YAML config).

Everything the user gave is checked before any work: the config, every workload and
model description, the number of design points and the output folder. The folder is
then locked for this run (a second study into it is told which process holds it),
points are evaluated or read from the verified cache, and all outputs are rendered
before any is published, so a failure leaves no partial set of results.

Exit status: 0 when every point was evaluated, 1 when some could not be (the outputs
are written, the report lists them, and the last line says so) unless
`--allow-failures` accepts that, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from pathlib import Path

from cim_plugin.argtypes import positive_int
from cim_plugin.errors import CimPluginError, InputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="study YAML (default: the method's study)")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="output folder (default: a new cim-study-<time> folder here)")
    p.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                   help="worker processes (default: all usable cores, at most 8; "
                        "capped at the usable cores)")
    p.add_argument("--scheduler", default=None, metavar="pool|dask|dask://HOST:PORT",
                   help="where design points run: pool (local processes, default), dask (a "
                        "local Dask cluster of --jobs workers) or dask://HOST:PORT (a running "
                        "Dask scheduler); Dask needs pip install 'cim-plugin[dask]'")
    p.add_argument("--paper-compat", action="store_true", default=None,
                   help="the method's original pipeline end to end: the authors' priority "
                        "mapping pinned, the baseline under the method's constraints by "
                        "Timeloop's random mapper (reproduced), the original "
                        "post-processing metrics in results.csv")
    p.add_argument("--backend", choices=("embedded", "timeloop"), default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--allow-failures", action="store_true",
                   help="exit 0 even when some design points could not be evaluated")
    p.add_argument("--force", action="store_true",
                   help="write into an existing, non-empty folder that cim-plugin did not make")


def run(args: argparse.Namespace) -> int:
    from cim_plugin.io.outdir import MARKER, check_output_dir, marker_text
    from cim_plugin.io.safeio import SafeFolder
    from cim_plugin.report.study_report import render_outputs, result_rows, summarize
    from cim_plugin.spec.limits import MAX_STUDY_POINTS
    from cim_plugin.study.config import load_config
    from cim_plugin.study.executors import open_executor, parse_scheduler
    from cim_plugin.study.runner import (
        capped_jobs,
        default_jobs,
        run_points,
        study_gemms,
        study_points,
    )
    from cim_plugin.study.waterfall import waterfall

    scheduler = parse_scheduler(args.scheduler)
    cfg = load_config(args.config, {"paper_compat": args.paper_compat, "backend": args.backend})
    if cfg.backend == "timeloop":
        from cim_plugin.backends import timeloop as tl

        tl.require_tool(tl.MODEL)          # fails at once, saying how to point at Timeloop
    out = Path(args.output_dir) if args.output_dir else Path(f"cim-study-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and not out.is_dir():
        raise InputError("output path is a file", file=str(out), field="--output-dir",
                         expected="a directory")
    check_output_dir(out, "--output-dir", force=bool(args.force))
    t0 = time.perf_counter()
    gemms = study_gemms(cfg, file=args.config)
    points = study_points(cfg, gemms)
    if len(points) > MAX_STUDY_POINTS:
        raise InputError(f"{len(points)} design points", file=args.config, field="workloads",
                         expected=f"a study of at most {MAX_STUDY_POINTS} design points "
                                  "(GEMM shapes x (1 + designs x macros))")
    sweep = None
    if cfg.macro_sweep is not None:
        from cim_plugin.library.sweep import MacroSweep, check_point_count

        sweep = MacroSweep.from_dict(cfg.macro_sweep)
        check_point_count(sweep, len(cfg.designs), len({(g.m, g.n, g.k) for g in gemms}),
                          args.config)
    jobs, note = capped_jobs(args.jobs if args.jobs is not None else default_jobs())
    if note:
        print(f"cim-plugin study: note: {note}", file=sys.stderr)
    if scheduler.kind == "dask":
        from cim_plugin.study.executors import require_dask

        require_dask()                     # fails at once, saying how to install it
    with SafeFolder.open(out, flag="--output-dir") as folder, folder.lock("study"):
        if MARKER not in folder.entries():
            folder.write_bytes(MARKER, marker_text("study").encode())
        executor = open_executor(scheduler, jobs) \
            if scheduler.kind == "dask" or sweep is not None else None
        with executor if executor is not None else nullcontext():
            remote = executor if scheduler.kind == "dask" else None
            records = run_points(cfg, points, out, jobs, progress=not args.no_progress,
                                 executor=remote)
            errors = [r for r in records.values() if not isinstance(r, dict)]
            failed = len(errors)
            if failed == len(points):
                raise CimPluginError(f"no design point could be evaluated; first error: {errors[0]}")
            df = result_rows(cfg, gemms, records)
            summary = summarize(df, cfg)
            rows = waterfall(cfg, gemms, records)
            if sweep is None:
                render_outputs(cfg, df, summary, len(points), waterfall=rows).publish(folder)
            else:
                from cim_plugin.dse.study import sweep_and_publish

                sweep_note = sweep_and_publish(cfg, sweep, gemms, df, summary, len(points),
                                               folder, executor, not args.no_progress, rows)
                print(sweep_note, file=sys.stderr)
    print(f"{len(points)} design points ({failed} could not be evaluated) in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if not failed:
        print(f"results in {out}")
        return 0
    print(f"results in {out}; {failed} of {len(points)} design points could not be evaluated "
          f"(listed in {out / 'report.md'})")
    if args.allow_failures:
        return 0
    raise CimPluginError(f"{failed} of {len(points)} design points could not be evaluated "
                         f"(first: {errors[0]}); the results in {out} leave them out; "
                         "--allow-failures accepts a partial study")
