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
import math
import shlex
from pathlib import Path

from cim_plugin.errors import InputError
from cim_plugin.export.build import Sizing, build, get_macro
from cim_plugin.export.folder import ExportOptions, write_design_folder
from cim_plugin.export.sizing import parse_banks
from cim_plugin.export.templates import DESIGNS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--design", required=True, help=f"one of {', '.join(DESIGNS)}")
    p.add_argument("--macro", help="CiM macro name from the component library")
    p.add_argument("--gemm", required=True, help="M,N,K")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--banks", help="explicit XxY CiM macros, e.g. 1x4")
    g.add_argument("--iso-area", action="store_true", help="as many macros as fit the replaced level's area")
    g.add_argument("--iso-capacity", action="store_true", help="as many macros as the replaced level's capacity")
    g.add_argument("--preset", choices=["method"], help="the method's iso-area macro counts")
    p.add_argument("--threshold", type=float, help="bank THRESHOLD (default 4 at RF, 32 above)")
    p.add_argument("--duplicate", action="store_true", help="replicate weights across idle banks")
    p.add_argument("--paper-compat", action="store_true",
                   help="CiM area as the WWW placeholder (1 um^2 per CiM instance) instead of "
                        "the real macro area")
    p.add_argument("-o", "--output", required=True, help="output folder (must not exist or be empty)")


def parse_gemm(text: str) -> tuple[int, int, int]:
    parts = str(text).split(",")
    if len(parts) != 3:
        raise InputError(f"cannot parse --gemm {text!r}", field="gemm", expected="M,N,K")
    out = []
    for part, name in zip(parts, "MNK"):
        try:
            v = int(part.strip())
        except ValueError:
            raise InputError(f"GEMM dimension {name}={part!r} is not an integer", field=name,
                             expected="a positive integer") from None
        if v < 1:
            raise InputError(f"GEMM dimension {name} must be positive, got {v}", field=name,
                             expected="a positive integer")
        out.append(v)
    return out[0], out[1], out[2]


def _sizing(args: argparse.Namespace) -> Sizing:
    if args.banks:
        return Sizing("explicit", parse_banks(args.banks))
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
    if args.threshold is not None and not (math.isfinite(args.threshold) and args.threshold > 0):
        raise InputError(f"threshold must be a positive number, got {args.threshold}",
                         field="threshold", expected="a finite number > 0")


def write_folder(out: Path, args: argparse.Namespace) -> None:
    design = args.design
    if design not in DESIGNS:
        raise InputError(f"unknown design {design!r}", field="design",
                         expected=f"one of {', '.join(DESIGNS)}")
    gemm = parse_gemm(args.gemm)
    _check_options(args, design)
    macro = get_macro(args.macro) if args.macro else None
    b = build(design, macro, gemm, _sizing(args), threshold=args.threshold, duplicate=args.duplicate)
    write_design_folder(out, b, ExportOptions(paper_compat=bool(args.paper_compat)),
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
