"""`cim-plugin components list|show NAME`: the CiM macro library with derived figures."""

from __future__ import annotations

import argparse

from cim_plugin.library.figures import figures, published_native
from cim_plugin.library.loader import get_macro, load_macro_library
from cim_plugin.library.macro import Macro
from cim_plugin.library.tables import macro_area_um2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--library", metavar="EXTRA.yaml", action="append", default=[],
                   help="extra macro file (repeatable; also $CIM_PLUGIN_LIBRARY)")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("list", help="table of macros with derived figures (native precision)")
    show = sub.add_parser("show", help="all fields of one macro with provenance")
    show.add_argument("name", help="macro name (see `components list`)")


def _fmt(v: float | None, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}g}"


def list_table(macros: dict[str, Macro]) -> str:
    head = ("name", "node", "V", "bits", "Rp", "Cp", "Rh", "Ch", "bytes", "lat_ns",
            "pJ/MAC", "GOPS", "TOPS/W", "TOPS/mm2", "area_um2")
    rows = [head]
    for name, m in macros.items():
        area = macro_area_um2(m)
        f = figures(m, area)
        bits = f"{m.extra.get('input_bits', m.precision_bits)}/{m.precision_bits}"
        rows.append((name, f"{m.node_nm:g}", _fmt(m.voltage_V, 3), bits, str(m.rp), str(m.cp),
                     str(m.rh), str(m.ch), str(m.capacity_bytes), _fmt(f.latency_ns),
                     _fmt(m.energy_per_mac_pJ), _fmt(f.gops), _fmt(f.tops_per_w),
                     _fmt(f.tops_per_mm2), _fmt(area, 6)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def show_text(m: Macro) -> str:
    area = macro_area_um2(m)
    f = figures(m, area)
    lines = [f"{m.name}: {m.extra.get('title', '')}",
             f"  array            Rp={m.rp} Cp={m.cp} Rh={m.rh} Ch={m.ch} "
             f"({m.parallel_macs} parallel MACs, {m.weights} weights)",
             f"  capacity         {m.capacity_bytes} B",
             f"  latency          {m.latency_cycles:g} cycles at {m.clock_GHz:g} GHz "
             f"= {f.latency_ns:g} ns per operation",
             f"  energy per MAC   {m.energy_per_mac_pJ:.6g} pJ "
             f"({m.extra.get('input_bits', m.precision_bits)}b inputs x {m.precision_bits}b weights)",
             f"  write energy     {m.write_energy_pJ:.6g} pJ per {m.precision_bits}b weight"
             + (" (estimated)" if m.extra.get("write_estimated") else ""),
             f"  area             {_fmt(area, 6)} um^2"
             + (f" (area factor {m.area_factor:g} vs plain SRAM)" if m.area_factor else ""),
             f"  technology       {m.node_nm:g} nm, "
             + (f"{m.voltage_V:g} V" if m.voltage_V else "nominal VDD")
             + (", analog" if m.analog else ", digital") + (f", {m.cell} cell" if m.cell else ""),
             f"  derived          {f.gops:.4g} GOPS, {f.tops_per_w:.4g} TOPS/W, "
             f"{_fmt(f.tops_per_mm2)} TOPS/mm^2 (native precision, 1 MAC = 2 ops)"]
    pub = published_native(m)
    if pub:
        lines.append("  published        " + ", ".join(f"{k}={v:.4g}" for k, v in pub.items())
                     + " (converted to native precision)")
    lines.append("  provenance")
    for p in m.provenance:
        lines.append(f"    - [{p.kind}] {p.where} <- {p.paper}" + (f"; {p.how}" if p.how else ""))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    extra = list(args.library)
    if args.action == "show":
        print(show_text(get_macro(args.name, extra)))
        return 0
    print(list_table(load_macro_library(extra)))
    return 0
