"""Macro sweeps: validation, re-pricing against the engine, break-even frontiers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cim_plugin.cli import main
from cim_plugin.dse.cheap import SweepTask, evaluate_chunk, hypothetical_macro, workloads_of
from cim_plugin.errors import InputError
from cim_plugin.library.sweep import (
    MAX_SWEEP_POINTS,
    MacroSweep,
    check_point_count,
    chunks,
    parse_macro_sweep,
)
from cim_plugin.report.frontier_report import sentences
from cim_plugin.study.frontier import break_even, crossings, frontier_rows
from cim_plugin.study.workloads import Gemm


def _sweep(**raw) -> MacroSweep:
    return parse_macro_sweep({"base": "analog6T", **raw}, "s.yaml", ("analog6T",))


def test_ranges_and_lists_expand_to_the_stated_values():
    sw = _sweep(energy_per_mac_pJ={"from": 0.1, "to": 10, "steps": 3, "scale": "log"},
                latency_cycles={"from": 1, "to": 9, "steps": 3}, Rp=[32, 64])
    assert sw.of("energy_per_mac_pJ") == pytest.approx((0.1, 1.0, 10.0), rel=1e-12)
    assert sw.of("latency_cycles") == (1.0, 5.0, 9.0)
    assert sw.of("Rp") == (32, 64)
    assert sw.of("Cp") == (4,) and sw.of("write_energy_pJ") == (1.9,)   # analog6T's own
    assert sw.macros() == 3 * 3 * 2
    # chunks cover every macro once, numbered in enumeration order
    got = [(c.design, c.first_macro, c.stop - c.start) for c in chunks(sw, ("cim_rf",), size=4)]
    assert [g[1] for g in got] == [0, 4, 8, 9, 13, 17]
    assert sum(g[2] for g in got) == 18


@pytest.mark.parametrize("raw, field", [
    ({"energy_per_mac_pJ": {"from": 2, "to": 1, "steps": 3}}, "macro_sweep.energy_per_mac_pJ.to"),
    ({"energy_per_mac_pJ": [-0.1, 0.2]}, "macro_sweep.energy_per_mac_pJ[0]"),
    ({"write_energy_pJ": {"from": -1, "to": 1, "steps": 2}}, "macro_sweep.write_energy_pJ.from"),
    ({"Rp": [0, 4]}, "macro_sweep.Rp[0]"),
    ({"Ch": [1.5]}, "macro_sweep.Ch[0]"),
    ({"latency_cycles": [0]}, "macro_sweep.latency_cycles[0]"),
    ({"area_factor": [0.0]}, "macro_sweep.area_factor[0]"),
    ({"energy_per_mac_pJ": {"from": 0, "to": 9, "steps": 4, "scale": "log"}},
     "macro_sweep.energy_per_mac_pJ.from"),
    ({"latency_cycles": {"from": 0, "to": 9, "steps": 4}}, "macro_sweep.latency_cycles.from"),
    ({"latency_cycles": {"from": 1, "to": 9, "steps": 1}}, "macro_sweep.latency_cycles.steps"),
    ({"latency_cycles": {"from": 1, "to": 9, "steps": 10**9}}, "macro_sweep.latency_cycles.steps"),
    ({"Rp": {"from": 1, "to": 4, "steps": 3}}, "macro_sweep.Rp"),
    ({"bits": [8, 8]}, "macro_sweep.bits"),
    ({"energy_per_mac_pJ": []}, "macro_sweep.energy_per_mac_pJ"),
    ({"energy_per_mac_pJ": ["nan"]}, "macro_sweep.energy_per_mac_pJ[0]"),
    ({"colour": [1]}, "macro_sweep.colour"),
    ({"base": "nosuch"}, "macro_sweep.base"),
    ({"Rp": [32, 64], "frontiers": [["Rp", "Rp"]]}, "macro_sweep.frontiers[0]"),
    ({"Rp": [32, 64], "frontiers": [["Cp", "Rp"]]}, "macro_sweep.frontiers"),   # x not swept
    ({"Rp": [32]}, "macro_sweep"),                                       # nothing swept
])
def test_bad_sweep_values_are_named(raw, field):
    with pytest.raises(InputError) as exc:
        _sweep(**raw)
    assert exc.value.field == field and exc.value.file == "s.yaml"


def test_default_frontier_follows_what_is_swept():
    assert _sweep(Rp=[32, 64]).frontiers == (("Rp", "latency_cycles"),)
    assert _sweep(latency_cycles=[1, 9]).frontiers == (("latency_cycles", "energy_per_mac_pJ"),)


def test_point_count_is_bounded_before_any_work():
    sw = _sweep(energy_per_mac_pJ={"from": 0.01, "to": 1, "steps": 10_000},
                latency_cycles={"from": 1, "to": 10_000, "steps": 10_000})
    assert sw.macros() == 10**8
    with pytest.raises(InputError) as exc:
        check_point_count(sw, 1, 1, "s.yaml")
    assert exc.value.field == "macro_sweep" and str(MAX_SWEEP_POINTS) in str(exc.value)


def test_repricing_equals_a_full_evaluation_of_each_macro():
    """The cheap path prices one count of a geometry for many (energy, latency) variants;
    each variant must equal building and evaluating that macro on its own."""
    from cim_plugin.export.build import Sizing, build
    from cim_plugin.library.ert_gen import generate_tables
    from cim_plugin.library.latency import compute_latency
    from cim_plugin.library.loader import load_macro_library
    from cim_plugin.model.engine import Engine, ModelOptions
    from cim_plugin.model.nest import build_nest
    from cim_plugin.spec.problem import gemm_problem

    sw = _sweep(energy_per_mac_pJ=[0.02, 0.7], latency_cycles=[1, 3, 64],
                write_energy_pJ=[0.0, 4.5])
    shapes = [(16, 256, 256), (256, 512, 128)]
    wl = workloads_of([Gemm("a", *shapes[0], count=3, workload="w"),
                       Gemm("b", *shapes[1], count=1, workload="w")])
    chunk = next(chunks(sw, ("cim_smem",)))
    got = evaluate_chunk(SweepTask(chunk, sw, wl, "preset", (1, 4), False, False))
    var = sw.costing(0, sw.costings)
    for j in range(sw.costings):
        macro = hypothetical_macro(dict(chunk.structure), var["latency_cycles"][j],
                                   var["energy_per_mac_pJ"][j], var["write_energy_pJ"][j])
        energy = cycles = 0.0
        for shape, count in zip(shapes, (3, 1)):
            b = build("cim_smem", macro, shape, Sizing(mode="iso-area"))
            ert, art = generate_tables(b.architecture,
                                       macros={**load_macro_library(), macro.name: macro})
            lat, _ = compute_latency(b.architecture)
            problem = gemm_problem(*shape)
            r = Engine(b.architecture, problem, ert, art,
                       ModelOptions(compute_latency_cycles=lat)).evaluate(
                build_nest(b.architecture, problem, b.mapping.mapping()))
            energy += count * r.energy_pJ
            cycles += count * r.cycles
        assert got["energy_pJ"]["w"][j] == pytest.approx(energy, rel=1e-12)
        assert got["cycles"]["w"][j] == cycles


def test_crossing_of_a_linear_energy_is_exact():
    """One GEMM: CiM energy E(e) = a + MACs * e, baseline energy Eb. The TOPS/W ratio is
    Eb / E(e), which crosses 1 at e* = (Eb - a) / MACs, whatever the grid."""
    macs, a, eb = 4096.0, 1.0e5, 9.0e5
    grid = [0.05, 0.5, 7.0, 300.0, 1000.0]
    ratio = [eb / (a + macs * e) for e in grid]
    (c,) = crossings(grid, ratio)
    assert c.wins == "below" and c.x_break == pytest.approx((eb - a) / macs, rel=1e-12)
    # a growing ratio crosses upwards; a ratio that never reaches 1 does not cross
    assert crossings([1, 2], [0.5, 2.0])[0].wins == "above"
    assert crossings([1, 2], [0.5, 0.9]) == []


def _best(rows):
    return pd.DataFrame(rows, columns=["workload", "design", "energy_per_mac_pJ",
                                       "latency_cycles", "tops_per_w_vs_baseline",
                                       "gops_vs_baseline", "both"])


def test_break_even_sentence_from_a_synthetic_frontier():
    """TOPS/W ratio 2 / (1 + e) crosses 1 at e = 1 (latency 1) and 1.5 / (0.5 + e) at
    e = 1 ... shifted by latency; GOPS ratio 4 / latency wins up to 4 cycles."""
    rows = []
    for lat, a in ((1, 0.0), (2, 0.2), (4, 0.5), (8, 0.5)):
        for e in (0.1, 0.5, 2.0, 4.0):
            t = 2.0 / (1.0 + a + e)          # crosses 1 at e = 1 - a
            g = 4.0 / lat
            rows.append(["bert", "cim_rf", e, lat, t, g, min(t, g)])
    table = frontier_rows(_best(rows), "energy_per_mac_pJ", "latency_cycles")
    both = table[table["metric"] == "both"].set_index("y_value")
    assert both.loc[1.0, "x_break"] == pytest.approx(1.0, rel=1e-12)
    assert both.loc[2.0, "x_break"] == pytest.approx(0.8, rel=1e-12)
    assert both.loc[4.0, "x_break"] == pytest.approx(0.5, rel=1e-12)
    assert both.loc[8.0, "wins"] == "nowhere"               # GOPS 0.5x at 8 cycles
    (b,) = break_even(table)
    assert (b.x_max, b.y_max) == (pytest.approx(0.5), 4.0)
    (text,) = sentences(table, "energy_per_mac_pJ", "latency_cycles")
    assert "At RF level a macro beats the baseline on bert when pJ/MAC < 0.5 at <= 4 cycles" in text


def _one_gemm_study(tmp_path, design: str, more: str, energies: str, sweep_more: str):
    """A study of the GEMM 64 x 256 x 256 on one placement with an energy x latency sweep."""
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"designs: [{design}]\nmacros: [analog6T]\nworkloads: []\nsweep_m: [64]\n"
                   f"sweep_nk: [256]\nbaseline_strategy: search\n{more}macro_sweep:\n"
                   f"  energy_per_mac_pJ: {energies}\n  latency_cycles: [1, 9]\n{sweep_more}")
    out = tmp_path / "o"
    assert main(["study", str(cfg), "-o", str(out), "--jobs", "1", "--no-progress"]) == 0
    return cfg, out


def test_study_sweep_break_even_matches_hand_derivation(tmp_path):
    """One GEMM (64 x 256 x 256) on the RF placement: the compute energy is MACs x e, so
    the sweep's energies differ by MACs x (e1 - e0) and the TOPS/W break-even is
    e* = e0 + (E_baseline - E(e0)) / MACs."""
    _, out = _one_gemm_study(tmp_path, "cim_rf", "cim_strategy: priority\n",
                             "[0.05, 0.5, 2.0, 5.0]", "")
    macs = 64 * 256 * 256
    sweep = pd.read_csv(out / "sweep.csv")
    assert len(sweep) == 8 and (sweep["error"].isna()).all()
    at9 = sweep[sweep["latency_cycles"] == 9].sort_values("energy_per_mac_pJ")
    e = at9["energy_per_mac_pJ"].to_numpy()
    energy = at9["energy_J"].to_numpy()
    assert np.allclose(energy - energy[0], macs * (e - e[0]) * 1e-12, rtol=1e-7)
    res = pd.read_csv(out / "results.csv")
    e_base = float(res[res["design"] == "tensor_core"]["energy_J"].iloc[0])
    expected = e[0] + (e_base - energy[0]) / (macs * 1e-12)
    front = pd.read_csv(out / "frontier.csv")
    row = front[(front["metric"] == "tops_per_w") & (front["y_value"] == 9)].iloc[0]
    assert row["wins"] == "below" and 0.5 < expected < 2.0
    assert row["x_break"] == pytest.approx(expected, rel=1e-6)
    report = (out / "report.md").read_text()
    assert "## Break-even frontiers (macro sweep)" in report
    # GOPS never reaches the baseline's with two RF macros; TOPS/W alone breaks even
    assert "At RF level no macro of the sweep beats the baseline on sweep" in report
    assert f"on TOPS/W alone when pJ/MAC < {row['x_break']:.4g} at <= 9 cycles" in report
    assert (out / "frontier_energy_per_mac_pJ_vs_latency_cycles.png").stat().st_size > 1000
    assert not math.isnan(row["best_ratio"])


def test_missing_dask_is_said_clearly(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)      # import fails as if absent
    cfg = tmp_path / "s.yaml"
    cfg.write_text("designs: [cim_rf]\nmacros: [analog6T]\nworkloads: []\nsweep_m: [16]\n"
                   "sweep_nk: [256]\n")
    rc = main(["study", str(cfg), "-o", str(tmp_path / "o"), "--scheduler", "dask"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "pip install 'cim-plugin[dask]'" in err[0]
    assert not (tmp_path / "o").exists()


def test_refinement_maps_the_bracketing_macros_like_the_study(tmp_path):
    """With a search strategy, `refine:` re-evaluates the two grid macros around a
    crossing exactly as the study evaluates its own points (mapper seeded with the
    priority mappings): the refined ratio is min(E_baseline / E, L_baseline / L) of that
    evaluation."""
    import dataclasses

    from cim_plugin.study.config import load_config
    from cim_plugin.study.runner import Point, evaluate_point

    cfg_path, out = _one_gemm_study(tmp_path, "cim_smem", "", "[0.05, 0.5, 2.0]",
                                    "  refine: 5\n")
    front = pd.read_csv(out / "frontier.csv")
    refined = front[front["refined_ratio_below"].notna()]
    assert 1 <= len(refined) <= 5 and set(refined["metric"]) == {"both"}
    row = refined.iloc[0]
    res = pd.read_csv(out / "results.csv")
    base = res[res["design"] == "tensor_core"].iloc[0]
    cfg = dataclasses.replace(load_config(cfg_path), sizing="iso-area")
    sweep = pd.read_csv(out / "sweep.csv")
    lower = sweep[(sweep["latency_cycles"] == row["y_value"])
                  & (sweep["energy_per_mac_pJ"] <= row["x_break"])]
    e = float(lower["energy_per_mac_pJ"].max())
    macro = hypothetical_macro({"Rp": 64, "Cp": 4, "Rh": 1, "Ch": 16, "bits": 8,
                                "area_factor": 1.34}, row["y_value"], e, 1.9)
    rec = evaluate_point(Point("cim_smem", macro.name, 64, 256, 256), cfg, macro_obj=macro)
    energy_J = rec["result"]["energy_pJ"] * 1e-12
    latency_s = rec["result"]["cycles"] / 1e9
    expected = min(base["energy_J"] / energy_J, base["latency_s"] / latency_s)
    assert row["refined_ratio_below"] == pytest.approx(expected, rel=1e-6)


def test_interrupted_sweep_resumes_from_its_chunks(tmp_path):
    """A sweep stopped after its first chunk leaves no sweep.csv (nor a temporary file)
    and that chunk in the cache; the rerun reuses it (the entry is not rewritten) and
    writes the bytes of an uninterrupted sweep."""
    from cim_plugin.dse.run import Baseline, run_sweep
    from cim_plugin.io.safeio import SafeFolder
    from cim_plugin.study.config import StudyConfig
    from cim_plugin.study.executors import SerialExecutor

    cfg = StudyConfig(designs=("cim_rf",), macros=("analog6T",), workloads=(), sizing="iso-area")
    sweep = _sweep(energy_per_mac_pJ=[0.1, 0.2, 0.4], latency_cycles=[1, 9])
    gemms = [Gemm("g", 16, 256, 256, 2, "w")]
    base = Baseline({"w": 1e-5}, {"w": 1e-5})

    class Stop(SerialExecutor):
        def result(self, handle):
            if self.seen:
                raise KeyboardInterrupt
            self.seen = 1
            return super().result(handle)

    def run(folder_path, executor):
        folder_path.mkdir(exist_ok=True)
        with SafeFolder.open(folder_path) as folder:
            done = run_sweep(cfg, sweep, gemms, base, folder, executor, progress=False,
                             chunk_size=2)
            folder.publish(done.temp_name, "sweep.csv")
        return (folder_path / "sweep.csv").read_bytes()

    out = tmp_path / "a"
    stop = Stop()
    stop.seen = 0
    with pytest.raises(KeyboardInterrupt):
        run(out, stop)
    assert sorted(p.name for p in out.iterdir()) == ["cache"]       # no partial sweep.csv
    (entry,) = list((out / "cache").iterdir())
    before = (entry.read_bytes(), entry.stat().st_mtime_ns)
    resumed = run(out, SerialExecutor())
    assert (entry.read_bytes(), entry.stat().st_mtime_ns) == before
    assert len(list((out / "cache").iterdir())) == 3                # 6 macros, 2 per chunk
    assert resumed == run(tmp_path / "b", SerialExecutor())
    assert resumed.count(b"\n") == 1 + 6


def test_in_order_sends_small_jobs_together_and_keeps_their_order():
    """Jobs of weights 1, 2, 3 (then 5, 6, 7, 9) fill tasks of weight >= 5; the cached
    jobs 0, 4 and 8 are not run and come back in their place."""
    from cim_plugin.study.executors import SerialExecutor, in_order

    class Counting(SerialExecutor):
        sent = 0

        def submit(self, fn, arg):
            Counting.sent += 1
            return super().submit(fn, arg)

    jobs = [(i, i, -i if i % 4 == 0 else None) for i in range(10)]
    got = list(in_order(Counting(), lambda x: x * x, iter(jobs), 2, weight=float, batch=5))
    assert got == [(i, -i, False) if i % 4 == 0 else (i, i * i, True) for i in range(10)]
    assert Counting.sent == 5               # [1, 2, 3], [5], [6], [7], [9]


def test_a_task_holds_one_full_chunk_or_an_eighth_of_a_worker_share():
    """4 geometries x 3 variants on 2 placements, 2 GEMM shapes, chunks of 2 variants:
    a full chunk weighs 2 x (200 + 2) = 404; the sweep 2 x 4 x 2 x (2 x 200 + 3) = 6,448,
    so one worker's tasks hold 404 (6,448 / 8 is more) and four workers' 6,448 / 32."""
    from cim_plugin.dse.cheap import workloads_of
    from cim_plugin.dse.run import batch_weight

    sw = _sweep(Rp=[16, 32], Cp=[4, 8], latency_cycles=[1, 2, 3])
    wl = workloads_of([Gemm("a", 8, 8, 8, 1, "w"), Gemm("b", 8, 16, 8, 1, "w")])
    assert (sw.macros(), sw.costings, len(wl.shapes)) == (12, 3, 2)
    assert batch_weight(sw, ("cim_rf", "cim_smem"), wl, 1, chunk_size=2) == 404
    assert batch_weight(sw, ("cim_rf", "cim_smem"), wl, 4, chunk_size=2) == 6448 / 32
