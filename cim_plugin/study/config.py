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

from cim_plugin.api import PRESETS
from cim_plugin.errors import InputError
from cim_plugin.export.sizing import SIZINGS
from cim_plugin.spec.limits import MAX_GEMMS, check_banks, check_bound, check_macs
from cim_plugin.spec.names import check_label
from cim_plugin.spec.values import grid_from_text, show
from cim_plugin.spec.yamlio import load_yaml

CIM_DESIGNS = ("cim_rf", "cim_smem", "cim_smem_beside", "cim_l2")
BASELINE = "tensor_core"
#: mapping strategies: the search presets of `cim_plugin.api`; the baseline has no
#: priority mapping, so only the presets that start without one apply to it
STRATEGIES = tuple(PRESETS)
BASELINE_STRATEGIES = tuple(k for k, p in PRESETS.items() if not p.design_seed)


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
    waterfall: bool = True                       # the published-to-ours waterfall (report)
    models: tuple[dict[str, Any], ...] = field(default=())   # e.g. {model: gpt-j-6b, phase: prefill}
    macro_sweep: dict[str, Any] | None = None    # hypothetical macros (cim_plugin.library.sweep)

    def __hash__(self) -> int:
        return hash(json.dumps(self.key_dict(), sort_keys=True))

    def key_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


def _tuple_of(value: Any, kind: type, where: str, file: str | None) -> tuple:
    if isinstance(value, kind) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool)
                                               for v in value):
        raise InputError(f"{show(value)} is not a list of {kind.__name__}", file=file, field=where,
                         expected=f"a list of {kind.__name__}")
    if len(set(value)) != len(value):
        dup = next(v for v in value if value.count(v) > 1)
        raise InputError(f"{show(dup)} is listed twice", file=file, field=where,
                         expected="distinct entries (a repeated one would be counted twice)")
    return tuple(value)


def _study_mapping(path: str | Path, file: str) -> dict[str, Any]:
    """The config's fields: the top-level mapping, or the mapping under `study:`."""
    doc = load_yaml(path)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InputError("study config must be a mapping", file=file, field="(top level)",
                         expected="fields such as designs, macros, workloads")
    if "study" in doc:
        others = [k for k in doc if k != "study"]
        if others:
            raise InputError(f"field {show(others[0])} next to 'study'", file=file,
                             field=str(others[0]), expected="all fields under `study:`")
        body = doc["study"]
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise InputError(f"'study' is {show(body)}", file=file, field="study",
                             expected="a mapping of fields such as designs, macros, workloads")
        return dict(body)
    return dict(doc)


def _models(value: Any, file: str | None) -> tuple[dict[str, Any], ...]:
    from cim_plugin.study.importers import model_entry

    models = value or []
    if not isinstance(models, list) or not all(isinstance(m, dict) and "model" in m for m in models):
        raise InputError("models must be a list of {model: NAME, ...parameters}", file=file,
                         field="models", expected="e.g. [{model: gpt-j-6b, phase: prefill}] or "
                                         "[{model: config.json, seq_len: 2048}]")
    for i, m in enumerate(models):
        if "name" in m:
            check_label(m["name"], file=file, field=f"models[{i}].name", what="workload name")
        try:
            model_entry(m["model"], **{k: v for k, v in m.items() if k not in ("model", "name")})
        except InputError as exc:
            where, detail = f"models[{i}].{exc.field or 'model'}", exc.detail
            if exc.file:                 # inside a model file: name the file and its field
                params = ("model", "batch", "seq_len", "phase", "attention", "dims")
                inner = f"{exc.field}: " if exc.field and exc.field not in params else ""
                where = f"models[{i}]" if inner else where
                detail = f"{exc.file}: {inner}{exc.detail}"
            raise InputError(detail, file=file, field=where, expected=exc.expected) from None
        except TypeError as exc:
            raise InputError(f"bad parameter: {exc}", file=file, field=f"models[{i}]",
                             expected="parameters of the model preset") from None
    return tuple(dict(m) for m in models)


def _sweep(data: dict[str, Any], file: str | None) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for key in ("sweep_m", "sweep_nk"):
        if key in data:
            vals = _tuple_of(data[key] or [], int, key, file)
            for v in vals:
                check_bound(v, file=file, field=key, what=f"{key} value")
            out[key] = vals
    ms = out.get("sweep_m", StudyConfig.sweep_m)
    nks = out.get("sweep_nk", StudyConfig.sweep_nk)
    if len(ms) * len(nks) > MAX_GEMMS:
        raise InputError(f"the sweep has {len(ms) * len(nks)} GEMMs", file=file, field="sweep_m",
                         expected=f"at most {MAX_GEMMS} GEMMs")
    if ms and nks:
        check_macs((max(ms), max(nks), max(nks)), file=file, field="sweep_nk")
    return out


def _banks(value: Any, file: str | None) -> tuple[int, int]:
    pair = None
    if isinstance(value, str):
        pair = grid_from_text(value)
    elif isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        pair = (value[0], value[1])
    if pair is None:
        raise InputError(f"banks {show(value)} cannot be read", file=file, field="banks",
                         expected="XxY with positive integers, e.g. 1x4 or [1, 4]")
    return check_banks(*pair, file=file, field="banks")


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> StudyConfig:
    """Config from YAML (None: the built-in default), validated field by field."""
    file = str(path) if path else None
    data: dict[str, Any] = _study_mapping(path, str(path)) if path is not None else {}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = set(StudyConfig.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise InputError(f"unknown field {show(key)}", file=file, field=str(key),
                             expected=f"one of {sorted(known)}")
    kw: dict[str, Any] = {}
    if "models" in data:
        kw["models"] = _models(data["models"], file)
    for key in ("designs", "macros", "workloads"):
        if key in data:
            kw[key] = _tuple_of(data[key] or [], str, key, file)
    kw.update(_sweep(data, file))
    if "banks" in data:
        kw["banks"] = _banks(data["banks"], file)
    for key, allowed in (("sizing", SIZINGS), ("cim_strategy", STRATEGIES),
                         ("baseline_strategy", BASELINE_STRATEGIES),
                         ("objective", ("edp", "energy", "delay")),
                         ("search", ("fast", "exact")),
                         ("backend", ("embedded", "timeloop"))):
        if key in data:
            if not isinstance(data[key], str) or data[key] not in allowed:
                raise InputError(f"{show(data[key])} is not valid", file=file, field=key,
                                 expected=f"one of {', '.join(allowed)}")
            kw[key] = data[key]
    if "baseline" in data:
        if not isinstance(data["baseline"], str):
            raise InputError(f"{show(data['baseline'])} is not a design name", file=file,
                             field="baseline", expected="a design without CiM, e.g. tensor_core")
        kw["baseline"] = data["baseline"]
    for key in ("duplicate", "paper_compat", "waterfall"):
        if key in data:
            if not isinstance(data[key], bool):
                raise InputError(f"{show(data[key])} is not true/false", file=file, field=key,
                                 expected="true or false")
            kw[key] = data[key]
    if data.get("macro_sweep") is not None:
        from cim_plugin.library.sweep import parse_macro_sweep

        kw["macro_sweep"] = parse_macro_sweep(data["macro_sweep"], file,
                                              kw.get("macros", StudyConfig.macros)).to_dict()
    cfg = StudyConfig(**kw)
    _validate_names(cfg, file)
    return cfg


def _validate_names(cfg: StudyConfig, file: str | None) -> None:
    from cim_plugin.export.templates import DESIGNS
    from cim_plugin.library.loader import load_macro_library
    from cim_plugin.study.workloads import list_workloads

    cim = sorted(d for d, (_, level) in DESIGNS.items() if level is not None)
    plain = sorted(d for d, (_, level) in DESIGNS.items() if level is None)
    for d in cfg.designs:
        if d not in cim:
            raise InputError(f"unknown CiM design {show(d)}", file=file, field="designs",
                             expected=f"one of {cim}")
    if cfg.baseline not in plain:
        raise InputError(f"unknown baseline {show(cfg.baseline)}", file=file, field="baseline",
                         expected=f"a design without CiM: one of {plain}")
    lib = load_macro_library()
    for m in cfg.macros:
        if m not in lib:
            raise InputError(f"unknown macro {show(m)}", file=file, field="macros",
                             expected=f"one of {sorted(lib)}")
    known = set(list_workloads())
    for w in cfg.workloads:
        if w in known or w.lower() in _aliases() or Path(w).is_file():
            continue
        if Path(w).exists():
            raise InputError(f"workload {show(w, 300)} is a folder or a special file", file=file,
                             field="workloads", expected="a regular .yaml or .csv file")
        raise InputError(f"unknown workload {show(w, 300)}", file=file, field="workloads",
                         expected=f"a file or one of {sorted(known)}")
    if not cfg.workloads and not cfg.models and not (cfg.sweep_m and cfg.sweep_nk):
        raise InputError("empty sweep: no workloads and no synthetic sweep", file=file,
                         field="workloads", expected="at least one workload or sweep_m and sweep_nk")


def _aliases() -> dict[str, str]:
    from cim_plugin.study.workloads import ALIASES

    return ALIASES
