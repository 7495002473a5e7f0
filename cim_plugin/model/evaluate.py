"""Public entry points of the embedded model."""

from __future__ import annotations

from cim_plugin.model.engine import Engine, ModelOptions
from cim_plugin.model.nest import build_nest
from cim_plugin.model.result import EvalResult
from cim_plugin.spec.arch import Architecture
from cim_plugin.spec.ert import ART, ERT
from cim_plugin.spec.mapping import Mapping
from cim_plugin.spec.problem import Problem


def evaluate(arch: Architecture, problem: Problem, mapping: Mapping, ert: ERT,
             art: ART | None = None, options: ModelOptions | None = None) -> EvalResult:
    """Evaluate one mapping, as `timeloop-model` would."""
    engine = Engine(arch, problem, ert, art, options)
    opts = engine.options
    nest = build_nest(arch, problem, mapping, check_fanout=opts.check_fanout)
    return engine.evaluate(nest)


__all__ = ["Engine", "EvalResult", "ModelOptions", "evaluate"]
