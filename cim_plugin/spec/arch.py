"""Architecture spec: Timeloop's processed (`subtree`/`local`) form as typed levels.

Levels are kept outermost first, as they appear in the file. Timeloop numbers
storage levels from the innermost (level 0); `Architecture.storage_inner_first`
gives that order. The v0.4 `!Container/!Component/!Parallel` form is flattened
to the processed form first (`cim_plugin.spec.v4`).

Values the model reads are checked on load: sizes, widths and meshes are positive
integers within `cim_plugin.spec.limits`, level names are identifiers and unique, and
an unknown class names the file and the component.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.classes import component_kind
from cim_plugin.spec.limits import MAX_CAPACITY, MAX_INSTANCES
from cim_plugin.spec.names import check_identifier
from cim_plugin.spec.values import int_from_text, number_text, show, to_int, to_real

_NAME_RE = re.compile(r"^(?P<base>[^\[\]]+?)(\[(?P<lo>[0-9]{1,12})\.\.(?P<hi>[0-9]{1,12})\])?$",
                      re.ASCII)

#: widest word a level may hold (bits)
MAX_WORD_BITS = 4096


def as_number(value: Any, *, where: str, file: str | None = None) -> float | None:
    """Turn a YAML attribute into a finite number (None, "" and "-" stay None).

    Strings are read strictly (`cim_plugin.spec.values`): `6_4`, full-width digits,
    `nan`, `inf` and true/false are refused rather than coerced.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip() in ("", "-"):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > 10**300:
            raise InputError(f"value {show(value)} is too large", file=file, field=where,
                             expected="a finite number")
        return value
    if isinstance(value, str):
        number = int_from_text(value)
        if number is not None:
            return number
    return to_real(value, file=file, field=where, expected="a finite number")


def split_name(name: str, *, file: str | None = None, field: str = "name") -> tuple[str, int]:
    """`RF[1..4]` -> ("RF", 4); `DRAM` -> ("DRAM", 1)."""
    m = _NAME_RE.match(name.strip())
    if not m:
        raise InputError(f"cannot parse component name {show(name)}", file=file, field=field,
                         expected="NAME or NAME[1..N]")
    base = check_identifier(m.group("base"), file=file, field=field, what="component name")
    if m.group("lo") is None:
        return base, 1
    lo, hi = int(m.group("lo")), int(m.group("hi"))
    if hi < lo or hi - lo + 1 > MAX_INSTANCES:
        raise InputError(f"instance range [{lo}..{hi}] of {base} is empty or too large",
                         file=file, field=field,
                         expected=f"NAME[lo..hi] with lo <= hi and at most {MAX_INSTANCES} instances")
    return base, hi - lo + 1


@dataclass(frozen=True)
class Component:
    """One leaf as written in the spec (what Accelergy estimates)."""

    name: str                 # full name as in the spec, e.g. "RF[1..4]"
    base_name: str            # "RF"
    cls: str
    subclass: str | None
    instances: int
    mesh_x: int
    mesh_y: int
    attributes: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    required_actions: tuple[str, ...] = ()

    @property
    def estimator_class(self) -> str:
        """Accelergy estimates `subclass` if given, else `class`."""
        return self.subclass or self.cls


@dataclass(frozen=True)
class StorageLevel(Component):
    """A buffer level with the attributes Timeloop's BufferLevel reads."""

    word_bits: int = 8
    block_size: int = 1
    cluster_size: int = 1
    size: int | None = None            # capacity in words per instance; None = unbounded
    multiple_buffering: float = 1.0
    read_bandwidth: float | None = None
    write_bandwidth: float | None = None
    shared_bandwidth: float | None = None
    technology_dram: bool = False
    dummy: bool = False                # inserted `inter_*_spatial` level

    @property
    def effective_size(self) -> int | None:
        if self.size is None:
            return None
        return int(math.floor(self.size / self.multiple_buffering))


@dataclass(frozen=True)
class ComputeLevel(Component):
    """The arithmetic level (MACs or CiM units)."""

    word_bits: int = 8

    @property
    def is_cim(self) -> bool:
        """A CiM unit: its class or subclass names CiM, or it carries a CiM latency."""
        return "cim" in f"{self.cls} {self.subclass or ''}".lower() \
            or "cim_latency_cycles" in self.attributes


@dataclass(frozen=True)
class Architecture:
    """Storage levels (outermost first) above one compute level."""

    storage: tuple[StorageLevel, ...]
    compute: ComputeLevel
    attributes: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    source: str | None = None

    @property
    def storage_inner_first(self) -> tuple[StorageLevel, ...]:
        return tuple(reversed(self.storage))

    def level_names(self) -> list[str]:
        return [s.base_name for s in self.storage] + [self.compute.base_name]

    def storage_index(self, name: str) -> int:
        """Index in `storage` (outermost first) of a level given by base name."""
        for i, s in enumerate(self.storage):
            if s.base_name == name:
                return i
        raise KeyError(name)

    def fanout(self, i: int) -> tuple[int, int]:
        """(X, Y) fan-out from storage level i (outermost-first index) to its child."""
        parent = self.storage[i]
        child: Component = self.storage[i + 1] if i + 1 < len(self.storage) else self.compute
        return child.mesh_x // parent.mesh_x, child.mesh_y // parent.mesh_y

    @property
    def components(self) -> tuple[Component, ...]:
        return (*self.storage, self.compute)


def _attr_int(attrs: dict[str, Any], key: str, where: str, file: str | None,
              default: int | None = None, *, maximum: int = MAX_CAPACITY) -> int | None:
    """A positive integer attribute (absent: `default`); 0, negative or fractional
    values are refused, naming the level and the attribute."""
    raw = attrs.get(key)
    if type(raw) is int and 1 <= raw <= maximum:
        return raw                      # the usual case: nothing to convert or word
    if raw is None:
        return default                  # absent (as `as_number` reads None)
    field_name = f"{where}.attributes.{key}"
    v = as_number(raw, where=field_name, file=file)
    if v is None:
        return default
    return to_int(v, file=file, field=field_name, minimum=1, maximum=maximum,
                  expected=f"an integer from 1 to {number_text(maximum)}")


def _attr_real(attrs: dict[str, Any], key: str, where: str, file: str | None,
               maximum: float = 1e18) -> float | None:
    """A positive finite attribute (absent: None)."""
    raw = attrs.get(key)
    if type(raw) in (int, float) and 0 < raw <= maximum:
        return float(raw)               # the usual case (finite: NaN fails the test)
    if raw is None:
        return None                     # absent (as `as_number` reads None)
    field_name = f"{where}.attributes.{key}"
    v = as_number(raw, where=field_name, file=file)
    if v is None:
        return None
    return to_real(v, file=file, field=field_name, positive=True, maximum=maximum)


def _storage_from(leaf: dict[str, Any], base: Component, file: str | None) -> StorageLevel:
    attrs = base.attributes
    where = f"architecture.{base.name}"
    word_bits = _attr_int(attrs, "datawidth", where, file, maximum=MAX_WORD_BITS) \
        or _attr_int(attrs, "word_bits", where, file, maximum=MAX_WORD_BITS) or 8
    cluster_size = _attr_int(attrs, "cluster_size", where, file, 1) or 1
    width = _attr_int(attrs, "width", where, file) or _attr_int(attrs, "memory_width", where, file)
    block = _attr_int(attrs, "block_size", where, file)
    if block is None:
        block = max(1, (width // word_bits // cluster_size)) if width else 1
    size: int | None = _attr_int(attrs, "entries", where, file)
    if size is None:
        depth = _attr_int(attrs, "depth", where, file)
        if depth is None:
            depth = _attr_int(attrs, "memory_depth", where, file)
        if depth is not None:
            size = depth * block
        else:
            kb = _attr_real(attrs, "sizeKB", where, file)
            if kb is not None:
                size = int(kb * 8192 // word_bits)
    if size is not None and size > MAX_CAPACITY:
        raise InputError(f"capacity of {size} words is too large", file=file, field=where,
                         expected=f"at most {MAX_CAPACITY} words per instance")
    bandwidth = {key: _attr_real(attrs, key, where, file)
                 for key in ("read_bandwidth", "write_bandwidth", "shared_bandwidth")}
    mb = _attr_real(attrs, "multiple_buffering", where, file, maximum=1e6) or 1.0
    cls_low = base.cls.lower()
    tech = str(attrs.get("technology", ""))
    return StorageLevel(
        **{f: getattr(base, f) for f in ("name", "base_name", "cls", "subclass", "instances",
                                         "mesh_x", "mesh_y", "attributes", "required_actions")},
        word_bits=word_bits,
        block_size=block,
        cluster_size=cluster_size,
        size=None if cls_low == "dram" else size,
        multiple_buffering=float(mb),
        read_bandwidth=bandwidth["read_bandwidth"],
        write_bandwidth=bandwidth["write_bandwidth"],
        shared_bandwidth=bandwidth["shared_bandwidth"],
        technology_dram=("dram" in cls_low) or tech.upper() == "DRAM",
        dummy=cls_low == "dummy_storage",
    )


def _mapping_or_empty(value: Any, file: str | None, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{show(value)} is not a mapping", file=file, field=where,
                         expected="a mapping of attribute: value")
    return value


def _leaf_component(leaf: dict[str, Any], inherited: dict[str, Any], file: str | None) -> Component:
    if not isinstance(leaf, dict) or "name" not in leaf:
        raise InputError("each architecture leaf needs a name", file=file,
                         field="architecture.subtree.local", expected="{name, class, attributes}")
    if not isinstance(leaf["name"], str):
        raise InputError(f"name {show(leaf['name'])} is not text", file=file,
                         field="architecture.subtree.local.name", expected="NAME or NAME[1..N]")
    name = leaf["name"]
    base, count = split_name(name, file=file, field=f"architecture.{name}.name")
    if "class" not in leaf:
        raise InputError("missing class", file=file, field=f"architecture.{name}.class",
                         expected="a storage, compute or network class")
    cls = leaf["class"]
    subclass = leaf.get("subclass")
    for key, value in (("class", cls), ("subclass", subclass)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InputError(f"{key} {show(value)} is not a name", file=file,
                             field=f"architecture.{name}.{key}", expected="a component class name")
    actions = leaf.get("required_actions") or []
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise InputError(f"required_actions {show(actions)} is not a list of names", file=file,
                         field=f"architecture.{name}.required_actions",
                         expected="a list such as [read, write]")
    attrs = dict(inherited)
    attrs.update(_mapping_or_empty(leaf.get("attributes"), file, f"architecture.{name}.attributes"))
    where = f"architecture.{name}"
    mesh_x = _attr_int(attrs, "meshX", where, file, 1, maximum=MAX_INSTANCES) or 1
    mesh_y = _attr_int(attrs, "meshY", where, file, 1, maximum=MAX_INSTANCES) or 1
    if mesh_x * mesh_y > MAX_INSTANCES:
        raise InputError(f"meshX*meshY = {mesh_x * mesh_y} instances", file=file, field=where,
                         expected=f"at most {MAX_INSTANCES} instances")
    if "[" in name and mesh_x * mesh_y != count:
        raise InputError(f"{count} instances but meshX*meshY = {mesh_x * mesh_y}", file=file,
                         field=f"architecture.{name}", expected="meshX*meshY equal to the instance count")
    return Component(name=name, base_name=base, cls=cls, subclass=subclass,
                     instances=count if "[" in name else mesh_x * mesh_y,
                     mesh_x=mesh_x, mesh_y=mesh_y, attributes=attrs,
                     required_actions=tuple(actions))


def _node_list(value: Any, file: str | None, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(n, dict) for n in value):
        raise InputError(f"{show(value)} is not a list of mappings", file=file, field=where,
                         expected="a list of {name, attributes, local, subtree}")
    return value


def architecture_from_processed(arch: dict[str, Any], file: str | None = None) -> Architecture:
    """Build from Timeloop's processed form `{subtree: [{name, attributes, local: [...]}]}`."""
    if "subtree" not in arch:
        raise InputError("architecture has no 'subtree'", file=file, field="architecture",
                         expected="the processed form (subtree/local) or the v0.4 form (nodes)")
    leaves: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def walk(subtree: list[dict[str, Any]], inherited: dict[str, Any], where: str) -> None:
        for i, node in enumerate(subtree):
            here = f"{where}[{i}]"
            attrs = dict(inherited)
            attrs.update(_mapping_or_empty(node.get("attributes"), file, f"{here}.attributes"))
            for leaf in _node_list(node.get("local"), file, f"{here}.local"):
                leaves.append((leaf, attrs))
            walk(_node_list(node.get("subtree"), file, f"{here}.subtree"), attrs, f"{here}.subtree")

    top = _node_list(arch["subtree"], file, "architecture.subtree")
    walk(top, {}, "architecture.subtree")
    top_attrs = dict(_mapping_or_empty(top[0].get("attributes"), file,
                                       "architecture.subtree[0].attributes")) if top else {}
    storage: list[StorageLevel] = []
    compute: ComputeLevel | None = None
    seen: dict[str, str] = {}
    for leaf, inherited in leaves:
        if isinstance(leaf, dict) and leaf.get("enabled") is False:
            continue
        comp = _leaf_component(leaf, inherited, file)
        if comp.base_name in seen:
            raise InputError(f"two levels named {comp.base_name!r}", file=file,
                             field=f"architecture.{comp.name}.name",
                             expected="distinct level names")
        seen[comp.base_name] = comp.name
        kind = component_kind(comp.cls, file=file, field=f"architecture.{comp.name}.class")
        if kind == "storage":
            if compute is not None:
                raise InputError("storage level below the compute level", file=file,
                                 field=f"architecture.{comp.name}", expected="compute last")
            storage.append(_storage_from(leaf, comp, file))
        elif kind == "compute":
            if compute is not None:
                raise InputError("more than one compute level", file=file,
                                 field=f"architecture.{comp.name}", expected="exactly one")
            wb = _attr_int(comp.attributes, "datawidth", f"architecture.{comp.name}", file,
                           maximum=MAX_WORD_BITS) or 8
            compute = ComputeLevel(**{f: getattr(comp, f) for f in (
                "name", "base_name", "cls", "subclass", "instances", "mesh_x", "mesh_y",
                "attributes", "required_actions")}, word_bits=wb)
        else:
            raise InputError("network components are not supported by the embedded model",
                             file=file, field=f"architecture.{comp.name}",
                             expected="storage and compute leaves (legacy networks are implied)")
    if compute is None:
        raise InputError("no compute level", file=file, field="architecture",
                         expected="a last leaf of class mac/intmac/compute")
    if not storage:
        raise InputError("no storage level", file=file, field="architecture",
                         expected="at least one storage level above compute")
    chain: list[Component] = [*storage, compute]
    for parent, child in zip(chain, chain[1:]):
        if child.mesh_x % parent.mesh_x or child.mesh_y % parent.mesh_y:
            raise InputError(f"mesh {child.mesh_x}x{child.mesh_y} of {child.name} is not a multiple "
                             f"of {parent.mesh_x}x{parent.mesh_y} of {parent.name}", file=file,
                             field=f"architecture.{child.name}", expected="fan-outs that divide exactly")
    return Architecture(storage=tuple(storage), compute=compute, attributes=top_attrs, source=file)


def load_architecture(doc: dict[str, Any], file: str | None = None) -> Architecture:
    """Architecture from a merged input document (processed or v0.4 form)."""
    if "architecture" not in doc:
        raise InputError("no 'architecture' key", file=file, field="architecture",
                         expected="an architecture spec")
    arch = doc["architecture"]
    if not isinstance(arch, dict):
        raise InputError("architecture must be a mapping", file=file, field="architecture",
                         expected="{version: 0.4, nodes: [...]} or {subtree: [...]}")
    if "nodes" in arch:
        from cim_plugin.spec.v4 import flatten_v4

        arch = flatten_v4(arch, file=file)
    return architecture_from_processed(arch, file)
