"""Mapper constraints (Timeloop `targets`): found in a spec, parsed once into typed
targets and per-level bounds, and checked against a mapping.

Understood fields: temporal/spatial `factors` with `=`, `<=`, `>=` (a value of 0 means
the full dimension), `permutation` (innermost first; fixes the innermost loops),
spatial `split`, and keep/bypass (with timeloopfe's `keep_only`/`bypass_only`: the
others bypassed/kept). Everything else is left free for the search.

The search reads the per-level bounds (`Constraints.level`); `cim-plugin model`
reports what a given mapping breaks (`violations`), from the same parse.
`timeloop-model` rejects such mappings, but every stored best mapping of the
reference study breaks a validation-only permutation constraint on levels whose
other factors are 1 (docs/timeloop-accelergy.md §9), so the model evaluates the
mapping anyway and reports what it breaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.model.nest import LoopNest
from cim_plugin.spec.arch import Architecture
from cim_plugin.spec.mapping import LevelMapping, Mapping, parse_factors
from cim_plugin.spec.problem import Problem

CONSTRAINT_KEYS = ("architecture_constraints", "mapspace_constraints", "constraints")
KEEP_KINDS = ("bypass", "datatype", "dataspace")


@dataclass
class FactorBound:
    exact: int | None = None
    max: int | None = None
    min: int | None = None
    whole: bool = False          # written as 0: "whatever remains" of the dimension

    def broken(self, v: int) -> list[str]:
        """The bounds `v` breaks, written as in the constraint (`=16`, `<=8`)."""
        out = []
        if self.exact is not None and v != self.exact and not self.whole:
            out.append(f"={self.exact}")
        if self.max is not None and v > self.max:
            out.append(f"<={self.max}")
        if self.min is not None and v < self.min:
            out.append(f">={self.min}")
        return out

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


@dataclass(frozen=True)
class Target:
    """One constraint target as written (its position, level and type), parsed."""

    index: int
    level: str
    kind: str                               # as written: temporal, spatial, bypass, ...
    factors: dict[str, FactorBound]
    permutation: tuple[str, ...] = ()       # innermost first
    split: int | None = None
    keep: frozenset[str] = frozenset()
    bypass: frozenset[str] = frozenset()

    @property
    def where(self) -> str:
        return f"constraint {self.index} ({self.level} {self.kind})"


@dataclass
class Constraints:
    levels: dict[str, LevelConstraints] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

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
        whole = value == 0
        if whole:
            value = problem.bounds[dim]
        if value > problem.bounds[dim]:
            # Timeloop ignores a factor larger than the dimension (with a warning)
            warnings.append(f"{where}: factor {dim}{op}{value} exceeds {dim}="
                            f"{problem.bounds[dim]}; ignored, as Timeloop does")
            continue
        b = out.setdefault(dim, FactorBound())
        if op == "=":
            b.exact = value
            b.whole = whole
        elif op == "<=":
            b.max = value
        else:
            b.min = value
    return out


def constraint_targets(doc: dict[str, Any], file: str | None = None) -> list[dict[str, Any]]:
    """The constraint targets of a merged input document (processed or v0.4 form)."""
    arch = doc.get("architecture")
    if isinstance(arch, dict) and "nodes" in arch:
        from cim_plugin.spec.v4 import flatten_v4_constraints

        return list(flatten_v4_constraints(doc, file=file).get("targets") or [])
    out: list[dict[str, Any]] = []
    for key in CONSTRAINT_KEYS:
        block = doc.get(key)
        if block is None:
            continue
        targets = block.get("targets") if isinstance(block, dict) else block
        if not isinstance(targets, list):
            raise InputError("constraint targets must be a list", file=file, field=f"{key}.targets",
                             expected="[{target, type, factors, permutation, keep, bypass}]")
        for i, t in enumerate(targets):
            if not isinstance(t, dict) or "target" not in t or "type" not in t:
                raise InputError("each constraint needs target and type", file=file,
                                 field=f"{key}.targets[{i}]", expected="{target, type, ...}")
            out.append(t)
    return out


def _names(value: Any) -> frozenset[str]:
    return frozenset(str(x) for x in value or [])


def parse_target(i: int, t: Any, arch: Architecture, problem: Problem, file: str | None,
                 warnings: list[str]) -> Target | None:
    """Target `i` of a constraint list, typed; None for one on the compute level."""
    where = f"constraints.targets[{i}]"
    if not isinstance(t, dict) or "target" not in t:
        raise InputError("constraint needs a target", file=file, field=where,
                         expected="{target, type, ...}")
    name = str(t["target"])
    if name not in {s.base_name for s in arch.storage}:
        if name == arch.compute.base_name:
            return None
        raise InputError(f"constraint targets unknown level {name!r}", file=file,
                         field=f"{where}.target",
                         expected=f"one of {sorted(s.base_name for s in arch.storage)}")
    kind = str(t.get("type", ""))
    if kind in KEEP_KINDS:
        tensors = frozenset(ds.name for ds in problem.data_spaces)
        keep, bypass = _names(t.get("keep")), _names(t.get("bypass"))
        if t.get("keep_only"):                       # timeloopfe: keep these, bypass the rest
            keep |= _names(t["keep_only"])
            bypass |= tensors - _names(t["keep_only"])
        if t.get("bypass_only"):                     # bypass these, keep the rest
            bypass |= _names(t["bypass_only"])
            keep |= tensors - _names(t["bypass_only"])
        return Target(i, name, kind, {}, keep=keep, bypass=bypass)
    if kind in ("temporal", "spatial"):
        factors = _bounds(t.get("factors"), problem, f"{where}.factors", file, warnings)
        perm = tuple(c for c in str(t.get("permutation") or "") if c in problem.dimensions)
        split = int(t["split"]) if kind == "spatial" and t.get("split") is not None else None
        return Target(i, name, kind, factors, perm, split)
    # utilization/parallelism/max_overbooked_proportion: not used by the search
    return Target(i, name, kind, {})


def parse_constraints(targets: list[dict[str, Any]] | None, arch: Architecture, problem: Problem,
                      file: str | None = None) -> Constraints:
    """Per-level constraints from a list of Timeloop constraint targets."""
    cons = Constraints()
    for i, raw in enumerate(targets or []):
        t = parse_target(i, raw, arch, problem, file, cons.warnings)
        if t is None:
            continue
        cons.targets.append(t)
        lc = cons.level(t.level)
        if t.kind in KEEP_KINDS:
            lc.keep = lc.keep | t.keep
            lc.bypass = lc.bypass | t.bypass
        elif t.kind == "temporal":
            lc.temporal.update(t.factors)
            if t.permutation:
                lc.temporal_permutation = t.permutation
        elif t.kind == "spatial":
            lc.spatial.update(t.factors)
            if t.permutation:
                lc.spatial_permutation = t.permutation
            if t.split is not None:
                lc.split = t.split
    return cons


def constraints_from_doc(doc: dict[str, Any], arch: Architecture, problem: Problem,
                         file: str | None = None) -> Constraints:
    """Constraints carried by a spec, processed (`architecture_constraints`) or v0.4 form
    (node and top-level `constraints`, containers mapped to their `inter_*_spatial` level)."""
    return parse_constraints(constraint_targets(doc, file), arch, problem, file)


def _perm_order_ok(constraint_inner_first: tuple[str, ...], loops_inner_first: list[str]) -> bool:
    """Loops with a bound above 1 must appear in the constraint's relative order."""
    rank = {d: k for k, d in enumerate(constraint_inner_first)}
    listed = [d for d in loops_inner_first if d in rank]
    return all(rank[a] < rank[b] for a, b in zip(listed, listed[1:]))


def violations(cons: Constraints, arch: Architecture, problem: Problem, mapping: Mapping,
               nest: LoopNest | None = None) -> list[str]:
    """One warning per broken constraint bound (empty when the mapping satisfies them all).

    Checked: factor bounds, the order of the loops with a bound above 1 against a
    permutation, and keep/bypass (from the nest the model built, when given)."""
    names = [s.base_name for s in arch.storage]
    out: list[str] = []
    for t in cons.targets:
        lm = mapping.levels.get(t.level) or LevelMapping(target=t.level)
        if t.kind in ("temporal", "spatial"):
            factors = lm.temporal if t.kind == "temporal" else lm.spatial
            for d, bound in t.factors.items():
                got = factors.get(d, 1)
                out.extend(f"{t.where}: factor {d}{got} breaks {d}{b}" for b in bound.broken(got))
            if t.permutation:
                own = lm.temporal_permutation if t.kind == "temporal" else lm.spatial_permutation
                order = [d for d in own if factors.get(d, 1) > 1]
                order += [d for d in problem.dimensions if d not in order and factors.get(d, 1) > 1]
                if not _perm_order_ok(t.permutation, order):
                    out.append(f"{t.where}: loop order {''.join(order)} (innermost first) "
                               f"breaks permutation {''.join(t.permutation)}")
        elif t.kind in KEEP_KINDS:
            if nest is not None:
                kept = nest.levels[names.index(t.level)].keep
            else:
                kept = frozenset(ds.name for ds in problem.data_spaces if lm.keeps(ds.name))
            out.extend(f"{t.where}: {ds} must be kept but the mapping bypasses it"
                       for ds in sorted(t.keep - kept))
            out.extend(f"{t.where}: {ds} must be bypassed but the mapping keeps it"
                       for ds in sorted(t.bypass & kept))
    return out


__all__ = ["Constraints", "FactorBound", "LevelConstraints", "Target", "constraint_targets",
           "constraints_from_doc", "parse_constraints", "violations"]
