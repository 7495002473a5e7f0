"""The public API: load a spec, evaluate a mapping, search the best one.

Modelled on ZigZag's `api.py`: one call a user's script makes to map and evaluate a
design, and that the command line (`cim-plugin model`/`map`), the study and the
mapper benchmark call too, so the sequence engine -> mapspace -> seeds -> search is
written once:

    from cim_plugin import api
    inp = api.load_spec(["arch.yaml", "problem.yaml"])
    mapped = api.map_problem(inp.arch, inp.problem, inp.ert, inp.art, targets=inp.targets)
    print(mapped.search.result.edp, mapped.search.optimal)

Search presets name what the study calls mapping strategies (`PRESETS`): which seeds
start the search and in which mode it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError, blame
from cim_plugin.mapping.constraints import Constraints, constraint_targets, parse_constraints
from cim_plugin.mapping.mapspace import Choice, MapSpace
from cim_plugin.mapping.search import SearchResult, search
from cim_plugin.model.engine import Engine, ModelOptions
from cim_plugin.spec.arch import Architecture, load_architecture
from cim_plugin.spec.ert import ART, ERT, given_tables
from cim_plugin.spec.mapping import Mapping, load_mapping
from cim_plugin.spec.problem import Problem, load_problem
from cim_plugin.spec.yamlio import load_inputs


# --------------------------------------------------------------------------- inputs
@dataclass
class SpecInputs:
    """A merged spec: the document, which file each section came from, and its parts."""

    doc: dict[str, Any]
    origin: dict[str, str]
    arch: Architecture
    problem: Problem
    ert: ERT
    art: ART | None
    mapping: Mapping | None = None

    @property
    def targets(self) -> list[dict[str, Any]]:
        """The spec's mapper constraint targets (processed or v0.4 form)."""
        return constraint_targets(self.doc, self.constraints_file)

    @property
    def constraints_file(self) -> str | None:
        return self.origin.get("architecture_constraints") or self.origin.get("constraints")

    def search_space(self) -> tuple[MapSpace, Engine]:
        """The mapspace the spec's constraints leave and the model that prices it (with
        the compute latency every command applies), for a caller running its own search
        (e.g. the random-mapper reproduction on a timeloop-mapper input)."""
        cons = parse_constraints(self.targets, self.arch, self.problem, self.constraints_file)
        engine, _, _ = make_engine(self.arch, self.problem, self.ert, self.art)
        return MapSpace(self.arch, self.problem, cons), engine


def load_spec(specs: Sequence[str | Path], *, mapping: str | Path | None = None,
              ert: str | Path | None = None, art: str | Path | None = None,
              need_mapping: bool = False) -> SpecInputs:
    """Architecture, problem, energy/area tables and (when given) the mapping of a spec
    made of several YAML files merged the way Timeloop merges them.

    The ERT/ART come from `ert`/`art`, else from top-level `ERT`/`ART` keys of the
    inputs, else from the component library. The mapping comes from `mapping`, else from
    a non-empty `mapping:` in the specs; `need_mapping` makes its absence an error.
    """
    names = [str(s) for s in specs]
    doc, origin = load_inputs(names)
    arch = load_architecture(doc, origin.get("architecture", names[0]))
    problem = load_problem(doc, origin.get("problem", names[0]))
    found = _spec_mapping(doc, origin, problem, mapping)
    if found is None and need_mapping:
        raise InputError("no mapping given", file=", ".join(names), field="mapping",
                         expected="--mapping MAP.yaml or a non-empty `mapping:` list in the specs")
    tables, areas = load_tables(doc, origin, arch, ert=ert, art=art)
    return SpecInputs(doc, origin, arch, problem, tables, areas, found)


def _spec_mapping(doc: dict[str, Any], origin: dict[str, str], problem: Problem,
                  path: str | Path | None) -> Mapping | None:
    tensors = tuple(ds.name for ds in problem.data_spaces)
    if path:
        return load_mapping(path, dims=problem.dimensions, dataspaces=tensors)
    inline = doc.get("mapping")
    entries = inline.get("targets") if isinstance(inline, dict) else inline
    if entries:
        return load_mapping(doc, dims=problem.dimensions, file=origin.get("mapping"),
                            dataspaces=tensors)
    return None


def load_tables(doc: dict[str, Any], origin: dict[str, str], arch: Architecture, *,
                ert: str | Path | None = None, art: str | Path | None = None
                ) -> tuple[ERT, ART | None]:
    """(ERT, ART): given files first, then the spec's `ERT`/`ART` keys, then the component
    library; areas from the library when only energies were given, so the reported area
    is the design's rather than 0 (None when the library does not know a class)."""
    from cim_plugin.library.ert_gen import generate_tables

    energies, areas = given_tables(doc, ert=ert, art=art, ert_file=origin.get("ERT"),
                                   art_file=origin.get("ART"))
    if energies is not None:
        if areas is None:
            try:
                areas = generate_tables(arch)[1]
            except InputError:
                areas = None
        return energies, areas
    with blame(arch.source):
        energies, generated = generate_tables(arch)
    return energies, areas if areas is not None else generated


# --------------------------------------------------------------------------- model
def make_engine(arch: Architecture, problem: Problem, ert: ERT, art: ART | None = None, *,
                compute_latency: float | None = None,
                latency_attribute: str | None = None) -> tuple[Engine, float, str]:
    """The model for one (architecture, problem, tables), with the compute latency every
    command applies (`cim_plugin.library.latency`): (engine, latency, where it came from)."""
    from cim_plugin.library.latency import ATTRIBUTE
    from cim_plugin.library.latency import compute_latency as latency_of

    name = latency_attribute or ATTRIBUTE
    if latency_attribute and compute_latency is None \
            and arch.compute.attributes.get(name) is None:
        raise InputError(f"the compute level has no attribute {name!r}", file=arch.source,
                         field=f"architecture.{arch.compute.name}.attributes.{name}",
                         expected="a number of cycles per compute operation")
    latency, source = latency_of(arch, compute_latency, name)
    engine = Engine(arch, problem, ert, art, ModelOptions(compute_latency_cycles=latency))
    return engine, latency, source


# --------------------------------------------------------------------------- mapper
@dataclass(frozen=True)
class Preset:
    """A named way to search: the mode, and which mappings start it as seeds.

    `design_seed`: the design's own mapping (the study's priority mapping); without one,
    a `seed`-mode preset has nothing to return and says so. `cim_seeds`: the priority
    mappings `cim_plugin.mapping.cim` derives from any CiM spec. `mode` None: the
    caller's search mode (fast or exact).
    """

    mode: str | None
    design_seed: bool
    cim_seeds: bool


#: the study's mapping strategies, as search presets
PRESETS: dict[str, Preset] = {
    "priority": Preset(mode="seed", design_seed=True, cim_seeds=False),
    "priority+search": Preset(mode=None, design_seed=True, cim_seeds=True),
    "search": Preset(mode=None, design_seed=False, cim_seeds=False),
}


@dataclass
class Mapped:
    """The answer of `map_problem`: the search's result and what it searched."""

    search: SearchResult
    engine: Engine
    space: MapSpace
    constraints: Constraints
    latency: float
    latency_source: str
    warnings: list[str] = field(default_factory=list)


def map_problem(arch: Architecture, problem: Problem, ert: ERT, art: ART | None = None, *,
                targets: list[dict[str, Any]] | None = None, targets_file: str | None = None,
                objective: str = "edp", mode: str = "fast",
                seeds: Sequence[Mapping | str | Path] = (),
                check_seeds: bool = True, cim_seeds: bool = True, timeout: float | None = None,
                energy_weight: float = 1.0, delay_weight: float = 1.0,
                compute_latency: float | None = None) -> Mapped:
    """The best mapping of `problem` on `arch` under the constraint `targets`.

    engine -> mapspace -> seeds -> search: `seeds` (mappings, e.g. a user's map.yaml or
    a design's priority mapping) start the search, so the answer is never worse than
    any of them; with `check_seeds` a seed the model rejects is an error naming its
    file, else it is skipped. `cim_seeds` adds the priority mappings of a CiM spec.
    `mode`: fast, exact (alias exhaustive) or seed (the best seed, unchanged).
    """
    cons = parse_constraints(targets, arch, problem, targets_file)
    space = MapSpace(arch, problem, cons)
    engine, latency, source = make_engine(arch, problem, ert, art, compute_latency=compute_latency)
    tensors = tuple(ds.name for ds in problem.data_spaces)
    chosen: list[Choice] = []
    for seed in seeds:
        m = seed if isinstance(seed, Mapping) else \
            load_mapping(seed, dims=problem.dimensions, dataspaces=tensors)
        with blame(m.source, "mapping"):                  # the model's own checks, on the seed
            choice = space.from_mapping(m, file=m.source)
            if check_seeds:
                engine.evaluate(space.to_nest(choice))
        chosen.append(choice)
    sr = _seeded_search(space, engine, chosen, cim_seeds=cim_seeds, mode=mode,
                        objective=objective, timeout=timeout, energy_weight=energy_weight,
                        delay_weight=delay_weight)
    return Mapped(sr, engine, space, cons, latency, source, [*cons.warnings, *sr.result.warnings])


def map_with_preset(preset: str, arch: Architecture, problem: Problem, ert: ERT,
                    art: ART | None = None, *, design_mapping: Mapping | None = None,
                    mode: str = "fast", **kw: Any) -> Mapped:
    """`map_problem` with the seeds and mode of a named preset (`PRESETS`)."""
    p = _preset(preset)
    seeds = [design_mapping] if p.design_seed and design_mapping is not None else []
    return map_problem(arch, problem, ert, art, mode=p.mode or mode, seeds=seeds,
                       check_seeds=False, cim_seeds=p.cim_seeds, **kw)


def search_with_preset(preset: str, space: MapSpace, engine: Engine, *,
                       design_mapping: Mapping | None = None, mode: str = "fast",
                       objective: str = "edp") -> SearchResult:
    """The search of a named preset (`PRESETS`) on a mapspace and engine the caller has
    already built (the study builds them once per design point)."""
    p = _preset(preset)
    seeds = [space.from_mapping(design_mapping)] \
        if p.design_seed and design_mapping is not None else []
    return _seeded_search(space, engine, seeds, cim_seeds=p.cim_seeds, mode=p.mode or mode,
                          objective=objective)


def _preset(name: str) -> Preset:
    if name not in PRESETS:
        raise InputError(f"unknown mapping strategy {name!r}", field="strategy",
                         expected=", ".join(PRESETS))
    return PRESETS[name]


def _seeded_search(space: MapSpace, engine: Engine, seeds: list[Choice], *, cim_seeds: bool,
                   mode: str, **search_kw: Any) -> SearchResult:
    """The search from `seeds`, plus the priority mappings of a CiM spec (`cim_seeds`);
    `seed` mode needs at least one."""
    if cim_seeds:
        from cim_plugin.mapping.cim import priority_seeds

        seeds = seeds + [c for c in priority_seeds(space) if c not in seeds]
    if mode == "seed" and not seeds:
        raise InputError("no seed mapping to return", field="search",
                         expected="a seed mapping, or a search mode (fast, exact)")
    return search(space, engine, mode=mode, seeds=seeds, **search_kw)


__all__ = ["PRESETS", "Mapped", "Preset", "SpecInputs", "load_spec", "load_tables",
           "make_engine", "map_problem", "map_with_preset", "search_with_preset"]
