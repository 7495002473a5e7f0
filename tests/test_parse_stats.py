"""Timeloop output parsers on self-contained snippets (no reference data needed).

The snippets follow the layout of TL src/model/topology.cpp / buffer.cpp `Print`; the
numbers in them are made up and the expected values are read off the snippets.
"""

from __future__ import annotations

import pytest

from cim_plugin.backends.parse import (
    parse_map_text,
    parse_stats,
    parse_stats_text,
    read_stats_text,
)
from cim_plugin.backends.parse.values import count, energy_pJ, mesh, number
from cim_plugin.errors import InputError

# Level 2 (a dummy spatial level) is hidden, so numbering jumps 1 -> 3.
DENSE = """\
Buffer and Arithmetic Levels
----------------------------
Level 0
-------
=== MACC ===

    SPECS
    -----
    Word bits             : 8
    Instances             : 16 (4*4)
    Compute energy        : 0.30 pJ

    STATS
    -----
    Utilized instances      : 16
    Computes (total)        : 32768
    Cycles                  : 2048
    Energy (total)          : 9830.40 pJ
    Area (total)            : 160.00 um^2

Level 1
-------
=== RF ===

    SPECS
    -----
        Technology                      : SRAM
        Size                            : 64
        Instances                       : 16 (4*4)
        Read bandwidth                  : -
        Leakage energy (total)          : 32.77 pJ
        Area                            : 12.50 um^2

    MAPPING
    -------
    Loop nest:
      for K in [0:8)

    STATS
    -----
    Cycles               : 2048
    Bandwidth throttling : 1.00
    Z:
        Partition size                           : 32
        Utilized capacity                        : 1
        Utilized instances (max)                 : 16
        Utilized clusters (max)                  : 16
        Scalar reads (per-instance)              : 2016
        Scalar fills (per-instance)              : 0
        Scalar updates (per-instance)            : 2048
        Temporal reductions (per-instance)       : 2016
        Address generations (per-cluster)        : 2048
        Energy (per-scalar-access)               : 0.60 pJ
        Energy (per-instance)                    : 2441.60 pJ
        Energy (total)                           : 39065.60 pJ
        Temporal Reduction Energy (total)        : 1.25 pJ
        Address Generation Energy (total)        : 0.75 pJ

Level 3
-------
=== GLB ===

    SPECS
    -----
        Instances                       : 1 (1*1)
        Leakage energy (total)          : 20.48 pJ

    MAPPING
    -------
    Loop nest:
      for M in [0:2)
        for K in [0:8)

    STATS
    -----
    Cycles               : 8192
    Bandwidth throttling : 0.25
    A:
        Partition size                           : 2048
        Utilized instances (max)                 : 1
        Scalar reads (per-instance)              : 8192
        Scalar fills (per-instance)              : 2048
        Scalar updates (per-instance)            : 0
        Energy (total)                           : 231424.00 pJ
    B:
        Scalar reads (per-instance)              : 8192
        Scalar fills (per-instance)              : 4096
        Energy (total)                           : 282624.00 pJ

Networks
--------

Operational Intensity Stats
---------------------------
    Total ops                               : 65024

=== RF ===
    Total scalar accesses                   : 64512
    Op per Byte                             : 1.01
=== inter_PE_spatial ===

Summary Stats
-------------
GFLOPs (@1GHz): 31.75
Utilization: 25.00%
Cycles: 8192
Energy: 0.56 uJ
EDP(J*cycle): 4.61e-03
Area: 0.01 mm^2

Computes = 32768
fJ/Compute
    MACC                                 = 300.00
    RF                                   = 1193.19
    GLB                                  = 15697.27
    Total                                = 17190.46
"""


def test_values_as_printed():
    assert number("1024 (16*64)") == 1024 and mesh("1024 (16*64)") == (16, 64)
    assert number("-") is None and number("SRAM") is None
    assert count("4194304.00") == 4194304
    assert energy_pJ("1838.76 uJ") == pytest.approx(1838.76e6)
    assert energy_pJ("2.50 nJ") == pytest.approx(2500.0)
    assert number("6.06e+03") == pytest.approx(6060.0)


def test_dense_snippet_levels_and_hidden_numbering():
    r = parse_stats_text(DENSE, "snippet")
    assert [lv.name for lv in r.levels] == ["RF", "GLB"]           # innermost first
    assert r.extra["level_index"] == {"MACC": 0, "RF": 1, "GLB": 3}  # level 2 hidden
    rf = r.level("RF")
    assert (rf.instances, rf.cycles, rf.bandwidth_throttling) == (16, 2048, 1.0)
    z = rf.dataspaces["Z"]
    assert (z.partition_size, z.utilized_capacity, z.utilized_instances) == (32, 1, 16)
    assert (z.reads, z.fills, z.updates, z.temporal_reductions) == (2016, 0, 2048, 2016)
    assert z.address_generations == 2048
    assert z.energy_per_instance_pJ == pytest.approx(2441.60)
    # level energy = dataspace energy + temporal-reduction + address-generation + leakage
    assert rf.energy_pJ == pytest.approx(39065.60 + 1.25 + 0.75 + 32.77)
    assert rf.leakage_pJ == pytest.approx(32.77) and rf.area_um2 == pytest.approx(12.5)
    glb = r.level("GLB")
    assert glb.bandwidth_throttling == pytest.approx(0.25)
    assert glb.dataspaces["B"].fills == 4096 and glb.dataspaces["A"].reads == 8192
    assert glb.energy_pJ == pytest.approx(231424.0 + 282624.0 + 20.48)
    assert r.extra["loop_nest"]["GLB"] == ["for M in [0:2)", "for K in [0:8)"]


def test_dense_snippet_compute_and_summary():
    r = parse_stats_text(DENSE)
    c = r.compute
    assert (c.name, c.instances, c.utilized_instances, c.computes, c.cycles) == (
        "MACC", 16, 16, 32768, 2048)
    assert c.energy_pJ == pytest.approx(9830.40) and c.energy_per_compute_pJ == pytest.approx(0.3)
    assert c.area_um2 == pytest.approx(160.0 / 16)
    assert (r.computes, r.cycles) == (32768, 8192)
    assert r.energy_pJ == pytest.approx(0.56e6)          # printed in uJ
    assert r.utilization == pytest.approx(0.25)          # printed in %
    assert r.gflops == pytest.approx(31.75)
    assert r.area_um2 == pytest.approx(0.01e6)
    assert r.fj_per_compute == pytest.approx(
        {"MACC": 300.0, "RF": 1193.19, "GLB": 15697.27, "Total": 17190.46})
    assert r.extra["edp_printed"] == pytest.approx(4.61e-3)
    assert r.extra["intensity"]["RF"]["Total scalar accesses"] == "64512"
    assert r.warnings == []


SPARSE = """\
Buffer and Arithmetic Levels
----------------------------
Level 0
-------
=== mac ===

    SPECS
    -----
    Instances             : 8 (8*1)
    Compute energy        : 2.20 pJ

    STATS
    -----
    Utilized instances           : 8
    Cycles                       : 64
    Algorithmic Computes (total) : 512
    Actual Computes (total)      : 500
    Energy (total)               : 1126.58 pJ

Level 1
-------
=== Buf ===

    SPECS
    -----
        Instances                    : 8 (8*1)

    MAPPING
    -------
    Loop nest:

    STATS
    -----
    Cycles               : 64
    Bandwidth throttling : 1.00
    C:
        Partition size                                              : 8
        Max utilized data storage capacity                          : 1
        Max utilized metadata storage capacity
            Rank 0 (metadata, payload): (0, 0)
        Utilized instances (max)                                    : 8
        Algorithmic scalar reads (per-instance)                     : 56
        Actual scalar reads (per-instance)                          : 50
        Gated scalar reads (per-instance)                           : 6
        Algorithmic scalar fills (per-instance)                     : 64
        Actual scalar fills (per-instance)                          : 60
        Actual scalar updates (per-instance)                        : 62
        Actual scalar metadata reads (per-instance)                 : 7
        Energy (total)                                              : 3.00 pJ
"""


def test_sparse_keys_and_missing_summary():
    r = parse_stats_text(SPARSE)
    c = r.level("Buf").dataspaces["C"]
    # "Actual" counts, never the algorithmic or metadata ones
    assert (c.reads, c.fills, c.updates, c.utilized_capacity) == (50, 60, 62, 1)
    assert r.compute.computes == 500
    # no Summary Stats: totals are rebuilt from the levels and a warning says so
    assert r.computes == 500 and r.cycles == 64
    assert r.energy_pJ == pytest.approx(1126.58 + 3.0)
    assert r.utilization == pytest.approx(500 / (8 * 64))
    assert any("Summary Stats" in w for w in r.warnings)


def test_network_blocks_are_read():
    text = DENSE.replace("Networks\n--------\n", """Networks
--------
Network 0
---------
GLB <==> RF

    SPECS
    -----
        Type            : Legacy

    STATS
    -----
    A:
        Fanout                                  : 16
        Ingresses                               : 8192.00
            @multicast 4 @scatter 4: 8192.00
        Energy (total)                          : 12.50 pJ
""")
    st = read_stats_text(text)
    assert [b.name for b in st.networks] == ["GLB <==> RF"]
    assert st.networks[0].dataspaces["A"]["Fanout"] == "16"
    r = parse_stats_text(text)
    assert r.extra["networks"]["GLB <==> RF"]["energy_pJ"] == pytest.approx(12.5)
    assert [lv.name for lv in r.levels] == ["RF", "GLB"]     # networks are not levels


def test_empty_stats_is_a_clear_error(tmp_path):
    p = tmp_path / "timeloop-mapper.stats.txt"
    p.write_text("")
    with pytest.raises(InputError, match="no valid mapping"):
        parse_stats(p)
    with pytest.raises(InputError, match="not found"):
        parse_stats(tmp_path / "absent.stats.txt")
    with pytest.raises(InputError, match="Summary Stats"):
        parse_stats_text("some unrelated text\n")


MAP_TXT = """\
DRAM [ A:2048 (2048) B:1024 (1024) Z:512 (512) ]
------------------------------------------------
| for M in [0:4)
|   for N in [0:4)

GLB [ A:256 (256) B:128 (128) ]
-------------------------------
|     for M in [0:2)
|       for K in [0:8,3)

inter_A [ ]
inter_B [ ]
-----------
|         for M in [0:4) (Spatial-X)
|           for N in [0:4) (Spatial-Y)

RF [ Z:1 (1) ]
--------------
|             for K in [0:8)
|               << Compute >>
"""


def test_map_txt_levels_loops_and_mapping():
    mt = parse_map_text(MAP_TXT)
    assert [lv.name for lv in mt.levels] == ["DRAM", "GLB", "inter_A", "inter_B", "RF"]
    assert mt.level("DRAM").tiles == {"A": (2048, 2048), "B": (1024, 1024), "Z": (512, 512)}
    assert mt.level("inter_A").loops == []            # headers without loops
    k = mt.level("GLB").loops[1]
    assert (k.dim, k.bound, k.residual, k.spatial) == ("K", 8, 3, None)
    sp = mt.level("inter_B").loops
    assert [(lp.dim, lp.bound, lp.spatial) for lp in sp] == [("M", 4, "X"), ("N", 4, "Y")]
    m = mt.to_mapping(("A", "B", "Z"))
    assert m.levels["GLB"].temporal == {"M": 2, "K": 8}
    assert m.levels["GLB"].temporal_permutation == ("K", "M")     # innermost first
    assert m.levels["inter_B"].spatial == {"M": 4, "N": 4} and m.levels["inter_B"].split == 1
    assert m.levels["RF"].keep == frozenset({"Z"})
    assert m.levels["RF"].bypass == frozenset({"A", "B"})


def test_map_txt_without_levels_is_an_error():
    with pytest.raises(InputError):
        parse_map_text("| for M in [0:4)\n")
    with pytest.raises(InputError):
        parse_map_text("nothing here\n")
