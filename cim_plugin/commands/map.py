"""`cim-plugin map`: search the best mapping of a problem on an architecture.

Reads the same inputs as `cim-plugin model` (constraints from the spec's
`architecture_constraints`/`constraints` are honoured), applies the same compute
latency (`cim_plugin.library.latency`), writes the best mapping as a Timeloop
`map.yaml`, its `stats.txt`, and with `--json` the model's JSON plus a `mapper` block:
the search mode, seconds, whether the answer is proven optimal, the lower bound and
gap of the certificate, and the search's node counts.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import yaml

from cim_plugin.argtypes import bounded_float
from cim_plugin.io.outdir import check_output_paths, mark_output_dir
from cim_plugin.io.safeio import write_text_atomic


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC.yaml",
                   help="architecture/problem/constraint files, merged in order")
    p.add_argument("--ert", metavar="ERT.yaml",
                   help="Accelergy ERT; default: an `ERT:` key in the specs, else the component library")
    p.add_argument("--art", metavar="ART.yaml", help="Accelergy ART (areas)")
    p.add_argument("--objective", choices=("edp", "energy", "delay", "weighted"), default="edp")
    p.add_argument("--energy-weight", type=bounded_float(0), default=1.0,
                   help="a in energy^a*cycles^b")
    p.add_argument("--delay-weight", type=bounded_float(0), default=1.0,
                   help="b in energy^a*cycles^b")
    p.add_argument("--search", choices=("fast", "exact", "exhaustive"), default="fast",
                   help="fast (default): the exact search's best branches, with a bound on "
                        "what it skipped; exact (alias exhaustive): proven optimal")
    p.add_argument("--seed-mapping", metavar="MAP.yaml", action="append", default=[],
                   help="start the search from this mapping; the answer is never worse")
    p.add_argument("--no-cim-seeds", action="store_true",
                   help="do not seed a CiM design with the priority-based mappings")
    p.add_argument("--timeout", type=bounded_float(0, inclusive=False), default=None, metavar="S",
                   help="stop after S seconds and keep the best mapping so far (with its bound)")
    p.add_argument("--compute-latency", type=bounded_float(0, inclusive=False), default=None,
                   metavar="CYCLES",
                   help="cycles per compute operation (default: the compute level's "
                        "cim_latency_cycles, else the library macro's, else 1)")
    p.add_argument("--json", metavar="OUT.json", help="write the result as JSON")
    p.add_argument("-o", "--output-dir", metavar="DIR", required=True,
                   help="write map.yaml and stats.txt here")
    p.add_argument("--force", action="store_true",
                   help="write into an existing non-empty folder cim-plugin did not make")
    p.add_argument("--backend", choices=("embedded", "timeloop"), default="embedded",
                   help="embedded search (default) or the real timeloop-mapper on the specs")


def _run_timeloop(args: argparse.Namespace) -> int:
    from cim_plugin.backends import timeloop as tl

    tl.require_tool(tl.MAPPER)
    mapping, result = tl.run_mapper(list(args.specs), Path(args.output_dir) / "timeloop",
                                    timeout=args.timeout, ert=args.ert, art=args.art,
                                    compute_latency=args.compute_latency)
    print(f"timeloop-mapper: cycles {result.cycles}, energy {result.energy_pJ / 1e6:.2f} uJ, "
          f"EDP {result.edp:.3e} J*cycle, utilization {result.utilization * 100:.2f} %")
    if args.json:
        data = result.to_json_dict()
        data["mapper"] = {"search": "timeloop-mapper"}
        write_text_atomic(args.json, json.dumps(data, indent=2) + "\n")
    print(f"wrote {Path(args.output_dir) / 'timeloop'}")
    return 0


def certificate_line(sr) -> str:
    """How far from optimal the answer can be, in words."""
    if sr.optimal:
        return f"proven optimal ({sr.search} search)"
    if math.isfinite(sr.gap):
        return (f"within {sr.gap * 100:.3g} % of optimal: no mapping is below the lower bound "
                f"{sr.lower_bound:.4e} ({sr.search} search)")
    return f"best of the seeds, not searched ({sr.search})"


def run(args: argparse.Namespace) -> int:
    check_output_paths(args.json, args.output_dir, args.force)
    if args.backend == "timeloop":
        return _run_timeloop(args)
    from cim_plugin.api import load_spec, map_problem
    from cim_plugin.report.stats_text import format_stats

    inp = load_spec(args.specs, ert=args.ert, art=args.art)
    arch, problem = inp.arch, inp.problem
    mapped = map_problem(arch, problem, inp.ert, inp.art, targets=inp.targets,
                         targets_file=inp.constraints_file, objective=args.objective,
                         mode=args.search, seeds=args.seed_mapping, cim_seeds=not args.no_cim_seeds,
                         timeout=args.timeout, energy_weight=args.energy_weight,
                         delay_weight=args.delay_weight, compute_latency=args.compute_latency)
    sr = mapped.search
    deadline_note = "" if args.timeout is None else f" (budget {args.timeout:g} s)"
    out = Path(args.output_dir)
    searched = sr.space or mapped.space
    order = [s.base_name for s in arch.storage_inner_first]
    r = sr.result
    outputs = {                                # every output rendered before any is written
        out / "map.yaml": yaml.safe_dump(
            {"mapping": sr.mapping.to_yaml_list(order, problem.dimensions)}, sort_keys=False),
        out / "stats.txt": format_stats(r, arch, searched.problem, searched.to_nest(sr.choice),
                                        inp.ert)}
    if args.json:
        data = r.to_json_dict()
        data["mapper"] = sr.mapper_json()
        data["mapper"]["compute_latency_cycles"] = mapped.latency
        data["mapper"]["compute_latency_source"] = mapped.latency_source
        outputs[Path(args.json)] = json.dumps(data, indent=2) + "\n"
    for w in mapped.warnings:
        print(f"cim-plugin map: warning: {w}", file=sys.stderr)
    print(f"best mapping ({args.objective}): cycles {r.cycles}, energy {r.energy_pJ / 1e6:.2f} uJ, "
          f"EDP {r.edp:.3e} J*cycle, utilization {r.utilization * 100:.2f} %")
    print(f"compute latency {mapped.latency:g} cycles per operation ({mapped.latency_source})")
    print(f"{certificate_line(sr)}; {sr.stats.get('nodes', 0)} nodes, "
          f"{sr.stats.get('placements', 0)} placements searched, {sr.seeds_used} seeds, "
          f"{sr.seconds:.2f} s{deadline_note}")
    for path, text in outputs.items():
        write_text_atomic(path, text)
    mark_output_dir(out, "map")
    print(f"wrote {out / 'map.yaml'} and {out / 'stats.txt'}")
    return 0
