"""Render the shipped Timeloop v0.4 design templates (`arch_templates/`).

Templates are rendered in a sandboxed Jinja2 environment with StrictUndefined, so
a template can only read the typed `DesignParams` given to it.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from cim_plugin.errors import InputError
from cim_plugin.resources import data_dir
from cim_plugin.spec.yamlio import loads_yaml

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
    clock_GHz: float = 1.0
    datawidth: int = 8
    dram_type: str = "LPDDR4"
    dram_width: int = 64
    dram_bandwidth: int = 32            # 64-bit LPDDR4, 32 B/cycle (method.md)
    with_l2: bool = False
    l2_depth: int = 32768               # 1 MB at 256 b rows (our choice: 4x SMEM)
    l2_width: int = 256
    l2_banks: int = 8
    l2_bandwidth: int = 64
    smem_depth: int = 8192              # 256 KB (method.md)
    smem_width: int = 256
    smem_banks: int = 2
    smem_bandwidth: int = 42            # 42 words/cycle (method.md)
    subpartitions: int = 4
    rf_depth: int = 4096                # 4 KB per subpartition
    rf_width: int = 8
    rf_banks: int = 16
    pe_x: int = 16
    pe_y: int = 16
    adder_width: int = 8
    cimtype: str = "analog6T"
    rp: int = 64
    cp: int = 4
    rh: int = 1
    ch: int = 16
    banks_x: int = 1
    banks_y: int = 4

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            want = {"int": int, "float": (int, float), "str": str, "bool": bool}[str(f.type)]
            ok = isinstance(value, want) and (want is bool or not isinstance(value, bool))
            if not ok:
                raise InputError(f"parameter {f.name} has the wrong type ({type(value).__name__})",
                                 field=f.name, expected=str(f.type))
            if str(f.type) in ("int", "float") and value <= 0:
                raise InputError(f"parameter {f.name} must be positive, got {value}",
                                 field=f.name, expected=f"a positive {f.type}")

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


def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=FileSystemLoader(str(data_dir("arch_templates"))),
                                undefined=StrictUndefined, autoescape=False,
                                keep_trailing_newline=True)


def check_design(design: str) -> str:
    if design not in DESIGNS:
        raise InputError(f"unknown design {design!r}", field="design",
                         expected=f"one of {', '.join(DESIGNS)}")
    return design


def render_text(design: str, params: DesignParams | dict[str, Any] | None = None) -> str:
    """The rendered v0.4 YAML text of a design."""
    check_design(design)
    p = params if isinstance(params, DesignParams) else DesignParams.from_mapping(params)
    if design == "tensor_core_l2" and not p.with_l2:
        p = dataclasses.replace(p, with_l2=True)
    try:
        return _env().get_template(DESIGNS[design][0]).render(p=p)
    except TemplateError as exc:
        raise InputError(f"template error: {exc}", file=DESIGNS[design][0], field="template",
                         expected="parameters the template knows") from None


@functools.lru_cache(maxsize=128)
def _parse_rendered(text: str, source: str) -> Any:
    return loads_yaml(text, source=source)


def render_design(design: str, params: DesignParams | dict[str, Any] | None = None) -> dict[str, Any]:
    """The v0.4 document (`architecture: {version: 0.4, nodes: [...]}`) of a design."""
    text = render_text(design, params)
    doc = copy.deepcopy(_parse_rendered(text, DESIGNS[design][0]))
    if not isinstance(doc, dict) or "architecture" not in doc:
        raise InputError("template did not render an architecture", file=DESIGNS[design][0],
                         field="architecture")
    return doc
