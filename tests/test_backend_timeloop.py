"""The timeloop backend: clear failure without Timeloop, input staging and quirks.

A stand-in executable (a small Python script) plays timeloop-model/-mapper to check
what the backend passes and how it reads the outputs; tests that need the real
binaries skip when `timeloop-model` is not on PATH.
"""

from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path

import pytest

from cim_plugin.backends import timeloop as tl
from cim_plugin.errors import NotAvailableError
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
    return d


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


def test_model_run_stages_inputs_and_parses(tmp_path, fake_bin, monkeypatch):
    monkeypatch.setenv("FAKE_STATS", DENSE)
    arch = tmp_path / "arch.yaml"
    arch.write_text(ARCH)
    given = tmp_path / "timeloop-mapper.map.yaml"
    given.write_text("mapping:\n  - {target: GLB, type: temporal, factors: M4, permutation: M}\n")
    res = tl.run_model([arch], given, tmp_path / "out", timeout=30, drop_arch_constraints=True)
    assert res.cycles == 8192 and res.level("RF").dataspaces["Z"].reads == 2016
    work = tmp_path / "out" / "timeloop-model"
    import json
    argv = json.loads((work / "argv.json").read_text())
    files = [Path(a) for a in argv[1:]]
    # the mapping is never passed under the name Timeloop ignores
    assert all(f.name != "timeloop-mapper.map.yaml" for f in files)
    assert files[-1].name == "input.map.yaml"
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
    (design / "timeloop-mapper.stats.txt").write_text("old output, not an input")
    with pytest.raises(tl.NoMappingError, match="no valid mapping"):
        tl.run_mapper(design, tmp_path / "out", timeout=30)
    assert tl.collect_inputs(design) == [design / "arch.yaml"]


def test_mapper_returns_mapping_and_stats(tmp_path, fake_bin, monkeypatch):
    monkeypatch.setenv("FAKE_STATS", DENSE)
    monkeypatch.setenv("FAKE_MAP", "mapping:\n  - {target: GLB, type: temporal, "
                                   "factors: M4, permutation: M}\n")
    arch = tmp_path / "arch.yaml"
    arch.write_text(ARCH)
    mapping, res = tl.run_mapper([arch], tmp_path / "out", timeout=30)
    assert mapping.levels["GLB"].temporal == {"M": 4}
    assert res.energy_pJ == pytest.approx(0.56e6)


def test_v4_input_needs_timeloopfe(tmp_path, fake_bin):
    arch = tmp_path / "arch.yaml"
    arch.write_text("architecture: {version: 0.4, nodes: []}\n")
    with pytest.raises(NotAvailableError, match="v0.4"):
        tl.run_model([arch], None, tmp_path / "out")


needs_timeloop = pytest.mark.skipif(shutil.which("timeloop-model") is None,
                                    reason="timeloop-model not on PATH")


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
