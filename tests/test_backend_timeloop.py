"""The timeloop backend: clear failure without Timeloop, input staging and quirks.

A stand-in executable (a small Python script) plays timeloop-model/-mapper to check
what the backend passes and how it reads the outputs; tests that need the real
binaries skip when `timeloop-model` is not found the way the backend finds it
(CIM_PLUGIN_TIMELOOP_BIN, TIMELOOP_BIN_DIR, PATH).
"""

from __future__ import annotations

import filecmp
import stat
import sys
from pathlib import Path

import pytest

from cim_plugin.backends import timeloop as tl
from cim_plugin.errors import InputError, NotAvailableError
from cim_plugin.spec.yamlio import load_yaml
from tests.conftest import REFERENCE
from tests.test_parse_stats import DENSE

ARCH = """\
architecture:
  version: '0.4'
  subtree:
    - name: top
      attributes: {technology: "45nm"}
      local:
        - {name: GLB, class: SRAM, attributes: {depth: 64, width: 8, datawidth: 8}}
        - {name: MACC, class: intmac, attributes: {datawidth: 8}}
problem:
  shape: {name: g, dimensions: [M], data_spaces: [{name: A, projection: [[[M]]]}]}
  instance: {M: 4}
architecture_constraints:
  targets: [{target: GLB, type: temporal, permutation: M}]
mapping: []
"""

# a table file as Accelergy writes it (timeloop-mapper.ERT.yaml layout)
ERT = """\
ERT:
  version: '0.4'
  tables:
    - name: top.GLB
      actions: [{name: read, arguments: {}, energy: 1.0}]
"""

FAKE = """#!{python}
import json, os, pathlib, sys
cwd = pathlib.Path.cwd()
(cwd / "argv.json").write_text(json.dumps(sys.argv))
prefix = pathlib.Path(sys.argv[0]).name
stats = os.environ.get("FAKE_STATS", "")
(cwd / (prefix + ".stats.txt")).write_text(stats)
if prefix == "timeloop-mapper":
    (cwd / (prefix + ".map.yaml")).write_text(os.environ.get("FAKE_MAP", ""))
"""


@pytest.fixture
def fake_bin(tmp_path, monkeypatch):
    d = tmp_path / "bin"
    d.mkdir()
    for name in ("timeloop-model", "timeloop-mapper"):
        p = d / name
        p.write_text(FAKE.replace("{python}", sys.executable))
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CIM_PLUGIN_TIMELOOP_BIN", str(d))
    monkeypatch.delenv("TIMELOOP_BIN_DIR", raising=False)
    monkeypatch.delenv("ACCELERGYPATH", raising=False)
    monkeypatch.setenv("PATH", str(d))            # no `accelergy` either
    return d


@pytest.fixture
def ert_file(tmp_path):
    f = tmp_path / "tables" / "timeloop-mapper.ERT.yaml"
    f.parent.mkdir()
    f.write_text(ERT)
    return f


def test_missing_timeloop_fails_at_once_with_how_to(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CIM_PLUGIN_TIMELOOP_BIN", raising=False)
    monkeypatch.delenv("TIMELOOP_BIN_DIR", raising=False)
    arch = tmp_path / "arch.yaml"
    arch.write_text(ARCH)
    with pytest.raises(NotAvailableError) as exc:
        tl.run_model([arch], None, tmp_path / "out", timeout=5)
    msg = str(exc.value)
    assert "timeloop-model not found" in msg and "CIM_PLUGIN_TIMELOOP_BIN" in msg
    assert "--backend embedded" in msg
    assert not (tmp_path / "out").exists()          # nothing started
    with pytest.raises(NotAvailableError, match="timeloop-mapper"):
        tl.run_mapper([arch], tmp_path / "out", timeout=5)
    assert tl.available() is False


def test_model_run_stages_inputs_and_parses(tmp_path, fake_bin, monkeypatch, ert_file):
    monkeypatch.setenv("FAKE_STATS", DENSE)
    arch = tmp_path / "arch.yaml"
    arch.write_text(ARCH)
    given = tmp_path / "timeloop-mapper.map.yaml"
    given.write_text("mapping:\n  - {target: GLB, type: temporal, factors: M4, permutation: M}\n")
    res = tl.run_model([arch], given, tmp_path / "out", timeout=30, drop_arch_constraints=True,
                       ert=ert_file)
    assert res.cycles == 8192 and res.level("RF").dataspaces["Z"].reads == 2016
    work = tmp_path / "out" / "timeloop-model"
    import json
    argv = json.loads((work / "argv.json").read_text())
    files = [Path(a) for a in argv[1:]]
    # the mapping is never passed under the name Timeloop ignores
    assert all(f.name != "timeloop-mapper.map.yaml" for f in files)
    assert files[-1].name == "input.map.yaml"
    assert files[-2] == ert_file.resolve()               # the ERT goes in as an input
    staged = load_yaml(files[0])
    assert "mapping" not in staged                      # `mapping: []` would override it
    assert "architecture_constraints" not in staged
    assert 'technology: "45nm"' in files[0].read_text()  # kept quoted for Accelergy
    assert Path(res.extra["log"]).is_file() and res.extra["backend"] == "timeloop"


def test_mapper_without_mapping_is_a_clear_error(tmp_path, fake_bin, monkeypatch):
    monkeypatch.setenv("FAKE_STATS", "")
    design = tmp_path / "design"
    design.mkdir()
    (design / "arch.yaml").write_text(ARCH)
    (design / "tables.yaml").write_text(ERT)
    (design / "timeloop-mapper.stats.txt").write_text("old output, not an input")
    with pytest.raises(tl.NoMappingError, match="no valid mapping"):
        tl.run_mapper(design, tmp_path / "out", timeout=30)
    assert tl.collect_inputs(design) == [design / "arch.yaml", design / "tables.yaml"]


def test_mapper_returns_mapping_and_stats(tmp_path, fake_bin, monkeypatch, ert_file):
    monkeypatch.setenv("FAKE_STATS", DENSE)
    monkeypatch.setenv("FAKE_MAP", "mapping:\n  - {target: GLB, type: temporal, "
                                   "factors: M4, permutation: M}\n")
    arch = tmp_path / "arch.yaml"
    arch.write_text(ARCH)
    mapping, res = tl.run_mapper([arch], tmp_path / "out", timeout=30, ert=ert_file)
    assert mapping.levels["GLB"].temporal == {"M": 4}
    # the summary prints "Energy: 0.56 uJ"; the per-level lines of the same file add up
    # to MACC 9830.40 + RF (39065.60 + 1.25 + 0.75 + leakage 32.77)
    # + GLB (231424.00 + 282624.00 + leakage 20.48) = 562999.25 pJ
    assert res.energy_pJ == pytest.approx(562999.25)
    # areas: MACC 16 x 10.00 um^2 (160.00 total) + RF 16 x 12.50 um^2 + GLB 0 = 360 um^2,
    # not the summary's "Area: 0.01 mm^2" (summed before the ART applies)
    assert res.area_um2 == pytest.approx(360.0)


def test_summary_energy_kept_when_levels_disagree():
    """A summary energy the levels do not round to is kept, with a warning (DENSE's
    levels add up to 562999.25 pJ, which does not print as 0.60 uJ)."""
    from cim_plugin.backends.parse import parse_stats

    res = parse_stats_text(DENSE.replace("Energy: 0.56 uJ", "Energy: 0.60 uJ"), parse_stats)
    tl._exact_totals(res)
    assert res.energy_pJ == pytest.approx(0.60e6) and "kept the summary" in res.warnings[0]


def parse_stats_text(text, parse_stats):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "timeloop-model.stats.txt"
        f.write_text(text)
        return parse_stats(f)


def test_no_ert_and_no_accelergy_is_refused_before_running(tmp_path, fake_bin, monkeypatch):
    """Without an ERT, a Timeloop built without Accelergy silently uses its internal
    energy model (observed: 4348.31 instead of 1134.60 fJ/compute on the WWWtoCiM
    rf_compute_analog6T run), so the backend refuses to start it."""
    monkeypatch.setenv("FAKE_STATS", DENSE)
    arch = tmp_path / "arch.yaml"
    arch.write_text(ARCH)
    with pytest.raises(InputError) as exc:
        tl.run_model([arch], None, tmp_path / "out", timeout=30)
    assert exc.value.field == "ERT" and "internal energy model" in str(exc.value)
    assert not (tmp_path / "out" / "timeloop-model" / "argv.json").exists()
    with pytest.raises(InputError, match="ERT file not found"):
        tl.run_model([arch], None, tmp_path / "out", ert=tmp_path / "missing.yaml")


def test_build_without_accelergy_is_detected_after_the_run(tmp_path, fake_bin, monkeypatch):
    """With Accelergy on the machine Timeloop may call it; if it did not (no
    timeloop-model.ERT.yaml written), the energies are the internal model's."""
    monkeypatch.setenv("FAKE_STATS", DENSE)
    monkeypatch.setenv("ACCELERGYPATH", str(tmp_path))
    arch = tmp_path / "arch.yaml"
    arch.write_text(ARCH)
    with pytest.raises(tl.TimeloopRunError, match="internal model"):
        tl.run_model([arch], None, tmp_path / "out", timeout=30)


def _export(folder, gemm="64,128,128"):
    from cim_plugin.cli import main

    assert main(["export", "--design", "cim_rf", "--macro", "analog6T", "--gemm", gemm,
                 "--banks", "1x4", "-o", str(folder)]) == 0
    return folder


def test_exported_v4_folder_is_transpiled_without_timeloopfe(tmp_path, fake_bin, monkeypatch):
    """Timeloop binaries refuse v0.4 (`architecture.nodes`); an exported folder is handed
    over in processed form with the library's ERT/ART and the folder's map.yaml."""
    monkeypatch.setenv("FAKE_STATS", DENSE)
    design = _export(tmp_path / "design")
    tl.run_model([design], None, tmp_path / "out", timeout=30, drop_arch_constraints=True)
    import json
    argv = json.loads((tmp_path / "out" / "timeloop-model" / "argv.json").read_text())
    staged, given_map = (Path(a) for a in argv[1:])
    doc = load_yaml(staged)
    assert "subtree" in doc["architecture"] and "nodes" not in doc["architecture"]
    assert "architecture_constraints" not in doc          # dropped as asked
    ert_names = {t["name"] for t in doc["ERT"]["tables"]}
    assert any("CiMUnit" in n for n in ert_names) and doc["ART"]["tables"]
    assert doc["problem"]["instance"] == {"M": 64, "N": 128, "K": 128}
    assert load_yaml(given_map) == load_yaml(design / "map.yaml")
    merged = load_yaml(tmp_path / "out" / "timeloop-model" / "parsed-processed-input.yaml")
    assert merged["ERT"] == doc["ERT"] and merged["mapping"] == load_yaml(given_map)["mapping"]


needs_timeloop = pytest.mark.skipif(
    tl.find_tool(tl.MODEL) is None,
    reason="timeloop-model not found (CIM_PLUGIN_TIMELOOP_BIN, TIMELOOP_BIN_DIR, PATH)")


@needs_timeloop
@pytest.mark.skipif(REFERENCE is None, reason="../shared/reference not present")
def test_real_timeloop_model_reproduces_reference_run(tmp_path):
    """docs §9: timeloop-model with the stored mapping reproduces stats.txt."""
    run = REFERENCE / "wwwcim/runs/tensor_core_like/outputs"
    res = tl.run_model([run / "parsed-processed-input.yaml", run / "timeloop-mapper.ERT.yaml",
                        run / "timeloop-mapper.ART.yaml"], run / "timeloop-mapper.map.yaml",
                       tmp_path, timeout=300, drop_arch_constraints=True)
    assert res.cycles == 3295525
    assert res.level("SMEM").dataspaces["B"].reads == 134217728
    assert res.fj_per_compute["Total"] == pytest.approx(3424.95)


@needs_timeloop
@pytest.mark.skipif(REFERENCE is None, reason="../shared/reference not present")
@pytest.mark.parametrize("name", ["rf_compute_analog6T/outputs", "smem_compute_digital8T/outputs"])
def test_real_timeloop_model_stats_are_byte_identical(tmp_path, name):
    """docs §9: with the stored ERT/ART passed as files, stats.txt is reproduced exactly
    (WWWtoCiM reference runs, timeloop-mapper.stats.txt)."""
    run = REFERENCE / "wwwcim/runs" / name
    res = tl.run_model(run / "parsed-processed-input.yaml", run / "timeloop-mapper.map.yaml",
                       tmp_path, timeout=300, drop_arch_constraints=True,
                       ert=run / "timeloop-mapper.ERT.yaml", art=run / "timeloop-mapper.ART.yaml")
    out = Path(res.extra["workdir"]) / "timeloop-model.stats.txt"
    assert filecmp.cmp(out, run / "timeloop-mapper.stats.txt", shallow=False)


@needs_timeloop
def test_real_timeloop_model_runs_an_exported_folder(tmp_path):
    """`cim-plugin model DIR --backend timeloop` on an exported (v0.4) folder: the real
    timeloop-model agrees with the embedded model run on the same folder (1 cycle per
    compute, as Timeloop counts)."""
    from cim_plugin.backends.compare import compare_folder, compare_results
    from cim_plugin.model.evaluate import ModelOptions, evaluate
    from cim_plugin.spec.arch import load_architecture
    from cim_plugin.spec.ert import art_from_dict, ert_from_dict
    from cim_plugin.spec.mapping import load_mapping
    from cim_plugin.spec.problem import load_problem
    from cim_plugin.spec.yamlio import load_inputs

    design = _export(tmp_path / "design", "512,1024,1024")
    real = tl.run_model([design], None, tmp_path / "out", timeout=120, drop_arch_constraints=True)
    staged = load_yaml(Path(real.extra["workdir"]) / "inputs" / "processed-input.yaml")
    doc, _ = load_inputs(tl.collect_inputs(design))
    arch, problem = load_architecture(doc), load_problem(doc)
    ours = evaluate(arch, problem, load_mapping(design / "map.yaml", dims=problem.dimensions),
                    ert_from_dict(staged), art_from_dict(staged),
                    ModelOptions(compute_latency_cycles=1.0))
    report = compare_results(real, ours, tolerance=0.005)
    assert report.ok, report.format_table(only_failures=True)
    assert real.computes == 512 * 1024 * 1024
    # the run folder is a Timeloop output folder `cim-plugin compare` accepts as it is
    folder = compare_folder(real.extra["workdir"])
    assert folder.ok and len(folder.rows) > 100
