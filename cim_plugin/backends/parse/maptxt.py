"""Parser of Timeloop's `*.map.txt` (TL src/mapping/nest.cpp `PrettyPrint`).

Levels are printed outermost first as `name [ DS:tile (utilized) ... ]` headers and
`| for D in [0:n)` loops, ` (Spatial-X|Y)` on spatial loops. Levels without loops
print only their header; the loops under a group of headers belong to the last
(innermost) one. Unit loops are not printed, so a level absent here has factor 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cim_plugin.errors import InputError
from cim_plugin.spec.mapping import LevelMapping, Mapping
from cim_plugin.spec.yamlio import read_input_text

_HEADER_RE = re.compile(r"^(?P<name>[^\s|\[][^\s\[]*)\s*\[(?P<tiles>.*)\]\s*$")
_TILE_RE = re.compile(r"(\w+):(\d+)(?:\s*\((\d+)\))?")
_LOOP_RE = re.compile(r"^\|\s*for\s+(?P<dim>\w+)\s+in\s+\[(?P<lo>\d+):(?P<hi>\d+)(?:,(?P<res>\d+))?\)"
                      r"(?:\s*\((?P<kind>Spatial-[XY])\))?")


@dataclass(frozen=True)
class Loop:
    dim: str
    start: int
    end: int
    residual: int | None = None        # imperfect factorization: last iteration's size
    spatial: str | None = None         # "X", "Y" or None for temporal

    @property
    def bound(self) -> int:
        return self.end - self.start


@dataclass
class MapTxtLevel:
    name: str
    tiles: dict[str, tuple[int, int]] = field(default_factory=dict)   # DS -> (tile, utilized)
    loops: list[Loop] = field(default_factory=list)                   # outermost first


@dataclass
class MapTxt:
    levels: list[MapTxtLevel]            # outermost first
    source: str | None = None

    def level(self, name: str) -> MapTxtLevel:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(name)

    def to_mapping(self, dataspaces: tuple[str, ...] | None = None) -> Mapping:
        """Factors, permutations (innermost first), split and keep of each level.

        Unit loops are not printed, so permutations hold only the printed loops;
        with `dataspaces` given, what a level does not keep is listed as bypassed.
        """
        levels: dict[str, LevelMapping] = {}
        for lv in self.levels:
            lm = LevelMapping(target=lv.name)
            inner_first = list(reversed(lv.loops))
            temporal = [lp for lp in inner_first if lp.spatial is None]
            xs = [lp for lp in inner_first if lp.spatial == "X"]
            ys = [lp for lp in inner_first if lp.spatial == "Y"]
            lm.temporal = {lp.dim: lp.bound for lp in temporal}
            lm.temporal_permutation = tuple(lp.dim for lp in temporal)
            if xs or ys:
                lm.spatial = {lp.dim: lp.bound for lp in xs + ys}
                lm.spatial_permutation = tuple(lp.dim for lp in xs + ys)
                lm.split = len(xs)
            lm.keep = frozenset(lv.tiles)
            if dataspaces is not None:
                lm.bypass = frozenset(d for d in dataspaces if d not in lv.tiles)
            levels[lv.name] = lm
        return Mapping(levels=levels, source=self.source)


def parse_map_text(text: str, source: str | None = None) -> MapTxt:
    """map.txt contents -> `MapTxt`."""
    where = source or "<map.txt>"
    levels: list[MapTxtLevel] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip() or set(line.strip()) == {"-"}:
            continue
        m = _HEADER_RE.match(line)
        if m:
            lv = MapTxtLevel(name=m.group("name"))
            for tm in _TILE_RE.finditer(m.group("tiles")):
                tile = int(tm.group(2))
                used = int(tm.group(3)) if tm.group(3) is not None else tile
                lv.tiles[tm.group(1)] = (tile, used)
            levels.append(lv)
            continue
        if "<< Compute >>" in line:
            continue
        m = _LOOP_RE.match(line.strip() if line.lstrip().startswith("|") else line)
        if m:
            if not levels:
                raise InputError("loop before any level header", file=where, field=f"line {n}",
                                 expected="'name [ DS:tile (utilized) ]' then '| for ...' lines")
            kind = m.group("kind")
            levels[-1].loops.append(Loop(
                dim=m.group("dim"), start=int(m.group("lo")), end=int(m.group("hi")),
                residual=int(m.group("res")) if m.group("res") else None,
                spatial=kind[-1] if kind else None))
            continue
        # anything else (metadata lines of other versions) is ignored
    if not levels:
        raise InputError("no mapping levels found", file=where,
                         expected="a Timeloop map.txt ('name [ ... ]' headers)")
    return MapTxt(levels=levels, source=source)


def parse_map_txt(path: str | Path) -> MapTxt:
    return parse_map_text(read_input_text(path, "a Timeloop *.map.txt", lenient=True), str(path))
