"""Warn when a mapping breaks the mapper constraints carried by the spec.

`timeloop-model` rejects such mappings, but every stored best mapping of the
reference study breaks a validation-only permutation constraint on levels whose
other factors are 1 (docs/timeloop-accelergy.md §9), so the model evaluates the
mapping anyway and reports what it breaks. Checked: factor constraints (`=`, `<=`,
`>=`), the order of the loops with a bound above 1 against a permutation constraint,
and keep/bypass constraints.
"""

from __future__ import annotations

from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.model.nest import LoopNest
from cim_plugin.spec.arch import Architecture
from cim_plugin.spec.mapping import LevelMapping, Mapping, parse_factors
from cim_plugin.spec.problem import Problem

CONSTRAINT_KEYS = ("architecture_constraints", "mapspace_constraints", "constraints")


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


def _perm_order_ok(constraint_inner_first: str, loops_inner_first: list[str]) -> bool:
    """Loops with a bound above 1 must appear in the constraint's relative order."""
    rank = {d: k for k, d in enumerate(constraint_inner_first)}
    listed = [d for d in loops_inner_first if d in rank]
    return all(rank[a] < rank[b] for a, b in zip(listed, listed[1:]))


def check_constraints(targets: list[dict[str, Any]], arch: Architecture, problem: Problem,
                      mapping: Mapping, nest: LoopNest | None = None) -> list[str]:
    """One warning per broken constraint (empty when the mapping satisfies them all)."""
    names = [s.base_name for s in arch.storage]
    warnings: list[str] = []
    for i, t in enumerate(targets):
        target = str(t.get("target"))
        kind = str(t.get("type"))
        where = f"constraint {i} ({target} {kind})"
        if target not in names:
            if target != arch.compute.base_name:
                warnings.append(f"{where}: names no level of the architecture")
            continue
        lm = mapping.levels.get(target) or LevelMapping(target=target)
        if kind in ("temporal", "spatial"):
            factors = lm.temporal if kind == "temporal" else lm.spatial
            for d, (op, v) in parse_factors(t.get("factors"), field_name=where).items():
                if d not in problem.dimensions or v == 0:
                    continue                      # 0 = "whatever remains" in Timeloop
                got = factors.get(d, 1)
                ok = {"=": got == v, "<=": got <= v, ">=": got >= v}[op]
                if not ok:
                    warnings.append(f"{where}: factor {d}{got} breaks {d}{op}{v}")
            perm = "".join(str(t.get("permutation") or "").split())
            if perm:
                own_perm = lm.temporal_permutation if kind == "temporal" else lm.spatial_permutation
                order = [d for d in own_perm if factors.get(d, 1) > 1]
                order += [d for d in problem.dimensions
                          if d not in order and factors.get(d, 1) > 1]
                if not _perm_order_ok(perm, order):
                    warnings.append(f"{where}: loop order {''.join(order)} (innermost first) "
                                    f"breaks permutation {perm}")
        elif kind in ("bypass", "datatype", "dataspace"):
            if nest is not None:
                kept = nest.levels[names.index(target)].keep
            else:
                kept = frozenset(ds.name for ds in problem.data_spaces if lm.keeps(ds.name))
            for ds in t.get("keep") or t.get("keep_only") or []:
                if str(ds) not in kept:
                    warnings.append(f"{where}: {ds} must be kept but the mapping bypasses it")
            for ds in t.get("bypass") or t.get("bypass_only") or []:
                if str(ds) in kept:
                    warnings.append(f"{where}: {ds} must be bypassed but the mapping keeps it")
    return warnings


__all__ = ["check_constraints", "constraint_targets"]
