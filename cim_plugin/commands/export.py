"""`cim-plugin export`: write a design folder that Timeloop and cim-plugin run unchanged.

The folder (cim_plugin.export.folder) holds arch.yaml (v0.4), problem.yaml,
constraints.yaml (the rendered `mapper_constraints/` template: the priority flavour
pinning the algorithm's factors on CiM designs, the design flavour on the baseline),
mapper.yaml, the mapping in Timeloop's form (map.yaml) and timeloopfe's (map.v4.yaml),
components/ (compound components and the Accelergy estimator entry), the timeloopfe
top files for timeloop-mapper and timeloop-model, and a README.md with the commands.
It is written into a temporary folder next to the target and renamed into place.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from cim_plugin.argtypes import bounded_float
from cim_plugin.errors import InputError
from cim_plugin.export.build import Sizing, build
from cim_plugin.export.folder import ExportOptions, check_export_dir, write_design_folder
from cim_plugin.export.sizing import parse_banks
from cim_plugin.export.templates import DESIGNS
from cim_plugin.library.loader import get_macro
from cim_plugin.spec.limits import check_bound, check_macs
from cim_plugin.spec.values import int_from_text, show


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--design", required=True, help=f"one of {', '.join(DESIGNS)}")
    p.add_argument("--macro", help="CiM macro name from the component library")
    p.add_argument("--gemm", required=True, help="M,N,K")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--banks", help="explicit XxY CiM macros, e.g. 1x4")
    g.add_argument("--iso-area", action="store_true", help="as many macros as fit the replaced level's area")
    g.add_argument("--iso-capacity", action="store_true", help="as many macros as the replaced level's capacity")
    g.add_argument("--preset", choices=["method"], help="the method's iso-area macro counts")
    p.add_argument("--threshold", type=bounded_float(0.0, inclusive=False), metavar="T",
                   help="bank THRESHOLD, a number > 0 (default 4 at RF, 32 above)")
    p.add_argument("--duplicate", action="store_true", help="replicate weights across idle banks")
    p.add_argument("--paper-compat", action="store_true",
                   help="the method's original pipeline: the authors' priority algorithm "
                        "(quirks included) and the WWW placeholder CiM area (1 um^2 per CiM "
                        "instance) instead of the real macro area")
    p.add_argument("--mapping", choices=("priority", "best"), default="priority",
                   help="CiM designs: the method's priority mapping with the constraints that "
                        "pin it (default), or the mapper's best under the design's own "
                        "constraints (the mapping the study evaluates)")
    p.add_argument("-o", "--output", required=True,
                   help="output folder (must not exist or be empty; not a symbolic link)")


def parse_gemm(text: str, field: str = "--gemm") -> tuple[int, int, int]:
    """`"512,1024,1024"` -> (512, 1024, 1024): three ASCII integers, each a loop bound
    within the input limits, whose product stays within the MAC limit."""
    parts = str(text).split(",")
    if len(parts) != 3:
        raise InputError(f"cannot read {show(text)} as M,N,K", field=field,
                         expected="three integers M,N,K, e.g. 512,1024,1024")
    out = []
    for part, name in zip(parts, "MNK"):
        v = int_from_text(part)
        if v is None:
            raise InputError(f"GEMM dimension {name}={show(part.strip())} is not an integer",
                             field=field, expected="three integers M,N,K written with ASCII "
                                                   "digits, e.g. 512,1024,1024")
        out.append(check_bound(v, file=None, field=field, what=f"GEMM dimension {name}:"))
    check_macs(out, file=None, field=field)
    return out[0], out[1], out[2]


def _sizing(args: argparse.Namespace) -> Sizing:
    if args.banks:
        return Sizing("explicit", parse_banks(args.banks, field="--banks"))
    if args.iso_area:
        return Sizing("iso-area")
    if args.iso_capacity:
        return Sizing("iso-capacity")
    if args.preset:
        return Sizing("preset")
    return Sizing("explicit", (1, 4))


def _check_options(args: argparse.Namespace, design: str) -> None:
    """Reject options that the design would silently ignore or cannot use."""
    if DESIGNS[design][1] is None:
        given = [flag for flag, on in (("--macro", args.macro), ("--banks", args.banks),
                                        ("--iso-area", args.iso_area),
                                        ("--iso-capacity", args.iso_capacity),
                                        ("--preset", args.preset),
                                        ("--threshold", args.threshold is not None),
                                        ("--duplicate", args.duplicate)) if on]
        if given:
            raise InputError(f"design {design} has no CiM; {', '.join(given)} not used",
                             field=given[0].lstrip("-"), expected="a cim_* design, or drop the option")


def write_folder(out: Path, args: argparse.Namespace) -> None:
    check_export_dir(out)                     # before any work
    design = args.design
    if design not in DESIGNS:
        raise InputError(f"unknown design {design!r}", field="design",
                         expected=f"one of {', '.join(DESIGNS)}")
    gemm = parse_gemm(args.gemm)
    _check_options(args, design)
    sizing = _sizing(args)
    macro = get_macro(args.macro) if args.macro else None
    if args.paper_compat and args.duplicate:
        raise InputError("--duplicate with --paper-compat: the original algorithm never "
                         "duplicates weights", field="duplicate",
                         expected="one of --duplicate, --paper-compat")
    b = build(design, macro, gemm, sizing, threshold=args.threshold, duplicate=args.duplicate,
              original=bool(args.paper_compat))
    write_design_folder(out, b, ExportOptions(paper_compat=bool(args.paper_compat),
                                              best_mapping=args.mapping == "best"),
                        command=_command_line(args))


def _command_line(args: argparse.Namespace) -> str:
    """The export command as the README quotes it (output folder left out: it moves)."""
    argv = ["cim-plugin", "export", "--design", args.design]
    if args.macro:
        argv += ["--macro", args.macro]
    argv += ["--gemm", args.gemm]
    for flag, value in (("--banks", args.banks), ("--threshold", args.threshold)):
        if value is not None:
            argv += [flag, str(value)]
    if args.mapping != "priority":
        argv += ["--mapping", args.mapping]
    for flag, on in (("--iso-area", args.iso_area), ("--iso-capacity", args.iso_capacity),
                     ("--duplicate", args.duplicate), ("--paper-compat", args.paper_compat)):
        if on:
            argv.append(flag)
    if args.preset:
        argv += ["--preset", args.preset]
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    write_folder(out, args)
    print(out)
    return 0
