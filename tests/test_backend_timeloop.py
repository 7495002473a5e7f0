"""The timeloop backend: clear failure without Timeloop, input staging, quirks, paths and
the compute latency.

A stand-in executable (a small Python script) plays timeloop-model/-mapper to check
what the backend passes and how it reads the outputs: like Timeloop it runs inside the
work folder and fails with "key not found" when an input path does not resolve there.
It prints a given stats.txt, e.g. the Timeloop-layout stats.txt the embedded model writes
with one cycle per compute (Timeloop's rule), so the latency tests compare the backend's
figures with the embedded model's. Tests that need the real binaries skip when
`timeloop-model` is not found the way the backend finds it (CIM_PLUGIN_TIMELOOP_BIN,
TIMELOOP_BIN_DIR, PATH).
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

# The architecture and problem of DENSE (test_parse_stats): the checked example of
# docs/timeloop-accelergy.md §7 with GLB read_bandwidth 2 (GEMM M32 N16 K64, 4x4 PEs)
ARCH = """\
architecture:
  version: '0.4'
  subtree:
    - name: top
      attributes: {technology: "45nm"}
      local:
        - {name: GLB, class: SRAM, attributes: {depth: 1024, width: 64, datawidth: 8,
                                                read_bandwidth: 2}}
        - {name: "inter_PE_spatial[1..1]", class: dummy_storage,
           attributes: {depth: 1, width: 1, datawidth: 1}}
        - {name: "RF[1..16]", class: regfile,
           attributes: {depth: 64, width: 8, datawidth: 8, meshX: 4, meshY: 4}}
        - {name: "MACC[1..16]", class: intmac, attributes: {datawidth: 8, meshX: 4, meshY: 4}}
problem:
  shape:
    name: gemm_ABZ
    dimensions: [M, N, K]
    data_spaces:
      - {name: A, projection: [[[M]], [[K]]]}
      - {name: B, projection: [[[N]], [[K]]]}
      - {name: Z, projection: [[[M]], [[N]]], read_write: true}
  instance: {M: 32, N: 16, K: 64}
architecture_constraints:
  targets: [{target: GLB, type: temporal, permutation: MKN}]
mapping: []
"""
MAP = "mapping:\n  - {target: GLB, type: temporal, factors: M32 N16 K64, permutation: MNK}\n"

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
for arg in sys.argv[1:]:
    if not pathlib.Path(arg).is_file():        # as Timeloop: the inputs resolve in its cwd
        print("key not found: mapping")
        sys.exit(1)
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
    given.write_text(MAP)
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
    monkeypatch.setenv("FAKE_MAP", MAP)
    arch = tmp_path / "arch.yaml"
    arch.write_text(ARCH)
    mapping, res = tl.run_mapper([arch], tmp_path / "out", timeout=30, ert=ert_file)
    assert mapping.levels["GLB"].temporal == {"M": 32, "N": 16, "K": 64}
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


def _embedded_stats(specs: list[Path], mapping: Path, out: Path, *extra: str) -> tuple[str, dict]:
    """(stats.txt in Timeloop's layout, JSON result) of `cim-plugin model` (embedded)."""
    import json

    from cim_plugin.cli import main

    assert main(["model", *map(str, specs), "--mapping", str(mapping), *extra, "-o", str(out),
                 "--json", str(out / "r.json")]) == 0
    return (out / "stats.txt").read_text(), json.loads((out / "r.json").read_text())


def test_exported_v4_folder_is_transpiled_without_timeloopfe(tmp_path, fake_bin, monkeypatch):
    """Timeloop binaries refuse v0.4 (`architecture.nodes`); an exported folder is handed
    over in processed form with the library's ERT/ART and the folder's map.yaml."""
    design = _export(tmp_path / "design")
    stats, _ = _embedded_stats([design / "arch.yaml", design / "problem.yaml"], design / "map.yaml",
                               tmp_path / "emb", "--compute-latency", "1")
    monkeypatch.setenv("FAKE_STATS", stats)
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
    assert load_yaml(given_map)["mapping"] == load_yaml(design / "map.yaml")["mapping"]
    merged = load_yaml(tmp_path / "out" / "timeloop-model" / "parsed-processed-input.yaml")
    assert merged["ERT"] == doc["ERT"] and merged["mapping"] == load_yaml(given_map)["mapping"]
    # map.v4.yaml (timeloopfe's form) is not an input; neither are the README and top files
    assert [f.name for f in tl.collect_inputs(design) if f.parent == design] == [
        "arch.yaml", "problem.yaml", "constraints.yaml", "mapper.yaml"]


@pytest.mark.parametrize("macro, gemm", [("analog6T", (64, 128, 256)),
                                         ("digital8T", (16, 256, 512))])
def test_latency_is_applied_to_timeloop_counts(tmp_path, fake_bin, monkeypatch, macro, gemm):
    """The study's Timeloop input (templates without any latency encoding): Timeloop counts
    one cycle per compute, which the embedded model reproduces with --compute-latency 1;
    the backend applies the macro's latency to those counts and reports exactly what the
    embedded model reports with the latency (cycles, level cycles, leakage, energy,
    utilization, GFLOPs)."""
    from cim_plugin.export.build import Sizing, build
    from cim_plugin.io.yamlout import write_yaml
    from cim_plugin.library.ert_gen import generate_tables
    from cim_plugin.library.loader import get_macro
    from cim_plugin.study.setup import _timeloop_model

    b = build("cim_rf", get_macro(macro), gemm, Sizing("explicit", (1, 4)))
    ert, art = generate_tables(b.architecture)
    spec = write_yaml(tmp_path / "spec.yaml", {**{k: v for k, v in b.processed.items()
                                                  if k != "architecture_constraints"},
                                               **ert.to_yaml_dict(), **art.to_yaml_dict()})
    mapping = write_yaml(tmp_path / "map.yaml", {"mapping": b.mapping.to_yaml_list()})
    stats, _ = _embedded_stats([spec], mapping, tmp_path / "one", "--compute-latency", "1")
    _, ours = _embedded_stats([spec], mapping, tmp_path / "lat")
    monkeypatch.setenv("FAKE_STATS", stats)
    monkeypatch.chdir(tmp_path)
    real = _timeloop_model(b.processed, ert, art, b.mapping.mapping(), Path("rel") / "work")
    latency = get_macro(macro).latency_cycles
    assert ours["compute_latency_cycles"] == real.compute_latency_cycles == latency > 1
    assert real.cycles == ours["cycles"] and real.extra["timeloop_cycles"] < real.cycles
    assert real.energy_pJ == pytest.approx(ours["energy_pJ"], rel=1e-6)
    assert real.utilization == pytest.approx(ours["utilization"], rel=1e-9)
    assert real.gflops == pytest.approx(ours["gflops"], rel=1e-9)
    printed = {lv.name for lv in real.levels}      # stats.txt hides the inter_*_spatial levels
    for lv in ours["levels"]:
        if lv["name"] not in printed:
            assert lv["energy_pJ"] == 0
            continue
        mine = real.level(lv["name"])
        assert (mine.cycles, mine.bandwidth_throttling) == (lv["cycles"],
                                                            pytest.approx(lv["bandwidth_throttling"]))
        assert mine.leakage_pJ == pytest.approx(lv["leakage_pJ"], rel=1e-3, abs=0.01)
    assert real.fj_per_compute["Total"] == pytest.approx(ours["fj_per_compute"]["Total"], rel=1e-6)
    assert "applied to timeloop-model's counts" in real.extra["compute_latency_source"]
    # areas from the ART Timeloop read, not from stats.txt's 2-decimal per-instance figures
    assert real.area_um2 == pytest.approx(ours["area_um2"], rel=1e-12)
    assert not real.warnings


def test_exported_latency_encoding_is_not_applied_twice(tmp_path, fake_bin, monkeypatch, capsys):
    """An exported folder already throttles its CiM storage to one read per macro operation,
    so Timeloop's own cycles include the latency; the backend leaves them as they are and
    `model --backend timeloop` prints what the embedded `model` prints."""
    from cim_plugin.cli import main

    design = _export(tmp_path / "design", "64,128,256")
    specs = [design / "arch.yaml", design / "problem.yaml"]
    stats, timeloop_rule = _embedded_stats(specs, design / "map.yaml", tmp_path / "one",
                                           "--compute-latency", "1")
    _, ours = _embedded_stats(specs, design / "map.yaml", tmp_path / "lat")
    assert timeloop_rule["cycles"] == ours["cycles"]              # the encoding at work
    monkeypatch.setenv("FAKE_STATS", stats)
    capsys.readouterr()
    assert main(["model", *map(str, specs), "--mapping", str(design / "map.yaml"),
                 "--backend", "timeloop", "-o", str(tmp_path / "tl")]) == 0
    out = capsys.readouterr().out
    assert f"Cycles        : {ours['cycles']}" in out
    assert "Compute latency: 9 cycles per operation (attribute cim_latency_cycles; applied to " \
           "timeloop-model's counts)" in out
    assert f"Energy        : {ours['energy_pJ'] / 1e6:.2f} uJ" in out


def test_relative_paths_everywhere(tmp_path, fake_bin, monkeypatch):
    """Relative inputs, mapping and output folder: every path Timeloop gets resolves in the
    work folder it runs in (the stand-in fails like Timeloop when one does not)."""
    import json

    monkeypatch.chdir(tmp_path)
    Path("in").mkdir()
    Path("in/arch.yaml").write_text(ARCH)
    Path("in/map.yaml").write_text(MAP)
    Path("in/ert.yaml").write_text(ERT)
    monkeypatch.setenv("FAKE_STATS", DENSE)
    res = tl.run_model([Path("in/arch.yaml"), Path("in/ert.yaml")], Path("in/map.yaml"),
                       Path("out"), timeout=30, drop_arch_constraints=True)
    assert res.cycles == 8192
    work = Path(res.extra["workdir"])
    assert work.is_absolute() and work == (tmp_path / "out" / "timeloop-model").resolve()
    argv = json.loads((work / "argv.json").read_text())
    assert all(Path(a).is_absolute() and Path(a).is_file() for a in argv[1:])
    monkeypatch.setenv("FAKE_MAP", MAP)
    mapping, res = tl.run_mapper([Path("in/arch.yaml")], Path("out2"), timeout=30,
                                 ert=Path("in/ert.yaml"))
    assert res.cycles == 8192 and mapping.levels["GLB"].temporal["K"] == 64


def test_mapper_warns_that_it_ranked_without_the_latency(tmp_path, fake_bin, monkeypatch):
    """DENSE with the compute level declared a CiM unit of 8 cycles per operation: C0 = 2048,
    so 16384 compute cycles; GLB reads 16384 at 2 words/cycle fit in them (no throttling),
    cycles 16384. Leakage doubles (8192 -> 16384 cycles): RF 32.77 -> 65.54, GLB 20.48 ->
    40.96 pJ, energy 562999.25 + 53.25 = 563052.50 pJ. Utilization 32768 x 8 / (16 x 16384)
    = 1; GFLOPs (2 x 32768 - 512) / 16384 = 3.96875."""
    monkeypatch.setenv("FAKE_STATS", DENSE)
    monkeypatch.setenv("FAKE_MAP", MAP)
    arch = tmp_path / "arch.yaml"
    arch.write_text(ARCH.replace("{datawidth: 8, meshX: 4, meshY: 4}}",
                                 "{datawidth: 8, meshX: 4, meshY: 4, cim_latency_cycles: 8}}"))
    ert = tmp_path / "ert.yaml"
    ert.write_text(ERT)
    _, res = tl.run_mapper([arch], tmp_path / "out", timeout=30, ert=ert)
    assert res.cycles == 16384 and res.extra["timeloop_cycles"] == 8192
    assert res.level("GLB").bandwidth_throttling == 1.0 and res.level("GLB").cycles == 16384
    assert res.level("RF").leakage_pJ == pytest.approx(65.54)
    assert res.level("GLB").leakage_pJ == pytest.approx(40.96)
    assert res.energy_pJ == pytest.approx(563052.50)
    assert res.utilization == pytest.approx(1.0) and res.gflops == pytest.approx(3.96875)
    assert any("ranked mappings with 1 cycle per compute" in w for w in res.warnings)


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
    timeloop-model, with the macro latency applied to its counts, agrees with the embedded
    model run on the same folder."""
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
                    ModelOptions(compute_latency_cycles=9.0))       # analog6T (method.md)
    report = compare_results(real, ours, tolerance=0.005)
    assert report.ok, report.format_table(only_failures=True)
    assert real.computes == 512 * 1024 * 1024
    # the run folder is a Timeloop output folder `cim-plugin compare` accepts as it is
    folder = compare_folder(real.extra["workdir"])
    assert folder.ok and len(folder.rows) > 100
