"""Parsers on the real Timeloop runs of the WWW study.

Expected figures are read from the WWWtoCiM reference runs (tanvisharma/WWWtoCiM,
runs/<design>/<outputs>/timeloop-mapper.stats.txt, .map.yaml, .map.txt, .ERT.yaml,
.ART.yaml) and written here by hand.
"""

from __future__ import annotations

import re

import pytest
import yaml

from cim_plugin.backends.parse import (
    parse_art,
    parse_ert,
    parse_map_txt,
    parse_map_yaml,
    parse_stats,
)
from tests.conftest import REFERENCE, needs_reference


def _base(name: str) -> str:
    """`system_top_level.RF[1..4]` -> `RF` (Timeloop's table-to-level match)."""
    return re.sub(r"\[.*?\]", "", name).split(".")[-1]


RUNS = REFERENCE / "wwwcim" / "runs" if REFERENCE else None

# run -> (cycles, energy uJ, utilization %, fJ/Compute Total, one per-dataspace check)
# the check is (level, dataspace, field, value) from that run's stats.txt
SUMMARY = {
    "tensor_core_like/outputs": (3295525, 1838.76, 15.91, 3424.95, ("SMEM", "B", "reads", 134217728)),
    "rf_compute_analog6T/outputs": (4194304, 609.13, 12.50, 1134.60,
                                    ("CiMOutBuffer", "Z", "reads", 4063232)),
    "rf_compute_analog6T/outputs_consv2p1": (524288, 393.03, 100.00, 732.08,
                                             ("SMEM", "Z", "updates", 8388608)),
    "rf_compute_digital6T/outputs": (836365, 678.06, 3.92, 1262.98,
                                     ("SMEM", "A", "reads", 33554432)),
    "rf_compute_digital6T/outputs_consv2p1": (237178, 575.73, 13.82, 1072.37,
                                              ("SMEM", "Z", "fills", 1572864)),
    "smem_compute_digital8T/outputs": (8667136, 35382.92, 12.10, 65905.82,
                                       ("DRAM", "Z", "reads", 267911168)),
    "smem_compute_digital8T/outputs_cons": (1048576, 2902.23, 100.00, 5405.82,
                                            ("CiMOutBuffer", "Z", "fills", 126976)),
}


@needs_reference
@pytest.mark.parametrize("run", sorted(SUMMARY))
def test_stats_summary_of_every_run(run):
    cycles, uj, util, total, (level, ds, fname, value) = SUMMARY[run]
    r = parse_stats(RUNS / run / "timeloop-mapper.stats.txt")
    assert r.computes == 536870912                      # M512 N1024 K1024
    assert r.cycles == cycles
    assert r.energy_pJ == pytest.approx(uj * 1e6)
    assert r.utilization == pytest.approx(util / 100)
    assert r.fj_per_compute["Total"] == pytest.approx(total)
    assert getattr(r.level(level).dataspaces[ds], fname) == value
    assert r.warnings == []


@needs_reference
def test_tensor_core_like_details():
    r = parse_stats(RUNS / "tensor_core_like/outputs/timeloop-mapper.stats.txt")
    # Levels 2 and 4 (inter_PE_spatial, inter_Subpartition_spatial) are hidden.
    assert [lv.name for lv in r.levels] == ["LRF", "RF", "SMEM", "DRAM"]
    assert r.extra["level_index"] == {"mac": 0, "LRF": 1, "RF": 3, "SMEM": 5, "DRAM": 6}
    smem = r.level("SMEM")
    assert smem.cycles == 3295525 and smem.bandwidth_throttling == pytest.approx(0.16)
    assert smem.dataspaces["B"].fills == 1048576
    assert smem.dataspaces["A"].energy_pJ == pytest.approx(31814885.31)
    assert smem.leakage_pJ == pytest.approx(26041.24)
    # SMEM fJ/Compute 1040.69 = (A + B energy + leakage) * 1000 / computes
    assert smem.energy_pJ * 1000 / r.computes == pytest.approx(1040.69, abs=0.005)
    rf = r.level("RF")
    assert (rf.instances, rf.dataspaces["Z"].temporal_reductions) == (4, 8257536)
    assert r.compute.computes == 536870912 and r.compute.energy_pJ == pytest.approx(140928614.40)
    assert r.gflops == pytest.approx(325.66)
    assert r.fj_per_compute["mac"] == pytest.approx(262.50)


def test_reference_run_files_parse(reference_run):
    """Every stats/map/ERT/ART of every run parses and agrees with a plain YAML read."""
    r = parse_stats(reference_run / "timeloop-mapper.stats.txt")
    # fJ/Compute Total is the sum of the printed per-level rows (2-decimal rounding)
    rows = {k: v for k, v in r.fj_per_compute.items() if k != "Total"}
    assert sum(rows.values()) == pytest.approx(r.fj_per_compute["Total"], abs=0.01 * len(rows))

    raw_map = yaml.safe_load((reference_run / "timeloop-mapper.map.yaml").read_text())["mapping"]
    mapping = parse_map_yaml(reference_run / "timeloop-mapper.map.yaml", dims=("M", "N", "K"))
    for e in raw_map:
        if e["type"] == "temporal":
            facs = dict((f[0], int(f[1:])) for f in e["factors"].split())
            assert mapping.levels[e["target"]].temporal == facs
    mt = parse_map_txt(reference_run / "timeloop-mapper.map.txt").to_mapping(("A", "B", "Z"))
    for name, lm in mt.levels.items():
        ym = mapping.levels[name]
        # map.txt prints only non-unit loops: they must equal map.yaml's factors
        assert lm.temporal == {d: f for d, f in ym.temporal.items() if f > 1}, name
        assert lm.spatial == {d: f for d, f in ym.spatial.items() if f > 1}, name
        assert lm.keep == ym.keep, name

    raw_ert = yaml.safe_load((reference_run / "timeloop-mapper.ERT.yaml").read_text())["ERT"]
    ert = parse_ert(reference_run / "timeloop-mapper.ERT.yaml")
    for t in raw_ert["tables"]:
        key = _base(t["name"])
        for a in t["actions"]:
            # Timeloop charges the maximum over an action's argument variants
            top = max(b["energy"] for b in t["actions"] if b["name"] == a["name"])
            assert ert.tables[key][a["name"]] == top
    raw_art = yaml.safe_load((reference_run / "timeloop-mapper.ART.yaml").read_text())["ART"]
    art = parse_art(reference_run / "timeloop-mapper.ART.yaml")
    assert {_base(t["name"]): t["area"] for t in raw_art["tables"]} == art.areas


@needs_reference
def test_ert_art_spot_values():
    tc = RUNS / "tensor_core_like/outputs"
    ert, art = parse_ert(tc / "timeloop-mapper.ERT.yaml"), parse_art(tc / "timeloop-mapper.ART.yaml")
    assert ert.tables["DRAM"]["read"] == 512.0
    assert ert.tables["SMEM"]["read"] == pytest.approx(124.695312)
    assert (art.areas["SMEM"], art.areas["LRF"], art.areas["mac"]) == (1068811.0, 8.245, 347.5)
    cim = {"rf_compute_analog6T/outputs": (1.9, 0.15), "rf_compute_digital6T/outputs": (3.2, 0.34),
           "smem_compute_digital8T/outputs": (1.7, 0.84)}
    for run, (write, compute) in cim.items():
        e = parse_ert(RUNS / run / "timeloop-mapper.ERT.yaml")
        assert e.tables["CiMStorage"]["write"] == write
        assert e.tables["CiMUnit"]["compute"] == compute


@needs_reference
def test_map_txt_of_tensor_core_like():
    mt = parse_map_txt(RUNS / "tensor_core_like/outputs/timeloop-mapper.map.txt")
    assert [lv.name for lv in mt.levels] == ["DRAM", "SMEM", "inter_Subpartition_spatial", "RF",
                                            "inter_PE_spatial", "LRF"]
    assert mt.level("SMEM").tiles == {"A": (131072, 131072), "B": (131072, 131072)}
    pe = mt.level("inter_PE_spatial").loops
    assert [(lp.dim, lp.bound, lp.spatial) for lp in pe] == [("N", 16, "Y"), ("K", 16, "X")]
