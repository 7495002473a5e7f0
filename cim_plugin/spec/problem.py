"""Problem spec: dimensions, data spaces (projections) and the instance bounds.

`load_problem` checks what Timeloop would otherwise take on trust: every dimension has
a bound (a missing one is an error, not 1), bounds lie within the documented limits
(`cim_plugin.spec.limits`: each at most 2**31, their product at most 2**62), names are
plain identifiers, and `instance` holds only bounds, coefficients and densities.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.limits import MAX_DIMENSION, check_bound, check_macs
from cim_plugin.spec.names import check_dimension, check_identifier, check_label
from cim_plugin.spec.values import show, to_real


@dataclass(frozen=True)
class DataSpace:
    """A tensor: one projection expression per rank, each a sum of (dim, coefficient)."""

    name: str
    projection: tuple[tuple[tuple[str, int], ...], ...]
    read_write: bool = False

    @functools.cached_property
    def dims(self) -> frozenset[str]:
        """The dimensions indexing the tensor (made once: a frozen tensor's never change)."""
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

    @functools.cached_property
    def macs(self) -> int:
        """Product of the bounds (made once: a problem's bounds are not changed)."""
        return math.prod(self.bounds[d] for d in self.dimensions)

    def size(self, ds: DataSpace) -> int:
        return ds.tile_size(self.bounds)

    @functools.cached_property
    def dataspace_sizes(self) -> dict[str, int]:
        """Every tensor's size by name (made once per problem; read, never changed: an
        engine per architecture shares one problem's)."""
        return {ds.name: self.size(ds) for ds in self.data_spaces}

    @functools.cached_property
    def simple_projections(self) -> bool:
        """True when every rank of every tensor is a single dimension (GEMM/einsum)."""
        return all(len(rank) == 1 and rank[0][1] == 1 for ds in self.data_spaces
                   for rank in ds.projection)


#: Timeloop's gemm_ABZ, Z[M,N] = A[M,K] . B[N,K] (B = weights): its dimensions and the
#: dimensions each tensor is indexed by (Z read-write). The embedded problem, the v0.4
#: document the exported designs carry and the priority algorithm all read this table.
GEMM_DIMS = ("M", "N", "K")
GEMM_TENSORS: dict[str, tuple[str, str]] = {"A": ("M", "K"), "B": ("N", "K"), "Z": ("M", "N")}
GEMM_OUTPUT = "Z"


def gemm_problem(m: int, n: int, k: int, name: str = "gemm_ABZ") -> Problem:
    """The gemm_ABZ problem of bounds M=m, N=n, K=k."""
    return Problem(
        name=name,
        dimensions=GEMM_DIMS,
        bounds=dict(zip(GEMM_DIMS, (m, n, k))),
        data_spaces=tuple(DataSpace(t, tuple(((d, 1),) for d in dims), read_write=t == GEMM_OUTPUT)
                          for t, dims in GEMM_TENSORS.items()),
    )


def gemm_problem_doc(m: int, n: int, k: int) -> dict[str, Any]:
    """The gemm_ABZ problem as a Timeloop v0.4 `problem:` document."""
    for v, dim in zip((m, n, k), GEMM_DIMS):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"GEMM dimension {dim} must be a positive integer, got {v!r}",
                             field=dim, expected="an integer >= 1")
    spaces = []
    for t, dims in GEMM_TENSORS.items():
        ds: dict[str, Any] = {"name": t, "projection": [[[d]] for d in dims]}
        if t == GEMM_OUTPUT:
            ds["read_write"] = True
        spaces.append(ds)
    return {"problem": {
        "version": 0.4,
        "shape": {"name": "gemm_ABZ", "dimensions": list(GEMM_DIMS), "data_spaces": spaces},
        "instance": dict(zip(GEMM_DIMS, (m, n, k)))}}


PROBLEM_KEYS = ("shape", "instance", "version")
SHAPE_KEYS = ("name", "dimensions", "coefficients", "data_spaces", "version")
DATA_SPACE_KEYS = ("name", "projection", "read_write")


def _unknown_keys(d: dict[str, Any], allowed: tuple[str, ...], file: str | None, where: str) -> None:
    unknown = [k for k in d if k not in allowed]
    if unknown:
        raise InputError(f"unknown key {show(unknown[0])}", file=file, field=f"{where}.{unknown[0]}",
                         expected=f"keys among {', '.join(allowed)}")


def _coefficient(value: Any, file: str | None, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"coefficient {show(value)} is not an integer", file=file, field=where,
                         expected=f"an integer from 1 to {MAX_DIMENSION}")
    return check_bound(value, file=file, field=where, what="coefficient")


def _parse_rank(rank: Any, coeffs: dict[str, int], where: str, file: str | None) -> tuple[tuple[str, int], ...]:
    # A rank is a dimension, or a list of terms; a term is dim, [dim] or [dim, coefficient].
    if isinstance(rank, str):
        return ((rank, 1),)
    if not isinstance(rank, list) or not rank:
        raise InputError(f"bad projection rank {show(rank)}", file=file, field=where,
                         expected="a dimension or a non-empty list of [dim] / [dim, coefficient]")
    terms = []
    for term in rank:
        if isinstance(term, str):
            terms.append((term, 1))
            continue
        if not isinstance(term, list) or not 1 <= len(term) <= 2 or not isinstance(term[0], str):
            raise InputError(f"bad projection term {show(term)}", file=file, field=where,
                             expected="[dim] or [dim, coefficient]")
        dim = term[0]
        coef: Any = 1
        if len(term) > 1:
            coef = term[1]
            if isinstance(coef, str):
                if coef not in coeffs:
                    raise InputError(f"unknown coefficient {show(coef)}", file=file, field=where,
                                     expected=f"one of {sorted(coeffs)}")
                coef = coeffs[coef]
            coef = _coefficient(coef, file, where)
        terms.append((dim, coef))
    return tuple(terms)


def _densities(value: Any, names: list[str], file: str | None) -> None:
    """Timeloop's `instance.densities`: {tensor: density or {density, distribution, ...}}.

    The embedded model is dense; densities are checked (a tensor of the problem, a
    fraction from 0 to 1) so that a typo is not passed on to Timeloop unnoticed.
    """
    where = "problem.instance.densities"
    if not isinstance(value, dict):
        raise InputError("densities must be a mapping", file=file, field=where,
                         expected="{tensor: density} with densities from 0 to 1")
    for ds, d in value.items():
        if ds not in names:
            raise InputError(f"density of unknown tensor {show(ds)}", file=file,
                             field=f"{where}.{ds}", expected=f"one of {names}")
        if isinstance(d, dict):
            if "density" not in d:
                raise InputError("no density given", file=file, field=f"{where}.{ds}.density",
                                 expected="a density from 0 to 1")
            d = d["density"]
        to_real(d, file=file, field=f"{where}.{ds}", minimum=0.0, maximum=1.0,
                expected="a density from 0 to 1")


def load_problem(doc: dict[str, Any], file: str | None = None) -> Problem:
    """Problem from a merged input document (`problem: {shape, instance}`).

    Every dimension needs a bound in `instance` (a missing one is an error, not 1), and
    `instance` holds nothing but bounds, coefficients and densities.
    """
    prob = doc.get("problem")
    if not isinstance(prob, dict):
        raise InputError("no 'problem' mapping", file=file, field="problem",
                         expected="problem: {shape: ..., instance: ...}")
    shape = prob.get("shape")
    inst = prob.get("instance")
    if not isinstance(shape, dict) or not isinstance(inst, dict):
        raise InputError("problem needs 'shape' and 'instance'", file=file, field="problem",
                         expected="problem: {shape: {dimensions, data_spaces}, instance: {...}}")
    _unknown_keys(prob, PROBLEM_KEYS, file, "problem")
    _unknown_keys(shape, SHAPE_KEYS, file, "problem.shape")
    raw_dims = shape.get("dimensions")
    if not isinstance(raw_dims, list) or not raw_dims:
        raise InputError("no dimensions", file=file, field="problem.shape.dimensions",
                         expected="a list such as [M, N, K]")
    dims = tuple(check_dimension(d, file=file, field=f"problem.shape.dimensions[{i}]")
                 for i, d in enumerate(raw_dims))
    if len(set(dims)) != len(dims):
        dup = next(d for d in dims if dims.count(d) > 1)
        raise InputError(f"dimension {dup!r} listed twice", file=file,
                         field="problem.shape.dimensions", expected="distinct dimension names")
    coeffs: dict[str, int] = {}
    raw_coeffs = shape.get("coefficients") or []
    if not isinstance(raw_coeffs, list):
        raise InputError("coefficients must be a list", file=file, field="problem.shape.coefficients",
                         expected="[{name: Wstride, default: 1}, ...]")
    for i, c in enumerate(raw_coeffs):
        where = f"problem.shape.coefficients[{i}]"
        if not isinstance(c, dict) or "name" not in c:
            raise InputError("coefficient needs a name", file=file, field=where,
                             expected="{name: Wstride, default: 1}")
        name = check_identifier(c["name"], file=file, field=f"{where}.name", what="coefficient")
        if name in dims:
            raise InputError(f"coefficient {name!r} has the name of a dimension", file=file,
                             field=f"{where}.name", expected="a name that is not a dimension")
        value_where = f"problem.instance.{name}" if name in inst else f"{where}.default"
        coeffs[name] = _coefficient(inst.get(name, c.get("default", 1)), file, value_where)
    allowed = (*dims, *coeffs, "densities")
    for key in inst:
        if key not in allowed:
            raise InputError(f"unknown instance key {show(key)}", file=file,
                             field=f"problem.instance.{key}",
                             expected=f"bounds of {', '.join(dims)}, coefficients or densities")
    bounds: dict[str, int] = {}
    for d in dims:
        if d not in inst:
            raise InputError(f"no bound for dimension {d}", file=file, field=f"problem.instance.{d}",
                             expected="a positive integer for every dimension")
        v = inst[d]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"bound of {d} is {show(v)}", file=file, field=f"problem.instance.{d}",
                             expected="a positive integer")
        bounds[d] = check_bound(v, file=file, field=f"problem.instance.{d}", what=f"bound of {d}")
    check_macs(bounds.values(), file=file, field="problem.instance")
    raw_spaces = shape.get("data_spaces")
    if not isinstance(raw_spaces, list) or not raw_spaces:
        raise InputError("no data spaces", file=file, field="problem.shape.data_spaces",
                         expected="a list of {name, projection}")
    spaces = []
    for i, ds in enumerate(raw_spaces):
        where = f"problem.shape.data_spaces[{i}]"
        if not isinstance(ds, dict) or "name" not in ds or "projection" not in ds:
            raise InputError("data space needs name and projection", file=file, field=where,
                             expected="{name, projection, read_write}")
        _unknown_keys(ds, DATA_SPACE_KEYS, file, where)
        name = check_identifier(ds["name"], file=file, field=f"{where}.name", what="data space")
        if not isinstance(ds["projection"], list) or not ds["projection"]:
            raise InputError("projection must be a non-empty list", file=file,
                             field=f"{where}.projection", expected="one entry per tensor rank")
        proj = tuple(_parse_rank(r, coeffs, f"{where}.projection", file) for r in ds["projection"])
        for rank in proj:
            for d, _ in rank:
                if d not in dims:
                    raise InputError(f"projection uses unknown dimension {show(d)}", file=file,
                                     field=f"{where}.projection", expected=f"one of {list(dims)}")
        rw = ds.get("read_write", False)
        if not isinstance(rw, bool):
            raise InputError(f"read_write {show(rw)} is not true/false", file=file,
                             field=f"{where}.read_write", expected="true or false")
        if any(s.name == name for s in spaces):
            raise InputError(f"data space {name!r} defined twice", file=file, field=f"{where}.name",
                             expected="distinct data space names")
        spaces.append(DataSpace(name, proj, rw))
    if "densities" in inst:
        _densities(inst["densities"], [s.name for s in spaces], file)
    name = shape.get("name", "problem")
    return Problem(name=check_label(name, file=file, field="problem.shape.name"),
                   dimensions=dims, bounds=bounds, data_spaces=tuple(spaces))
