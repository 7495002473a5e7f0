"""Run the real `timeloop-model` / `timeloop-mapper` and parse what they write.

Each run gets its own working directory inside the chosen output folder (Timeloop
and Accelergy write next to their working directory, and Accelergy reads
`./accelergy_config.yaml`, where the cim_plugin plug-in is configured); the inputs it
read are merged there into `parsed-processed-input.yaml`, so `cim-plugin compare` can
re-check the run. Binaries are
found via `CIM_PLUGIN_TIMELOOP_BIN`, `TIMELOOP_BIN_DIR` or PATH and run without a
shell, with a timeout and their output captured in a log file.

Timeloop quirks handled here (docs/timeloop-accelergy.md §8, §9): the mapper exits 0
with empty files when it finds no mapping; a mapping file named exactly
`timeloop-mapper.map.yaml` is ignored as an input; `mapping: []` in an input overrides
the given mapping; the model re-checks `architecture_constraints` (optionally dropped);
raw v0.4 input (architecture.nodes) is refused by the binaries, so it is transpiled here
(cim_plugin.spec.v4, the component library's ERT/ART when the inputs carry none, as the
embedded `cim-plugin model` does) instead of needing timeloopfe; inputs without an `ERT` make a
Timeloop built without Accelergy fall back to its internal energy model silently, so
that is refused; stats.txt prints the total energy to 3 digits (`Energy: 5.02 uJ`) and
a summary area computed before the ART is applied (often `Area: 0.00 mm^2`), so both
are summed from the per-level figures instead.

Timeloop counts one cycle per compute operation; the figures returned apply the compute
latency every command applies (`cim_plugin.library.latency`) to Timeloop's counts, the
way the embedded model does (`cim_plugin.backends.latency`), so both backends report
the same cycles, leakage and utilization for the same mapping. The work folder is made
absolute before anything runs, because Timeloop runs inside it and would otherwise
resolve relative input paths against it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cim_plugin.backends.parse import parse_map_yaml, parse_stats
from cim_plugin.errors import CimPluginError, InputError, NotAvailableError
from cim_plugin.io.safeio import write_text_atomic
from cim_plugin.io.yamlout import write_yaml
from cim_plugin.model.result import EvalResult
from cim_plugin.spec.mapping import Mapping
from cim_plugin.spec.yamlio import load_inputs, load_yaml

BIN_ENV_VARS = ("CIM_PLUGIN_TIMELOOP_BIN", "TIMELOOP_BIN_DIR")
MODEL, MAPPER = "timeloop-model", "timeloop-mapper"
# files a design folder may hold that are outputs, not inputs
_OUTPUT_RE = re.compile(r"^(timeloop-(model|mapper)\..*|parsed-processed-input\.yaml|"
                        r".*\.(ERT|ART)_summary\.yaml|.*\.accelergy\.log)$")
_DESIGN_ORDER = ("arch.yaml", "problem.yaml", "constraints.yaml", "mapper.yaml")
# files of an exported design folder that are not Timeloop inputs: the mapping in Timeloop's
# form (passed separately) and in timeloopfe's form, and Accelergy's configuration
_NOT_INPUTS = ("map.yaml", "map.v4.yaml", "accelergy_config.yaml")
_EMPTY_MAPPING_RE = re.compile(r"^mapping:\s*\[\s*\]\s*(#.*)?$", re.MULTILINE)
ERT_HINT = ("pass the energy/area tables as further input files (e.g. Accelergy's "
            "timeloop-mapper.ERT.yaml and timeloop-mapper.ART.yaml, or any YAML with "
            "`ERT:`/`ART:` sections), or install Accelergy with the cim_plugin plug-in and "
            "use a Timeloop built with --accelergy")
INSTALL_HINT = ("install Timeloop (https://github.com/NVlabs/timeloop, with Accelergy) and put "
                "its bin directory on PATH, or set CIM_PLUGIN_TIMELOOP_BIN (or TIMELOOP_BIN_DIR) "
                "to that directory; --backend embedded needs no installation")


class TimeloopRunError(CimPluginError):
    """Timeloop failed or timed out; the message names the log to read."""


class NoMappingError(InputError):
    """timeloop-mapper found no valid mapping (it exits 0 and writes empty files)."""


@dataclass(frozen=True)
class RunOutput:
    """Where one run happened and what it wrote."""

    workdir: Path
    prefix: str                   # "timeloop-model" or "timeloop-mapper"
    log: Path
    returncode: int
    timed_out: bool = False

    def file(self, suffix: str) -> Path:
        return self.workdir / f"{self.prefix}.{suffix}"


# --- finding the binaries ------------------------------------------------------------------
def find_tool(name: str) -> Path | None:
    """Path of a Timeloop binary, or None. Env vars may name the bin folder or the binary."""
    for var in BIN_ENV_VARS:
        value = os.environ.get(var)
        if not value:
            continue
        p = Path(value).expanduser()
        folder = p.parent if p.is_file() else p
        cand = folder / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    found = shutil.which(name)
    return Path(found) if found else None


def require_tool(name: str) -> Path:
    """The binary, or NotAvailableError saying how to point cim_plugin at it."""
    path = find_tool(name)
    if path is None:
        where = ", ".join(f"{v}={os.environ[v]!r}" for v in BIN_ENV_VARS if os.environ.get(v))
        looked = f" (looked in {where} and PATH)" if where else " (looked on PATH)"
        raise NotAvailableError(f"{name} not found{looked}: {INSTALL_HINT}")
    return path


def available() -> bool:
    return find_tool(MODEL) is not None and find_tool(MAPPER) is not None


# --- inputs ----------------------------------------------------------------------------------
def collect_inputs(inputs: str | Path | Sequence[str | Path]) -> list[Path]:
    """Input YAML files: a list as given, or the files of a design folder.

    A design folder (as written by `cim-plugin export`) contributes arch, problem,
    constraints and mapper files first, then its other YAML files and `components/`.
    Timeloop outputs lying in the folder are skipped. `map.yaml` is left out here:
    it is the mapping, passed separately; so is `map.v4.yaml` (timeloopfe's form).
    """
    items = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            names = sorted(f.name for f in p.iterdir() if f.is_file()
                           and f.suffix in (".yaml", ".yml") and not _OUTPUT_RE.match(f.name)
                           and f.name not in _NOT_INPUTS)
            ordered = [n for n in _DESIGN_ORDER if n in names]
            ordered += [n for n in names if n not in ordered]
            files += [p / n for n in ordered]
            comp = p / "components"
            if comp.is_dir():
                files += sorted(f for f in comp.rglob("*.y*ml") if f.is_file())
        elif p.is_file():
            files.append(p)
        else:
            raise InputError("no such file or folder", file=str(p),
                             expected="Timeloop input YAML files or a design folder")
    if not files:
        raise InputError("no input YAML files", file=", ".join(str(i) for i in items),
                         expected="architecture, problem (and mapper/constraints) YAML files")
    return files


def design_mapping(inputs: str | Path | Sequence[str | Path]) -> Path | None:
    """`map.yaml` of a design folder (given alone or as the only item), if there is one."""
    if not isinstance(inputs, str | Path) and len(inputs) == 1:
        inputs = inputs[0]
    if isinstance(inputs, str | Path) and Path(inputs).is_dir():
        m = Path(inputs) / "map.yaml"
        return m if m.is_file() else None
    return None


def accelergy_available() -> bool:
    """Whether Timeloop could call Accelergy (it looks for `accelergy` on PATH, then
    $ACCELERGYPATH)."""
    return shutil.which("accelergy") is not None or bool(os.environ.get("ACCELERGYPATH"))


def _is_v4(doc: dict[str, Any]) -> bool:
    arch = doc.get("architecture")
    return isinstance(arch, dict) and "nodes" in arch


def _stage_inputs(files: list[Path], stage: Path, *, drop_empty_mapping: bool,
                  drop_arch_constraints: bool) -> list[Path]:
    """Copies of the inputs that need changes; untouched files are passed as they are."""
    out: list[Path] = []
    for i, f in enumerate(files):
        text = f.read_text(encoding="utf-8")
        new = _EMPTY_MAPPING_RE.sub("", text) if drop_empty_mapping else text
        if drop_arch_constraints and re.search(r"^architecture_constraints:", new, re.MULTILINE):
            doc = load_yaml(f)
            doc.pop("architecture_constraints", None)
            if drop_empty_mapping and doc.get("mapping") == []:
                doc.pop("mapping")
            out.append(write_yaml(stage / f"{i:02d}-{f.name}", doc))
            continue
        if new != text or f.name == f"{MAPPER}.map.yaml":
            name = f.name if f.name != f"{MAPPER}.map.yaml" else "input.map.yaml"
            out.append(write_text_atomic(stage / f"{i:02d}-{name}", new))
        else:
            out.append(f.resolve())
    return out


def _mapping_file(mapping: Mapping | str | Path, files: list[Path], stage: Path) -> Path:
    """A mapping file Timeloop will read (never named `timeloop-mapper.map.yaml`)."""
    if isinstance(mapping, Mapping):
        from cim_plugin.spec.arch import load_architecture
        from cim_plugin.spec.problem import load_problem

        doc, _ = load_inputs(files)
        arch = load_architecture(doc)
        problem = load_problem(doc)
        order = [s.base_name for s in arch.storage_inner_first]
        entries = mapping.to_yaml_list(order, problem.dimensions)
        return write_yaml(stage / "input.map.yaml", {"mapping": entries})
    src = Path(mapping)
    if not src.is_file():
        raise InputError("mapping file not found", file=str(src), expected="a map.yaml")
    doc = load_yaml(src)
    if isinstance(doc, list):
        doc = {"mapping": doc}
    if not isinstance(doc, dict) or not doc.get("mapping"):
        raise InputError("no mapping entries", file=str(src), field="mapping",
                         expected="mapping: [{target, type, ...}] (a timeloop-mapper map.yaml)")
    return write_text_atomic(stage / "input.map.yaml", src.read_text(encoding="utf-8"))


# --- Accelergy plug-in -----------------------------------------------------------------------
def _plugin_path() -> Path | None:
    from cim_plugin.library import plugin_path

    try:
        p = plugin_path()
    except CimPluginError:
        return None
    return Path(p) if p else None


def write_accelergy_config(workdir: Path) -> Path | None:
    """`./accelergy_config.yaml` = the user's config plus the cim_plugin plug-in.

    Accelergy reads the config of its working directory before the home one, so the
    home config's estimator folders are kept (Python plug-ins load only when some
    `.estimator.yaml` is configured; docs/timeloop-accelergy.md §8).
    """
    plugin = _plugin_path()
    if plugin is None:
        return None
    home = Path.home() / ".config" / "accelergy" / "accelergy_config.yaml"
    config: dict[str, Any] = {"version": 0.4}
    if home.is_file():
        try:
            loaded = load_yaml(home)
            if isinstance(loaded, dict):
                config = loaded
        except InputError:
            pass
    plugs = [str(x) for x in (config.get("python_plug_ins") or [])]
    if str(plugin) not in plugs:
        plugs.append(str(plugin))
    config["python_plug_ins"] = plugs
    return write_yaml(workdir / "accelergy_config.yaml", config)


# --- running ---------------------------------------------------------------------------------
def _run(argv: list[str], workdir: Path, log: Path, timeout: float | None,
         interrupt_on_timeout: bool) -> tuple[int, bool]:
    """Run without a shell; on timeout send SIGINT (mapper keeps its best) then kill."""
    env = dict(os.environ)
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(argv, cwd=workdir, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env)
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            if interrupt_on_timeout:
                proc.send_signal(signal.SIGINT)
                try:
                    return proc.wait(timeout=60), True
                except subprocess.TimeoutExpired:
                    pass
            proc.kill()
            proc.wait()
            return proc.returncode, True


def _tail(log: Path, n: int = 15) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _table_files(ert: str | Path | None, art: str | Path | None) -> list[Path]:
    out = []
    for what, f in (("ERT", ert), ("ART", art)):
        if f is None:
            continue
        if not Path(f).is_file():
            raise InputError(f"{what} file not found", file=str(f),
                             expected=f"an Accelergy {what} YAML (top-level `{what}:`)")
        out.append(Path(f))
    return out


_V4_KEEP = ("problem", "mapper", "mapspace", "globals", "ERT", "ART")


def _transpile_v4(doc: dict[str, Any], origin: dict[str, str], stage: Path,
                  drop_arch_constraints: bool) -> Path:
    """A processed-form input (`architecture.subtree`) for a v0.4 document.

    Uses cim_plugin's own transpiler (cim_plugin.spec.v4, the same code the export and
    the embedded model use); constraints become `architecture_constraints`. Without an
    `ERT` in the inputs the component library's ERT/ART are embedded, as the embedded
    `cim-plugin model` does, so neither timeloopfe nor Accelergy is needed.
    """
    from cim_plugin.spec.arch import architecture_from_processed
    from cim_plugin.spec.v4 import flatten_v4, flatten_v4_constraints

    file = origin.get("architecture")
    variables = {k: v for k, v in (doc.get("variables") or {}).items() if k != "version"}
    out: dict[str, Any] = {"architecture": flatten_v4(doc["architecture"], file, variables)}
    if not drop_arch_constraints:
        out["architecture_constraints"] = {"targets": flatten_v4_constraints(doc, file)["targets"]}
    out.update({k: doc[k] for k in _V4_KEEP if doc.get(k) is not None})
    if out.get("ERT") is None:
        from cim_plugin.library.ert_gen import generate_tables

        ert, art = generate_tables(architecture_from_processed(out["architecture"], file))
        out.update(ert.to_yaml_dict())
        if out.get("ART") is None:
            out.update(art.to_yaml_dict())
    return write_yaml(stage / "processed-input.yaml", out)


def _prepare(tool: str, input_files: str | Path | Sequence[str | Path], out_dir: str | Path,
             mapping: Mapping | str | Path | None, drop_arch_constraints: bool,
             tables: Sequence[Path] = ()) -> tuple[Path, Path, list[Path], bool]:
    binary = require_tool(tool)
    files = collect_inputs(input_files) + list(tables)
    doc, origin = load_inputs(files)
    v4 = _is_v4(doc)
    has_ert = v4 or doc.get("ERT") is not None
    if not has_ert and not accelergy_available():
        raise InputError(
            f"no ERT and no Accelergy: {tool} would silently use its internal energy "
            "model instead of an energy reference table",
            file=", ".join(str(f) for f in files), field="ERT", expected=ERT_HINT)
    workdir = (Path(out_dir) / tool).resolve()      # Timeloop runs in it: no relative paths
    stage = workdir / "inputs"
    stage.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob(f"{tool}.*"):
        old.unlink()
    if v4:
        staged = [_transpile_v4(doc, origin, stage, drop_arch_constraints)]
    else:
        staged = _stage_inputs(files, stage,
                               drop_empty_mapping=mapping is not None or tool == MAPPER,
                               drop_arch_constraints=drop_arch_constraints)
    if mapping is not None:
        staged.append(_mapping_file(mapping, files, stage))
    # what Timeloop read, merged, next to its outputs: `cim-plugin compare WORKDIR` needs it
    write_yaml(workdir / "parsed-processed-input.yaml", load_inputs(staged)[0])
    write_accelergy_config(workdir)
    return binary, workdir, staged, has_ert


def run_tool(tool: str, input_files: str | Path | Sequence[str | Path], out_dir: str | Path,
             *, mapping: Mapping | str | Path | None = None, timeout: float | None = 600,
             drop_arch_constraints: bool = False, ert: str | Path | None = None,
             art: str | Path | None = None) -> RunOutput:
    """Run one Timeloop application in `out_dir/<tool>/`; raise on failure.

    `ert`/`art` are table files added to the inputs (Timeloop reads `ERT:`/`ART:` keys
    from any input file).
    """
    binary, workdir, staged, has_ert = _prepare(tool, input_files, out_dir, mapping,
                                                drop_arch_constraints, _table_files(ert, art))
    log = workdir / f"{tool}.log"
    rc, timed_out = _run([str(binary), *[str(s) for s in staged]], workdir, log, timeout,
                         interrupt_on_timeout=(tool == MAPPER))
    out = RunOutput(workdir=workdir, prefix=tool, log=log, returncode=rc, timed_out=timed_out)
    stats = out.file("stats.txt")
    if timed_out and not (tool == MAPPER and stats.is_file() and stats.stat().st_size):
        raise TimeloopRunError(f"{tool} timed out after {timeout} s; log: {log}")
    if rc != 0 and not timed_out:
        raise TimeloopRunError(f"{tool} exited with status {rc}; log: {log}\n{_tail(log)}")
    if not stats.is_file():
        acc = sorted(workdir.glob("*.accelergy.log"))
        hint = f"; see {acc[0]}" if acc else ""
        raise TimeloopRunError(f"{tool} wrote no stats.txt (an Accelergy failure makes Timeloop "
                               f"exit 0 without results){hint}; log: {log}\n{_tail(log)}")
    if not has_ert and not out.file("ERT.yaml").is_file():
        raise TimeloopRunError(f"{tool} ran without an ERT and did not call Accelergy (a build "
                               f"without --accelergy), so its energies come from its internal "
                               f"model; {ERT_HINT}; log: {log}")
    return out


def _exact_totals(result: EvalResult) -> None:
    """Replace the rounded summary energy/area by the sums of the per-level figures.

    The summary prints energy in uJ with 2 decimals (3 digits for a 5 uJ run), and its
    area is summed when the architecture is specified, before the ART replaces the
    areas (Timeloop src/model/topology.cpp; `Area: 0.00 mm^2` for the WWWtoCiM runs);
    the per-level lines give pJ and um^2 with 2 decimals, after the ART. The energy sum
    is used only when it rounds to the printed total, so a parse that missed a level
    cannot go unnoticed.
    """
    energy = result.compute.energy_pJ + sum(lv.energy_pJ for lv in result.levels)
    if energy > 0 and abs(energy - result.energy_pJ) <= 0.005e6 * (1 + 1e-9):
        result.energy_pJ = energy
    elif energy > 0:
        result.warnings.append(f"per-level energies add up to {energy:.2f} pJ, the summary "
                               f"prints {result.energy_pJ / 1e6:.2f} uJ; kept the summary")
    area = result.compute.area_um2 * result.compute.instances + sum(
        lv.area_um2 * lv.instances for lv in result.levels)
    if area > 0:
        result.area_um2 = area


def read_stats(path: str | Path) -> EvalResult:
    """A Timeloop stats.txt with the exact energy and area totals (`_exact_totals`)."""
    result = parse_stats(Path(path))
    _exact_totals(result)
    return result


def _areas_from_art(result: EvalResult, out: RunOutput) -> None:
    """Areas from the ART Timeloop used (the inputs' `ART`, else Accelergy's
    `<prefix>.ART.yaml`), not from stats.txt, which prints them with 2 decimals (0.07 %
    off for a 69.93 um^2 CiM storage share) and leaves out the levels it hides."""
    from cim_plugin.spec.ert import art_from_dict, load_art

    merged = load_yaml(out.workdir / "parsed-processed-input.yaml")
    try:
        if isinstance(merged, dict) and merged.get("ART") is not None:
            art = art_from_dict(merged)
        elif out.file("ART.yaml").is_file():
            art = load_art(out.file("ART.yaml"))
        else:
            return
    except InputError:
        return
    from cim_plugin.spec.arch import load_architecture

    if result.compute.name in art.areas:
        result.compute.area_um2 = art.areas[result.compute.name]
    for lv in result.levels:
        lv.area_um2 = art.areas.get(lv.name, lv.area_um2)
    # every component, the levels stats.txt hides (inter_*_spatial) too, as the embedded
    # model sums it
    arch = load_architecture(merged)
    result.area_um2 = sum(c.instances * art.areas.get(c.base_name, 0.0) for c in arch.components)


def _result(out: RunOutput) -> EvalResult:
    result = read_stats(out.file("stats.txt"))
    _areas_from_art(result, out)
    result.extra["backend"] = "timeloop"
    result.extra["workdir"] = str(out.workdir)
    result.extra["log"] = str(out.log)
    if out.timed_out:
        result.warnings.append("timeloop-mapper stopped at the timeout; best mapping so far")
    return result


def with_compute_latency(result: EvalResult, workdir: Path, compute_latency: float | None = None,
                         attribute: str | None = None) -> EvalResult:
    """Timeloop's result with the compute latency the embedded model applies (the rule of
    `cim_plugin.library.latency`, on the architecture Timeloop ran; `compute_latency`
    overrides it as `--compute-latency` does, `attribute` names the compute attribute)."""
    from cim_plugin.backends.latency import apply_compute_latency
    from cim_plugin.library.latency import compute_latency as latency_rule
    from cim_plugin.spec.arch import load_architecture
    from cim_plugin.spec.problem import load_problem

    merged = workdir / "parsed-processed-input.yaml"
    doc = load_yaml(merged)
    arch = load_architecture(doc, str(merged))
    if attribute:
        latency, source = latency_rule(arch, compute_latency, attribute)
    else:
        latency, source = latency_rule(arch, compute_latency)
    return apply_compute_latency(result, arch, load_problem(doc, str(merged)), latency, source)


def run_model(input_files: str | Path | Sequence[str | Path], mapping: Mapping | str | Path | None,
              out_dir: str | Path, timeout: float | None = 600, *,
              drop_arch_constraints: bool = False, ert: str | Path | None = None,
              art: str | Path | None = None, compute_latency: float | None = None,
              latency_attribute: str | None = None) -> EvalResult:
    """Evaluate one mapping with timeloop-model.

    `mapping` may be a `Mapping`, a map.yaml path, or None (a design folder's map.yaml,
    else a mapping inside the inputs). Set `drop_arch_constraints` to evaluate a mapping
    that violates mapper-only constraints (timeloop-model re-checks them). `ert`/`art`:
    energy/area table files (else `ERT:`/`ART:` in the inputs, else Accelergy). The
    compute latency is applied to Timeloop's counts (module doc); `compute_latency`
    overrides the rule, `latency_attribute` names the compute attribute it reads.
    """
    if mapping is None:
        mapping = design_mapping(input_files)
    out = run_tool(MODEL, input_files, out_dir, mapping=mapping, timeout=timeout,
                   drop_arch_constraints=drop_arch_constraints, ert=ert, art=art)
    if out.file("stats.txt").stat().st_size == 0:
        raise TimeloopRunError(f"{MODEL} wrote an empty stats.txt; log: {out.log}\n{_tail(out.log)}")
    return with_compute_latency(_result(out), out.workdir, compute_latency, latency_attribute)


def run_mapper(input_files: str | Path | Sequence[str | Path], out_dir: str | Path,
               timeout: float | None = 600, *, ert: str | Path | None = None,
               art: str | Path | None = None, compute_latency: float | None = None
               ) -> tuple[Mapping, EvalResult]:
    """Search a mapping with timeloop-mapper; returns the best mapping and its stats, with
    the compute latency applied to them (timeloop-mapper itself ranks mappings with one
    cycle per compute, which a warning says when the latency is not 1)."""
    out = run_tool(MAPPER, input_files, out_dir, timeout=timeout, ert=ert, art=art)
    stats, map_yaml = out.file("stats.txt"), out.file("map.yaml")
    if stats.stat().st_size == 0 or not map_yaml.is_file() or map_yaml.stat().st_size == 0:
        raise NoMappingError(
            "timeloop-mapper found no valid mapping (it exits 0 and writes empty files); "
            "loosen factor/keep constraints, check spatial factors against the mesh and tile "
            f"sizes against capacities, or set mapper.diagnostics: true; log: {out.log}",
            file=str(stats))
    result = with_compute_latency(_result(out), out.workdir, compute_latency)
    if result.compute_latency_cycles != 1:
        result.warnings.append(
            f"timeloop-mapper ranked mappings with 1 cycle per compute; the figures apply "
            f"{result.compute_latency_cycles:g} cycles per operation to its best mapping")
    return parse_map_yaml(map_yaml), result
