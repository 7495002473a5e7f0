"""The embedded model against the seven real Timeloop runs of the WWWtoCiM study.

For each run folder, parsed-processed-input.yaml + timeloop-mapper.map.yaml +
timeloop-mapper.ERT.yaml fed to the model must reproduce every per-level,
per-dataspace figure of timeloop-mapper.stats.txt and its Summary Stats, within
0.5 % or the 2-decimal print rounding; and the stats.txt we write must agree with
Timeloop's on those key/value lines. Skips when ../shared/reference is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cim_plugin.backends.parse import read_stats_text
from cim_plugin.backends.parse import values as V
from cim_plugin.model.engine import Engine
from cim_plugin.model.nest import build_nest
from cim_plugin.report.stats_text import format_stats
from cim_plugin.spec import load_architecture, load_ert, load_inputs, load_mapping, load_problem
from cim_plugin.spec.ert import load_art

DS_KEYS = {
    "Partition size": "partition_size",
    "Utilized capacity": "utilized_capacity",
    "Utilized instances (max)": "utilized_instances",
    "Utilized clusters (max)": "utilized_clusters",
    "Scalar reads (per-instance)": "reads",
    "Scalar fills (per-instance)": "fills",
    "Scalar updates (per-instance)": "updates",
    "Temporal reductions (per-instance)": "temporal_reductions",
    "Address generations (per-cluster)": "address_generations",
    "Energy (per-instance)": "energy_per_instance_pJ",
    "Energy (total)": "energy_pJ",
}


def close(x: float, expected: float) -> bool:
    """0.5 %, or the rounding of a figure printed with 2 decimals."""
    return abs(x - expected) <= max(0.005 * abs(expected), 0.006)


def _evaluate(run: Path):
    doc, _ = load_inputs([run / "parsed-processed-input.yaml"])
    arch = load_architecture(doc)
    problem = load_problem(doc)
    mapping = load_mapping(run / "timeloop-mapper.map.yaml", dims=problem.dimensions)
    ert = load_ert(run / "timeloop-mapper.ERT.yaml")
    art = load_art(run / "timeloop-mapper.ART.yaml")
    nest = build_nest(arch, problem, mapping)
    result = Engine(arch, problem, ert, art).evaluate(nest)
    return result, format_stats(result, arch, problem, nest, ert)


def test_model_reproduces_stats(reference_run):
    result, _ = _evaluate(reference_run)
    ref = read_stats_text((reference_run / "timeloop-mapper.stats.txt").read_text())
    storage = {b.name: b for b in ref.levels if b.dataspaces}
    ours = {lv.name: lv for lv in result.levels if lv.dataspaces}
    assert set(ours) == set(storage)
    checked = 0
    for name, block in storage.items():
        lv = ours[name]
        assert lv.cycles == V.count(block.stats["Cycles"]), name
        assert close(lv.bandwidth_throttling, V.real(block.stats["Bandwidth throttling"])), name
        assert close(lv.leakage_pJ, V.energy_pJ(block.specs["Leakage energy (total)"])), name
        assert set(lv.dataspaces) == set(block.dataspaces), name
        for ds, printed in block.dataspaces.items():
            s = lv.dataspaces[ds]
            for key, attr in DS_KEYS.items():
                expected = V.real(printed[key])
                assert close(float(getattr(s, attr)), expected), (name, ds, key)
                checked += 1
    assert checked >= 3 * len(DS_KEYS)
    arith = next(b for b in ref.levels if not b.dataspaces)
    assert result.compute.computes == V.count(arith.stats["Computes (total)"])
    assert result.compute.utilized_instances == V.count(arith.stats["Utilized instances"])
    assert close(result.compute.energy_pJ, V.energy_pJ(arith.stats["Energy (total)"]))
    summ = ref.summary
    assert result.cycles == V.count(summ["Cycles"])
    assert close(result.energy_pJ / 1e6, V.real(summ["Energy"]))
    assert close(result.gflops, V.real(summ["GFLOPs (@1GHz)"]))
    assert close(result.utilization * 100, V.real(summ["Utilization"]))
    assert close(result.edp, V.real(summ["EDP(J*cycle)"]))
    assert result.computes == V.count(summ["Computes"])
    for name, printed in ref.per_compute["fJ/Compute"].items():
        assert close(result.fj_per_compute[name], V.real(printed)), name


def test_stats_text_matches_timeloop_line_by_line(reference_run):
    """Every key/value line of the dataspace blocks, the level STATS and the summary."""
    _, text = _evaluate(reference_run)
    ours = read_stats_text(text)
    ref = read_stats_text((reference_run / "timeloop-mapper.stats.txt").read_text())
    assert [b.name for b in ours.levels] == [b.name for b in ref.levels]
    assert [b.index for b in ours.levels] == [b.index for b in ref.levels]
    compared = 0
    for a, b in zip(ours.levels, ref.levels):
        pairs = [(a.stats, b.stats)] + [(a.dataspaces[d], b.dataspaces[d]) for d in b.dataspaces]
        pairs.append(({k: v for k, v in a.specs.items() if k != "Area"},
                      {k: v for k, v in b.specs.items() if k != "Area"}))
        for mine, theirs in pairs:
            assert set(mine) == set(theirs), b.name
            for key, value in theirs.items():
                assert V.unit_of(mine[key]) == V.unit_of(value), (b.name, key)
                x, y = V.number(mine[key]), V.number(value)
                if y is None:
                    assert mine[key] == value, (b.name, key)
                else:
                    assert close(float(x), float(y)), (b.name, key, mine[key], value)
                compared += 1
    summary_keys = ["GFLOPs (@1GHz)", "Utilization", "Cycles", "Energy", "EDP(J*cycle)",
                    "Computes"]
    for key in summary_keys:
        assert close(V.real(ours.summary[key]), V.real(ref.summary[key])), key
    assert ours.per_compute["fJ/Compute"].keys() == ref.per_compute["fJ/Compute"].keys()
    for key, value in ref.per_compute["fJ/Compute"].items():
        assert close(V.real(ours.per_compute["fJ/Compute"][key]), V.real(value)), key
    assert compared > 50


@pytest.mark.parametrize("run_name", ["tensor_core_like/outputs"])
def test_written_text_is_timeloop_text_except_area(run_name):
    """For the baseline run, all lines but the area totals are byte-identical."""
    from tests.conftest import REFERENCE

    if REFERENCE is None:
        pytest.skip("../shared/reference not present")
    run = REFERENCE / "wwwcim" / "runs" / run_name
    _, text = _evaluate(run)
    ref = (run / "timeloop-mapper.stats.txt").read_text()
    differ = [(a, b) for a, b in zip(text.splitlines(), ref.splitlines()) if a != b]
    assert len(text.splitlines()) == len(ref.splitlines())
    assert differ == [("Area: 1.46 mm^2", "Area: 0.00 mm^2")]
