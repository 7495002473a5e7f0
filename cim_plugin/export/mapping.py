"""The mapping an exported design carries, in Timeloop's form and in timeloopfe's.

A CiM design carries the priority algorithm's mapping (its constraints pin exactly
that mapping), or with `--mapping best` the mapper's best mapping under the design's
own constraints, seeded with the priority mappings: the mapping the study evaluates for
that design point. A design without CiM carries the mapper's best mapping, so every
exported folder can be evaluated at once.

Two forms of the same mapping are written:
  - `map.yaml`, Timeloop's own form (what timeloop-mapper writes): targets are the
    levels of the processed architecture, including the `inter_<node>_spatial` levels
    timeloopfe inserts above a fan-out; raw `timeloop-model` reads it;
  - `map.v4.yaml`, timeloopfe's v0.4 `mapping:` form: targets are architecture nodes,
    a fan-out's spatial loops name the node that has the fan-out (timeloopfe moves them
    to its `inter_<node>_spatial` level), factors and permutations are lists.
"""

from __future__ import annotations

from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.export.build import BuiltDesign
from cim_plugin.spec.arch import Architecture
from cim_plugin.spec.mapping import Mapping

DUMMY_PREFIX, DUMMY_SUFFIX = "inter_", "_spatial"


def design_mapping(b: BuiltDesign, objective: str = "edp", best: bool = False) -> Mapping:
    """The priority mapping of a CiM design (unless `best`), else the mapper's best under
    the design's constraints (seeded with the priority mappings, as the study maps it)."""
    if b.mapping is not None and not best:
        return b.mapping.mapping()
    from cim_plugin.api import map_with_preset
    from cim_plugin.library.ert_gen import generate_tables
    from cim_plugin.spec.problem import load_problem
    from cim_plugin.spec.v4 import flatten_v4_constraints

    arch = b.architecture
    ert, art = generate_tables(arch)
    found = map_with_preset("priority+search", arch, load_problem(b.processed), ert, art,
                            design_mapping=b.mapping.mapping() if b.mapping else None,
                            targets=flatten_v4_constraints(b.v4)["targets"],
                            objective=objective).search
    if found.padding is not None:
        raise InputError("the best mapping pads a dimension, which Timeloop cannot evaluate",
                         field="gemm", expected="GEMM dimensions the design's fan-outs divide")
    return found.mapping


def timeloop_mapping(mapping: Mapping, arch: Architecture, dims: tuple[str, ...]) -> list[dict]:
    """`map.yaml` entries (Timeloop's form), every level written out."""
    order = [s.base_name for s in arch.storage_inner_first]
    return mapping.to_yaml_list(order, dims)


def _dummy_node(level: str) -> str | None:
    if level.startswith(DUMMY_PREFIX) and level.endswith(DUMMY_SUFFIX):
        return level[len(DUMMY_PREFIX):-len(DUMMY_SUFFIX)]
    return None


def _factors(values: dict[str, int], dims: tuple[str, ...]) -> list[str]:
    return [f"{d}={int(values.get(d, 1))}" for d in dims]


def _permutation(perm: tuple[str, ...], dims: tuple[str, ...]) -> list[str]:
    return [*perm, *(d for d in dims if d not in perm)]


def timeloopfe_mapping(mapping: Mapping, arch: Architecture, dims: tuple[str, ...]
                       ) -> list[dict[str, Any]]:
    """The same mapping as timeloopfe's v0.4 `mapping:` list (outermost level first).

    Inserted `inter_<node>_spatial` levels contribute only their spatial loops, under
    the node's name; their temporal loops are 1 and they bypass everything, which
    timeloopfe sets itself.
    """
    out: list[dict[str, Any]] = []
    for level in arch.storage:
        lm = mapping.levels.get(level.base_name)
        if lm is None:
            continue
        node = _dummy_node(level.base_name) if level.dummy else None
        if node is not None:
            if any(v != 1 for v in lm.temporal.values()):
                raise InputError(f"temporal loops on the inserted level {level.base_name}",
                                 field=f"mapping.{level.base_name}",
                                 expected="spatial loops only on inter_*_spatial levels")
            if lm.spatial:
                perm = _permutation(lm.spatial_permutation, dims)
                out.append({"target": node, "type": "spatial",
                            "factors": _factors(lm.spatial, dims), "permutation": perm,
                            "split": lm.split if lm.split is not None else len(perm)})
            continue
        if any(v != 1 for v in lm.spatial.values()):
            raise InputError(f"spatial loops on {level.base_name}, which has no fan-out node",
                             field=f"mapping.{level.base_name}",
                             expected="spatial loops on inter_*_spatial levels")
        out.append({"target": level.base_name, "type": "temporal",
                    "factors": _factors(lm.temporal, dims),
                    "permutation": _permutation(lm.temporal_permutation, dims)})
        if lm.keep is not None or lm.bypass is not None:
            entry: dict[str, Any] = {"target": level.base_name, "type": "dataspace"}
            entry["keep"] = sorted(lm.keep or ())
            entry["bypass"] = sorted(lm.bypass or ())
            out.append(entry)
    return out
