"""`cim-plugin export`: write a Timeloop-ready design folder.

The folder holds arch.yaml (v0.4), problem.yaml, constraints.yaml (the rendered
`mapper_constraints/` template: the priority flavour pinning the algorithm's factors
on CiM designs, the design flavour's dataspace constraints on the baseline), mapper.yaml,
components/ (Accelergy compound components), top.yaml (the file to pass to
timeloop-mapper / timeloopfe, with the Accelergy plug-in pointer in
globals.accelergy_plug_ins) and map.yaml (the algorithm's complete mapping).
It is written into a temporary folder next to the target and renamed into place.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from cim_plugin.errors import InputError
from cim_plugin.export.build import Sizing, build, get_macro
from cim_plugin.export.sizing import parse_banks
from cim_plugin.export.templates import DESIGNS, render_text
from cim_plugin.report import default_mode
from cim_plugin.resources import data_dir

MAPPER = {"mapper": {"version": 0.4, "optimization_metrics": ["edp"], "live_status": False,
                     "timeout": 100000, "victory_condition": 100, "algorithm": "random",
                     "diagnostics": True}}


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


def _dump(path: Path, doc: Any) -> None:
    path.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False), encoding="utf-8")


def _plug_in_paths() -> list[str]:
    """The Accelergy plug-in file (the same path `cim-plugin ert --plugin-path` prints)."""
    from cim_plugin.library.accelergy_plugin import plugin_path

    return [plugin_path()]


def _compound_component_files() -> list[Path]:
    """Component files top.yaml includes as `compound_components.classes`; the library's
    tables and the estimator descriptor have no such key and would break that include."""
    from cim_plugin.spec.yamlio import load_yaml

    files = []
    for f in sorted(data_dir("components").glob("*.yaml")):
        doc = load_yaml(f)
        if isinstance(doc, dict) and isinstance(doc.get("compound_components"), dict):
            files.append(f)
    return files


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


def _make_tmp_dir(out: Path) -> Path:
    """Private temporary folder next to `out`, with the permissions of a normal mkdir."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("output folder exists and is not empty", file=str(out), field="-o",
                         expected="a new or empty folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=str(out.parent)))
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror or exc}", file=str(out),
                         field="-o", expected="a new or empty folder in a writable place") from None
    tmp.chmod(default_mode(0o777))
    return tmp


def write_folder(out: Path, args: argparse.Namespace) -> None:
    design = args.design
    if design not in DESIGNS:
        raise InputError(f"unknown design {design!r}", field="design",
                         expected=f"one of {', '.join(DESIGNS)}")
    gemm = parse_gemm(args.gemm)
    _check_options(args, design)
    macro = get_macro(args.macro) if args.macro else None
    b = build(design, macro, gemm, _sizing(args), threshold=args.threshold, duplicate=args.duplicate)
    tmp = _make_tmp_dir(out)
    try:
        (tmp / "arch.yaml").write_text(render_text(design, b.params), encoding="utf-8")
        _dump(tmp / "problem.yaml", b.processed["problem"] and {"problem": b.processed["problem"]})
        (tmp / "constraints.yaml").write_text(b.constraints_text, encoding="utf-8")
        _dump(tmp / "mapper.yaml", MAPPER)
        comp_dst = tmp / "components"
        comp_dst.mkdir()
        for f in _compound_component_files():
            shutil.copyfile(f, comp_dst / f.name)
        if b.mapping is not None:
            _dump(tmp / "map.yaml", {"mapping": b.mapping.to_yaml_list()})
        top = ("# Pass this file to timeloopfe (Specification.from_yaml_files) or render it and\n"
               "# give it to timeloop-mapper together with the files it includes.\n"
               "{{add_to_path(cwd())}}\n"
               "globals:\n  version: 0.4\n"
               f"  accelergy_plug_ins: {yaml.safe_dump(_plug_in_paths(), default_flow_style=True).strip()}\n"
               "architecture: {{include('arch.yaml', 'architecture')}}\n"
               "problem: {{include('problem.yaml', 'problem')}}\n"
               "constraints: {{include('constraints.yaml', 'constraints')}}\n"
               "mapper: {{include('mapper.yaml', 'mapper')}}\n"
               "components:\n  version: 0.4\n"
               "  classes: {{include_all('components/*.yaml', 'compound_components.classes')}}\n")
        (tmp / "top.yaml.jinja2").write_text(top, encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    write_folder(out, args)
    print(out)
    return 0
