"""Acceptance: an exported cim_rf design evaluated by both backends agrees within 0.5 %.

The processed-form input comes from our own templates
(`cim_plugin.export.build.build(...).processed`) with the component library's ERT/ART
embedded, so neither timeloopfe nor Accelergy is needed; only `timeloop-model` is
(found like the backend finds it: CIM_PLUGIN_TIMELOOP_BIN, TIMELOOP_BIN_DIR or PATH).
Timeloop models one cycle per compute; the backend applies the macro latency to its
counts (cim_plugin.backends.latency), so both backends report the embedded model's
figures; Timeloop's own cycles equal the embedded model's with one cycle per compute.
"""

from __future__ import annotations

import pytest

from cim_plugin.backends import timeloop as tl
from cim_plugin.backends.compare import compare_results
from cim_plugin.export.build import Sizing, build
from cim_plugin.io.yamlout import write_yaml
from cim_plugin.library.ert_gen import generate_tables
from cim_plugin.library.loader import get_macro
from cim_plugin.model.evaluate import ModelOptions, evaluate
from cim_plugin.spec.problem import gemm_problem

needs_timeloop_model = pytest.mark.skipif(
    tl.find_tool(tl.MODEL) is None,
    reason="timeloop-model not found (set CIM_PLUGIN_TIMELOOP_BIN or put it on PATH)")


def _both(design: str, macro: str, gemm: tuple[int, int, int], tmp_path, latency: float):
    b = build(design, get_macro(macro), gemm, Sizing(mode="explicit", banks=(1, 4)))
    ert, art = generate_tables(b.architecture)
    mapping = b.mapping.mapping()
    doc = {k: v for k, v in b.processed.items() if k != "architecture_constraints"}
    doc.update(ert.to_yaml_dict())
    doc.update(art.to_yaml_dict())
    inp = write_yaml(tmp_path / "input.yaml", doc)
    real = tl.run_model([inp], mapping, tmp_path / "run", timeout=120)
    ours = evaluate(b.architecture, gemm_problem(*gemm), mapping, ert, art,
                    ModelOptions(compute_latency_cycles=latency))
    one = evaluate(b.architecture, gemm_problem(*gemm), mapping, ert, art,
                   ModelOptions(compute_latency_cycles=1.0))
    return real, ours, one


@needs_timeloop_model
@pytest.mark.parametrize("gemm", [(16, 256, 256), (512, 1024, 1024)])
def test_exported_cim_rf_agrees_with_real_timeloop(gemm, tmp_path):
    real, ours, one = _both("cim_rf", "analog6T", gemm, tmp_path, latency=9.0)   # method.md
    report = compare_results(real, ours, tolerance=0.005)
    assert report.ok, report.format_table(only_failures=True)
    m, n, k = gemm
    assert real.computes == m * n * k            # a dense GEMM: every MAC once
    assert ours.energy_pJ == pytest.approx(real.energy_pJ, rel=0.005)
    assert ours.cycles == pytest.approx(real.cycles, rel=0.005)
    assert real.compute_latency_cycles == 9.0
    assert real.extra["timeloop_cycles"] == one.cycles        # Timeloop's own count


@needs_timeloop_model
def test_study_point_on_real_timeloop_equals_the_embedded_point(tmp_path):
    """`study --backend timeloop` on one point: the macro latency applied to Timeloop's
    counts gives the embedded model's figures. Timeloop's own count is 2176 cycles (DRAM
    reads at 32 B/cycle: weights 256x256 + inputs 16x256 bytes); with the latency,
    C0 = 16*256*256 / (4 banks x 4 x 64 cells) = 1024 operations of 9 cycles = 9216 cycles
    dominate."""
    from cim_plugin.study.config import StudyConfig
    from cim_plugin.study.runner import Point, evaluate_point

    cfg = StudyConfig(designs=("cim_rf",), macros=("analog6T",), workloads=(), sweep_m=(16,),
                      sweep_nk=(256,), sizing="explicit", banks=(1, 4), backend="timeloop")
    rec = evaluate_point(Point("cim_rf", "analog6T", 16, 256, 256), cfg, tmp_path)
    real, ours = rec["result"], rec["embedded"]
    assert rec["latency_cycles"] == 9.0 == real["compute_latency_cycles"]
    assert real["cycles"] == ours["cycles"] == 16 * 256 * 256 // (4 * 4 * 64) * 9 == 9216
    assert real["energy_pJ"] == pytest.approx(ours["energy_pJ"], rel=1e-4)
    assert real["utilization"] == pytest.approx(ours["utilization"], rel=1e-9)
    assert real["area_um2"] == pytest.approx(ours["area_um2"], rel=1e-4)
    assert not any("latency" in w for w in real["warnings"])
