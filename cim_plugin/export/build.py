"""Assemble a design for the model: rendered architecture, problem, CiM mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.export.sizing import Sizing, size_banks
from cim_plugin.export.templates import (
    DESIGNS,
    DesignParams,
    check_design,
    render_architecture,
    render_constraints_text,
    render_design,
)
from cim_plugin.mapping.priority import PlainLevel, PriorityMapping, priority_mapping
from cim_plugin.mapping.priority_original import (
    ORIGINAL_PIPELINE_THRESHOLD,
    original_priority_mapping,
)
from cim_plugin.spec.arch import Architecture, architecture_from_processed
from cim_plugin.spec.problem import gemm_problem_doc
from cim_plugin.spec.v4 import flatten_v4, flatten_v4_constraints
from cim_plugin.spec.yamlio import loads_yaml


def check_macro_fits_designs(macro: Any) -> None:
    """The designs lay a macro's Rp x Cp compute elements out as the CiM array, a fan-out
    Timeloop turns into the `inter_CiMArray_spatial` level the mapping and the constraints
    address (K on the rows, N on the columns). A macro of a single compute element (such
    as one of 1 B, which holds one 8-bit weight) has no such fan-out, so it is refused
    here, naming the macro's library entry, instead of failing later on a level the
    generated constraints name."""
    if int(macro.rp) * int(macro.cp) >= 2:
        return
    extra = getattr(macro, "extra", None) or {}
    raise InputError(f"macro {macro.name} has a single compute element (Rp x Cp = "
                     f"{macro.rp} x {macro.cp}, {macro.capacity_bytes} B); the CiM designs "
                     "spread a macro's compute elements over the CiM array, which needs at "
                     "least two", file=extra.get("file"), field=f"macros[{macro.name}].Rp,Cp",
                     expected="a macro with Rp*Cp >= 2 compute elements")


def plain_levels(design: str, params: DesignParams) -> list[PlainLevel]:
    """The storage levels above the CiM, outermost first, with capacities in words."""
    levels = [PlainLevel("DRAM", None)]
    if design in ("cim_rf", "cim_smem_beside"):
        words = params.smem_depth * params.smem_width // params.datawidth
        levels.append(PlainLevel("SMEM", words, ("A", "Z")))
    return levels


def default_threshold(design: str) -> int:
    """THRESHOLD of the method: 4 at RF level, 32 at SMEM level (and beyond)."""
    return 4 if design == "cim_rf" else 32


@dataclass
class BuiltDesign:
    design: str
    params: DesignParams
    v4: dict[str, Any]
    processed: dict[str, Any]
    architecture: Architecture
    mapping: PriorityMapping | None
    constraints_text: str = ""      # rendered mapper_constraints/ template (constraints.yaml)


def build(design: str, macro: Any | None, gemm: tuple[int, int, int],
          sizing_: Sizing | None = None, *, params: DesignParams | dict[str, Any] | None = None,
          threshold: float | None = None, duplicate: bool = False,
          original: bool = False) -> BuiltDesign:
    """Render, size and map one design for one GEMM. `original`: the authors' priority
    algorithm, quirks included (`--paper-compat`; `mapping.priority_original`)."""
    check_design(design)
    p = params if isinstance(params, DesignParams) else DesignParams.from_mapping(params)
    problem = gemm_problem_doc(*gemm)
    pm = None
    if DESIGNS[design][1] is not None:
        if macro is None:
            raise InputError(f"design {design} needs a CiM macro", field="macro",
                             expected="a macro name of the component library")
        check_macro_fits_designs(macro)
        x, y = size_banks(design, macro, p, sizing_ or Sizing())
        p = p.for_macro(macro, (x, y))
        thr = threshold if threshold is not None else default_threshold(design)
        if original:
            thr = threshold if threshold is not None else ORIGINAL_PIPELINE_THRESHOLD
            pm = original_priority_mapping(*gemm, macro, (x, y), threshold=thr,
                                           levels=plain_levels(design, p))
        else:
            pm = priority_mapping(*gemm, macro, (x, y), threshold=thr,
                                  levels=plain_levels(design, p), duplicate=duplicate)
    v4 = render_design(design, p)          # architecture + design-flavour constraints
    processed_arch = flatten_v4(v4["architecture"])
    # The constraints come from mapper_constraints/: the priority flavour pins the
    # algorithm's factors on CiM designs, the design flavour constrains the baseline.
    text = render_constraints_text(design, p, pm)
    cons = loads_yaml(text, source=f"mapper_constraints/{design}.yaml.jinja2")
    targets = flatten_v4_constraints({"architecture": v4["architecture"], **cons})["targets"]
    processed = {"architecture": processed_arch,
                 "architecture_constraints": {"targets": targets}, **problem}
    arch = architecture_from_processed(processed_arch)
    return BuiltDesign(design, p, v4, processed, arch, pm, text)


def build_architecture(design: str, macro: Any, sizing_: Sizing | None = None, *,
                       params: DesignParams | dict[str, Any] | None = None
                       ) -> tuple[DesignParams, Architecture]:
    """The sized parameters and the architecture `build` gives a CiM design, without the
    mapping and the constraints (which depend on the GEMM): for callers that map each
    GEMM themselves, e.g. a sweep of thousands of hypothetical macros. Same checks and
    errors as `build`, in the same order."""
    check_design(design)
    if DESIGNS[design][1] is None or macro is None:
        raise InputError(f"design {design} needs a CiM macro", field="macro",
                         expected="a macro name of the component library")
    p = params if isinstance(params, DesignParams) else DesignParams.from_mapping(params)
    check_macro_fits_designs(macro)
    x, y = size_banks(design, macro, p, sizing_ or Sizing())
    p = p.for_macro(macro, (x, y))
    doc = render_architecture(design, p, many=True)
    return p, architecture_from_processed(flatten_v4(doc["architecture"]))

