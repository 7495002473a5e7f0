"""Write a design folder that runs unchanged in Timeloop/Accelergy and in cim_plugin.

The folder holds no absolute path: the two timeloopfe top files locate the Accelergy
plug-in entry (`components/cim_plugin_accelergy.py`) with timeloopfe's `cwd()` when they
are rendered, and that entry imports the installed `cim_plugin` package, so the folder
can be moved, copied or shared. What each file is for, and the commands, are in the
folder's README.md (`readme.py`).

The CiM macro latency (L cycles per macro operation, the compute attribute
`cim_latency_cycles`) is also written as the CiM storage's `read_bandwidth` = 1/L
words per cycle: every compute element reads its weight once per operation, so
Timeloop throttles the run to C0 x L cycles, which is the embedded model's compute
time (docs/model.md), and Timeloop's cycles and leakage equal cim_plugin's.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cim_plugin.errors import InputError
from cim_plugin.export.build import BuiltDesign
from cim_plugin.export.mapping import design_mapping, timeloop_mapping, timeloopfe_mapping
from cim_plugin.export.readme import Expected, readme_text
from cim_plugin.export.templates import DESIGNS, render_constraints_text, render_text
from cim_plugin.io.outdir import check_output_dir, has_entries
from cim_plugin.io.safeio import default_mode
from cim_plugin.io.yamlout import dump_yaml, quote_strings
from cim_plugin.library.tables import CIM_AREA_ATTRIBUTE, CIM_STORAGE_CLASSES, CIM_UNIT_CLASSES
from cim_plugin.resources import data_dir, data_file
from cim_plugin.spec.yamlio import TAG_KEY, load_yaml, loads_yaml

PLUGIN_ENTRY = "cim_plugin_accelergy.py"
MAPPER = {"mapper": {"version": 0.4, "optimization_metrics": ["edp"], "live_status": False,
                     "timeout": 100000, "victory_condition": 100, "algorithm": "random",
                     "diagnostics": True}}
# map.yaml is given to raw timeloop-model before timeloopfe's processed input; Timeloop keeps
# the first value of a repeated top-level key, so its `mapping` and its empty
# `architecture_constraints` win (docs/timeloop-accelergy.md §9).
MAP_HEADER = (
    "# The mapping in Timeloop's form. For raw timeloop-model give this file first, before\n"
    "# timeloopfe's parsed-processed-input.yaml: Timeloop keeps the first `mapping` it reads.\n"
    "# `architecture_constraints: {targets: []}` does for the model what timeloopfe does: the\n"
    "# mapper's constraints are not re-checked (Timeloop's check rejects pinned permutations\n"
    "# that list a unit-factor loop before a real one, such as MKN with M = K = 1).\n")
_PLUGIN_LINE = f'  accelergy_plug_ins: ["{{{{cwd()}}}}/components/{PLUGIN_ENTRY}"]\n'
MAPPER_TOP = (
    "# timeloopfe top file for timeloop-mapper: tl mapper top.yaml.jinja2 -o timeloop-mapper\n"
    "# (see README.md). cwd() is this folder when timeloopfe renders the file.\n"
    "{{add_to_path(cwd())}}\n"
    "globals:\n  version: 0.4\n" + _PLUGIN_LINE +
    "architecture: {{include('arch.yaml', 'architecture')}}\n"
    "problem: {{include('problem.yaml', 'problem')}}\n"
    "constraints: {{include('constraints.yaml', 'constraints')}}\n"
    "mapper: {{include('mapper.yaml', 'mapper')}}\n"
    "components:\n  version: 0.4\n"
    "  classes: {{include_all('components/*.yaml', 'compound_components.classes')}}\n")
MODEL_TOP = (
    "# timeloopfe top file for timeloop-model: tl model model.yaml.jinja2 -o timeloop-model\n"
    "# evaluates the exported mapping (map.v4.yaml; see README.md).\n"
    "{{add_to_path(cwd())}}\n"
    "globals:\n  version: 0.4\n" + _PLUGIN_LINE +
    "architecture: {{include('arch.yaml', 'architecture')}}\n"
    "problem: {{include('problem.yaml', 'problem')}}\n"
    "mapping: {{include('map.v4.yaml', 'mapping')}}\n"
    "components:\n  version: 0.4\n"
    "  classes: {{include_all('components/*.yaml', 'compound_components.classes')}}\n")


@dataclass(frozen=True)
class ExportOptions:
    """What the folder says beyond the design: the CiM area model (WWW placeholder under
    --paper-compat) and the objective of the mapper for designs without CiM."""

    paper_compat: bool = False
    objective: str = "edp"
    best_mapping: bool = False          # CiM designs: the mapper's best, not the priority one


def _nodes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def walk(items: list[Any]) -> None:
        for n in items:
            if isinstance(n, dict):
                out.append(n)
                walk(n.get("nodes") or [])

    walk((doc.get("architecture") or {}).get("nodes") or [])
    return out


def timeloop_architecture(b: BuiltDesign, options: ExportOptions) -> dict[str, Any]:
    """The design's v0.4 architecture document with the CiM latency as the CiM storage's
    read bandwidth and, under --paper-compat, the placeholder area on CiM components."""
    doc = loads_yaml(render_text(b.design, b.params), source=DESIGNS[b.design][0])
    storage_name = b.mapping.names.storage if b.mapping is not None else None
    for node in _nodes(doc):
        attrs = node.get("attributes")
        if node.get(TAG_KEY) == "Component" and storage_name is not None:
            attrs = node.setdefault("attributes", {})
            cls = str(node.get("subclass") or node.get("class") or "")
            if options.paper_compat and cls in (*CIM_STORAGE_CLASSES, *CIM_UNIT_CLASSES):
                attrs[CIM_AREA_ATTRIBUTE] = "placeholder"
            if node.get("name") == storage_name:
                attrs["read_bandwidth"] = 1.0 / float(b.params.cim_latency_cycles)
        if isinstance(attrs, dict):
            node["attributes"] = quote_strings(attrs)
    return doc


def expected_result(b: BuiltDesign, mapping: Any, options: ExportOptions) -> Expected:
    """What `cim-plugin model` (embedded) gives for the folder's mapping."""
    from cim_plugin.library.ert_gen import generate_tables
    from cim_plugin.library.latency import compute_latency
    from cim_plugin.model.evaluate import ModelOptions, evaluate
    from cim_plugin.spec.arch import load_architecture
    from cim_plugin.spec.problem import load_problem

    arch = load_architecture(timeloop_architecture(b, options))
    problem = load_problem(b.processed)
    ert, art = generate_tables(arch, paper_compat=options.paper_compat)
    latency, source = compute_latency(arch)
    r = evaluate(arch, problem, mapping, ert, art, ModelOptions(compute_latency_cycles=latency))
    return Expected(cycles=r.cycles, energy_uJ=r.energy_pJ / 1e6,
                    latency_cycles=latency, latency_source=source)


def _compound_component_files() -> list[Path]:
    """Component files the top files include as `compound_components.classes` (the
    library's tables and the estimator descriptor have no such key)."""
    files = []
    for f in sorted(data_dir("components").glob("*.yaml")):
        doc = load_yaml(f)
        if isinstance(doc, dict) and isinstance(doc.get("compound_components"), dict):
            files.append(f)
    return files


def check_export_dir(out: Path, flag: str = "-o") -> None:
    """Refuse, before any work, an output path export cannot publish to: the checks every
    command makes (`io.outdir.check_output_dir`: system folders, a file in the way,
    no write permission, a dangling link), a symbolic link (the folder is renamed into
    place, and a link is never written through) and an existing folder that is not empty."""
    if out.is_symlink():
        raise InputError("is a symbolic link; export renames the finished folder into place "
                         "and never writes through a link", file=str(out), field=flag,
                         expected="a new or empty folder that is not a link; name the "
                                  "link's target instead")
    check_output_dir(out, flag)
    if out.exists() and (not out.is_dir() or has_entries(out, flag)):
        raise InputError("output folder exists and is not empty", file=str(out), field=flag,
                         expected="a new or empty folder")


def _make_tmp_dir(out: Path) -> Path:
    """Private temporary folder next to `out`, with the permissions of a normal mkdir."""
    check_export_dir(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=str(out.parent)))
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror or exc}", file=str(out),
                         field="-o", expected="a new or empty folder in a writable place") from None
    tmp.chmod(default_mode(0o777))
    return tmp


def _publish(tmp: Path, out: Path) -> None:
    """Rename the finished folder into place. Whatever appeared at `out` since the checks
    (a link, a file, a folder with entries) is left alone and reported, never replaced or
    followed."""
    try:
        if out.is_symlink():
            raise OSError(errno.ELOOP, "is a symbolic link")
        if out.exists():
            out.rmdir()                       # only an empty folder; never follows a link
        os.replace(tmp, out)
    except OSError as exc:
        raise InputError(f"cannot publish the folder ({exc.strerror or exc}); it changed while "
                         "the design was written", file=str(out), field="-o",
                         expected="a new or empty folder that is not a link") from None


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def write_design_folder(out: Path, b: BuiltDesign, options: ExportOptions,
                        command: str = "") -> Expected:
    """Write the folder (into a temporary sibling, renamed into place at the end)."""
    mapping = design_mapping(b, options.objective, options.best_mapping)
    constraints = b.constraints_text
    if options.best_mapping and b.mapping is not None:
        # the design's own mapspace (keeps and the array's physics), not the priority pins
        constraints = render_constraints_text(b.design, b.params)
    dims = tuple(b.processed["problem"]["shape"]["dimensions"])
    arch_doc = timeloop_architecture(b, options)
    expected = expected_result(b, mapping, options)
    tmp = _make_tmp_dir(out)
    try:
        _write(tmp / "arch.yaml", dump_yaml(arch_doc))
        _write(tmp / "problem.yaml", dump_yaml({"problem": b.processed["problem"]}))
        _write(tmp / "constraints.yaml", constraints)
        _write(tmp / "mapper.yaml", dump_yaml(MAPPER))
        _write(tmp / "map.yaml", MAP_HEADER + yaml.safe_dump(
            {"mapping": timeloop_mapping(mapping, b.architecture, dims),
             "architecture_constraints": {"targets": []}}, sort_keys=False))
        _write(tmp / "map.v4.yaml", dump_yaml(
            {"mapping": timeloopfe_mapping(mapping, b.architecture, dims)}))
        comp = tmp / "components"
        comp.mkdir()
        for f in _compound_component_files():
            shutil.copyfile(f, comp / f.name)
        shutil.copyfile(data_file("components", PLUGIN_ENTRY), comp / PLUGIN_ENTRY)
        _write(tmp / "top.yaml.jinja2", MAPPER_TOP)
        _write(tmp / "model.yaml.jinja2", MODEL_TOP)
        _write(tmp / "README.md", readme_text(b, expected, options.paper_compat, command))
        for p in tmp.rglob("*"):
            p.chmod(default_mode(0o777 if p.is_dir() else 0o666))
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return expected
