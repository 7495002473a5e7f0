"""Workloads from real models: ONNX graphs and Hugging Face configs in, GEMM lists out.

A study names a model file wherever it names a workload: `workloads: [model.onnx]`
(an ONNX graph with static shapes) or `models: [{model: path/config.json, seq_len: S,
batch: B, phase: prefill|decode}]` (any model file, with the values its symbolic
dimensions need). `cim-plugin workload FILE` prints the GEMM table and writes the list.

The GEMM convention is the shipped lists' (`cim_plugin.study.workloads`): Z[M,N] =
A[M,K] . B[N,K], B being the weights; see `lowering` (ONNX) and `hf_config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.limits import MAX_DIMENSION
from cim_plugin.spec.names import check_label
from cim_plugin.spec.values import show
from cim_plugin.study.importers.result import Imported, SkippedOps
from cim_plugin.study.workloads import Workload, load_workload, model_gemms

ONNX_SUFFIXES = (".onnx",)
CONFIG_SUFFIXES = (".json",)


def is_model_file(entry: str | Path) -> bool:
    """An ONNX graph or a Hugging Face config, by its file name."""
    return Path(str(entry)).suffix.lower() in ONNX_SUFFIXES + CONFIG_SUFFIXES


def _size(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIMENSION:
        raise InputError(f"{field}={show(value)}", field=field,
                         expected=f"a positive integer of at most {MAX_DIMENSION}")
    return value


def _dims(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"dims={show(value)}", field="dims",
                         expected="a mapping of symbolic dimension names to values")
    return {check_label(k, field="dims", what="dimension name"): _size(v, f"dims.{k}")
            for k, v in value.items()}


def import_model(path: str | Path, *, batch: int | None = None, seq_len: int | None = None,
                 phase: str | None = None, attention: str | None = None,
                 dims: Mapping[str, int] | None = None, name: str | None = None) -> Imported:
    """GEMMs of a model file: `.onnx` (an ONNX graph) or `.json` (a Hugging Face config).

    batch and seq_len give symbolic ONNX dimensions their values (dims names any other)
    and set a config's shapes; phase and attention apply to configs only.
    """
    p = Path(str(path))
    file = str(p)
    batch, seq_len = _size(batch, "batch"), _size(seq_len, "seq_len")
    if p.suffix.lower() in ONNX_SUFFIXES:
        for key, value in (("phase", phase), ("attention", attention)):
            if value is not None:
                raise InputError(f"{key} applies to Hugging Face configs only", file=file,
                                 field=key, expected="batch, seq_len or dims for an ONNX model")
        from cim_plugin.study.importers.onnx_graph import read_onnx

        return read_onnx(p, batch=batch, seq_len=seq_len, dims=_dims(dims), name=name)
    if p.suffix.lower() in CONFIG_SUFFIXES:
        if dims:
            raise InputError("dims applies to ONNX models only", file=file, field="dims",
                             expected="batch, seq_len, phase or attention for a config")
        from cim_plugin.study.importers.hf_config import read_hf_config

        return read_hf_config(p, seq_len=seq_len, batch=batch, phase=phase,
                              attention=attention, name=name)
    raise InputError("not a model file", file=file, field="model",
                     expected="an .onnx model or a Hugging Face config .json")


def load_entry(entry: str) -> Workload:
    """A `workloads:` entry: a model file, or what `load_workload` reads (shipped names,
    GEMM lists)."""
    if is_model_file(entry):
        return import_model(entry).workload
    return load_workload(entry)


def model_entry(model: str, **params: Any) -> Workload:
    """A `models:` entry: a model file with its parameters, or a preset model name."""
    if is_model_file(model):
        return import_model(model, **params).workload
    return model_gemms(model, **params)


__all__ = ["Imported", "SkippedOps", "import_model", "is_model_file", "load_entry",
           "model_entry"]
