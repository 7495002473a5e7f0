"""Typed loaders for Timeloop/Accelergy inputs: architecture, problem, mapping, ERT/ART."""

from cim_plugin.spec.arch import Architecture, ComputeLevel, StorageLevel, load_architecture
from cim_plugin.spec.ert import ART, ERT, load_art, load_ert
from cim_plugin.spec.mapping import LevelMapping, Mapping, load_mapping
from cim_plugin.spec.problem import DataSpace, Problem, load_problem
from cim_plugin.spec.yamlio import load_inputs, load_yaml

__all__ = [
    "ART",
    "ERT",
    "Architecture",
    "ComputeLevel",
    "DataSpace",
    "LevelMapping",
    "Mapping",
    "Problem",
    "StorageLevel",
    "load_architecture",
    "load_art",
    "load_ert",
    "load_inputs",
    "load_mapping",
    "load_problem",
    "load_yaml",
]
