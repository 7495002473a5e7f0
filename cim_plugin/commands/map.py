"""`cim-plugin map`: search the best mapping of a problem on an architecture.

Reads the same inputs as `cim-plugin model` (constraints from the spec's
`architecture_constraints`/`constraints` are honoured), writes the best mapping as a
Timeloop `map.yaml`, its `stats.txt`, and with `--json` the model's JSON plus a
`mapper` block (evaluated, valid, seconds, search).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from cim_plugin.errors import InputError
from cim_plugin.report import write_text_atomic


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC.yaml",
                   help="architecture/problem/constraint files, merged in order")
    p.add_argument("--ert", metavar="ERT.yaml",
                   help="Accelergy ERT; default: an `ERT:` key in the specs, else the component library")
    p.add_argument("--art", metavar="ART.yaml", help="Accelergy ART (areas)")
    p.add_argument("--objective", choices=("edp", "energy", "delay", "weighted"), default="edp")
    p.add_argument("--energy-weight", type=float, default=1.0, help="a in energy^a*cycles^b")
    p.add_argument("--delay-weight", type=float, default=1.0, help="b in energy^a*cycles^b")
    p.add_argument("--search", choices=("fast", "exhaustive"), default="fast",
                   help="fast seeded local search (default) or exhaustive over the mapspace")
    p.add_argument("--seed-mapping", metavar="MAP.yaml", action="append", default=[],
                   help="start the search from this mapping (e.g. the priority-based one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (results are deterministic)")
    p.add_argument("--samples", type=int, default=150, help="random valid mappings sampled (fast)")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="stop after S seconds and keep the best mapping so far")
    p.add_argument("--compute-latency", type=float, default=None, metavar="CYCLES",
                   help="cycles per compute operation (Timeloop assumes 1)")
    p.add_argument("--json", metavar="OUT.json", help="write the result as JSON")
    p.add_argument("-o", "--output-dir", metavar="DIR", required=True,
                   help="write map.yaml and stats.txt here")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.add_argument("--backend", choices=("embedded", "timeloop"), default="embedded",
                   help="embedded search (default) or the real timeloop-mapper on the specs")


def _run_timeloop(args: argparse.Namespace) -> int:
    from cim_plugin.backends import timeloop as tl

    tl.require_tool(tl.MAPPER)
    mapping, result = tl.run_mapper(list(args.specs), Path(args.output_dir) / "timeloop",
                                    timeout=args.timeout, ert=args.ert, art=args.art)
    print(f"timeloop-mapper: cycles {result.cycles}, energy {result.energy_pJ / 1e6:.2f} uJ, "
          f"EDP {result.edp:.3e} J*cycle, utilization {result.utilization * 100:.2f} %")
    if args.json:
        data = result.to_json_dict()
        data["mapper"] = {"search": "timeloop-mapper"}
        write_text_atomic(args.json, json.dumps(data, indent=2) + "\n")
    print(f"wrote {Path(args.output_dir) / 'timeloop'}")
    return 0


def _check_args(args: argparse.Namespace) -> None:
    """Reject bad numbers and output paths before any work is done."""
    import math

    from cim_plugin.commands.model import check_output_dir, check_output_file

    if args.timeout is not None and not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise InputError(f"--timeout {args.timeout}", field="--timeout", expected="seconds > 0")
    for flag in ("energy_weight", "delay_weight"):
        v = getattr(args, flag)
        if not (math.isfinite(v) and v >= 0):
            raise InputError(f"--{flag.replace('_', '-')} {v}", field=f"--{flag.replace('_', '-')}",
                             expected="a finite number >= 0")
    if args.samples < 1:
        raise InputError(f"--samples {args.samples}", field="--samples", expected="at least 1")
    check_output_dir(Path(args.output_dir), "-o")
    if args.json:
        check_output_file(Path(args.json), "--json")


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    if args.backend == "timeloop":
        return _run_timeloop(args)
    from cim_plugin.commands.model import load_tables
    from cim_plugin.mapping.constraints import constraints_from_doc
    from cim_plugin.mapping.mapspace import MapSpace
    from cim_plugin.mapping.search import search
    from cim_plugin.model.engine import Engine, ModelOptions
    from cim_plugin.report.stats_text import write_stats
    from cim_plugin.spec.arch import load_architecture
    from cim_plugin.spec.mapping import load_mapping
    from cim_plugin.spec.problem import load_problem
    from cim_plugin.spec.yamlio import load_inputs

    doc, origin = load_inputs(args.specs)
    arch = load_architecture(doc, origin.get("architecture", args.specs[0]))
    problem = load_problem(doc, origin.get("problem", args.specs[0]))
    ert, art = load_tables(args, doc, origin, arch)
    cons = constraints_from_doc(doc, arch, problem, origin.get("architecture_constraints")
                                or origin.get("constraints"))
    space = MapSpace(arch, problem, cons)
    engine = Engine(arch, problem, ert, art, ModelOptions(compute_latency_cycles=args.compute_latency))
    seeds = []
    for path in args.seed_mapping:
        cand = space.from_mapping(load_mapping(path, dims=problem.dimensions))
        if cand is None:
            raise InputError("seed mapping uses a spatial axis the architecture lacks", file=path,
                             field="mapping.spatial", expected="split matching the fan-outs")
        seeds.append(cand)
    sr = search(space, engine, objective=args.objective, mode=args.search, seeds=seeds,
                seed=args.seed, samples=args.samples, timeout=args.timeout,
                progress=args.progress or sys.stderr.isatty(),
                energy_weight=args.energy_weight, delay_weight=args.delay_weight)
    out = Path(args.output_dir)
    order = [s.base_name for s in arch.storage_inner_first]
    write_text_atomic(out / "map.yaml", yaml.safe_dump(
        {"mapping": sr.mapping.to_yaml_list(order, problem.dimensions)}, sort_keys=False))
    nest = space.to_nest(space.from_mapping(sr.mapping))
    write_stats(out / "stats.txt", sr.result, arch, problem, nest, ert)
    r = sr.result
    print(f"best mapping ({args.objective}, {sr.search} search): cycles {r.cycles}, "
          f"energy {r.energy_pJ / 1e6:.2f} uJ, EDP {r.edp:.3e} J*cycle, "
          f"utilization {r.utilization * 100:.2f} %")
    print(f"evaluated {sr.evaluated} mappings ({sr.valid} valid) in {sr.seconds:.2f} s"
          + ("" if sr.complete else " (stopped at the timeout)"))
    if args.json:
        data = r.to_json_dict()
        data["mapper"] = sr.mapper_json()
        write_text_atomic(args.json, json.dumps(data, indent=2) + "\n")
    print(f"wrote {out / 'map.yaml'} and {out / 'stats.txt'}")
    return 0
