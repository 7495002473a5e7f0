"""CiM awareness: the macro geometry read from a spec, and the priority mappings as seeds.

A CiM design in Timeloop form (ours, the method's own, or a user's) has a CiM compute
unit (class or subclass containing "cim", or a `cim_latency_cycles` attribute), an array
fan-out of Cp columns (X) by Rp rows (Y) right above it, optionally a bank fan-out above
that, and below the fan-outs one level that keeps only the inputs A (Rh words), one that
keeps only the outputs Z (Ch words) and one that keeps only the weights B (the CiM
storage). Everything the priority algorithm needs is read from there, so any such spec
gets the priority mappings (both thresholds, with and without weight duplication) as
seeds. A seed outside the spec's mapspace is left out; the search never needs seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from cim_plugin.errors import InputError
from cim_plugin.mapping.mapspace import Choice, MapSpace
from cim_plugin.mapping.priority import CimNames, CimShape, PlainLevel, priority_mapping

THRESHOLDS = (4, 32)          # the method's RF-level and SMEM-level values


@dataclass(frozen=True)
class CimGeometry:
    shape: CimShape
    banks: tuple[int, int]
    names: CimNames
    plain: tuple[PlainLevel, ...]         # storage levels above the banks, outermost first


def geometry(space: MapSpace) -> CimGeometry | None:
    """The CiM geometry of the spec, or None when it is not a GEMM on a CiM design."""
    if not space.arch.compute.is_cim or set(space.dims) != {"M", "N", "K"}:
        return None
    names = {ds.name: frozenset(ds.dims) for ds in space.problem.data_spaces}
    if names != {"A": {"M", "K"}, "B": {"N", "K"}, "Z": {"M", "N"}}:
        return None
    fan = list(space.fanout_levels)
    if not fan:
        return None
    array = fan[-1]
    bank = fan[-2] if len(fan) > 1 else None
    below = range(array + 1, space.n_levels)
    role = {}
    for i in below:
        lv = space.levels[i]
        keep = lv.keep_fixed | frozenset(lv.keep_free)
        if len(keep) == 1:
            role.setdefault(next(iter(keep)), i)
    if set(role) != {"A", "B", "Z"}:
        return None
    cap_a = space.levels[role["A"]].capacity
    cap_z = space.levels[role["Z"]].capacity
    if not cap_a or not cap_z:
        return None
    cp, rp = space.levels[array].fanout
    top = bank if bank is not None else array
    plain = tuple(PlainLevel(lv.name, lv.capacity,
                             tuple(sorted(lv.keep_fixed | frozenset(lv.keep_free))))
                  for lv in space.levels[:top + 1] if not lv.dummy)
    if not plain:
        return None

    def strip(name: str) -> str:
        return name[len("inter_"):-len("_spatial")] if name.startswith("inter_") else name

    return CimGeometry(
        shape=CimShape(rp=rp, cp=cp, rh=cap_a, ch=cap_z),
        banks=space.levels[bank].fanout if bank is not None else (1, 1),
        names=CimNames(bank=strip(space.levels[bank].name) if bank is not None else "CiMBank",
                       array=strip(space.levels[array].name), inp=space.levels[role["A"]].name,
                       out=space.levels[role["Z"]].name, storage=space.levels[role["B"]].name),
        plain=plain)


def priority_seeds(space: MapSpace) -> list[Choice]:
    """The priority mappings that lie in the mapspace (none for a non-CiM spec)."""
    geo = geometry(space)
    if geo is None:
        return []
    m, n, k = (space.problem.bounds[d] for d in ("M", "N", "K"))
    out: list[Choice] = []
    for threshold in THRESHOLDS:
        for duplicate in (False, True):
            try:
                pm = priority_mapping(m, n, k, geo.shape, geo.banks, threshold=threshold,
                                      levels=list(geo.plain), duplicate=duplicate, names=geo.names)
                choice = space.from_mapping(pm.mapping())
            except InputError:
                continue
            if choice not in out:
                out.append(choice)
    return out
