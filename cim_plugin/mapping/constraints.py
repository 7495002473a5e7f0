"""Mapper constraints (Timeloop `targets`) as typed per-level bounds.

Understood fields: temporal/spatial `factors` with `=`, `<=`, `>=` (a value of 0 means
the full dimension), `permutation` (innermost first; fixes the innermost loops),
spatial `split`, and keep/bypass. Everything else is left free for the search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.arch import Architecture
from cim_plugin.spec.mapping import parse_factors
from cim_plugin.spec.problem import Problem


@dataclass
class FactorBound:
    exact: int | None = None
    max: int | None = None
    min: int | None = None

    def allows(self, v: int) -> bool:
        if self.exact is not None and v != self.exact:
            return False
        if self.max is not None and v > self.max:
            return False
        if self.min is not None and v < self.min:
            return False
        return True


@dataclass
class LevelConstraints:
    temporal: dict[str, FactorBound] = field(default_factory=dict)
    temporal_permutation: tuple[str, ...] = ()      # innermost first (prefix fixed)
    spatial: dict[str, FactorBound] = field(default_factory=dict)
    spatial_permutation: tuple[str, ...] = ()
    split: int | None = None
    keep: frozenset[str] = frozenset()
    bypass: frozenset[str] = frozenset()

    def spatial_axis(self, dim: str) -> str | None:
        """Axis a dim must use when permutation and split pin it, else None."""
        if self.split is None or dim not in self.spatial_permutation:
            return None
        return "X" if self.spatial_permutation.index(dim) < self.split else "Y"


@dataclass
class Constraints:
    levels: dict[str, LevelConstraints] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def level(self, name: str) -> LevelConstraints:
        return self.levels.setdefault(name, LevelConstraints())


def _bounds(text: Any, problem: Problem, where: str, file: str | None,
            warnings: list[str]) -> dict[str, FactorBound]:
    out: dict[str, FactorBound] = {}
    for dim, (op, value) in parse_factors(text, file=file, field_name=where).items():
        if dim not in problem.dimensions:
            # Timeloop ignores names it cannot match; we say so instead of guessing.
            raise InputError(f"unknown dimension {dim!r} in factors", file=file, field=where,
                             expected=f"one of {list(problem.dimensions)}")
        if value == 0:
            value = problem.bounds[dim]
        if value > problem.bounds[dim]:
            # Timeloop ignores a factor larger than the dimension (with a warning)
            warnings.append(f"{where}: factor {dim}{op}{value} exceeds {dim}="
                            f"{problem.bounds[dim]}; ignored, as Timeloop does")
            continue
        b = out.setdefault(dim, FactorBound())
        if op == "=":
            b.exact = value
        elif op == "<=":
            b.max = value
        else:
            b.min = value
    return out


def parse_constraints(targets: list[dict[str, Any]] | None, arch: Architecture, problem: Problem,
                      file: str | None = None) -> Constraints:
    """Per-level constraints from a list of Timeloop constraint targets."""
    cons = Constraints()
    names = {s.base_name for s in arch.storage}
    for i, t in enumerate(targets or []):
        where = f"constraints.targets[{i}]"
        if not isinstance(t, dict) or "target" not in t:
            raise InputError("constraint needs a target", file=file, field=where,
                             expected="{target, type, ...}")
        name = str(t["target"])
        if name not in names:
            if name == arch.compute.base_name:
                continue
            raise InputError(f"constraint targets unknown level {name!r}", file=file,
                             field=f"{where}.target", expected=f"one of {sorted(names)}")
        lc = cons.level(name)
        kind = str(t.get("type", ""))
        if kind in ("bypass", "datatype", "dataspace"):
            lc.keep = lc.keep | frozenset(str(x) for x in t.get("keep") or [])
            lc.bypass = lc.bypass | frozenset(str(x) for x in t.get("bypass") or [])
        elif kind == "temporal":
            lc.temporal.update(_bounds(t.get("factors"), problem, f"{where}.factors", file,
                                       cons.warnings))
            if t.get("permutation"):
                lc.temporal_permutation = tuple(c for c in str(t["permutation"]) if c in problem.dimensions)
        elif kind == "spatial":
            lc.spatial.update(_bounds(t.get("factors"), problem, f"{where}.factors", file,
                                      cons.warnings))
            if t.get("permutation"):
                lc.spatial_permutation = tuple(c for c in str(t["permutation"]) if c in problem.dimensions)
            if t.get("split") is not None:
                lc.split = int(t["split"])
        # utilization/parallelism/max_overbooked_proportion: not used by the search
    return cons


def constraints_from_doc(doc: dict[str, Any], arch: Architecture, problem: Problem,
                         file: str | None = None) -> Constraints:
    """Constraints carried by a spec, processed (`architecture_constraints`) or v0.4 form
    (node and top-level `constraints`, containers mapped to their `inter_*_spatial` level)."""
    from cim_plugin.model.constraints_check import constraint_targets

    return parse_constraints(constraint_targets(doc, file), arch, problem, file)
