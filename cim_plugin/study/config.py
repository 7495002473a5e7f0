"""Study configuration (YAML, validated) and the built-in default study.

The default is the method's study: four primitives x every CiM placement x BERT-Large,
GPT-J-6B, DLRM and ResNet50, plus a small synthetic (M, N=K) sweep, against the
optimally mapped tensor-core baseline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.yamlio import load_yaml

CIM_DESIGNS = ("cim_rf", "cim_smem", "cim_smem_beside", "cim_l2")
BASELINE = "tensor_core"
STRATEGIES = ("priority", "priority+search", "search")
SIZINGS = ("iso-area", "iso-capacity", "preset", "explicit")


@dataclass(frozen=True)
class StudyConfig:
    designs: tuple[str, ...] = CIM_DESIGNS
    macros: tuple[str, ...] = ("analog6T", "analog8T", "digital6T", "digital8T")
    workloads: tuple[str, ...] = ("bert-large", "gpt-j-6b", "dlrm", "resnet50")
    sweep_m: tuple[int, ...] = (1, 16, 256, 4096)
    sweep_nk: tuple[int, ...] = (256, 1024, 4096)
    sizing: str = "preset"
    banks: tuple[int, int] = (1, 4)              # for sizing: explicit
    baseline: str = BASELINE
    cim_strategy: str = "priority+search"
    baseline_strategy: str = "search"
    objective: str = "edp"
    search: str = "fast"                         # mapper mode: fast | exact
    backend: str = "embedded"
    duplicate: bool = False
    paper_compat: bool = False
    models: tuple[dict[str, Any], ...] = field(default=())   # e.g. {model: gpt-j-6b, phase: prefill}

    def __hash__(self) -> int:
        return hash(json.dumps(self.key_dict(), sort_keys=True))

    def key_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


def _tuple_of(value: Any, kind: type, where: str, file: str | None) -> tuple:
    if isinstance(value, kind):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool)
                                               for v in value):
        raise InputError(f"{value!r} is not a list of {kind.__name__}", file=file, field=where,
                         expected=f"a list of {kind.__name__}")
    return tuple(value)


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> StudyConfig:
    """Config from YAML (None: the built-in default), validated field by field."""
    data: dict[str, Any] = {}
    file = str(path) if path else None
    if path is not None:
        doc = load_yaml(path)
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise InputError("study config must be a mapping", file=file, field="(top level)")
        data = dict(doc.get("study", doc))
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = set(StudyConfig.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise InputError(f"unknown field {key!r}", file=file, field=key,
                             expected=f"one of {sorted(known)}")
    kw: dict[str, Any] = {}
    if "models" in data:
        models = data["models"] or []
        if not isinstance(models, list) or not all(isinstance(m, dict) and "model" in m for m in models):
            raise InputError("models must be a list of {model: NAME, ...parameters}", file=file,
                             field="models", expected="e.g. [{model: gpt-j-6b, phase: prefill}]")
        from cim_plugin.study.workloads import model_gemms

        for i, m in enumerate(models):
            try:
                model_gemms(str(m["model"]), **{k: v for k, v in m.items() if k not in ("model", "name")})
            except InputError as exc:
                raise InputError(exc.detail, file=file, field=f"models[{i}]",
                                 expected=exc.expected) from None
            except TypeError as exc:
                raise InputError(f"bad parameter: {exc}", file=file, field=f"models[{i}]",
                                 expected="parameters of the model preset") from None
        kw["models"] = tuple(dict(m) for m in models)
    for key in ("designs", "macros", "workloads"):
        if key in data:
            kw[key] = _tuple_of(data[key], str, key, file)
    for key in ("sweep_m", "sweep_nk"):
        if key in data:
            vals = _tuple_of(data[key] or [], int, key, file)
            if any(v < 1 for v in vals):
                raise InputError(f"{key} has a non-positive value", file=file, field=key,
                                 expected="positive integers")
            kw[key] = vals
    if "banks" in data:
        b = data["banks"]
        if isinstance(b, str) and "x" in b.lower():
            b = [int(x) for x in b.lower().split("x")]
        kw["banks"] = _tuple_of(b, int, "banks", file)
        if len(kw["banks"]) != 2 or min(kw["banks"]) < 1:
            raise InputError("banks must be X x Y", file=file, field="banks", expected="e.g. 1x4")
    for key, allowed in (("sizing", SIZINGS), ("cim_strategy", STRATEGIES),
                         ("baseline_strategy", ("search", "seed")),
                         ("objective", ("edp", "energy", "delay")),
                         ("search", ("fast", "exact")),
                         ("backend", ("embedded", "timeloop"))):
        if key in data:
            if data[key] not in allowed:
                raise InputError(f"{data[key]!r} is not valid", file=file, field=key,
                                 expected=f"one of {', '.join(allowed)}")
            kw[key] = data[key]
    for key in ("baseline",):
        if key in data:
            kw[key] = str(data[key])
    for key in ("duplicate", "paper_compat"):
        if key in data:
            if not isinstance(data[key], bool):
                raise InputError(f"{data[key]!r} is not true/false", file=file, field=key,
                                 expected="true or false")
            kw[key] = data[key]
    cfg = StudyConfig(**kw)
    _validate_names(cfg, file)
    return cfg


def _validate_names(cfg: StudyConfig, file: str | None) -> None:
    from cim_plugin.export.templates import DESIGNS
    from cim_plugin.library.loader import load_macro_library
    from cim_plugin.study.workloads import list_workloads

    for d in (*cfg.designs, cfg.baseline):
        if d not in DESIGNS:
            raise InputError(f"unknown design {d!r}", file=file, field="designs",
                             expected=f"one of {sorted(DESIGNS)}")
    lib = load_macro_library()
    for m in cfg.macros:
        if m not in lib:
            raise InputError(f"unknown macro {m!r}", file=file, field="macros",
                             expected=f"one of {sorted(lib)}")
    known = set(list_workloads())
    for w in cfg.workloads:
        if w not in known and not Path(w).is_file():
            raise InputError(f"unknown workload {w!r}", file=file, field="workloads",
                             expected=f"a file or one of {sorted(known)}")
    if not cfg.designs and not cfg.baseline:
        raise InputError("nothing to study", file=file, field="designs", expected="at least one design")
    if not cfg.workloads and not cfg.models and not (cfg.sweep_m and cfg.sweep_nk):
        raise InputError("empty sweep: no workloads and no synthetic sweep", file=file,
                         field="workloads", expected="at least one workload or sweep_m and sweep_nk")
