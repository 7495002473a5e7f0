"""Architecture spec: Timeloop's processed (`subtree`/`local`) form as typed levels.

Levels are kept outermost first, as they appear in the file. Timeloop numbers
storage levels from the innermost (level 0); `Architecture.storage_inner_first`
gives that order. The v0.4 `!Container/!Component/!Parallel` form is flattened
to the processed form first (`cim_plugin.spec.v4`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from cim_plugin.errors import InputError

_NAME_RE = re.compile(r"^(?P<base>[^\[\]]+?)(\[(?P<lo>\d+)\.\.(?P<hi>\d+)\])?$")

STORAGE_CLASS_WORDS = ("dram", "sram", "regfile", "smartbuffer", "storage")
COMPUTE_CLASS_WORDS = ("mac", "compute")
NETWORK_CLASS_WORDS = ("xy_noc", "legacy", "reductiontree", "simplemulticast")


def as_number(value: Any, *, where: str, file: str | None = None) -> float | None:
    """Turn a YAML attribute into a number (None stays None)."""
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in ("", "-"):
            return None
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            raise InputError(f"value {value!r} is not a number", file=file, field=where,
                             expected="a number") from None
    raise InputError(f"value {value!r} is not a number", file=file, field=where,
                     expected="a number")


def split_name(name: str) -> tuple[str, int]:
    """`RF[1..4]` -> ("RF", 4); `DRAM` -> ("DRAM", 1)."""
    m = _NAME_RE.match(name.strip())
    if not m:
        raise InputError(f"cannot parse component name {name!r}", field="name",
                         expected="NAME or NAME[1..N]")
    if m.group("lo") is None:
        return m.group("base"), 1
    lo, hi = int(m.group("lo")), int(m.group("hi"))
    return m.group("base"), hi - lo + 1


def component_kind(cls: str) -> str:
    """Timeloop/timeloopfe decide the kind of a leaf by substrings of its class."""
    low = cls.lower()
    if low == "dummy_storage":
        return "storage"
    if any(w in low for w in STORAGE_CLASS_WORDS):
        return "storage"
    if any(w in low for w in COMPUTE_CLASS_WORDS):
        return "compute"
    if any(w in low for w in NETWORK_CLASS_WORDS):
        return "network"
    raise InputError(f"class {cls!r} is neither storage, compute nor network", field="class",
                     expected="a class containing DRAM/SRAM/regfile/smartbuffer/storage, "
                              "mac/compute, or a network class")


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
              default: int | None = None) -> int | None:
    v = as_number(attrs.get(key), where=f"{where}.attributes.{key}", file=file)
    if v is None:
        return default
    return int(v)


def _storage_from(leaf: dict[str, Any], base: Component, file: str | None) -> StorageLevel:
    attrs = base.attributes
    where = f"architecture.{base.name}"
    word_bits = _attr_int(attrs, "datawidth", where, file) or _attr_int(attrs, "word_bits", where, file) or 8
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
            kb = as_number(attrs.get("sizeKB"), where=f"{where}.attributes.sizeKB", file=file)
            if kb is not None:
                size = int(kb * 8192 // word_bits)
    for key in ("read_bandwidth", "write_bandwidth", "shared_bandwidth"):
        v = as_number(attrs.get(key), where=f"{where}.attributes.{key}", file=file)
        if v is not None and v <= 0:
            raise InputError(f"{key} must be positive, got {v}", file=file,
                             field=f"{where}.attributes.{key}", expected="words/cycle > 0")
    mb = as_number(attrs.get("multiple_buffering"), where=f"{where}.attributes.multiple_buffering",
                   file=file) or 1.0
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
        read_bandwidth=as_number(attrs.get("read_bandwidth"), where=where, file=file),
        write_bandwidth=as_number(attrs.get("write_bandwidth"), where=where, file=file),
        shared_bandwidth=as_number(attrs.get("shared_bandwidth"), where=where, file=file),
        technology_dram=("dram" in cls_low) or tech.upper() == "DRAM",
        dummy=cls_low == "dummy_storage",
    )


def _leaf_component(leaf: dict[str, Any], inherited: dict[str, Any], file: str | None) -> Component:
    if not isinstance(leaf, dict) or "name" not in leaf:
        raise InputError("each architecture leaf needs a name", file=file,
                         field="architecture.subtree.local", expected="{name, class, attributes}")
    name = str(leaf["name"])
    base, count = split_name(name)
    if "class" not in leaf:
        raise InputError("missing class", file=file, field=f"architecture.{name}.class",
                         expected="a storage, compute or network class")
    attrs = dict(inherited)
    attrs.update(leaf.get("attributes") or {})
    mesh_x = int(as_number(attrs.get("meshX", 1), where=f"architecture.{name}.meshX", file=file) or 1)
    mesh_y = int(as_number(attrs.get("meshY", 1), where=f"architecture.{name}.meshY", file=file) or 1)
    if "[" in name and mesh_x * mesh_y != count:
        raise InputError(f"{count} instances but meshX*meshY = {mesh_x * mesh_y}", file=file,
                         field=f"architecture.{name}", expected="meshX*meshY equal to the instance count")
    return Component(name=name, base_name=base, cls=str(leaf["class"]), subclass=leaf.get("subclass"),
                     instances=count if "[" in name else mesh_x * mesh_y,
                     mesh_x=mesh_x, mesh_y=mesh_y, attributes=attrs,
                     required_actions=tuple(leaf.get("required_actions") or ()))


def architecture_from_processed(arch: dict[str, Any], file: str | None = None) -> Architecture:
    """Build from Timeloop's processed form `{subtree: [{name, attributes, local: [...]}]}`."""
    if "subtree" not in arch:
        raise InputError("architecture has no 'subtree'", file=file, field="architecture",
                         expected="the processed form (subtree/local) or the v0.4 form (nodes)")
    leaves: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def walk(subtree: list[dict[str, Any]], inherited: dict[str, Any]) -> None:
        for node in subtree:
            attrs = dict(inherited)
            attrs.update(node.get("attributes") or {})
            for leaf in node.get("local") or []:
                leaves.append((leaf, attrs))
            walk(node.get("subtree") or [], attrs)

    walk(arch["subtree"], {})
    top_attrs = dict(arch["subtree"][0].get("attributes") or {}) if arch["subtree"] else {}
    storage: list[StorageLevel] = []
    compute: ComputeLevel | None = None
    for leaf, inherited in leaves:
        if leaf.get("enabled") is False:
            continue
        comp = _leaf_component(leaf, inherited, file)
        kind = component_kind(comp.cls)
        if kind == "storage":
            if compute is not None:
                raise InputError("storage level below the compute level", file=file,
                                 field=f"architecture.{comp.name}", expected="compute last")
            storage.append(_storage_from(leaf, comp, file))
        elif kind == "compute":
            if compute is not None:
                raise InputError("more than one compute level", file=file,
                                 field=f"architecture.{comp.name}", expected="exactly one")
            wb = _attr_int(comp.attributes, "datawidth", f"architecture.{comp.name}", file) or 8
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
        raise InputError("architecture must be a mapping", file=file, field="architecture")
    if "nodes" in arch:
        from cim_plugin.spec.v4 import flatten_v4

        arch = flatten_v4(arch, file=file)
    return architecture_from_processed(arch, file)
