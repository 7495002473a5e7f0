"""A `stats.txt` laid out like `timeloop-model.stats.txt`.

Existing post-processing scripts read Timeloop's stats file by its section headers
(`Buffer and Arithmetic Levels`, `Level i`, `=== name ===`, `Summary Stats`) and by
`key : value` lines; this writer keeps those headers, keys, units and the 2-decimal
printing (TL src/model/topology.cpp, buffer.cpp, arithmetic.cpp `Print`). Levels that
keep no dataspace (the `inter_*_spatial` levels) are hidden but keep their number, as
with Timeloop's default TIMELOOP_HIDE_INCONSEQUENTIAL_STATS=1.
"""

from __future__ import annotations

from pathlib import Path

from cim_plugin.io.safeio import write_text_atomic
from cim_plugin.model.nest import LoopNest
from cim_plugin.model.result import EvalResult, LevelStats
from cim_plugin.spec.arch import Architecture, StorageLevel
from cim_plugin.spec.ert import ERT
from cim_plugin.spec.problem import Problem

# Timeloop's arithmetic level prints 16 word bits unless the spec gives a datawidth.
_DEFAULT_COMPUTE_WORD_BITS = 16


def _f2(x: float) -> str:
    return f"{x:.2f}"


def _kv(indent: int, width: int, key: str, value: object) -> str:
    return f"{' ' * indent}{key:<{width}}: {value}"


def _opt(x: float | None) -> str:
    return "-" if x is None else _f2(x)


def _header(title: str) -> list[str]:
    return [title, "-" * len(title)]


def _compute_block(result: EvalResult, arch: Architecture) -> list[str]:
    c = result.compute
    comp = arch.compute
    bits = comp.attributes.get("datawidth", _DEFAULT_COMPUTE_WORD_BITS)
    out = [*_header("Level 0"), f"=== {c.name} ===", "", "    SPECS", "    -----"]
    out.append(_kv(4, 22, "Word bits", bits))
    out.append(_kv(4, 22, "Instances", f"{c.instances} ({comp.mesh_x}*{comp.mesh_y})"))
    out.append(_kv(4, 22, "Compute energy", f"{_f2(c.energy_per_compute_pJ)} pJ"))
    out += ["", "    STATS", "    -----"]
    out.append(_kv(4, 24, "Utilized instances", c.utilized_instances))
    out.append(_kv(4, 24, "Computes (total)", c.computes))
    out.append(_kv(4, 24, "Cycles", c.cycles))
    out.append(_kv(4, 24, "Energy (total)", f"{_f2(c.energy_pJ)} pJ"))
    out.append(_kv(4, 24, "Area (total)", f"{_f2(c.area_um2 * c.instances)} um^2"))
    out.append("")
    return out


def _loop_lines(nest: LoopNest | None, index_outer_first: int) -> list[str]:
    if nest is None:
        return []
    lv = nest.levels[index_outer_first]
    loops = [f"for {d} in [0:{b})" for d, b in lv.temporal]
    loops += [f"for {d} in [0:{b}) (Spatial-{axis})" for d, b, axis in lv.spatial]
    return [f"{' ' * (6 + 2 * k)}{text}" for k, text in enumerate(loops)]


def _storage_block(number: int, lv: LevelStats, level: StorageLevel, ert: ERT | None,
                   nest: LoopNest | None, index_outer_first: int) -> list[str]:
    table = (ert.tables.get(level.base_name) if ert is not None else None) or {}
    vector_energy = max(table.values()) if table else 0.0
    leak = table.get("leak", 0.0)
    out = [*_header(f"Level {number}"), f"=== {lv.name} ===", "", "    SPECS", "    -----"]
    specs: list[tuple[str, object]] = [
        ("Technology", "DRAM" if level.technology_dram else "SRAM"),
        ("Size", "-" if level.size is None else level.size),
        ("Word bits", level.word_bits),
        ("Block size", level.block_size),
        ("Cluster size", level.cluster_size),
        ("Instances", f"{level.instances} ({level.mesh_x}*{level.mesh_y})"),
        ("Shared bandwidth", _opt(level.shared_bandwidth)),
        ("Read bandwidth", _opt(level.read_bandwidth)),
        ("Write bandwidth", _opt(level.write_bandwidth)),
        ("Multiple buffering", _f2(level.multiple_buffering)),
        ("Effective size", "-" if level.effective_size is None else level.effective_size),
        ("Min utilization", _f2(float(level.attributes.get("min_utilization", 0) or 0))),
        ("Vector access energy", f"{_f2(vector_energy)} pJ"),
        ("Vector access energy source", "ERT"),
        ("Per-instance-cycle leakage", f"{_f2(leak)} pJ"),
        ("Instances sharing power gating", "1.00"),
        ("Non-power-gated utilization", "100.00%"),
        ("Leakage energy (total)", f"{_f2(lv.leakage_pJ)} pJ"),
        ("Area", f"{_f2(lv.area_um2)} um^2"),
    ]
    out += [_kv(8, 32, k, v) for k, v in specs]
    out += ["", "    MAPPING", "    -------", "    Loop nest:"]
    out += _loop_lines(nest, index_outer_first)
    out += ["", "    STATS", "    -----"]
    out.append(_kv(4, 21, "Cycles", lv.cycles))
    out.append(_kv(4, 21, "Bandwidth throttling", _f2(lv.bandwidth_throttling)))
    cycles = lv.cycles or 1
    for name, s in lv.dataspaces.items():
        accesses = s.reads + s.fills + s.updates
        per_access = s.energy_per_instance_pJ / accesses if accesses else 0.0
        inst = s.utilized_instances
        rd = s.reads / cycles
        wr = (s.fills + s.updates) / cycles
        rows: list[tuple[str, object]] = [
            ("Partition size", s.partition_size),
            ("Utilized capacity", s.utilized_capacity),
            ("Utilized instances (max)", s.utilized_instances),
            ("Utilized clusters (max)", s.utilized_clusters),
            ("Scalar reads (per-instance)", s.reads),
            ("Scalar fills (per-instance)", s.fills),
            ("Scalar updates (per-instance)", s.updates),
            ("Temporal reductions (per-instance)", s.temporal_reductions),
            ("Address generations (per-cluster)", s.address_generations),
            ("Energy (per-scalar-access)", f"{_f2(per_access)} pJ"),
            ("Energy (per-instance)", f"{_f2(s.energy_per_instance_pJ)} pJ"),
            ("Energy (total)", f"{_f2(s.energy_pJ)} pJ"),
            ("Temporal Reduction Energy (per-instance)", "0.00 pJ"),
            ("Temporal Reduction Energy (total)", "0.00 pJ"),
            ("Address Generation Energy (per-cluster)", "0.00 pJ"),
            ("Address Generation Energy (total)", "0.00 pJ"),
            ("Bandwidth Consumption Scale", "1.00"),
            ("Shared Bandwidth (per-instance)", f"{_f2(rd + wr)} words/cycle"),
            ("Shared Bandwidth (total)", f"{_f2((rd + wr) * inst)} words/cycle"),
            ("Read Bandwidth (per-instance)", f"{_f2(rd)} words/cycle"),
            ("Read Bandwidth (total)", f"{_f2(rd * inst)} words/cycle"),
            ("Write Bandwidth (per-instance)", f"{_f2(wr)} words/cycle"),
            ("Write Bandwidth (total)", f"{_f2(wr * inst)} words/cycle"),
        ]
        out.append(f"    {name}:")
        out += [_kv(8, 41, k, v) for k, v in rows]
    out.append("")
    return out


def _intensity(result: EvalResult, arch: Architecture, problem: Problem | None) -> list[str]:
    out = [*_header("Operational Intensity Stats")]
    if problem is None:
        return [*out, ""]
    macs = result.computes
    rw = sum(problem.size(ds) for ds in problem.data_spaces if ds.read_write)
    required = sum(problem.size(ds) for ds in problem.data_spaces)
    ops = macs + (macs - rw)
    word_bytes = max(1, arch.storage[0].word_bits // 8)
    out.append(_kv(4, 40, "Total elementwise ops", macs))
    out.append(_kv(4, 40, "Total reduction ops", macs - rw))
    out.append(_kv(4, 40, "Total ops", ops))
    out.append(_kv(4, 40, "Total memory accesses required", required))
    out.append(_kv(4, 40, "Optimal Op per Byte", _f2(ops / (required * word_bytes))))
    out.append("")
    by_name = {s.base_name: s for s in arch.storage}
    for lv in result.levels:
        out.append(f"=== {lv.name} ===")
        if not lv.dataspaces:
            continue
        total = sum((s.reads + s.fills + s.updates) * s.utilized_instances
                    for s in lv.dataspaces.values())
        nbytes = total * max(1, by_name[lv.name].word_bits // 8)
        out.append(_kv(4, 40, "Total scalar accesses", total))
        out.append(_kv(4, 40, "Op per Byte", _f2(ops / nbytes) if nbytes else "inf"))
    return [*out, "", ""]


def _name_width(arch: Architecture) -> int:
    """Timeloop pads the fJ/Compute names to the longest level or network name; its
    inferred networks are named `<outer> <==> <inner>`."""
    names = [c.base_name for c in arch.components]
    names += [f"{a} <==> {b}" for a, b in zip(names, names[1:])]
    return max(len(n) for n in names)


def _summary(result: EvalResult, width: int) -> list[str]:
    out = [*_header("Summary Stats")]
    out.append(f"GFLOPs (@1GHz): {_f2(result.gflops)}")
    out.append(f"Utilization: {_f2(result.utilization * 100.0)}%")
    out.append(f"Cycles: {result.cycles}")
    out.append(f"Energy: {_f2(result.energy_pJ / 1e6)} uJ")
    out.append(f"EDP(J*cycle): {result.edp:.2e}")
    out.append(f"Area: {_f2(result.area_um2 / 1e6)} mm^2")
    out.append("")
    out.append(f"Computes = {result.computes}")
    out.append("fJ/Compute")
    for name, value in result.fj_per_compute.items():
        # Timeloop hides levels that spend no energy (but always prints the total).
        if value == 0.0 and name != "Total":
            continue
        out.append(f"    {name:<{width}} = {_f2(value)}")
    out.append("")
    return out


def format_stats(result: EvalResult, arch: Architecture, problem: Problem | None = None,
                 nest: LoopNest | None = None, ert: ERT | None = None) -> str:
    """The text of a Timeloop-style stats file for one evaluation."""
    out = [*_header("Buffer and Arithmetic Levels")]
    out += _compute_block(result, arch)
    n = len(arch.storage)
    for k, lv in enumerate(result.levels):          # innermost first, as Timeloop numbers them
        if not lv.dataspaces:
            continue
        index_outer_first = n - 1 - k
        level = arch.storage[index_outer_first]
        out += _storage_block(k + 1, lv, level, ert, nest, index_outer_first)
    out += [*_header("Networks"), ""]
    out += _intensity(result, arch, problem)
    out += _summary(result, _name_width(arch))
    return "\n".join(out) + "\n"


def write_stats(path: str | Path, result: EvalResult, arch: Architecture,
                problem: Problem | None = None, nest: LoopNest | None = None,
                ert: ERT | None = None) -> Path:
    """Write `format_stats(...)` atomically."""
    return write_text_atomic(path, format_stats(result, arch, problem, nest, ert))


__all__ = ["format_stats", "write_stats"]
