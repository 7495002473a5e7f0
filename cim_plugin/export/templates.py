"""Render the shipped Timeloop v0.4 design templates.

`arch_templates/` holds the architectures, `mapper_constraints/` the constraints of
each design: the design flavour (what each level keeps, weight stationary) and the
priority flavour (the same plus the priority algorithm's pinned factors). Templates
are rendered in a sandboxed Jinja2 environment with StrictUndefined, so a template
can only read the typed `DesignParams` (and pinned factors) given to it.

Every value a template places into the YAML text goes through a filter backed by the
YAML emitter, never by plain interpolation: `yaml` (`spec.yamlio.yaml_inline`: a plain
scalar where YAML allows one, quoted and escaped otherwise), `yaml_quoted` (always a
double-quoted scalar, for the fields the designs write quoted) and `yaml_number` (a
number already formatted as text, checked to be one). A quote, a newline or a colon in
a value (a macro name, a technology string) therefore stays one scalar and can never
add a key.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import yaml
from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import PositiveFloat, PositiveInt

from cim_plugin.errors import InputError
from cim_plugin.mapping.priority import DIMS, CimNames
from cim_plugin.resources import data_dir
from cim_plugin.spec.schema import check_fields
from cim_plugin.spec.values import real_from_text, show
from cim_plugin.spec.yaml_skeleton import loads_numbers_apart
from cim_plugin.spec.yamlio import loads_yaml, yaml_inline

# design -> (template file, level the CiM replaces or None for the baseline)
DESIGNS: dict[str, tuple[str, str | None]] = {
    "tensor_core": ("tensor_core.yaml.jinja2", None),
    "tensor_core_l2": ("tensor_core.yaml.jinja2", None),
    "cim_rf": ("cim_rf.yaml.jinja2", "RF"),
    "cim_smem": ("cim_smem.yaml.jinja2", "SMEM"),
    "cim_smem_beside": ("cim_smem_beside.yaml.jinja2", "Subpartition"),
    "cim_l2": ("cim_l2.yaml.jinja2", "L2"),
}


@dataclass(frozen=True)
class DesignParams:
    """Every size, bandwidth, mesh and clock of the designs (defaults: method.md baseline).

    Bandwidths are words/cycle per instance; depths are rows of `width` bits.
    """

    technology: str = "45nm"
    clock_GHz: PositiveFloat = 1.0
    datawidth: PositiveInt = 8
    dram_type: str = "LPDDR4"
    dram_width: PositiveInt = 64
    dram_bandwidth: PositiveInt = 32            # 64-bit LPDDR4, 32 B/cycle (method.md)
    with_l2: bool = False
    l2_depth: PositiveInt = 32768               # 1 MB at 256 b rows (our choice: 4x SMEM)
    l2_width: PositiveInt = 256
    l2_banks: PositiveInt = 8
    l2_bandwidth: PositiveInt = 64
    smem_depth: PositiveInt = 8192              # 256 KB (method.md)
    smem_width: PositiveInt = 256
    smem_banks: PositiveInt = 2
    smem_bandwidth: PositiveInt = 42            # 42 words/cycle (method.md)
    subpartitions: PositiveInt = 4
    rf_depth: PositiveInt = 4096                # 4 KB per subpartition
    rf_width: PositiveInt = 8
    rf_banks: PositiveInt = 16
    pe_x: PositiveInt = 16
    pe_y: PositiveInt = 16
    adder_width: PositiveInt = 8
    cimtype: str = "analog6T"
    rp: PositiveInt = 64
    cp: PositiveInt = 4
    rh: PositiveInt = 1
    ch: PositiveInt = 16
    banks_x: PositiveInt = 1
    banks_y: PositiveInt = 4
    cim_latency_cycles: PositiveFloat = 1.0     # cycles per macro operation (cim-plugin model --latency-from-attribute)

    def __post_init__(self) -> None:
        check_fields(self, what="parameter")     # types and signs from the annotations

    def for_macro(self, macro: Any, banks: tuple[int, int]) -> DesignParams:
        """These parameters with a CiM macro's fields and its bank grid (x, y): what a
        CiM design is rendered with. Only the fields set here are checked: the others
        were checked when these parameters were made, and a macro sweep makes one set
        per geometry (a full copy and check cost about as much as rendering)."""
        changes = {"cimtype": macro.name, "cim_latency_cycles": float(macro.latency_cycles),
                   "rp": macro.rp, "cp": macro.cp, "rh": macro.rh, "ch": macro.ch,
                   "banks_x": banks[0], "banks_y": banks[1],
                   "datawidth": int(getattr(macro, "precision_bits", self.datawidth))}
        new = object.__new__(DesignParams)          # a frozen record: filled, then checked
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        check_fields(new, what="parameter", only=tuple(changes))
        return new

    @property
    def global_cycle_seconds(self) -> str:
        return f"{1e-9 / self.clock_GHz:.6g}".replace("e-0", "e-")

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> DesignParams:
        """Build from a dict, naming unknown parameters."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown design parameter {unknown[0]!r}", field=unknown[0],
                             expected=f"one of {sorted(known)}")
        return cls(**values)

    def level_capacity_bytes(self, level: str) -> int:
        """Capacity of a plain level of the baseline (all instances)."""
        if level == "SMEM":
            return self.smem_depth * self.smem_width // 8
        if level == "L2":
            return self.l2_depth * self.l2_width // 8
        if level == "RF":
            return self.subpartitions * self.rf_depth * self.rf_width // 8
        raise KeyError(level)


def yaml_quoted(value: Any) -> str:
    """`value` as one double-quoted YAML scalar, quoted and escaped by the YAML emitter
    (`"analog6T"`; a quote or newline inside becomes `\\"` or `\\n`)."""
    return _quoted(str(value))


@functools.lru_cache(maxsize=1024)
def _quoted(value: str) -> str:
    """A pure function of the text, memoized: the emitter costs ~0.1 ms a call."""
    text = yaml.safe_dump([value], default_style='"', default_flow_style=True,
                          width=2**31 - 1, allow_unicode=False).strip()
    return text[1:-1]


def yaml_number(value: Any) -> str:
    """A number for the YAML text: an int or float through the YAML emitter, a number
    already formatted as text (`1e-9`) kept as written once it is checked to be one
    ASCII decimal literal; anything else is refused."""
    if isinstance(value, str) and real_from_text(value) is not None:
        return value.strip(" \t")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return yaml_inline(value)
    raise InputError(f"{show(value)} is not a number", field="template",
                     expected="a finite number")


#: the fields of `DesignParams`: plain numbers, strings and booleans, checked when made
_PARAM_FIELDS = frozenset(f.name for f in dataclasses.fields(DesignParams))


class _Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox, reading a field of `DesignParams` directly.

    A frozen record of numbers, strings and booleans (its types are checked when it is
    made) has nothing unsafe to reach through a field, and a design reads about 35 of
    them per rendering: the sandbox's generic checks of each read (format-string
    wrapping, internal-attribute tests) were half the cost of rendering a design, which
    a macro sweep does once per geometry. Every other attribute, including the record's
    own methods and dunder attributes, goes through the sandbox's checks."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is DesignParams and attribute in _PARAM_FIELDS:
            return object.__getattribute__(obj, attribute)
        return super().getattr(obj, attribute)


def _sandbox(folder: str, **options: Any) -> SandboxedEnvironment:
    env = _Sandbox(loader=FileSystemLoader(str(data_dir(folder))),
                   undefined=StrictUndefined, autoescape=False,
                   keep_trailing_newline=True, **options)
    env.filters["yaml"] = yaml_inline
    env.filters["yaml_quoted"] = yaml_quoted
    env.filters["yaml_number"] = yaml_number
    return env


@functools.lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    # shipped package data: compiled once, not checked on disk at every rendering
    return _sandbox("arch_templates", auto_reload=False)


@functools.lru_cache(maxsize=1)
def _constraints_env() -> SandboxedEnvironment:
    return _sandbox("mapper_constraints", trim_blocks=True, lstrip_blocks=True)


def check_design(design: str) -> str:
    if design not in DESIGNS:
        raise InputError(f"unknown design {design!r}", field="design",
                         expected=f"one of {', '.join(DESIGNS)}")
    return design


def _params(design: str, params: DesignParams | dict[str, Any] | None) -> DesignParams:
    check_design(design)
    p = params if isinstance(params, DesignParams) else DesignParams.from_mapping(params)
    if design == "tensor_core_l2" and not p.with_l2:
        p = dataclasses.replace(p, with_l2=True)
    return p


def render_text(design: str, params: DesignParams | dict[str, Any] | None = None) -> str:
    """The rendered v0.4 YAML text of a design's architecture."""
    p = _params(design, params)
    try:
        return _env().get_template(DESIGNS[design][0]).render(p=p)
    except TemplateError as exc:
        raise InputError(f"template error: {exc}", file=DESIGNS[design][0], field="template",
                         expected="parameters the template knows") from None


@functools.lru_cache(maxsize=128)
def _parse_rendered(text: str, source: str) -> Any:
    return loads_yaml(text, source=source)


def _fmt(f: dict[str, int]) -> str:
    return ",".join(f"{d}={f.get(d, 1)}" for d in DIMS)


def priority_pins(pm: Any) -> dict[str, Any]:
    """Template context of the priority flavour, from a `PriorityMapping`.

    `temporal[level]` and `spatial[container]` hold Timeloop factor and permutation
    strings (innermost first); spatial entries are keyed by the container node the
    `inter_<name>_spatial` level belongs to.
    """
    levels = pm.mapping().levels
    names = pm.names
    temporal = {name: {"factors": _fmt(lm.temporal), "permutation": "".join(lm.temporal_permutation)}
                for name, lm in levels.items() if not name.startswith("inter_")}
    spatial = {}
    for node in (names.bank, names.array):
        lm = levels.get(f"inter_{node}_spatial")
        if lm is None:
            continue
        spatial[node] = {"factors": _fmt(lm.spatial), "permutation": "".join(lm.spatial_permutation),
                         "split": int(lm.split or 0)}
    return {"temporal": temporal, "spatial": spatial}


def render_constraints_text(design: str, params: DesignParams | dict[str, Any] | None = None,
                            mapping: Any | None = None) -> str:
    """The rendered v0.4 `constraints:` YAML of a design.

    Without `mapping`: the design flavour (dataspace constraints only). With a
    `PriorityMapping`: the priority flavour, which also pins its factors.
    """
    p = _params(design, params)
    if mapping is not None and DESIGNS[design][1] is None:
        raise InputError(f"design {design} has no CiM to pin a priority mapping on",
                         field="mapping", expected="a cim_* design")
    file = f"{design}.yaml.jinja2"
    names = mapping.names if mapping is not None else CimNames()
    pin = priority_pins(mapping) if mapping is not None else None
    try:
        text = _constraints_env().get_template(file).render(p=p, names=names, pin=pin)
    except TemplateError as exc:
        raise InputError(f"template error: {exc}", file=file, field="template",
                         expected="parameters the template knows") from None
    if pin is not None:
        doc = _parse_rendered(text, file)
        pinned = {t.get("target") for t in doc["constraints"]["targets"] if t.get("type") == "temporal"}
        lost = sorted(set(pin["temporal"]) - pinned)
        if lost:
            raise InputError(f"the mapping pins level {lost[0]!r}, which design {design} lacks",
                             file=file, field="mapping",
                             expected=f"a mapping over the levels {sorted(pinned)}")
    return text


def render_constraints(design: str, params: DesignParams | dict[str, Any] | None = None,
                       mapping: Any | None = None) -> dict[str, Any]:
    """The v0.4 document `{constraints: {version: 0.4, targets: [...]}}` of a design."""
    text = render_constraints_text(design, params, mapping)
    file = f"{design}.yaml.jinja2"
    doc = copy.deepcopy(_parse_rendered(text, file))
    if not isinstance(doc, dict) or not isinstance((doc.get("constraints") or {}).get("targets"), list):
        raise InputError("template did not render constraint targets", file=file,
                         field="constraints.targets")
    return doc


def render_architecture(design: str, params: DesignParams | dict[str, Any] | None = None, *,
                        many: bool = False) -> dict[str, Any]:
    """The v0.4 document of a design's architecture alone (no constraints).

    `many`: the caller renders the design for many parameter sets that differ in numbers
    only (a macro sweep), so the text is parsed once per skeleton
    (`spec.yaml_skeleton`); the document is the same."""
    text = render_text(design, params)
    if many:
        doc = loads_numbers_apart(text, DESIGNS[design][0])
    else:
        doc = copy.deepcopy(_parse_rendered(text, DESIGNS[design][0]))
    if not isinstance(doc, dict) or "architecture" not in doc:
        raise InputError("template did not render an architecture", file=DESIGNS[design][0],
                         field="architecture")
    return doc


def render_design(design: str, params: DesignParams | dict[str, Any] | None = None) -> dict[str, Any]:
    """The v0.4 document of a design: its architecture and its design-flavour constraints."""
    doc = render_architecture(design, params)
    doc["constraints"] = render_constraints(design, params)["constraints"]
    return doc
