"""Mappings in Timeloop's `map.yaml` form.

A mapping is a list of targets: `{target, type: datatype|bypass, keep, bypass}` and
`{target, type: temporal|spatial, factors, permutation, split}`. Factors are written
`M4 N8 K1` or `M=4,N=8,K=1`; permutations list dimensions innermost first; `split: s`
puts the first s spatial permutation entries on X and the rest on Y.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.yamlio import load_yaml

_FACTOR_RE = re.compile(r"([A-Za-z]+)\s*(=|<=|>=)?\s*(\d+)")


def parse_factors(text: Any, *, file: str | None = None, field_name: str = "factors"
                  ) -> dict[str, tuple[str, int]]:
    """`"M4 N8 K1"` or `"M=4,N<=8"` -> {dim: (op, value)}."""
    if text is None:
        return {}
    if isinstance(text, list):
        text = ",".join(str(t) for t in text)
    out: dict[str, tuple[str, int]] = {}
    rest = str(text)
    for m in _FACTOR_RE.finditer(rest):
        out[m.group(1)] = (m.group(2) or "=", int(m.group(3)))
    leftover = _FACTOR_RE.sub("", rest).replace(",", "").replace(" ", "")
    if leftover:
        raise InputError(f"cannot parse factors {text!r}", file=file, field=field_name,
                         expected="e.g. 'M4 N8 K1' or 'M=4,N=8,K=1'")
    return out


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


def mapping_from_list(entries: list[Any], *, file: str | None = None,
                      dims: tuple[str, ...] | None = None) -> Mapping:
    levels: dict[str, LevelMapping] = {}
    for i, e in enumerate(entries):
        where = f"mapping[{i}]"
        if not isinstance(e, dict) or "target" not in e or "type" not in e:
            raise InputError("each mapping entry needs target and type", file=file, field=where,
                             expected="{target, type: temporal|spatial|datatype|bypass, ...}")
        name = str(e["target"])
        lm = levels.setdefault(name, LevelMapping(target=name))
        kind = str(e["type"])
        if kind in ("datatype", "bypass", "dataspace"):
            if e.get("keep") is not None:
                lm.keep = frozenset(str(x) for x in e["keep"])
            if e.get("bypass") is not None:
                lm.bypass = frozenset(str(x) for x in e["bypass"])
            continue
        if kind not in ("temporal", "spatial"):
            raise InputError(f"unknown mapping type {kind!r}", file=file, field=f"{where}.type",
                             expected="temporal, spatial, datatype or bypass")
        facs = parse_factors(e.get("factors"), file=file, field_name=f"{where}.factors")
        values: dict[str, int] = {}
        for d, (op, v) in facs.items():
            if op != "=":
                raise InputError(f"factor {d}{op}{v} is a constraint, not a mapping", file=file,
                                 field=f"{where}.factors", expected="exact factors such as M4")
            if dims is not None and d not in dims:
                raise InputError(f"unknown dimension {d!r}", file=file, field=f"{where}.factors",
                                 expected=f"one of {list(dims)}")
            values[d] = v
        perm = tuple(str(e.get("permutation") or ""))
        if kind == "temporal":
            lm.temporal = values
            lm.temporal_permutation = perm
        else:
            lm.spatial = values
            lm.spatial_permutation = perm
            if e.get("split") is not None:
                lm.split = int(e["split"])
    return Mapping(levels=levels, source=file)


def load_mapping(source: str | Path | dict[str, Any] | list[Any], *,
                 dims: tuple[str, ...] | None = None, file: str | None = None) -> Mapping:
    """Mapping from a map.yaml path, a document with `mapping:`, or a list."""
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
    return mapping_from_list(entries, file=file, dims=dims)
