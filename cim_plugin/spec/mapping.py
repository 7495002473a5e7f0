"""Mappings in Timeloop's `map.yaml` form.

A mapping is a list of targets: `{target, type: datatype|bypass, keep, bypass}` and
`{target, type: temporal|spatial, factors, permutation, split}`. Factors are written
`M4 N8 K1` or `M=4,N=8,K=1`; permutations list dimensions innermost first; `split: s`
puts the first s spatial permutation entries on X and the rest on Y.

Every field is checked when read: a permutation letter that is no dimension, a factor
of 0, a tensor both kept and bypassed or a level given twice is an InputError naming
the file and the entry, never a silently different mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.limits import MAX_DIMENSION, MAX_NUMBER_TEXT
from cim_plugin.spec.names import check_identifier
from cim_plugin.spec.values import show, to_int
from cim_plugin.spec.yamlio import load_yaml

#: largest spatial `split` (dimensions on the X axis)
MAX_SPLIT = 64

_FACTOR_RE = re.compile(r"([A-Za-z]+)\s*(=|<=|>=)?\s*([0-9]+)", re.ASCII)
ENTRY_KEYS = ("target", "type", "factors", "permutation", "split", "keep", "bypass")
FACTORS_TEXT = "e.g. 'M4 N8 K1' or 'M=4,N=8,K=1'"


def factor_items(text: Any, *, file: str | None = None, field_name: str = "factors"
                 ) -> list[tuple[str, str, int]]:
    """`"M4 N8 K1"` or `"M=4,N<=8"` -> [(dim, op, value), ...] in written order."""
    if text is None:
        return []
    if isinstance(text, list):
        text = ",".join(str(t) for t in text)
    if not isinstance(text, str):
        raise InputError(f"factors {show(text)} are not text", file=file, field=field_name,
                         expected=FACTORS_TEXT)
    out: list[tuple[str, str, int]] = []
    for m in _FACTOR_RE.finditer(text):
        digits = m.group(3)
        if len(digits) > MAX_NUMBER_TEXT:
            raise InputError(f"factor {m.group(1)} has {len(digits)} digits", file=file,
                             field=field_name, expected=f"factors of at most {MAX_DIMENSION}")
        out.append((m.group(1), m.group(2) or "=", int(digits)))
    leftover = _FACTOR_RE.sub("", text).replace(",", "").replace(" ", "")
    if leftover:
        raise InputError(f"cannot parse factors {show(text)}", file=file, field=field_name,
                         expected=FACTORS_TEXT)
    return out


def parse_factors(text: Any, *, file: str | None = None, field_name: str = "factors"
                  ) -> dict[str, tuple[str, int]]:
    """`"M4 N8 K1"` or `"M=4,N<=8"` -> {dim: (op, value)}."""
    return {d: (op, v) for d, op, v in factor_items(text, file=file, field_name=field_name)}


@dataclass
class LevelMapping:
    """What a mapping says about one level (base name)."""

    target: str
    temporal: dict[str, int] = field(default_factory=dict)
    temporal_permutation: tuple[str, ...] = ()       # innermost first
    spatial: dict[str, int] = field(default_factory=dict)
    spatial_permutation: tuple[str, ...] = ()        # innermost first
    split: int | None = None
    keep: frozenset[str] | None = None
    bypass: frozenset[str] | None = None

    def keeps(self, ds: str) -> bool:
        """Timeloop: an unspecified dataspace is kept."""
        if self.bypass is not None and ds in self.bypass:
            return False
        return True


@dataclass
class Mapping:
    levels: dict[str, LevelMapping]
    source: str | None = None

    def level(self, name: str) -> LevelMapping:
        if name not in self.levels:
            self.levels[name] = LevelMapping(target=name)
        return self.levels[name]

    def to_yaml_list(self, order_inner_first: list[str], dims: tuple[str, ...]) -> list[dict[str, Any]]:
        """Timeloop's map.yaml list: datatype entries, then loops, innermost level first."""
        out: list[dict[str, Any]] = []
        for name in order_inner_first:
            lm = self.levels.get(name) or LevelMapping(target=name)
            if lm.keep is None and lm.bypass is None:
                continue            # unspecified: leave Timeloop's default, claim nothing
            keep = sorted(lm.keep) if lm.keep is not None else []
            byp = sorted(lm.bypass) if lm.bypass is not None else []
            out.append({"target": name, "type": "datatype", "keep": keep, "bypass": byp})
        for name in order_inner_first:
            lm = self.levels.get(name) or LevelMapping(target=name)
            if lm.spatial or lm.split is not None:
                perm = _full_perm(lm.spatial_permutation, dims)
                out.append({"target": name, "type": "spatial",
                            "factors": " ".join(f"{d}{lm.spatial.get(d, 1)}" for d in dims),
                            "permutation": "".join(perm),
                            "split": lm.split if lm.split is not None else len(perm)})
            out.append({"target": name, "type": "temporal",
                        "factors": " ".join(f"{d}{lm.temporal.get(d, 1)}" for d in dims),
                        "permutation": "".join(_full_perm(lm.temporal_permutation, dims))})
        return out


def _full_perm(perm: tuple[str, ...], dims: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(perm) + tuple(d for d in dims if d not in perm)


def _tensor_list(value: Any, file: str | None, where: str,
                 dataspaces: tuple[str, ...] | None) -> frozenset[str]:
    if not isinstance(value, list):
        raise InputError(f"{show(value)} is not a list of tensors", file=file, field=where,
                         expected="a list such as [A, B]")
    names = []
    for x in value:
        name = check_identifier(x, file=file, field=where, what="tensor")
        if dataspaces is not None and name not in dataspaces:
            raise InputError(f"unknown tensor {name!r}", file=file, field=where,
                             expected=f"tensors of the problem: {', '.join(dataspaces)}")
        names.append(name)
    return frozenset(names)


def _permutation(value: Any, file: str | None, where: str,
                 dims: tuple[str, ...] | None) -> tuple[str, ...]:
    """Timeloop permutations list one-letter dimensions, innermost first."""
    if value is None:
        return ()
    if not isinstance(value, str):
        raise InputError(f"permutation {show(value)} is not text", file=file, field=where,
                         expected="dimension letters, innermost first, e.g. 'MNK'")
    perm = tuple("".join(value.replace(",", " ").split()))
    valid = dims if dims is not None else None
    for c in perm:
        if (valid is not None and c not in valid) or not c.isascii() or not c.isalpha():
            raise InputError(f"unknown dimension {c!r} in permutation {show(value)}", file=file,
                             field=where, expected="letters of the problem's dimensions"
                             + (f" ({''.join(valid)})" if valid else ""))
    if len(set(perm)) != len(perm):
        raise InputError(f"permutation {show(value)} repeats a dimension", file=file, field=where,
                         expected="each dimension at most once")
    return perm


def mapping_from_list(entries: list[Any], *, file: str | None = None,
                      dims: tuple[str, ...] | None = None,
                      dataspaces: tuple[str, ...] | None = None) -> Mapping:
    """Mapping from Timeloop's list of targets, every field checked.

    With `dims` and `dataspaces` (the problem's), factors, permutations and keep/bypass
    lists may only name those; a level's loops or keep sets may be given once, and a
    tensor cannot be both kept and bypassed.
    """
    levels: dict[str, LevelMapping] = {}
    seen: set[tuple[str, str]] = set()
    for i, e in enumerate(entries):
        where = f"mapping[{i}]"
        if not isinstance(e, dict) or "target" not in e or "type" not in e:
            raise InputError("each mapping entry needs target and type", file=file, field=where,
                             expected="{target, type: temporal|spatial|datatype|bypass, ...}")
        unknown = [k for k in e if k not in ENTRY_KEYS]
        if unknown:
            raise InputError(f"unknown key {show(unknown[0])}", file=file,
                             field=f"{where}.{unknown[0]}", expected=f"keys among {', '.join(ENTRY_KEYS)}")
        name = check_identifier(e["target"], file=file, field=f"{where}.target", what="target")
        kind = e["type"]
        if kind not in ("datatype", "bypass", "dataspace", "temporal", "spatial"):
            raise InputError(f"unknown mapping type {show(kind)}", file=file, field=f"{where}.type",
                             expected="temporal, spatial, datatype or bypass")
        group = "datatype" if kind in ("datatype", "bypass", "dataspace") else kind
        if (name, group) in seen:
            raise InputError(f"a second {group} entry for {name}", file=file, field=where,
                             expected=f"one {group} entry per target")
        seen.add((name, group))
        lm = levels.setdefault(name, LevelMapping(target=name))
        if group == "datatype":
            for key in ("factors", "permutation", "split"):
                if key in e:
                    raise InputError(f"{key} in a {kind} entry", file=file, field=f"{where}.{key}",
                                     expected="keep and bypass only")
            if e.get("keep") is not None:
                lm.keep = _tensor_list(e["keep"], file, f"{where}.keep", dataspaces)
            if e.get("bypass") is not None:
                lm.bypass = _tensor_list(e["bypass"], file, f"{where}.bypass", dataspaces)
            both = (lm.keep or frozenset()) & (lm.bypass or frozenset())
            if both:
                raise InputError(f"tensor {sorted(both)[0]} is both kept and bypassed", file=file,
                                 field=where, expected="each tensor in keep or in bypass, not both")
            continue
        for key in ("keep", "bypass"):
            if key in e:
                raise InputError(f"{key} in a {kind} entry", file=file, field=f"{where}.{key}",
                                 expected="factors, permutation (and split for spatial)")
        values: dict[str, int] = {}
        for d, op, v in factor_items(e.get("factors"), file=file, field_name=f"{where}.factors"):
            if op != "=":
                raise InputError(f"factor {d}{op}{v} is a constraint, not a mapping", file=file,
                                 field=f"{where}.factors", expected="exact factors such as M4")
            if dims is not None and d not in dims:
                raise InputError(f"unknown dimension {d!r}", file=file, field=f"{where}.factors",
                                 expected=f"one of {list(dims)}")
            if d in values:
                raise InputError(f"dimension {d} given twice", file=file, field=f"{where}.factors",
                                 expected="one factor per dimension")
            if not 1 <= v <= MAX_DIMENSION:
                raise InputError(f"factor {d}{v} is out of range", file=file,
                                 field=f"{where}.factors",
                                 expected=f"factors from 1 to {MAX_DIMENSION}")
            values[d] = v
        perm = _permutation(e.get("permutation"), file, f"{where}.permutation", dims)
        if kind == "temporal":
            if "split" in e:
                raise InputError("split in a temporal entry", file=file, field=f"{where}.split",
                                 expected="split on spatial entries only")
            lm.temporal = values
            lm.temporal_permutation = perm
        else:
            lm.spatial = values
            lm.spatial_permutation = perm
            if e.get("split") is not None:
                lm.split = to_int(e["split"], file=file, field=f"{where}.split", minimum=0,
                                  maximum=MAX_SPLIT)
    return Mapping(levels=levels, source=file)


def load_mapping(source: str | Path | dict[str, Any] | list[Any], *,
                 dims: tuple[str, ...] | None = None, file: str | None = None,
                 dataspaces: tuple[str, ...] | None = None) -> Mapping:
    """Mapping from a map.yaml path, a document with `mapping:`, or a list.

    Pass the problem's `dims` and `dataspaces` so that names are checked against it.
    """
    if isinstance(source, str | Path):
        file = str(source)
        source = load_yaml(source)
    entries: Any = source
    if isinstance(source, dict):
        entries = source.get("mapping")
        if isinstance(entries, dict):       # timeloopfe form: mapping: {targets: [...]}
            entries = entries.get("targets")
    if not isinstance(entries, list) or not entries:
        raise InputError("no mapping entries", file=file, field="mapping",
                         expected="a non-empty list of {target, type, ...}")
    return mapping_from_list(entries, file=file, dims=dims, dataspaces=dataspaces)
