"""`cim-plugin study`: the what/when/where study (built-in default or a YAML config)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cim_plugin.errors import CimPluginError, InputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="study YAML (default: the method's study)")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="output folder (default: a new cim-study-<time> folder here)")
    p.add_argument("--jobs", type=int, default=None, help="processes (default: all cores, max 8)")
    p.add_argument("--paper-compat", action="store_true", default=None,
                   help="also compute the method's original post-processing metrics")
    p.add_argument("--backend", choices=("embedded", "timeloop"), default=None)
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from cim_plugin.report.study_report import result_rows, summarize, write_outputs
    from cim_plugin.study.config import load_config
    from cim_plugin.study.runner import default_jobs, run_points, study_gemms, study_points

    cfg = load_config(args.config, {"paper_compat": args.paper_compat, "backend": args.backend})
    if cfg.backend == "timeloop":
        from cim_plugin.backends import timeloop as tl

        tl.require_tool(tl.MODEL)          # fails at once, saying how to point at Timeloop
    out = Path(args.output_dir) if args.output_dir else Path(f"cim-study-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and not out.is_dir():
        raise InputError("output path is a file", file=str(out), field="--output-dir",
                         expected="a directory")
    jobs = args.jobs or default_jobs()
    if jobs < 1:
        raise InputError(f"--jobs {jobs}", field="--jobs", expected="at least 1")
    t0 = time.perf_counter()
    gemms = study_gemms(cfg)
    points = study_points(cfg, gemms)
    records = run_points(cfg, points, out / "cache", jobs, progress=not args.no_progress)
    errors = [r for r in records.values() if not isinstance(r, dict)]
    failed = len(errors)
    if failed == len(points):
        raise CimPluginError(f"no design point could be evaluated; first error: {errors[0]}")
    df = result_rows(cfg, gemms, records)
    summary = summarize(df, cfg)
    write_outputs(out, cfg, df, summary)
    print(f"{len(points)} design points ({failed} could not be evaluated) in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(f"results in {out}")
    return 0
