"""Problem spec: dimensions, data spaces (projections) and the instance bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cim_plugin.errors import InputError


@dataclass(frozen=True)
class DataSpace:
    """A tensor: one projection expression per rank, each a sum of (dim, coefficient)."""

    name: str
    projection: tuple[tuple[tuple[str, int], ...], ...]
    read_write: bool = False

    @property
    def dims(self) -> frozenset[str]:
        return frozenset(d for rank in self.projection for d, _ in rank)

    def tile_size(self, bounds: dict[str, int]) -> int:
        """Points of this tensor touched by a hyper-rectangle of loop bounds."""
        size = 1
        for rank in self.projection:
            size *= sum(coef * (bounds.get(d, 1) - 1) for d, coef in rank) + 1
        return size


@dataclass(frozen=True)
class Problem:
    name: str
    dimensions: tuple[str, ...]
    bounds: dict[str, int]
    data_spaces: tuple[DataSpace, ...]

    @property
    def macs(self) -> int:
        return math.prod(self.bounds[d] for d in self.dimensions)

    def data_space(self, name: str) -> DataSpace:
        for ds in self.data_spaces:
            if ds.name == name:
                return ds
        raise KeyError(name)

    def size(self, ds: DataSpace) -> int:
        return ds.tile_size(self.bounds)

    @property
    def simple_projections(self) -> bool:
        """True when every rank of every tensor is a single dimension (GEMM/einsum)."""
        return all(len(rank) == 1 and rank[0][1] == 1 for ds in self.data_spaces
                   for rank in ds.projection)


def gemm_problem(m: int, n: int, k: int, name: str = "gemm_ABZ") -> Problem:
    """Z[M,N] = A[M,K] . B[N,K] (B = weights), Timeloop's gemm_ABZ shape."""
    return Problem(
        name=name,
        dimensions=("M", "N", "K"),
        bounds={"M": m, "N": n, "K": k},
        data_spaces=(
            DataSpace("A", ((("M", 1),), (("K", 1),))),
            DataSpace("B", ((("N", 1),), (("K", 1),))),
            DataSpace("Z", ((("M", 1),), (("N", 1),)), read_write=True),
        ),
    )


def _parse_rank(rank: Any, coeffs: dict[str, int], where: str, file: str | None) -> tuple[tuple[str, int], ...]:
    # A rank is a list of terms; a term is [dim] or [dim, coefficient-name-or-int].
    if isinstance(rank, str):
        return ((rank, 1),)
    terms = []
    for term in rank:
        if isinstance(term, str):
            terms.append((term, 1))
            continue
        if not isinstance(term, list) or not term:
            raise InputError(f"bad projection term {term!r}", file=file, field=where,
                             expected="[dim] or [dim, coefficient]")
        dim = str(term[0])
        coef: Any = 1
        if len(term) > 1:
            coef = term[1]
            if isinstance(coef, str):
                if coef not in coeffs:
                    raise InputError(f"unknown coefficient {coef!r}", file=file, field=where,
                                     expected=f"one of {sorted(coeffs)}")
                coef = coeffs[coef]
        terms.append((dim, int(coef)))
    return tuple(terms)


def load_problem(doc: dict[str, Any], file: str | None = None) -> Problem:
    """Problem from a merged input document (`problem: {shape, instance}`)."""
    prob = doc.get("problem")
    if not isinstance(prob, dict):
        raise InputError("no 'problem' mapping", file=file, field="problem",
                         expected="problem: {shape: ..., instance: ...}")
    shape = prob.get("shape")
    inst = prob.get("instance")
    if not isinstance(shape, dict) or not isinstance(inst, dict):
        raise InputError("problem needs 'shape' and 'instance'", file=file, field="problem",
                         expected="problem: {shape: {dimensions, data_spaces}, instance: {...}}")
    dims = tuple(str(d) for d in shape.get("dimensions") or [])
    if not dims:
        raise InputError("no dimensions", file=file, field="problem.shape.dimensions",
                         expected="a list such as [M, N, K]")
    coeffs: dict[str, int] = {}
    for c in shape.get("coefficients") or []:
        name = str(c["name"])
        coeffs[name] = int(inst.get(name, c.get("default", 1)))
    bounds: dict[str, int] = {}
    for d in dims:
        v = inst.get(d, 1)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"bound of {d} is {v!r}", file=file, field=f"problem.instance.{d}",
                             expected="a positive integer")
        bounds[d] = v
    spaces = []
    for i, ds in enumerate(shape.get("data_spaces") or []):
        where = f"problem.shape.data_spaces[{i}]"
        if not isinstance(ds, dict) or "name" not in ds or "projection" not in ds:
            raise InputError("data space needs name and projection", file=file, field=where)
        proj = tuple(_parse_rank(r, coeffs, f"{where}.projection", file) for r in ds["projection"])
        for rank in proj:
            for d, _ in rank:
                if d not in dims:
                    raise InputError(f"projection uses unknown dimension {d!r}", file=file,
                                     field=f"{where}.projection", expected=f"one of {list(dims)}")
        spaces.append(DataSpace(str(ds["name"]), proj, bool(ds.get("read_write", False))))
    if not spaces:
        raise InputError("no data spaces", file=file, field="problem.shape.data_spaces")
    return Problem(name=str(shape.get("name", "problem")), dimensions=dims, bounds=bounds,
                   data_spaces=tuple(spaces))
