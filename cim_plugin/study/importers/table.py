"""The GEMM table `cim-plugin workload` prints, and the GEMM list it writes.

Shares: a GEMM's share is of the model's GEMM MACs (the rows add up to 100 %); a
skipped operator's share is of all the model's arithmetic, GEMM MACs plus the skipped
operations, so the user sees how much the study leaves out.
"""

from __future__ import annotations

from typing import Any

import yaml

from cim_plugin.study.importers.result import Imported


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:6.2f} %" if whole else "     - "


def format_table(imp: Imported) -> str:
    """GEMMs (name, M, N, K, count, MACs, share) and the skipped operators."""
    w = imp.workload
    total = w.total_macs
    lines = [f"workload {w.name}: {w.description}" if w.description else f"workload {w.name}"]
    width = min(48, max([4, *(len(g.name) for g in w.gemms)]))
    lines.append(f"{'name':<{width}} {'M':>9} {'N':>9} {'K':>9} {'count':>7} {'MACs':>18} "
                 f"{'share':>8}")
    for g in w.gemms:
        name = g.name if len(g.name) <= width else g.name[: width - 3] + "..."
        lines.append(f"{name:<{width}} {g.m:>9} {g.n:>9} {g.k:>9} {g.count:>7} "
                     f"{g.total_macs:>18,} {_pct(g.total_macs, total):>8}")
    lines.append(f"total: {total:,} MACs in {len(w.gemms)} GEMM shapes "
                 f"({sum(g.count for g in w.gemms)} runs; {len(imp.raw)} entries before "
                 "identical shapes were merged)")
    if imp.skipped:
        everything = total + imp.skipped_ops
        lines.append("")
        lines.append("not GEMMs (left out of the study):")
        width = min(48, max([8, *(len(s.op_type) for s in imp.skipped)]))
        lines.append(f"{'operator':<{width}} {'nodes':>9} {'operations':>18} {'share':>8}")
        for s in imp.skipped:
            unknown = f"  ({s.unknown} of unknown size)" if s.unknown else ""
            lines.append(f"{s.op_type[:width]:<{width}} {s.nodes:>9} {s.ops:>18,} "
                         f"{_pct(s.ops, everything):>8}{unknown}")
        lines.append(f"skipped: {imp.skipped_ops:,} operations, "
                     f"{_pct(imp.skipped_ops, everything).strip()} of the model's arithmetic")
    return "\n".join(lines)


def gemm_list_doc(imp: Imported) -> dict[str, Any]:
    """The GEMM list as `cim_plugin.study.workloads.workload_from_yaml` reads it."""
    w = imp.workload
    source = dict(imp.source)
    if imp.skipped:
        source["skipped"] = [{"op": s.op_type, "nodes": s.nodes, "ops": s.ops}
                             for s in imp.skipped]
    doc: dict[str, Any] = {"name": w.name}
    if w.description:
        doc["description"] = w.description
    if source:
        doc["source"] = source
    doc["count_basis"] = ("one pass of the model; identical shapes counted once with their "
                          "multiplicity")
    doc["gemms"] = [{"name": g.name, "m": g.m, "n": g.n, "k": g.k, "count": g.count}
                    for g in w.gemms]
    return doc


def gemm_list_yaml(imp: Imported) -> str:
    header = ("# GEMM list written by `cim-plugin workload`; Z[M,N] = A[M,K] . B[N,K], "
              "B = the weights.\n")
    return header + yaml.safe_dump(gemm_list_doc(imp), sort_keys=False, width=120,
                                   default_flow_style=None,
                                   allow_unicode=False)


__all__ = ["format_table", "gemm_list_doc", "gemm_list_yaml"]
