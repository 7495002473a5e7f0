"""`cim-plugin compare DIR`: re-evaluate a Timeloop output folder and diff it.

Exit status 0 when every figure agrees within the tolerance, 1 when some differ,
2 for bad input.
"""

from __future__ import annotations

import argparse
import json

from cim_plugin.argtypes import bounded_float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="Timeloop output folder (parsed-processed-input.yaml, "
                                       "timeloop-*.map.yaml, *.stats.txt, *.ERT.yaml, *.ART.yaml)")
    parser.add_argument("--tolerance", type=bounded_float(0.0), default=0.5, metavar="PCT",
                        help="relative tolerance in percent (default 0.5); values also agree "
                             "within the 2-decimal rounding of stats.txt")
    parser.add_argument("--failures-only", action="store_true",
                        help="print only the figures that differ (also with --json)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from cim_plugin.backends.compare import compare_folder

    report = compare_folder(args.folder, args.tolerance / 100.0)
    if args.json:
        print(json.dumps(report.to_json_dict(only_failures=args.failures_only), indent=2,
                         sort_keys=True))
    else:
        print(f"{report.stats_file} vs embedded model")
        print(report.format_table(only_failures=args.failures_only))
    return 0 if report.ok else 1
