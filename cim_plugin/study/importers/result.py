"""What an importer returns: the merged GEMM list, the operators it left out, the origin.

Both importers (ONNX graphs, Hugging Face configs) first list one GEMM per operator
(per layer), in model order, and then count identical shapes once with their
multiplicity, because the study evaluates a shape once and weights it by its count.
Operators that are not GEMMs are kept as a summary, so the user sees how much of the
model's arithmetic the study leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.study.workloads import Gemm, Workload, check_workload

#: longest merged name built by joining the operator names with "+"
MAX_JOINED_NAME = 64


@dataclass(frozen=True)
class SkippedOps:
    """Operators of one type that are not GEMMs, and their arithmetic.

    `ops` counts one operation per element produced (elementwise operators), per element
    read (reductions, softmax, normalisations) or per window element (pooling); layout
    operators (reshape, transpose, gather, ...) count 0. `unknown` nodes had no shape.
    """

    op_type: str
    nodes: int
    ops: int
    unknown: int = 0


@dataclass(frozen=True)
class Imported:
    """A model read into GEMMs: `workload` (merged), `raw` (one per operator, model order)."""

    workload: Workload
    raw: tuple[Gemm, ...]
    skipped: tuple[SkippedOps, ...] = ()
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def gemm_macs(self) -> int:
        return self.workload.total_macs

    @property
    def skipped_ops(self) -> int:
        return sum(s.ops for s in self.skipped)


def merge_gemms(raw: list[Gemm]) -> tuple[Gemm, ...]:
    """Identical shapes once, counts added, in order of first appearance.

    The merged name joins the distinct operator names with "+" while that stays short
    (`q_proj+k_proj+v_proj+o_proj`), else it is the first name and how many more.
    """
    groups: dict[tuple[int, int, int], list[Gemm]] = {}
    for g in raw:
        groups.setdefault(g.shape, []).append(g)
    out: list[Gemm] = []
    for members in groups.values():
        names = list(dict.fromkeys(g.name for g in members))
        joined = "+".join(names)
        if len(joined) > MAX_JOINED_NAME and len(names) > 1:
            joined = f"{names[0]} (+{len(names) - 1} more)"
        first = members[0]
        out.append(Gemm(joined, first.m, first.n, first.k, sum(g.count for g in members),
                        first.workload))
    return tuple(out)


def imported(name: str, raw: list[Gemm], *, description: str, file: str,
             skipped: tuple[SkippedOps, ...] = (), source: dict[str, Any] | None = None
             ) -> Imported:
    """The checked result: every GEMM within the limits, merged by shape."""
    if not raw:
        raise InputError("the model has no GEMM", file=file, field="graph",
                         expected="a model with MatMul, Gemm, Conv, ConvTranspose or a "
                                  "GEMM-like Einsum")
    tagged = [Gemm(g.name, g.m, g.n, g.k, g.count, name) for g in raw]
    merged = Workload(name, merge_gemms(tagged), description, dict(source or {}))
    check_workload(merged, file=file, field="gemms")
    return Imported(merged, tuple(tagged), skipped, dict(source or {}))


__all__ = ["Imported", "SkippedOps", "imported", "merge_gemms"]
