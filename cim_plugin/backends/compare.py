"""Compare a Timeloop output folder with the embedded model's re-evaluation of it.

The folder holds what a Timeloop run leaves behind (`parsed-processed-input.yaml`,
`timeloop-*.map.yaml` or `.map.txt`, `*.stats.txt`, `*.ERT.yaml`, `*.ART.yaml`). We
parse stats.txt, evaluate the same mapping with the embedded model on the same
inputs and ERT, and diff every printed figure. stats.txt rounds to 2 decimals, so a
value agrees when it is within the relative tolerance *or* within the rounding of
its printed form.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cim_plugin.backends.parse import parse_map_txt, parse_stats
from cim_plugin.errors import InputError, InvalidMappingError
from cim_plugin.model.result import DataSpaceStats, EvalResult
from cim_plugin.spec.arch import load_architecture
from cim_plugin.spec.ert import given_tables
from cim_plugin.spec.mapping import load_mapping
from cim_plugin.spec.problem import load_problem
from cim_plugin.spec.yamlio import load_inputs

HALF_CENT = 0.005 * (1 + 1e-9)       # half a unit in the last printed (2-decimal) place
DS_COUNTS = ("partition_size", "utilized_capacity", "utilized_instances", "reads", "fills",
             "updates", "temporal_reductions", "address_generations")


@dataclass
class Row:
    """One compared figure: Timeloop's printed value against the embedded model's."""

    scope: str                # "summary", "compute", "fJ/Compute" or a level name
    dataspace: str            # "" for level-wide figures
    metric: str
    timeloop: float
    model: float
    slack: float              # absolute rounding slack of the printed value
    tolerance: float          # relative, e.g. 0.005
    note: str = ""

    @property
    def abs_diff(self) -> float:
        return self.model - self.timeloop

    @property
    def rel_diff(self) -> float:
        if self.timeloop == 0:
            return 0.0 if self.model == 0 else math.inf
        return (self.model - self.timeloop) / abs(self.timeloop)

    @property
    def ok(self) -> bool:
        diff = abs(self.abs_diff)
        if diff == 0:
            return True                       # equal values agree under any tolerance
        allowed = self.tolerance * abs(self.timeloop) if self.timeloop else 0.0
        return diff <= max(allowed, self.slack)


@dataclass
class CompareReport:
    folder: str
    stats_file: str
    tolerance: float
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]

    def row(self, scope: str, dataspace: str, metric: str) -> Row:
        for r in self.rows:
            if (r.scope, r.dataspace, r.metric) == (scope, dataspace, metric):
                return r
        raise KeyError((scope, dataspace, metric))

    def format_table(self, only_failures: bool = False) -> str:
        rows = self.failures if only_failures else self.rows
        head = ("scope", "ds", "metric", "timeloop", "embedded", "rel diff", "")
        body = [(r.scope, r.dataspace or "-", r.metric, _fmt(r.timeloop), _fmt(r.model),
                 _pct(r.rel_diff), "ok" if r.ok else "DIFF") for r in rows]
        widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(str(c).ljust(w) if i < 3 else str(c).rjust(w)
                           for i, (c, w) in enumerate(zip(line, widths))).rstrip()
                 for line in [head, *body]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        verdict = (f"{len(self.rows) - len(self.failures)}/{len(self.rows)} figures agree within "
                   f"{self.tolerance * 100:g} % (or the 2-decimal rounding of stats.txt)")
        return "\n".join([*lines, "", *self.notes, verdict, "AGREE" if self.ok else "DIFFER"])

    def to_json_dict(self, only_failures: bool = False) -> dict[str, Any]:
        rows = self.failures if only_failures else self.rows
        return {"folder": self.folder, "stats_file": self.stats_file, "tolerance": self.tolerance,
                "ok": self.ok, "compared": len(self.rows), "failed": len(self.failures),
                "notes": list(self.notes),
                "rows": [{**asdict(r), "rel_diff": r.rel_diff if math.isfinite(r.rel_diff)
                          else None, "ok": r.ok} for r in rows]}


def _fmt(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}" if abs(v) >= 1e6 or abs(v) < 1e-3 else f"{v:.4f}".rstrip("0")


def _pct(rel: float) -> str:
    return "inf" if not math.isfinite(rel) else f"{rel * 100:+.3f}%"


# --- locating the files of an output folder ----------------------------------------------------
def _pick(folder: Path, pattern: str, what: str, required: bool = True) -> Path | None:
    found = sorted(folder.glob(pattern))
    found = [f for f in found if f.is_file() and f.stat().st_size > 0]
    if not found:
        if required:
            raise InputError(f"no {what} ({pattern}) in the folder", file=str(folder),
                             expected="a Timeloop output folder: parsed-processed-input.yaml, "
                                      "timeloop-*.map.yaml, *.stats.txt, *.ERT.yaml")
        return None
    mapper = [f for f in found if f.name.startswith("timeloop-mapper")]
    return (mapper or found)[0]


@dataclass
class RunFolder:
    """The pieces of a Timeloop output folder the comparison needs."""

    inputs: Path
    stats: Path
    map_yaml: Path | None
    map_txt: Path | None
    ert: Path | None
    art: Path | None


def find_run_files(folder: str | Path) -> RunFolder:
    d = Path(folder)
    if not d.is_dir():
        raise InputError("not a folder", file=str(d), expected="a Timeloop output folder")
    inputs = d / "parsed-processed-input.yaml"
    if not inputs.is_file():
        raise InputError("no parsed-processed-input.yaml", file=str(d),
                         expected="the processed input Timeloop ran, next to its outputs")
    stats = _pick(d, "*.stats.txt", "stats file")
    map_yaml = _pick(d, "timeloop-*.map.yaml", "mapping", required=False)
    map_txt = _pick(d, "*.map.txt", "mapping", required=False)
    if map_yaml is None and map_txt is None:
        raise InputError("no mapping (timeloop-*.map.yaml or *.map.txt)", file=str(d),
                         expected="the mapping Timeloop evaluated")
    return RunFolder(inputs=inputs, stats=stats, map_yaml=map_yaml, map_txt=map_txt,
                     ert=_pick(d, "*.ERT.yaml", "ERT", required=False),
                     art=_pick(d, "*.ART.yaml", "ART", required=False))


def evaluate_folder(files: RunFolder) -> EvalResult:
    """The embedded model's result for the folder's inputs, mapping and ERT."""
    from cim_plugin.model.evaluate import evaluate

    doc, _ = load_inputs([files.inputs])
    arch = load_architecture(doc, str(files.inputs))
    problem = load_problem(doc, str(files.inputs))
    if files.map_yaml is not None:
        mapping = load_mapping(files.map_yaml, dims=problem.dimensions)
    else:
        assert files.map_txt is not None
        names = tuple(ds.name for ds in problem.data_spaces)
        mapping = parse_map_txt(files.map_txt).to_mapping(names)
    ert, art = given_tables(doc, ert=files.ert, art=files.art, ert_file=str(files.inputs),
                            art_file=str(files.inputs))
    if ert is None:
        raise InputError("no ERT (*.ERT.yaml or an ERT key in the inputs)",
                         file=str(files.inputs), expected="Accelergy's energy reference table")
    try:
        return evaluate(arch, problem, mapping, ert, art)
    except InvalidMappingError as exc:
        if exc.file:
            raise
        # a mapping read from map.txt carries no file of its own
        raise InvalidMappingError(exc.detail, file=str(files.map_yaml or files.map_txt),
                                  field=exc.field, expected=exc.expected) from None


# --- the comparison ------------------------------------------------------------------------------
def compare_results(ref: EvalResult, model: EvalResult, tolerance: float = 0.005,
                    folder: str = "", stats_file: str = "") -> CompareReport:
    """Diff every figure stats.txt prints against the model's (`tolerance` is relative)."""
    rep = CompareReport(folder=folder, stats_file=stats_file, tolerance=tolerance)

    def add(scope: str, ds: str, metric: str, t: float, m: float, slack: float = 0.0,
            note: str = "") -> None:
        rep.rows.append(Row(scope, ds, metric, float(t), float(m), slack, tolerance, note))

    add("summary", "", "computes", ref.computes, model.computes)
    add("summary", "", "cycles", ref.cycles, model.cycles)
    add("summary", "", "energy_pJ", ref.energy_pJ, model.energy_pJ, HALF_CENT * 1e6)  # uJ printed
    add("summary", "", "gflops", ref.gflops, model.gflops, HALF_CENT)
    add("summary", "", "utilization", ref.utilization, model.utilization, HALF_CENT / 100)

    c, mc = ref.compute, model.compute
    add("compute", "", "utilized_instances", c.utilized_instances, mc.utilized_instances)
    add("compute", "", "computes", c.computes, mc.computes)
    add("compute", "", "cycles", c.cycles, mc.cycles)
    add("compute", "", "energy_pJ", c.energy_pJ, mc.energy_pJ, HALF_CENT)

    model_levels = {lv.name: lv for lv in model.levels}
    ref_names = {lv.name for lv in ref.levels}
    for lv in ref.levels:
        ml = model_levels.get(lv.name)
        if ml is None:
            rep.notes.append(f"level {lv.name} is in stats.txt but not in the model's result")
            add(lv.name, "", "present", 1, 0)
            continue
        add(lv.name, "", "instances", lv.instances, ml.instances)
        add(lv.name, "", "cycles", lv.cycles, ml.cycles)
        add(lv.name, "", "bandwidth_throttling", lv.bandwidth_throttling,
            ml.bandwidth_throttling, HALF_CENT)
        n_printed = 1 + 3 * max(1, len(lv.dataspaces))
        add(lv.name, "", "leakage_pJ", lv.leakage_pJ, ml.leakage_pJ, HALF_CENT)
        add(lv.name, "", "energy_pJ", lv.energy_pJ, ml.energy_pJ, HALF_CENT * n_printed)
        for ds in sorted(set(lv.dataspaces) | set(ml.dataspaces)):
            t = lv.dataspaces.get(ds, DataSpaceStats())
            m = ml.dataspaces.get(ds, DataSpaceStats())
            note = "" if ds in lv.dataspaces else "not printed by Timeloop"
            for f in DS_COUNTS:
                add(lv.name, ds, f, getattr(t, f), getattr(m, f), note=note)
            add(lv.name, ds, "energy_pJ", t.energy_pJ, m.energy_pJ, HALF_CENT, note)
    hidden = [ml for name, ml in model_levels.items() if name not in ref_names]
    for ml in hidden:
        # levels TIMELOOP_HIDE_INCONSEQUENTIAL_STATS left out must be inconsequential
        add(ml.name, "", "energy_pJ", 0.0, ml.energy_pJ, HALF_CENT, "hidden in stats.txt")
    if hidden:
        rep.notes.append("hidden in stats.txt (inconsequential): "
                         + ", ".join(ml.name for ml in hidden))

    for key in list(ref.fj_per_compute) + [k for k in model.fj_per_compute
                                             if k not in ref.fj_per_compute]:
        t = ref.fj_per_compute.get(key, 0.0)
        m = model.fj_per_compute.get(key, 0.0)
        add("fJ/Compute", "", key, t, m, HALF_CENT,
            "" if key in ref.fj_per_compute else "not printed by Timeloop")
    return rep


def compare_folder(folder: str | Path, tolerance: float = 0.005) -> CompareReport:
    """Parse a Timeloop output folder, re-evaluate it with the embedded model, diff."""
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise InputError(f"tolerance {tolerance!r} is not a finite number >= 0",
                         field="--tolerance", expected="a percentage >= 0")
    files = find_run_files(folder)
    ref = parse_stats(files.stats, complete=True)
    model = evaluate_folder(files)
    rep = compare_results(ref, model, tolerance, folder=str(folder), stats_file=str(files.stats))
    if ref.area_um2 == 0 and model.area_um2:
        rep.notes.append(f"Summary 'Area' printed as {ref.area_um2 / 1e6:.2f} mm^2 (not compared); "
                         f"the model's total is {model.area_um2:.6g} um^2")
    return rep
