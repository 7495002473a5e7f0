"""`cim-plugin model`: evaluate one mapping, like `timeloop-model`.

Inputs are merged the way Timeloop merges several YAML files; the ERT/ART may come
from `--ert/--art`, from top-level `ERT`/`ART` keys of the inputs, or (ERT only)
from the component library. Writes a readable summary, optionally `--json`, and with
`-o DIR` a Timeloop-style `stats.txt` plus the `map.yaml` that was evaluated.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from cim_plugin.api import SpecInputs, load_spec, make_engine
from cim_plugin.argtypes import bounded_float
from cim_plugin.errors import blame
from cim_plugin.io.outdir import check_output_paths, mark_output_dir
from cim_plugin.io.safeio import write_text_atomic
from cim_plugin.model.result import EvalResult
from cim_plugin.spec.mapping import LevelMapping, Mapping


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC.yaml",
                   help="architecture/problem/constraint files, merged in order")
    p.add_argument("--mapping", metavar="MAP.yaml",
                   help="the mapping (Timeloop map.yaml); default: a non-empty `mapping:` in the specs")
    p.add_argument("--ert", metavar="ERT.yaml",
                   help="Accelergy ERT; default: an `ERT:` key in the specs, else the component library")
    p.add_argument("--art", metavar="ART.yaml",
                   help="Accelergy ART (areas); default: an `ART:` key, else the component library")
    p.add_argument("--json", metavar="OUT.json", help="write the result as JSON")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="write stats.txt (Timeloop layout) and map.yaml here")
    p.add_argument("--backend", choices=("embedded", "timeloop"), default="embedded",
                   help="embedded analytical model (default) or the real timeloop-model")
    p.add_argument("--latency-from-attribute", metavar="ATTR", nargs="?",
                   const="cim_latency_cycles", default=None,
                   help="cycles per compute operation from this attribute of the compute level "
                        "(default name cim_latency_cycles); Timeloop assumes 1")
    p.add_argument("--compute-latency", metavar="CYCLES", type=bounded_float(0, inclusive=False),
                   default=None,
                   help="cycles per compute operation (overrides --latency-from-attribute)")
    p.add_argument("--force", action="store_true",
                   help="write into an existing, non-empty -o folder that cim-plugin did not make")
    p.add_argument("--no-constraint-check", action="store_true",
                   help="do not warn about mapper constraints the mapping breaks")


# --------------------------------------------------------------------------- summary
def format_summary(result: EvalResult) -> str:
    """A readable per-level summary and Timeloop's Summary Stats lines."""
    lines = []
    for lv in reversed(result.levels):                  # outermost first reads naturally
        if not lv.dataspaces:
            continue
        lines.append(f"{lv.name} (x{lv.instances}): cycles {lv.cycles}, "
                     f"throttling {lv.bandwidth_throttling:.2f}, energy {lv.energy_pJ / 1e6:.4f} uJ"
                     f" (leakage {lv.leakage_pJ:.2f} pJ)")
        for name, s in lv.dataspaces.items():
            lines.append(f"    {name}: reads {s.reads}, fills {s.fills}, updates {s.updates} "
                         f"(per instance, {s.utilized_instances} used), tile {s.utilized_capacity}, "
                         f"energy {s.energy_pJ:.2f} pJ")
    c = result.compute
    lines.append(f"{c.name} (x{c.instances}): {c.utilized_instances} used, "
                 f"energy {c.energy_pJ / 1e6:.4f} uJ")
    lines.append("")
    lines.append("Summary Stats")
    lines.append(f"  Computes      : {result.computes}")
    lines.append(f"  Cycles        : {result.cycles}")
    lines.append(f"  Energy        : {result.energy_pJ / 1e6:.2f} uJ")
    lines.append(f"  GFLOPs @1GHz  : {result.gflops:.2f}")
    lines.append(f"  Utilization   : {result.utilization * 100:.2f} %")
    lines.append(f"  EDP (J*cycle) : {result.edp:.3e}")
    lines.append("  fJ/Compute    :")
    for name, v in result.fj_per_compute.items():
        lines.append(f"    {name:<24}{v:.2f}")
    source = result.extra.get("compute_latency_source")
    lines.append(f"Compute latency: {result.compute_latency_cycles:g} cycles per operation"
                 + (f" ({source})" if source else ""))
    for w in result.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- run
def evaluated_mapping_list(inp: SpecInputs, nest: Any) -> list[dict[str, Any]]:
    """map.yaml entries of the evaluated mapping, with the keep sets the model used
    written out (a level the mapping left unspecified gets its default explicitly)."""
    assert inp.mapping is not None
    all_ds = {ds.name for ds in inp.problem.data_spaces}
    levels = {}
    for i, level in enumerate(inp.arch.storage):
        lm = dataclasses.replace(inp.mapping.levels.get(level.base_name)
                                 or LevelMapping(target=level.base_name))
        kept = nest.levels[i].keep
        lm.keep = frozenset(kept)
        lm.bypass = frozenset(all_ds - kept)
        levels[level.base_name] = lm
    order = [s.base_name for s in inp.arch.storage_inner_first]
    return Mapping(levels=levels).to_yaml_list(order, inp.problem.dimensions)


def _run_embedded(args: argparse.Namespace) -> tuple[EvalResult, SpecInputs, Any]:
    from cim_plugin.mapping.constraints import parse_constraints, violations
    from cim_plugin.model.nest import build_nest
    from cim_plugin.model.padded import mapping_padding, padded_engine, padding_warning

    inp = load_spec(args.specs, mapping=args.mapping, ert=args.ert, art=args.art,
                    need_mapping=True)
    assert inp.mapping is not None
    engine, _, source = make_engine(inp.arch, inp.problem, inp.ert, inp.art,
                                    compute_latency=args.compute_latency,
                                    latency_attribute=args.latency_from_attribute)
    padded = mapping_padding(inp.problem, inp.mapping)
    if padded:
        engine = padded_engine(engine, padded)
    with blame(inp.mapping.source, "mapping"):
        nest = build_nest(inp.arch, engine.problem, inp.mapping,
                          check_fanout=engine.options.check_fanout)
    warnings: list[str] = []
    if not args.no_constraint_check:
        file = inp.constraints_file or inp.origin.get("architecture")
        cons = parse_constraints(inp.targets, inp.arch, inp.problem, file)
        warnings = violations(cons, inp.arch, inp.problem, inp.mapping, nest)
    with blame(inp.mapping.source, "mapping"):
        result = engine.evaluate(nest)
    for w in warnings:
        result.warnings.append(f"mapping breaks a mapper constraint: {w}")
    if padded:
        result.warnings.append(padding_warning(inp.problem, padded))
    result.extra["compute_latency_source"] = source
    return result, inp, nest


def _run_timeloop(args: argparse.Namespace) -> EvalResult:
    from cim_plugin.backends import timeloop

    out_dir = Path(args.output_dir) if args.output_dir else Path("cim-plugin-model")
    return timeloop.run_model(list(args.specs), args.mapping, out_dir,
                              drop_arch_constraints=True, ert=args.ert, art=args.art,
                              compute_latency=args.compute_latency,
                              latency_attribute=args.latency_from_attribute)


def run(args: argparse.Namespace) -> int:
    check_output_paths(args.json, args.output_dir, getattr(args, 'force', None))
    if args.backend == "timeloop":
        result = _run_timeloop(args)
        inp = nest = None
    else:
        result, inp, nest = _run_embedded(args)
    for w in result.warnings:
        print(f"cim-plugin model: warning: {w}", file=sys.stderr)
    summary = format_summary(result)
    outputs: dict[Path, str] = {}              # every output rendered before any is written
    if args.json:
        outputs[Path(args.json)] = json.dumps(result.to_json_dict(), indent=2,
                                              sort_keys=False) + "\n"
    if args.output_dir and inp is not None:
        from cim_plugin.report.stats_text import format_stats

        out = Path(args.output_dir)
        outputs[out / "stats.txt"] = format_stats(result, inp.arch, inp.problem, nest, inp.ert)
        outputs[out / "map.yaml"] = yaml.safe_dump(
            {"mapping": evaluated_mapping_list(inp, nest)}, sort_keys=False)
    print(summary)
    for path, text in outputs.items():
        write_text_atomic(path, text)
    if args.json:
        print(f"wrote {args.json}")
    if args.output_dir and inp is not None:
        mark_output_dir(out, "model")
        print(f"wrote {out / 'stats.txt'} and {out / 'map.yaml'}")
    return 0
