"""The published-to-ours waterfall: every step's ratio and factor on a 2-GEMM config by hand,
and the study's report carrying it."""

from __future__ import annotations

import json

import pytest

from cim_plugin.study.config import StudyConfig
from cim_plugin.study.runner import Point
from cim_plugin.study.waterfall import STEPS, waterfall, waterfall_json
from cim_plugin.study.workloads import Gemm


def _rec(*, computes=64, cycles, energy, compute_cycles=0, smem_reads=0, reductions=0,
         storage="M1 N1 K1"):
    levels = []
    if smem_reads or reductions:
        levels.append({"name": "SMEM", "energy_pJ": 0.0, "instances": 1, "cycles": 0,
                       "bandwidth_throttling": 1.0, "leakage_pJ": 0.0, "dataspaces": {"A": {
                           "temporal_reductions_per_instance": reductions,
                           "reads_per_instance": smem_reads, "updates_per_instance": 0,
                           "fills_per_instance": 0, "partition_size": 0,
                           "utilized_capacity": 0, "utilized_instances": 1,
                           "energy_pJ": 0.0}}})
    return {"result": {"computes": computes, "cycles": cycles, "energy_pJ": energy, "gflops": 0.0,
                       "utilization": 0.5, "levels": levels, "fj_per_compute": {},
                       "area_um2": 0.0, "compute": {"name": "mac", "computes": computes,
                                                    "cycles": compute_cycles or cycles}},
            "mapping": [{"target": "CiMStorage", "type": "temporal", "factors": storage}]}


G1, G2 = (2, 4, 8), (4, 4, 4)                # 64 MACs each; M*N = 8 and 16
CFG = StudyConfig(designs=("cim_rf",), macros=("analog6T",), workloads=(), sweep_m=(),
                  sweep_nk=(), sizing="preset")
GEMMS = [Gemm(name="g1", m=2, n=4, k=8, count=1, workload="bert-large"),
         Gemm(name="g2", m=4, n=4, k=4, count=3, workload="bert-large")]
RECORDS = {
    # G1. original pipeline: ops = 2*64 - 8 = 120. Baseline 1200 pJ, 40 cycles.
    # CiM 400 pJ + 0.05 pJ x 20 reductions = 401 pJ; cycles = max(16 x storage 2 = 32,
    # SMEM 2100 reads / 42 = 50) = 50; the model itself says 30 cycles, 400 pJ.
    Point("tensor_core", None, *G1, "paper"): _rec(cycles=40, energy=1200.0),
    Point("cim_rf", "analog6T", *G1, "paper"): _rec(cycles=30, energy=400.0, compute_cycles=16,
                                                     smem_reads=2100, reductions=20,
                                                     storage="M1 N2 K1"),
    Point("tensor_core", None, *G1): _rec(cycles=20, energy=800.0),
    Point("cim_rf", "analog6T", *G1): _rec(cycles=10, energy=300.0),
    Point("cim_rf", "analog6T", *G1, "iso-area"): _rec(cycles=8, energy=320.0),
    # G2. ops = 128 - 16 = 112. Baseline 1000 pJ, 32 cycles. CiM 500 pJ, no reductions,
    # 20 CiM-unit cycles, storage bound 1, no bandwidth bound; the model: 25 cycles.
    Point("tensor_core", None, *G2, "paper"): _rec(cycles=32, energy=1000.0),
    Point("cim_rf", "analog6T", *G2, "paper"): _rec(cycles=25, energy=500.0, compute_cycles=20),
    Point("tensor_core", None, *G2): _rec(cycles=16, energy=640.0),
    Point("cim_rf", "analog6T", *G2): _rec(cycles=8, energy=320.0),
    Point("cim_rf", "analog6T", *G2, "iso-area"): _rec(cycles=10, energy=256.0),
}

# per GEMM (G1, G2): TOPS/W ratio, GOPS ratio at each step, derived by hand
HAND = {
    # CiM TOPS/W 120/401 vs 120/1200; CiM throughput 64 MACs/50 cycles vs 120 ops/40 cycles
    "original": ((1200 / 401, (64 / 50) / (120 / 40)), (1000 / 500, (64 / 20) / (112 / 32))),
    # 128 ops on both sides: the energy ratio as before, throughput 128/50 vs 128/40
    "units": ((1200 / 401, 40 / 50), (1000 / 500, 32 / 20)),
    # the model's own cycles and energy (no adder): 400 pJ, 30 cycles; 500 pJ, 25 cycles
    "latency": ((1200 / 400, 40 / 30), (1000 / 500, 32 / 25)),
    # our baseline: 800 pJ, 20 cycles; 640 pJ, 16 cycles
    "baseline": ((800 / 400, 20 / 30), (640 / 500, 16 / 25)),
    # CiM searched (method's counts): 300 pJ, 10 cycles; 320 pJ, 8 cycles
    "cim_search": ((800 / 300, 20 / 10), (640 / 320, 16 / 8)),
    # iso-area: 320 pJ, 8 cycles; 256 pJ, 10 cycles
    "iso_area": ((800 / 320, 20 / 8), (640 / 256, 16 / 10)),
}
PUBLISHED_BERT_RF = {"tops_per_w": 3.01, "gops": 1.38}


@pytest.mark.parametrize("metric", ["tops_per_w", "gops"])
def test_each_step_by_hand(metric):
    rows = waterfall(CFG, GEMMS, RECORDS)
    (row,) = [r for r in rows if r.metric == metric]
    i = 0 if metric == "tops_per_w" else 1
    # the method's statistic: unweighted mean over the workload's GEMMs (counts ignored)
    want = {s: (HAND[s][0][i] + HAND[s][1][i]) / 2 for s in HAND}
    want["published"] = PUBLISHED_BERT_RF[metric]
    assert (row.design, row.workload, row.macro, row.gemms) == ("cim_rf", "bert-large", "analog6T", 2)
    for s in STEPS:
        assert row.ratios[s] == pytest.approx(want[s], rel=1e-12), s
    factors = row.factors()
    for prev, s in zip(STEPS, STEPS[1:]):
        assert factors[s] == pytest.approx(want[s] / want[prev], rel=1e-12), s
    # the chain multiplies back to the last step
    prod = want["published"]
    for s in STEPS[1:]:
        prod *= factors[s]
    assert prod == pytest.approx(want["iso_area"], rel=1e-12)


def test_units_step_doubles_throughput_only_through_the_unit():
    rows = {r.metric: r for r in waterfall(CFG, GEMMS, RECORDS)}
    # G1: 0.8 / (1.28/3); G2: 1.6 / (3.2/3.5) -- the MAC->op switch and 2MN-M*N on the baseline
    f = rows["gops"].factors()["units"]
    assert f == pytest.approx((0.8 + 1.6) / ((64 / 50) / 3 + (64 / 20) / 3.5))
    assert rows["tops_per_w"].factors()["units"] == pytest.approx(1.0)


def test_largest_step_and_json():
    rows = waterfall(CFG, GEMMS, RECORDS)
    doc = waterfall_json(rows)
    entry = doc["rows"]["cim_rf"]["gops"]["bert-large"]
    f = rows[1].factors() if rows[1].metric == "gops" else rows[0].factors()
    # gops factors: units 2x-ish, latency 1.31/1.2, baseline 0.65/1.31, search 2/0.65, iso 2.05/2
    biggest = max((s for s in STEPS[2:]), key=lambda s: abs(__import__("math").log(f[s])))
    assert entry["largest_step"] == biggest == "cim_search"
    assert len(doc["steps"]) == len(STEPS) and entry["macro"] == "analog6T"
    json.dumps(doc)


def test_no_largest_step_when_every_step_is_one():
    """DLRM-like rows (M=1 GEMMs): the published value differs, every later step is
    1.00x, so no step is named (a tie would name an arbitrary one)."""
    from cim_plugin.study.waterfall import WaterfallRow

    flat = WaterfallRow("cim_smem", "tops_per_w", "dlrm", "digital6T",
                        {s: (2.56 if s == STEPS[0] else 1.08) for s in STEPS}, 2)
    assert flat.largest_step() == ""
    moved = WaterfallRow("cim_smem", "tops_per_w", "dlrm", "digital6T",
                         {**flat.ratios, STEPS[-1]: 1.08 * 1.01}, 2)
    assert moved.largest_step() == STEPS[-1]


def test_a_failed_point_leaves_the_workload_out():
    recs = dict(RECORDS)
    recs[Point("cim_rf", "analog6T", *G2, "iso-area")] = "ValueError: boom"
    assert waterfall(CFG, GEMMS, recs) == []


def test_only_the_method_macros_get_waterfall_points():
    """Macros outside the method have no original pipeline and no preset sizing: a study
    of analog6T and a published macro adds waterfall points for analog6T only, and a
    study of published macros alone adds none (they used to fail as points)."""
    import dataclasses

    from cim_plugin.study.waterfall import waterfall_points

    both = waterfall_points(dataclasses.replace(CFG, macros=("analog6T", "si_isscc20")), [G1])
    assert both and {p.macro for p in both if p.macro} == {"analog6T"}
    assert waterfall_points(dataclasses.replace(CFG, macros=("si_isscc20",)), [G1]) == []


def test_no_waterfall_without_published_placements():
    import dataclasses

    cfg = dataclasses.replace(CFG, designs=("cim_l2",))
    assert waterfall(cfg, GEMMS, RECORDS) == []
    assert waterfall(dataclasses.replace(CFG, waterfall=False), GEMMS, RECORDS) == []
