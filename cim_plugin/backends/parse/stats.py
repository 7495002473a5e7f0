"""Parser of Timeloop's `*.stats.txt` into `EvalResult`.

The file has four sections (TL src/model/topology.cpp `operator<<`): "Buffer and
Arithmetic Levels" (per level: SPECS, MAPPING, STATS with one sub-block per
dataspace), "Networks", "Operational Intensity Stats" and "Summary Stats". Level
numbers skip levels hidden by TIMELOOP_HIDE_INCONSEQUENTIAL_STATS, sparse runs use
`Actual scalar ...` keys, and any section may be missing in other versions, so the
parser keys on `=== name ===` headers inside the first section and reads every
`key : value` line without assuming an order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim_plugin.backends.parse import values as V
from cim_plugin.errors import InputError
from cim_plugin.model.result import ComputeStats, DataSpaceStats, EvalResult, LevelStats
from cim_plugin.spec.yamlio import read_input_text

SECTIONS = {
    "Buffer and Arithmetic Levels": "levels",
    "Networks": "networks",
    "Operational Intensity Stats": "intensity",
    "Summary Stats": "summary",
}
_SUBSECTIONS = ("SPECS", "MAPPING", "STATS")
_LEVEL_RE = re.compile(r"^Level\s+(\d+)\s*$")
_NETWORK_RE = re.compile(r"^Network\s+(\d+)\s*$")
_BLOCK_RE = re.compile(r"^===\s*(.+?)\s*===\s*$")
_DASHES_RE = re.compile(r"^\s*-+\s*$")
_DS_HEADER_RE = re.compile(r"^\s+([A-Za-z_][\w\-]*):\s*$")

# canonical field -> printed keys, dense first then the sparse variants
DATASPACE_KEYS: dict[str, tuple[str, ...]] = {
    "partition_size": ("Partition size",),
    "utilized_capacity": ("Utilized capacity", "Max utilized data storage capacity"),
    "utilized_instances": ("Utilized instances (max)", "Utilized instances"),
    "utilized_clusters": ("Utilized clusters (max)", "Utilized clusters"),
    "reads": ("Scalar reads (per-instance)", "Actual scalar reads (per-instance)"),
    "fills": ("Scalar fills (per-instance)", "Actual scalar fills (per-instance)"),
    "updates": ("Scalar updates (per-instance)", "Actual scalar updates (per-instance)"),
    "temporal_reductions": ("Temporal reductions (per-instance)",),
    "address_generations": ("Address generations (per-cluster)",),
}
# energy keys that add up to a level's total (Timeloop's BufferLevel::Energy)
_DS_ENERGY_KEYS = ("Energy (total)", "Temporal Reduction Energy (total)",
                   "Address Generation Energy (total)")
_COMPUTES_KEYS = ("Computes (total)", "Actual Computes (total)", "Algorithmic Computes (total)")


@dataclass
class StatsBlock:
    """One `=== name ===` block (a level) or `A <==> B` block (a network), as printed."""

    name: str
    index: int | None = None
    specs: dict[str, str] = field(default_factory=dict)
    loop_nest: list[str] = field(default_factory=list)
    stats: dict[str, str] = field(default_factory=dict)
    dataspaces: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def is_arithmetic(self) -> bool:
        return any(k in self.stats for k in _COMPUTES_KEYS) or "Compute energy" in self.specs


@dataclass
class StatsText:
    """Everything in a stats.txt as strings, before conversion to result objects."""

    levels: list[StatsBlock] = field(default_factory=list)
    networks: list[StatsBlock] = field(default_factory=list)
    intensity: dict[str, dict[str, str]] = field(default_factory=dict)   # "" = totals
    summary: dict[str, str] = field(default_factory=dict)
    per_compute: dict[str, dict[str, str]] = field(default_factory=dict)  # "fJ/Compute" -> rows
    sections: list[str] = field(default_factory=list)
    source: str | None = None


def _kv(line: str) -> tuple[str, str] | None:
    if ":" not in line:
        return None
    key, _, value = line.partition(":")
    key = key.strip()
    return (key, value.strip()) if key else None


class _Reader:
    """Line-by-line state machine; unknown lines are skipped, never fatal."""

    def __init__(self, source: str | None) -> None:
        self.out = StatsText(source=source)
        self.section: str | None = None
        self.sub: str | None = None
        self.block: StatsBlock | None = None
        self.ds: str | None = None
        self.pending_index: int | None = None
        self.intensity_key = ""
        self.group: str | None = None

    def feed(self, lines: list[str]) -> StatsText:
        for raw in lines:
            line = raw.rstrip("\n").rstrip()
            if line in SECTIONS:
                self.section = SECTIONS[line]
                self.out.sections.append(self.section)
                self.block, self.sub, self.ds, self.group = None, None, None, None
                self.pending_index = None
                continue
            if not line.strip() or _DASHES_RE.match(line):
                continue
            handler = getattr(self, f"_{self.section}", None)
            if handler is not None:
                handler(line)
        return self.out

    # --- Buffer and Arithmetic Levels -------------------------------------------------
    def _levels(self, line: str) -> None:
        m = _LEVEL_RE.match(line)
        if m:
            self.pending_index = int(m.group(1))
            return
        m = _BLOCK_RE.match(line)
        if m:
            self.block = StatsBlock(name=m.group(1), index=self.pending_index)
            self.out.levels.append(self.block)
            self.pending_index, self.sub, self.ds = None, None, None
            return
        self._block_line(line)

    def _networks(self, line: str) -> None:
        m = _NETWORK_RE.match(line)
        if m:
            self.pending_index = int(m.group(1))
            return
        if "<==>" in line and not line.startswith(" "):
            self.block = StatsBlock(name=line.strip(), index=self.pending_index)
            self.out.networks.append(self.block)
            self.pending_index, self.sub, self.ds = None, None, None
            return
        self._block_line(line)

    def _block_line(self, line: str) -> None:
        if self.block is None:
            return
        text = line.strip()
        if text in _SUBSECTIONS:
            self.sub, self.ds = text, None
            return
        if self.sub == "MAPPING":
            if text != "Loop nest:":
                self.block.loop_nest.append(text)
            return
        if self.sub == "STATS":
            m = _DS_HEADER_RE.match(line)
            if m:
                self.ds = m.group(1)
                self.block.dataspaces.setdefault(self.ds, {})
                return
            kv = _kv(line)
            if kv is None:
                return
            if self.ds is not None and line.startswith(" " * 8):
                self.block.dataspaces[self.ds].setdefault(*kv)
            else:
                self.ds = None
                self.block.stats.setdefault(*kv)
            return
        kv = _kv(line)
        if kv is not None:
            self.block.specs.setdefault(*kv)

    # --- Operational Intensity Stats --------------------------------------------------
    def _intensity(self, line: str) -> None:
        m = _BLOCK_RE.match(line)
        if m:
            self.intensity_key = m.group(1)
            self.out.intensity.setdefault(self.intensity_key, {})
            return
        kv = _kv(line)
        if kv is not None:
            self.out.intensity.setdefault(self.intensity_key, {})[kv[0]] = kv[1]

    # --- Summary Stats -----------------------------------------------------------------
    def _summary(self, line: str) -> None:
        if "=" in line:
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if line.startswith(" ") and self.group is not None:
                self.out.per_compute[self.group][key] = value
            else:
                self.group = None
                self.out.summary[key] = value
            return
        kv = _kv(line)
        if kv is not None:
            self.group = None
            self.out.summary[kv[0]] = kv[1]
            return
        self.group = line.strip()                 # e.g. "fJ/Compute", "fJ/Algorithmic-Compute"
        self.out.per_compute.setdefault(self.group, {})


def read_stats_text(text: str, source: str | None = None) -> StatsText:
    """Split a stats.txt into its printed blocks (strings, no conversion)."""
    return _Reader(source).feed(text.splitlines())


def _first(d: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for k in keys:
        if k in d:
            return d[k]
    return None


def dataspace_stats(d: dict[str, str]) -> DataSpaceStats:
    s = DataSpaceStats()
    for fname, keys in DATASPACE_KEYS.items():
        setattr(s, fname, V.count(_first(d, keys)))
    s.energy_per_instance_pJ = V.energy_pJ(d.get("Energy (per-instance)"))
    s.energy_pJ = V.energy_pJ(d.get("Energy (total)"))
    return s


def level_stats(block: StatsBlock) -> LevelStats:
    specs, stats = block.specs, block.stats
    lv = LevelStats(name=block.name)
    lv.instances = V.count(specs.get("Instances"), default=1)
    lv.cycles = V.count(stats.get("Cycles"))
    lv.bandwidth_throttling = V.real(stats.get("Bandwidth throttling"), default=1.0)
    lv.leakage_pJ = V.energy_pJ(specs.get("Leakage energy (total)"))
    lv.area_um2 = V.area_um2(specs.get("Area"))
    energy = lv.leakage_pJ
    for ds, d in block.dataspaces.items():
        lv.dataspaces[ds] = dataspace_stats(d)
        energy += sum(V.energy_pJ(d.get(k)) for k in _DS_ENERGY_KEYS)
    lv.energy_pJ = energy
    return lv


def compute_stats(block: StatsBlock) -> ComputeStats:
    specs, stats = block.specs, block.stats
    c = ComputeStats(name=block.name)
    c.instances = V.count(specs.get("Instances"), default=1)
    c.utilized_instances = V.count(stats.get("Utilized instances"))
    c.computes = V.count(_first(stats, _COMPUTES_KEYS))
    c.cycles = V.count(stats.get("Cycles"))
    c.energy_pJ = V.energy_pJ(stats.get("Energy (total)"))
    c.energy_per_compute_pJ = V.energy_pJ(specs.get("Compute energy"))
    total_area = V.area_um2(stats.get("Area (total)"))
    c.area_um2 = total_area / c.instances if c.instances else 0.0
    return c


def network_energy_pJ(block: StatsBlock) -> float:
    keys = ("Energy (total)", "Link transfer energy (total)", "Spatial Reduction Energy (total)")
    return sum(V.energy_pJ(d.get(k)) for d in block.dataspaces.values() for k in keys)


def to_result(st: StatsText) -> EvalResult:
    """Convert printed blocks to `EvalResult` (per-instance counts, pJ, utilization 0..1)."""
    where = st.source or "<stats.txt>"
    if not st.levels and not st.summary:
        raise InputError("no 'Buffer and Arithmetic Levels' or 'Summary Stats' section "
                         "(an empty stats.txt means the mapper found no valid mapping)",
                         file=where, expected="a Timeloop stats.txt")
    warnings: list[str] = []
    for title, key in SECTIONS.items():
        if key not in st.sections and key != "networks":
            warnings.append(f"section '{title}' missing in {where}")
    arith = [b for b in st.levels if b.is_arithmetic]
    storage = [b for b in st.levels if not b.is_arithmetic]
    compute = compute_stats(arith[0]) if arith else ComputeStats(name="compute")
    levels = [level_stats(b) for b in storage]
    summ = st.summary

    computes = V.count(_first(summ, ("Computes", "Actual Computes", "Algorithmic Computes")),
                       default=compute.computes)
    cycles = V.count(summ.get("Cycles"),
                     default=max([compute.cycles] + [lv.cycles for lv in levels]))
    net_energy = sum(network_energy_pJ(b) for b in st.networks)
    if "Energy" in summ:
        energy = V.energy_pJ(summ["Energy"], default_unit="uJ")
    else:
        energy = compute.energy_pJ + sum(lv.energy_pJ for lv in levels) + net_energy
    if "Utilization" in summ:
        utilization = V.real(summ["Utilization"]) / (100.0 if "%" in summ["Utilization"] else 1.0)
    else:
        denom = compute.instances * cycles
        utilization = computes / denom if denom else 0.0
    gflops = V.real(_first(summ, ("GFLOPs (@1GHz)",)))
    if "GFLOPs (@1GHz)" not in summ:
        warnings.append("no GFLOPs line; gflops left at 0")
    area = V.area_um2(summ.get("Area"), default_unit="mm^2")
    per_compute = st.per_compute.get("fJ/Compute") or {}
    fj = {k: V.real(v) for k, v in per_compute.items()}
    extra: dict[str, Any] = {
        "source": st.source,
        "level_index": {b.name: b.index for b in st.levels},
        "loop_nest": {b.name: list(b.loop_nest) for b in storage},
        "specs": {b.name: dict(b.specs) for b in st.levels},
        "networks": {b.name: {"index": b.index, "energy_pJ": network_energy_pJ(b),
                              "dataspaces": b.dataspaces} for b in st.networks},
        "intensity": st.intensity,
        "summary": dict(summ),
        "per_compute": {k: dict(v) for k, v in st.per_compute.items()},
        "energy_sum_pJ": compute.energy_pJ + sum(lv.energy_pJ for lv in levels) + net_energy,
    }
    if "EDP(J*cycle)" in summ:
        extra["edp_printed"] = V.real(summ["EDP(J*cycle)"])
    return EvalResult(computes=computes, cycles=cycles, energy_pJ=energy, gflops=gflops,
                      utilization=utilization, levels=levels, compute=compute,
                      fj_per_compute=fj, area_um2=area, warnings=warnings, extra=extra)


def parse_stats_text(text: str, source: str | None = None) -> EvalResult:
    """stats.txt contents -> `EvalResult`."""
    if not text.strip():
        raise InputError("empty stats file: Timeloop found no valid mapping (the mapper exits "
                         "0 and writes empty files); loosen constraints or set "
                         "mapper.diagnostics: true", file=source or "<stats.txt>",
                         expected="a Timeloop stats.txt")
    return to_result(read_stats_text(text, source))


#: Summary Stats lines a comparison reads (Timeloop's Topology::operator<<); a computes
#: line is required too, under any of the names in _COMPUTES_SUMMARY
SUMMARY_KEYS = ("GFLOPs (@1GHz)", "Utilization", "Cycles", "Energy")
_COMPUTES_SUMMARY = ("Computes", "Actual Computes", "Algorithmic Computes")
_COMPLETE = ("a complete Timeloop stats.txt: the sections 'Buffer and Arithmetic Levels' and "
             "'Summary Stats', ending with the fJ/Compute Total line")


def check_complete(st: StatsText) -> None:
    """Refuse a stats.txt that was cut short (a copy interrupted, a disk filled up): every
    figure a comparison reads must be there. The file ends with Summary Stats, whose last
    line is the fJ/Compute `Total`, so a file cut anywhere misses that line or more. The
    Summary Stats figures read must be finite numbers."""
    where = st.source or "<stats.txt>"
    for title in ("Buffer and Arithmetic Levels", "Summary Stats"):
        if SECTIONS[title] not in st.sections:
            raise InputError(f"section '{title}' is missing (the file is cut short or not a "
                             "stats.txt)", file=where, field=title, expected=_COMPLETE)
    if not st.levels:
        raise InputError("no level is listed", file=where, field="Buffer and Arithmetic Levels",
                         expected=_COMPLETE)
    computes = next((k for k in _COMPUTES_SUMMARY if k in st.summary), "Computes")
    per_compute = st.per_compute.get("fJ/Compute") or {}
    figures = [(f"Summary Stats.{key}", st.summary.get(key)) for key in (*SUMMARY_KEYS, computes)]
    figures += [("Summary Stats.fJ/Compute.Total", per_compute.get("Total"))]
    for field_name, value in figures:
        if value is None:
            raise InputError("line is missing (the file is cut short)", file=where,
                             field=field_name, expected=_COMPLETE)
        v = V.number(value)
        if v is None or not math.isfinite(v) or not value.isascii():
            raise InputError(f"{value!r} is not a finite number", file=where, field=field_name,
                             expected="a number as Timeloop prints it")


def parse_stats(path: str | Path, *, complete: bool = False) -> EvalResult:
    """A `*.stats.txt` file -> `EvalResult`. `complete` refuses a file that was cut
    short or whose Summary Stats are not numbers (`check_complete`)."""
    text = read_input_text(path, "a Timeloop *.stats.txt", lenient=True)
    if complete and text.strip():
        check_complete(read_stats_text(text, str(path)))
        if not text.endswith("\n"):
            # Timeloop ends every line; a last line without one was cut, maybe mid-number
            raise InputError("the last line has no line break (the file is cut short)",
                             file=str(path), field="Summary Stats.fJ/Compute.Total",
                             expected=_COMPLETE)
    return parse_stats_text(text, str(path))
