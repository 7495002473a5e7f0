"""The study: outputs, the latency model, resuming after an interruption, bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from cim_plugin.cli import main
from cim_plugin.study import runner
from cim_plugin.study.config import load_config
from cim_plugin.study.runner import Point, evaluate_point

SMALL = """\
designs: [cim_rf, cim_smem]
macros: [analog6T, digital6T]
workloads: [{gemms}]
sweep_m: [16]
sweep_nk: [256]
"""


def _config(tmp_path: Path) -> Path:
    gemms = tmp_path / "gemms.csv"
    gemms.write_text("name,m,n,k,count\nproj,64,256,256,3\ndecode,1,512,256,2\n")
    cfg = tmp_path / "study.yaml"
    cfg.write_text(SMALL.format(gemms=gemms))
    return cfg


def test_cim_latency_is_inside_the_model():
    """cim_rf, analog6T, 1x4 banks, BERT 512x1024x1024 with the priority mapping:
    the mapping uses all 4 banks x 64 x 4 = 1024 CiM units (reference run
    rf_compute_analog6T/outputs_consv2p1 reports 100 % utilization), so the temporal
    steps are 536870912 / 1024 = 524288; each macro operation takes 9 cycles
    (method.md, analog6T), so compute takes 524288 x 9 = 4718592 cycles. Throughput is
    2 x 536870912 ops / 4718592 cycles = 2048/9 = 227.56 GOPS at 1 GHz."""
    cfg = dataclasses.replace(load_config(None), sizing="explicit", banks=(1, 4),
                              cim_strategy="priority")
    rec = evaluate_point(Point("cim_rf", "analog6T", 512, 1024, 1024), cfg)
    res = rec["result"]
    assert rec["macros"] == 4
    assert res["compute"]["utilized_instances"] == 1024
    assert res["cycles"] == 524288 * 9
    assert 2 * res["computes"] / res["cycles"] == pytest.approx(2048 / 9, rel=1e-12)
    # energy: the reference run's 393.03 uJ (same mapping and tables) plus SMEM leakage
    # over the extra cycles: 0.007902 pJ x (4718592 - 524288) = 0.0331 uJ
    assert res["energy_pJ"] / 1e6 == pytest.approx(393.03 + 0.0331, abs=0.01)


def test_small_study_writes_every_output(tmp_path):
    cfg = _config(tmp_path)
    out = tmp_path / "out"
    assert main(["study", str(cfg), "-o", str(out), "--jobs", "1", "--no-progress"]) == 0
    for name in ("results.csv", "results.json", "summary.json", "report.md", "report.html",
                 "tops_vs_gops.png", "tops_vs_gops.svg", "normalized.png", "energy_breakdown.svg",
                 "sweep_heatmap.png"):
        assert (out / name).is_file(), name
    df = pd.read_csv(out / "results.csv")
    # one row per design x macro x GEMM: 3 GEMMs x (baseline + 2 designs x 2 macros)
    assert len(df) == 3 * 5
    assert {"tops_per_w", "gops", "energy_J", "latency_s", "energy_DRAM_J"} <= set(df.columns)
    # 2 ops per MAC everywhere
    ok = df[df["error"].isna() | (df["error"] == "")]
    assert (ok["ops"] == 2 * ok["m"] * ok["n"] * ok["k"]).all()
    assert ok["gops"].to_numpy() == pytest.approx((ok["ops"] / ok["latency_s"] / 1e9).to_numpy())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["schema_version"] == 1
    report = (out / "report.md").read_text()
    assert "what/where for energy" in report and "gemms" in report


def test_interrupted_study_resumes_and_matches(tmp_path, monkeypatch):
    cfg = _config(tmp_path)
    full = tmp_path / "full"
    assert main(["study", str(cfg), "-o", str(full), "--jobs", "1", "--no-progress"]) == 0

    calls = {"n": 0}
    real = runner.evaluate_point

    def interrupt_after_four(point, c, *rest):
        calls["n"] += 1
        if calls["n"] > 4:
            raise KeyboardInterrupt
        return real(point, c, *rest)

    part = tmp_path / "part"
    monkeypatch.setattr(runner, "evaluate_point", interrupt_after_four)
    assert main(["study", str(cfg), "-o", str(part), "--jobs", "1", "--no-progress"]) == 130
    assert not (part / "results.csv").exists()            # nothing half-written
    assert len(list((part / "cache").glob("*.json"))) == 4

    counted = {"n": 0}

    def counting(point, c, *rest):
        counted["n"] += 1
        return real(point, c, *rest)

    monkeypatch.setattr(runner, "evaluate_point", counting)
    assert main(["study", str(cfg), "-o", str(part), "--jobs", "1", "--no-progress"]) == 0
    n_points = len(list((full / "cache").glob("*.json")))
    assert counted["n"] == n_points - 4
    for name in ("results.csv", "summary.json"):
        assert (part / name).read_bytes() == (full / name).read_bytes(), name
    counted["n"] = 0
    assert main(["study", str(cfg), "-o", str(part), "--jobs", "1", "--no-progress"]) == 0
    assert counted["n"] == 0                              # a rerun recomputes nothing


@pytest.mark.parametrize("text, field", [
    ("macros: [nosuchmacro]\n", "macros"),
    ("designs: [cim_nowhere]\n", "designs"),
    ("workloads: [nosuchworkload]\n", "workloads"),
    ("workloads: []\nsweep_m: []\n", "workloads"),
    ("sizing: bigger\n", "sizing"),
    ("sweep_m: [0]\n", "sweep_m"),
    ("colour: blue\n", "colour"),
    ("macros: [analog6T\n", "line"),
])
def test_bad_config_is_named(tmp_path, capsys, text, field):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    out = tmp_path / "out"
    assert main(["study", str(cfg), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and field in err and "Traceback" not in err
    assert not out.exists()


def test_output_dir_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["study", "-o", str(f)]) == 2
    assert "output path is a file" in capsys.readouterr().err


def test_malformed_gemm_list_names_row(tmp_path, capsys):
    gemms = tmp_path / "g.csv"
    gemms.write_text("name,m,n,k\nok,4,4,4\nbad,4,-1,4\n")
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"workloads: [{gemms}]\nsweep_m: []\n")
    assert main(["study", str(cfg), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "g.csv" in err and "row" in err


def test_gemms_derived_from_a_model_description(tmp_path):
    """BERT-Large at sequence length 128 (hidden 1024, FFN 4096): the QKV/output
    projections are 128x1024x1024 and the FFN up-projection 128x4096x1024."""
    cfg = tmp_path / "m.yaml"
    cfg.write_text("designs: [cim_smem]\nmacros: [digital6T]\nworkloads: []\nsweep_m: []\n"
                   "models:\n  - {model: bert-large, seq_len: 128, name: bert128}\n")
    out = tmp_path / "o"
    assert main(["study", str(cfg), "-o", str(out), "--jobs", "1", "--no-progress"]) == 0
    df = pd.read_csv(out / "results.csv")
    shapes = {(r.m, r.n, r.k) for r in df.itertuples()}
    assert (128, 1024, 1024) in shapes and (128, 4096, 1024) in shapes
    assert set(df["workload"]) == {"bert128"}


@pytest.mark.parametrize("text", ["models:\n  - {model: llama}\n", "models: [3]\n",
                                  "models:\n  - {model: bert-large, colour: 3}\n"])
def test_bad_model_description(tmp_path, capsys, text):
    cfg = tmp_path / "m.yaml"
    cfg.write_text(text)
    assert main(["study", str(cfg), "-o", str(tmp_path / "o")]) == 2
    assert "models" in capsys.readouterr().err


def test_timeloop_backend_without_timeloop_fails_at_once(tmp_path, capsys, monkeypatch):
    from cim_plugin.backends import timeloop as tl

    if tl.find_tool(tl.MODEL) is not None:
        pytest.skip("timeloop-model is installed here")
    out = tmp_path / "o"
    assert main(["study", "--backend", "timeloop", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "timeloop-model not found" in err and "CIM_PLUGIN_TIMELOOP_BIN" in err
    assert not out.exists()


def test_sweep_only_study_writes_every_plot(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text("designs: [cim_rf]\nmacros: [analog6T]\nworkloads: []\nsweep_m: [16]\nsweep_nk: [256]\n")
    out = tmp_path / "o"
    assert main(["study", str(cfg), "-o", str(out), "--jobs", "1", "--no-progress"]) == 0
    for name in ("tops_vs_gops", "normalized", "energy_breakdown", "sweep_heatmap"):
        assert (out / f"{name}.png").stat().st_size > 1000, name
