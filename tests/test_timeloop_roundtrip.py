"""Real Timeloop + Accelergy + timeloopfe round trip (skips cleanly without the tools).

For an exported folder: the README's timeloopfe command runs timeloop-model (which calls
Accelergy with our compound components and plug-in), and Timeloop's cycles and energy
equal what the embedded model reports for the same folder within 0.5 %; Accelergy's
ERT/ART equal `cim-plugin ert` within 0.1 %; raw timeloop-model accepts the processed
input with the exported map.yaml as written. `cim-plugin study --backend timeloop` with a
relative output folder equals the embedded study within 0.5 %.

A few representative cases run by default; CIM_PLUGIN_FULL_ROUNDTRIP=1 runs every design
x the method's four primitives and two published macros x three GEMMs, and the study over
the four CiM placements (several minutes on two cores).
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from cim_plugin.backends import timeloop as tl
from cim_plugin.cli import main
from cim_plugin.export.readme import MODEL_COMMAND, RAW_COMMAND
from cim_plugin.export.templates import DESIGNS
from cim_plugin.library.ert_gen import generate_tables
from cim_plugin.spec.arch import load_architecture
from cim_plugin.spec.ert import load_art, load_ert
from cim_plugin.spec.yamlio import load_yaml
from tests.realtools import needs, run, tool_env

pytestmark = needs("tl", "accelergy", "timeloop-model")

MACROS = ("analog6T", "analog8T", "digital6T", "digital8T", "chih_isscc21", "si_isscc20")
GEMMS = ("512,1024,1024", "16,4096,1024", "4096,256,256")
FULL = [(d, None, g) for d in DESIGNS if DESIGNS[d][1] is None for g in GEMMS] + \
    [(d, m, g) for d in DESIGNS if DESIGNS[d][1] is not None for m in MACROS for g in GEMMS]
SMALL = [("tensor_core", None, "512,1024,1024"), ("tensor_core_l2", None, "16,4096,1024"),
         ("cim_rf", "analog6T", "512,1024,1024"), ("cim_smem", "digital8T", "16,4096,1024"),
         ("cim_smem_beside", "analog8T", "4096,256,256"), ("cim_l2", "si_isscc20", "512,1024,1024")]
CASES = FULL if os.environ.get("CIM_PLUGIN_FULL_ROUNDTRIP") == "1" else SMALL
TOLERANCE = 0.005


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b else abs(a)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("roundtrip")


def _export(out: Path, design: str, macro: str | None, gemm: str) -> Path:
    argv = ["export", "--design", design, "--gemm", gemm, "-o", str(out)]
    if macro:
        argv[3:3] = ["--macro", macro]
    assert main(argv) == 0
    return out


def _embedded(folder: Path, out: Path) -> dict:
    """The README's cim-plugin equivalent: `cim-plugin model arch.yaml problem.yaml --mapping
    map.yaml` (embedded model)."""
    assert main(["model", str(folder / "arch.yaml"), str(folder / "problem.yaml"), "--mapping",
                 str(folder / "map.yaml"), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def _readme_command(folder: Path, command: str) -> str:
    readme = (folder / "README.md").read_text()
    assert f"    {command}" in readme             # the command is the README's, verbatim
    return command


@pytest.mark.parametrize("design, macro, gemm", CASES)
def test_exported_folder_runs_in_timeloop_as_the_readme_says(scratch, design, macro, gemm):
    name = f"{design}-{macro or 'none'}-{gemm.replace(',', 'x')}"
    folder = _export(scratch / name, design, macro, gemm)
    env = tool_env(scratch)
    ours = _embedded(folder, scratch / f"{name}.json")

    # timeloop-model through timeloopfe, with Accelergy and our plug-in
    run(shlex.split(_readme_command(folder, MODEL_COMMAND)), folder, env)
    out = folder / "timeloop-model"
    real = tl.read_stats(out / "timeloop-model.stats.txt")
    assert real.computes == ours["computes"]
    assert _rel(real.cycles, ours["cycles"]) <= TOLERANCE, (real.cycles, ours["cycles"])
    assert _rel(real.energy_pJ, ours["energy_pJ"]) <= TOLERANCE, (real.energy_pJ, ours["energy_pJ"])

    # Accelergy's ERT/ART (made by timeloop-model's call) == cim-plugin ert within 0.1 %
    ert, art = generate_tables(load_architecture(load_yaml(folder / "arch.yaml")))
    acc_ert = load_ert(out / "timeloop-model.ERT.yaml")
    acc_art = load_art(out / "timeloop-model.ART.yaml")
    assert set(acc_ert.tables) == set(ert.tables)
    for level, table in ert.tables.items():
        for action, pj in table.items():
            assert acc_ert.tables[level][action] == pytest.approx(pj, rel=1e-3, abs=1e-9), \
                (level, action)
    assert acc_art.areas == pytest.approx(art.areas, rel=1e-3, abs=1e-9)

    # raw timeloop-model on timeloopfe's processed input with map.yaml as written
    mkdir, rest = _readme_command(folder, RAW_COMMAND).split(" && ", 1)
    assert mkdir == "mkdir -p raw" and rest.startswith("cd raw && ")
    (folder / "raw").mkdir()
    run(shlex.split(rest.removeprefix("cd raw && ")), folder / "raw", env)
    raw = tl.read_stats(folder / "raw" / "timeloop-model.stats.txt")
    assert (raw.cycles, raw.energy_pJ) == (real.cycles, pytest.approx(real.energy_pJ, rel=1e-9))


STUDY = """\
designs: [cim_rf]
macros: [analog6T, si_isscc20]
workloads: [gemms.csv]
sweep_m: []
sweep_nk: []
sizing: explicit
banks: [1, 4]
"""


@needs("timeloop-model")
def test_study_on_real_timeloop_equals_the_embedded_study(scratch, monkeypatch):
    """Two GEMMs, relative output folders; Timeloop evaluates each point's mapping with the
    library's ERT/ART embedded and the backend applies the macro latency to its counts."""
    work = scratch / "study"
    work.mkdir()
    (work / "gemms.csv").write_text("name,m,n,k,count\nproj,64,1024,1024,1\ndecode,1,4096,1024,1\n")
    study = STUDY
    if os.environ.get("CIM_PLUGIN_FULL_ROUNDTRIP") == "1":
        study = study.replace("designs: [cim_rf]", "designs: [cim_rf, cim_smem, cim_smem_beside, "
                                                   "cim_l2]")
    (work / "study.yaml").write_text(study)
    monkeypatch.chdir(work)
    for backend in ("embedded", "timeloop"):
        assert main(["study", "study.yaml", "--backend", backend, "-o", backend, "--jobs", "2",
                     "--no-progress"]) == 0
    emb = _rows(Path("embedded/results.json"))
    real = _rows(Path("timeloop/results.json"))
    designs = study.count("cim_")
    assert set(emb) == set(real) and len(emb) == 2 * (1 + 2 * designs)
    for key, r in real.items():
        assert not r["error"] and not emb[key]["error"], key
        for metric in ("cycles", "energy_J", "latency_s", "utilization", "tops_per_w", "gops"):
            assert _rel(r[metric], emb[key][metric]) <= TOLERANCE, (key, metric)
    assert Path("timeloop/timeloop").is_dir()          # Timeloop ran inside the relative -o


def _rows(path: Path) -> dict[tuple, dict]:
    rows = json.loads(path.read_text())["rows"]
    return {(r["design"], r["macro"], r["m"], r["n"], r["k"]): r for r in rows}
