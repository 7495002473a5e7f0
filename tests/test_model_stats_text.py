"""The Timeloop-layout stats.txt writer, on the reconstructed tensor-core run.

Expected lines are copied from WWWtoCiM reference run tensor_core_like/outputs,
timeloop-mapper.stats.txt (our writer's text must carry the same keys, numbers and
formatting so scripts written for Timeloop's file keep working).
"""

from __future__ import annotations

from cim_plugin.backends.parse import parse_stats, read_stats_text
from cim_plugin.model.engine import Engine
from cim_plugin.model.nest import build_nest
from cim_plugin.report.stats_text import format_stats, write_stats
from tests.test_model_tensor_core import tensor_core_case


def _text():
    arch, problem, mapping, ert, art = tensor_core_case()
    nest = build_nest(arch, problem, mapping)
    result = Engine(arch, problem, ert, art).evaluate(nest)
    return format_stats(result, arch, problem, nest, ert), result, (arch, problem, nest, ert)


EXPECTED_LINES = [
    "Buffer and Arithmetic Levels",
    "=== mac ===",
    "    Instances             : 1024 (16*64)",
    "    Computes (total)        : 536870912",
    "    Energy (total)          : 140928614.40 pJ",
    "    Area (total)            : 355840.00 um^2",
    "        Size                            : 262144",
    "        Block size                      : 32",
    "        Read bandwidth                  : 42.00",
    "        Vector access energy            : 124.70 pJ",
    "        Leakage energy (total)          : 26041.24 pJ",
    "    Cycles               : 3295525",
    "    Bandwidth throttling : 0.16",
    "        Scalar reads (per-instance)              : 134217728",
    "        Scalar fills (per-instance)              : 1048576",
    "        Energy (per-scalar-access)               : 3.90 pJ",
    "        Energy (total)                           : 526877751.25 pJ",
    "        Read Bandwidth (per-instance)            : 40.73 words/cycle",
    "        Temporal reductions (per-instance)       : 8257536",
    "      for M in [0:32)",
    "        for K in [0:16)",
    "Networks",
    "    Total ops                               : 1073217536",
    "    Op per Byte                             : 7.47",
    "Summary Stats",
    "GFLOPs (@1GHz): 325.66",
    "Utilization: 15.91%",
    "Cycles: 3295525",
    "Energy: 1838.76 uJ",
    "EDP(J*cycle): 6.06e+03",
    "Computes = 536870912",
    "fJ/Compute",
    "    mac                                  = 262.50",
    "    SMEM                                 = 1040.69",
    "    Total                                = 3424.95",
]


def test_lines_as_timeloop_prints_them():
    text, _, _ = _text()
    lines = text.splitlines()
    for expected in EXPECTED_LINES:
        assert expected in lines, expected


def test_level_numbers_and_hidden_levels():
    text, _, _ = _text()
    first = text.split("Networks")[0].splitlines()
    # Timeloop numbers every level (compute = 0) and hides the inter_*_spatial ones.
    headers = [(a, b) for a, b in zip(first, first[2:]) if a.startswith("Level ")]
    assert headers == [("Level 0", "=== mac ==="), ("Level 1", "=== LRF ==="),
                       ("Level 3", "=== RF ==="), ("Level 5", "=== SMEM ==="),
                       ("Level 6", "=== DRAM ===")]
    assert "inter_PE_spatial" not in text.split("Networks")[0]


def test_parser_reads_back_our_file(tmp_path):
    _, result, (arch, problem, nest, ert) = _text()
    path = write_stats(tmp_path / "stats.txt", result, arch, problem, nest, ert)
    back = parse_stats(path)
    assert back.cycles == result.cycles
    assert abs(back.energy_pJ - result.energy_pJ) <= 0.005e6       # printed in uJ, 2 decimals
    for lv in result.levels:
        if not lv.dataspaces:
            continue
        got = back.level(lv.name)
        for ds, s in lv.dataspaces.items():
            g = got.dataspaces[ds]
            assert (g.reads, g.fills, g.updates, g.partition_size) == \
                (s.reads, s.fills, s.updates, s.partition_size)
    st = read_stats_text(path.read_text())
    assert [b.name for b in st.levels] == ["mac", "LRF", "RF", "SMEM", "DRAM"]
    assert list(tmp_path.iterdir()) == [path]               # no temporary files left behind
