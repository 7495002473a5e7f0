"""The method's original pipeline (`--paper-compat`): its baseline constraints and mapper.

The method mapped its tensor-core baseline with Timeloop's random mapper under the
constraints of its architecture file (WWWtoCiM `www-cim/designs/tensor_core_like/
arch_split.yaml`, as processed in the reference run's parsed-processed-input.yaml):
the PE array fixed at N=16 x K=16 (K along X), no M or N loops at the RF, one A word
per LRF (no M or K loops there, N up to 128), and the loop orders and X/Y splits it
gives at the RF, the LRF and both fan-outs. Our own baseline constraints leave every factor
to the mapper (mapper_constraints/tensor_core.yaml.jinja2); the paper-compat baseline
adds these.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

#: the method's baseline constraints beyond the design's own (see module doc): target,
#: type, factors, permutation (innermost first), spatial split
METHOD_BASELINE: tuple[tuple[str, str, dict[str, int | str], str, int | None], ...] = (
    ("inter_Subpartition_spatial", "spatial", {}, "NKM", 0),
    ("RF", "temporal", {"M": 1, "N": 1}, "KNM", None),
    ("inter_PE_spatial", "spatial", {"N": 16, "K": 16}, "KNM", 1),
    ("LRF", "temporal", {"M": 1, "N": "<=128", "K": 1}, "NKM", None),
)


def method_baseline_targets(m: int, n: int, k: int, *, orders: bool = True
                            ) -> list[dict[str, Any]]:
    """The method's constraints as processed constraint targets for GEMM M×N×K.

    A fixed spatial factor that does not divide the dimension (N or K not a multiple
    of 16) becomes an upper bound, so that every shape has mappings; the method's
    shapes are multiples of 16 there. `orders=False` gives its factor constraints
    alone, without its loop orders and splits (a larger mapspace, used to check the
    random-mapper reproduction on more than the method's own).
    """
    bounds = {"M": m, "N": n, "K": k}
    out = []
    for target, kind, factors, permutation, split in METHOD_BASELINE:
        if not orders and not factors:
            continue
        parts = []
        for d, f in factors.items():
            if isinstance(f, int) and bounds[d] % f:
                parts.append(f"{d}<={f}")
            elif isinstance(f, int):
                parts.append(f"{d}={f}")
            else:
                parts.append(f"{d}{f}")
        t: dict[str, Any] = {"target": target, "type": kind}
        if parts:
            t["factors"] = ",".join(parts)
        if orders:
            t["permutation"] = permutation
            if split is not None:
                t["split"] = split
        out.append(t)
    return out


#: seed of the random-mapper reproduction in the study: 0 is timeloop-mapper's own run
#: (the spread over seeds: docs/paper-fidelity.md, benchmarks/bench_random_baseline.py)
RANDOM_SEED = 0
#: the reference run's mapspace: timeloopfe's `ruby` template (its parsed-processed-input.yaml,
#: `mapspace: {template: ruby}`), whose factor lists Timeloop orders differently from `uber`
METHOD_MAPSPACE = "ruby"
#: the reference runs' mapper settings (WWWtoCiM designs/_include/mapper.yaml; 8 threads)
METHOD_MAPPER = {"version": 0.4, "optimization_metrics": ["edp"], "live_status": False,
                 "timeout": 100000, "victory_condition": 100, "algorithm": "random",
                 "diagnostics": False, "num_threads": 8}


def evaluate_paper_point(point: Any, cfg: Any, workdir: Path | None = None) -> dict[str, Any]:
    """One point of the original pipeline (`--paper-compat`).

    CiM: the method's preset bank counts (iso-area for placements it has none for),
    the authors' priority algorithm pinned with no search, the WWW placeholder area.
    Baseline: the method's constraints added to the design's, mapped by the random
    mapper -- reproduced (`mapping.random_mapper`, seed 0 = timeloop-mapper's own run)
    on the embedded backend, the real timeloop-mapper with `backend: timeloop`.
    """
    from cim_plugin.mapping.random_mapper import THREADS, VICTORY, random_search
    from cim_plugin.mapping.search import search
    from cim_plugin.study.setup import PRESET_DESIGNS, point_record, setup_point

    mode = "preset" if point.design in PRESET_DESIGNS else "iso-area"
    if point.macro is not None:
        ps = setup_point(point, cfg, mode, original=True, paper_compat=True)
        pinned = ps.space.from_mapping(ps.built.mapping.mapping())
        sr = search(ps.space, ps.engine, objective=cfg.objective, mode="seed", seeds=[pinned])
        mapper = {**sr.mapper_json(), "search": "original-priority"}
        return point_record(point, cfg, ps, sr.result, sr.mapping, mapper, mode, workdir)
    extra = method_baseline_targets(point.m, point.n, point.k)
    ps = setup_point(point, cfg, mode, paper_compat=True, extra_targets=extra)
    if cfg.backend == "timeloop":
        mapping, result = _timeloop_random_mapper(ps, extra, workdir)
        rec = point_record(point, dataclasses.replace(cfg, backend="embedded"), ps, result,
                           mapping, {"search": "timeloop-mapper random", "optimal": False,
                                     "gap": None, **{k: METHOD_MAPPER[k] for k in
                                                     ("victory_condition", "num_threads")}},
                           mode, workdir)
        return rec
    out = random_search(ps.space, ps.engine, objective="edp", seed=RANDOM_SEED,
                        template=METHOD_MAPSPACE)
    mapper = {"search": "timeloop-random reproduced", "seed": RANDOM_SEED, "threads": THREADS,
              "victory_condition": VICTORY, "valid_mappings": out.valid,
              "invalid_mappings": out.invalid, "objective_value": out.score,
              "optimal": False, "gap": None}
    return point_record(point, cfg, ps, out.result, ps.space.to_mapping(out.choice), mapper,
                        mode, workdir)


def _timeloop_random_mapper(ps: Any, extra: list[dict[str, Any]], workdir: Path | None):
    """The real timeloop-mapper with the method's settings on the point's processed input
    (the library's ERT/ART embedded, the method's constraints added)."""
    from cim_plugin.backends import timeloop as tl
    from cim_plugin.io.yamlout import write_yaml

    if workdir is None:
        raise ValueError("the timeloop backend needs a working folder")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    inp = workdir / "mapper-input.yaml"
    write_yaml(inp, method_mapper_input(ps, extra))
    return tl.run_mapper([inp], workdir / "mapper", timeout=None,
                         compute_latency=ps.latency)


def method_mapper_input(ps: Any, extra: list[dict[str, Any]], *, threads: int | None = None,
                        dim_order: str | None = None, template: str = METHOD_MAPSPACE
                        ) -> dict[str, Any]:
    """The timeloop-mapper input of the method's baseline mapping: the point's processed
    input, the library's ERT/ART embedded, the method's constraints added and its mapper
    settings, on the method's mapspace template. `threads`, `dim_order` (the problem's
    dimensions listed in another order, which renumbers Timeloop's index-factorization
    space and so gives another sample of the same random search) and `template` vary the
    run for spread and reproduction measurements."""
    doc = dict(ps.built.processed)
    targets = list(doc.get("architecture_constraints", {}).get("targets", [])) + extra
    doc["architecture_constraints"] = {"targets": targets}
    doc["mapper"] = dict(METHOD_MAPPER, **({"num_threads": threads} if threads else {}))
    doc["mapspace"] = {"template": template}
    if dim_order is not None:
        problem = dict(doc["problem"])
        shape = dict(problem["shape"])
        if sorted(dim_order) != sorted(shape["dimensions"]):
            raise ValueError(f"dim_order {dim_order!r} is not an order of "
                             f"{''.join(shape['dimensions'])}")
        shape["dimensions"] = list(dim_order)
        problem["shape"] = shape
        doc["problem"] = problem
    doc.update(ps.ert.to_yaml_dict())
    doc.update(ps.art.to_yaml_dict())
    return doc
