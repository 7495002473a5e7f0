"""`cim-plugin diff`: compare two study results and flag regressions (exit 1).

Exit codes: 0 no tracked metric regressed beyond the threshold, 1 regressions (or
design points missing from NEW), 2 bad input. `--bless` accepts NEW: it copies NEW's
summary.json over OLD's, the explicit way to update a golden file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cim_plugin.report.diff import DEFAULT_METRICS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("old", metavar="OLD", help="reference result: a study folder or its summary.json")
    p.add_argument("new", metavar="NEW", help="result to check: a study folder or its summary.json")
    p.add_argument("--metric", action="append", metavar="NAME", dest="metrics",
                   help="metric to track (repeatable; 'all' = every metric in the files; "
                        f"default: {', '.join(DEFAULT_METRICS)})")
    p.add_argument("--max-regression", default="0%", metavar="PCT",
                   help="allowed worsening of a tracked metric, in percent (default 0%%)")
    p.add_argument("--exact", action="store_true",
                   help="fail on any difference, improvements and one-sided points included "
                        "(golden files)")
    p.add_argument("--allow-missing", action="store_true",
                   help="do not fail when design points of OLD are missing from NEW")
    p.add_argument("--markdown", metavar="OUT.md",
                   help="also write a Markdown table fit for a pull-request comment")
    p.add_argument("--title", default="CiM study diff", help="heading of the Markdown output")
    p.add_argument("--bless", action="store_true",
                   help="accept NEW: copy NEW's summary.json over OLD's (atomic) and exit 0")


def run(args: argparse.Namespace) -> int:
    from cim_plugin.io.outdir import check_output_file
    from cim_plugin.io.safeio import write_text_atomic
    from cim_plugin.report.diff import (
        bless,
        bless_target,
        diff_summaries,
        format_markdown,
        format_text,
        load_summary,
        parse_threshold,
        summary_path,
    )

    if args.markdown:
        check_output_file(Path(args.markdown), "--markdown")
    if args.bless:
        check_output_file(bless_target(args.old), "--bless")
    threshold = parse_threshold(args.max_regression)
    new = load_summary(args.new)
    if args.bless and not summary_path(args.old).exists():
        target = bless(args.old, new)
        print(f"blessed: created {target} from {new.path}")
        return 0
    old = load_summary(args.old)
    res = diff_summaries(old, new, tuple(args.metrics or ()), threshold, exact=args.exact,
                         allow_missing=args.allow_missing)
    sys.stdout.write(format_text(res))
    if args.markdown:
        write_text_atomic(args.markdown, format_markdown(res, args.title))
    if args.bless:
        target = bless(args.old, new)
        print(f"blessed: {target} now equals {new.path}")
        return 0
    return 1 if res.failed else 0
