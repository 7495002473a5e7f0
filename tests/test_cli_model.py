"""`cim-plugin model` end to end through `cim_plugin.cli.main`, on the reconstructed
tensor-core run (figures: WWWtoCiM tensor_core_like/outputs, timeloop-mapper.stats.txt)."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil

import pytest
import yaml

from cim_plugin.cli import main
from tests.test_model_tensor_core import (
    TENSOR_CORE_ARCH,
    TENSOR_CORE_ART,
    TENSOR_CORE_ERT,
    TENSOR_CORE_MAPPING,
)

PROBLEM = {"problem": {"shape": {
    "name": "gemm_ABZ", "dimensions": ["M", "N", "K"],
    "data_spaces": [{"name": "A", "projection": [[["M"]], [["K"]]]},
                    {"name": "B", "projection": [[["N"]], [["K"]]]},
                    {"name": "Z", "projection": [[["M"]], [["N"]]], "read_write": True}]},
    "instance": {"M": 512, "N": 1024, "K": 1024}}}


def _write(path, doc):
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


@pytest.fixture
def files(tmp_path):
    return {
        "arch": _write(tmp_path / "arch.yaml", {"architecture": copy.deepcopy(TENSOR_CORE_ARCH)}),
        "problem": _write(tmp_path / "problem.yaml", PROBLEM),
        "map": _write(tmp_path / "map.yaml", {"mapping": TENSOR_CORE_MAPPING}),
        "ert": _write(tmp_path / "ert.yaml", TENSOR_CORE_ERT),
        "art": _write(tmp_path / "art.yaml", TENSOR_CORE_ART),
        "dir": tmp_path,
    }


def _run(capsys, argv):
    code = main(["model", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_summary_json_stats_and_map(files, capsys):
    out_dir = files["dir"] / "out"
    code, out, err = _run(capsys, [files["arch"], files["problem"], "--mapping", files["map"],
                                   "--ert", files["ert"], "--art", files["art"],
                                   "--json", str(out_dir / "r.json"), "-o", str(out_dir)])
    assert code == 0, err
    assert "Cycles        : 3295525" in out
    assert "Energy        : 1838.76 uJ" in out
    assert "GFLOPs @1GHz  : 325.66" in out
    assert "Utilization   : 15.91 %" in out
    assert "B: reads 134217728, fills 1048576, updates 0" in out
    data = json.loads((out_dir / "r.json").read_text())
    assert data["cycles"] == 3295525
    smem = next(lv for lv in data["levels"] if lv["name"] == "SMEM")
    assert smem["dataspaces"]["B"]["reads_per_instance"] == 134217728
    stats = (out_dir / "stats.txt").read_text()
    assert "Energy: 1838.76 uJ" in stats
    # the written map.yaml evaluates to the same result
    code, out2, _ = _run(capsys, [files["arch"], files["problem"], "--mapping",
                                  str(out_dir / "map.yaml"), "--ert", files["ert"]])
    assert code == 0
    assert "Energy        : 1838.76 uJ" in out2


def test_ert_and_mapping_inside_the_specs(files, capsys, tmp_path):
    merged = {"architecture": TENSOR_CORE_ARCH, **PROBLEM, **TENSOR_CORE_ERT,
              "mapping": TENSOR_CORE_MAPPING}
    spec = _write(tmp_path / "all.yaml", merged)
    code, out, err = _run(capsys, [spec])
    assert code == 0, err
    assert "Cycles        : 3295525" in out


def test_no_ert_anywhere(files, capsys, tmp_path):
    code, _, err = _run(capsys, [files["arch"], files["problem"], "--mapping", files["map"]])
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    if importlib.util.find_spec("cim_plugin.library.ert_gen") is None:
        assert "--ert" in err
        return
    # the library knows Accelergy's compound classes but not the bare class 'storage'
    assert "storage" in err
    arch = copy.deepcopy(TENSOR_CORE_ARCH)
    local = arch["subtree"][0]["local"]
    local[1]["subclass"] = "smartbuffer_metadata"      # as in parsed-processed-input.yaml
    local[3]["subclass"] = "smartbuffer_RF"
    local[5]["subclass"] = "smartbuffer_metadata"
    local[6]["attributes"].update(multiplier_width=8, adder_width=8)
    arch["subtree"][0]["attributes"] = {"technology": "45nm"}
    a = _write(tmp_path / "arch_lib.yaml", {"architecture": arch})
    code, out, err = _run(capsys, [a, files["problem"], "--mapping", files["map"],
                                   "--json", str(tmp_path / "r.json")])
    assert code == 0, err
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["cycles"] == 3295525
    # regenerated tables differ from the stored Accelergy ERT by < 0.12 % of the total
    # (docs/timeloop-accelergy.md §9); the reference total is 1838.76 uJ
    assert abs(data["energy_pJ"] / 1e6 - 1838.76) <= 0.005 * 1838.76


def _bad(capsys, files, argv, *needles):
    code, _, err = _run(capsys, argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_factors_not_multiplying_to_the_dims(files, capsys, tmp_path):
    bad = copy.deepcopy(TENSOR_CORE_MAPPING)
    bad[-1]["factors"] = "M4 N4 K1"            # DRAM N8 -> N4: N multiplies to 512
    m = _write(tmp_path / "bad_map.yaml", {"mapping": bad})
    _bad(capsys, files, [files["arch"], files["problem"], "--mapping", m, "--ert", files["ert"]],
         "bad_map.yaml", "factors of N", "1024")


def test_unknown_level_name(files, capsys, tmp_path):
    bad = copy.deepcopy(TENSOR_CORE_MAPPING)
    bad[-1]["target"] = "HBM"
    m = _write(tmp_path / "bad_map.yaml", {"mapping": bad})
    _bad(capsys, files, [files["arch"], files["problem"], "--mapping", m, "--ert", files["ert"]],
         "bad_map.yaml", "HBM")


def test_capacity_overflow(files, capsys, tmp_path):
    arch = copy.deepcopy(TENSOR_CORE_ARCH)
    arch["subtree"][0]["local"][3]["attributes"]["depth"] = 64    # RF holds a 128-word Z tile
    a = _write(tmp_path / "small_rf.yaml", {"architecture": arch})
    _bad(capsys, files, [a, files["problem"], "--mapping", files["map"], "--ert", files["ert"]],
         "RF", "mapped tile size 128 exceeds buffer capacity 64")


def test_ert_missing_an_action(files, capsys, tmp_path):
    ert = copy.deepcopy(TENSOR_CORE_ERT)
    smem = ert["ERT"]["tables"][1]
    smem["actions"] = [a for a in smem["actions"] if a["name"] not in ("write", "update")]
    e = _write(tmp_path / "bad_ert.yaml", ert)
    _bad(capsys, files, [files["arch"], files["problem"], "--mapping", files["map"], "--ert", e],
         "bad_ert.yaml", "SMEM", "write")


def test_malformed_yaml(files, capsys, tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("architecture: [unclosed\n")
    _bad(capsys, files, [str(p), files["problem"], "--mapping", files["map"],
                         "--ert", files["ert"]], "broken.yaml", "malformed YAML", "line")


def test_constraint_violation_warns_but_evaluates(files, capsys, tmp_path):
    cons = {"architecture_constraints": {"targets": [
        {"target": "SMEM", "type": "temporal", "factors": "M=16"},
        {"target": "RF", "type": "bypass", "keep": ["A"]},
        {"target": "SMEM", "type": "temporal", "permutation": "MK"},
    ]}}
    c = _write(tmp_path / "cons.yaml", cons)
    code, out, err = _run(capsys, [files["arch"], files["problem"], c, "--mapping", files["map"],
                                   "--ert", files["ert"], "--json", str(tmp_path / "r.json")])
    assert code == 0, err
    assert "factor M32 breaks M=16" in err
    assert "A must be kept" in err
    # SMEM loops innermost first are K16 then M32 (permutation KMN): MK is broken
    assert "breaks permutation MK" in err
    assert "Cycles        : 3295525" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["warnings"]) == 3


def test_satisfied_constraints_give_no_warning(files, capsys, tmp_path):
    cons = {"architecture_constraints": {"targets": [
        {"target": "SMEM", "type": "temporal", "factors": "M<=32,N=1", "permutation": "KM"},
        {"target": "RF", "type": "bypass", "keep": ["Z"], "bypass": ["A", "B"]},
        {"target": "LRF", "type": "temporal", "factors": "M=1,N<=128,K=1"},
    ]}}
    c = _write(tmp_path / "cons.yaml", cons)
    code, _, err = _run(capsys, [files["arch"], files["problem"], c, "--mapping", files["map"],
                                 "--ert", files["ert"]])
    assert code == 0
    assert "warning" not in err


def test_timeloop_backend_without_timeloop(files, capsys, monkeypatch, tmp_path):
    if shutil.which("timeloop-model"):
        pytest.skip("timeloop is installed here")
    for var in ("CIM_PLUGIN_TIMELOOP_BIN", "TIMELOOP_BIN_DIR"):
        monkeypatch.delenv(var, raising=False)
    code, _, err = _run(capsys, [files["arch"], files["problem"], "--mapping", files["map"],
                                 "--backend", "timeloop", "-o", str(tmp_path / "tl")])
    assert code == 1
    assert "timeloop-model" in err and "not found" in err
