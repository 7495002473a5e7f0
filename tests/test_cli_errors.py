"""CLI robustness: bad options and unusable output paths are one-line input errors (exit 2)
that write nothing, and outputs get the usual file permissions."""

from __future__ import annotations

import json
import os
import stat

import pytest
import yaml

from cim_plugin.backends.compare import CompareReport, Row
from cim_plugin.cli import main
from tests.conftest import REFERENCE, needs_reference


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def _export(out, *extra):
    return main(["export", "--design", "cim_rf", "--macro", "analog6T", "--gemm", "64,64,64",
                 "--banks", "1x4", *extra, "-o", str(out)])


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "d"
    assert _export(out) == 0
    return out


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_outputs_follow_the_umask(tmp_path, umask_022):
    """Temporary files and folders are private (0600/0700); results must not stay so."""
    assert _export(tmp_path / "d") == 0
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
    assert main(["model", str(tmp_path / "d" / "arch.yaml"), str(tmp_path / "d" / "problem.yaml"),
                 "--mapping", str(tmp_path / "d" / "map.yaml"), "--json", str(tmp_path / "r.json"),
                 "-o", str(tmp_path / "o")]) == 0
    for f in (tmp_path / "r.json", tmp_path / "o" / "stats.txt", tmp_path / "o" / "map.yaml"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f.name


@pytest.mark.parametrize("extra, field", [
    (["--banks", "1x4"], "banks"),
    (["--iso-area"], "iso-area"),
    (["--preset", "method"], "preset"),
    (["--duplicate"], "duplicate"),
    (["--threshold", "4"], "threshold"),
])
def test_export_baseline_rejects_cim_options(tmp_path, capsys, extra, field):
    rc = main(["export", "--design", "tensor_core", "--gemm", "64,64,64", *extra,
               "-o", str(tmp_path / "b")])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"{field}:" in err and "has no CiM" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["inf", "nan", "0"])
def test_export_threshold_must_be_finite_positive(tmp_path, capsys, value):
    assert _export(tmp_path / "d", "--threshold", value) == 2
    assert "threshold" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_export_output_under_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert _export(tmp_path / "f" / "sub") == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err and err.count("\n") == 1
    assert _tree(tmp_path) == ["f"]


@pytest.mark.parametrize("flag, target", [
    ("--json", "dir"), ("--json", "file/x.json"), ("-o", "file"), ("-o", "file/sub"),
])
def test_model_bad_output_paths(design, tmp_path, capsys, flag, target):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    rc = main(["model", str(design / "arch.yaml"), str(design / "problem.yaml"),
               "--mapping", str(design / "map.yaml"), flag, str(tmp_path / target)])
    assert rc == 2
    cap = capsys.readouterr()
    assert flag in cap.err and cap.out == ""           # failed before evaluating
    assert _tree(tmp_path) == ["dir", "file"]


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_model_compute_latency_must_be_finite_positive(design, capsys, value):
    rc = main(["model", str(design / "arch.yaml"), str(design / "problem.yaml"),
               "--mapping", str(design / "map.yaml"), f"--compute-latency={value}"])
    assert rc == 2
    assert "--compute-latency" in capsys.readouterr().err


def test_ert_output_is_a_file(design, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["ert", str(design / "arch.yaml"), "-o", str(tmp_path / "file")]) == 2
    assert "-o" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "x"


def test_library_file_without_macros_or_tables(design, tmp_path, capsys):
    (tmp_path / "lib.yaml").write_text("- 1\n")
    assert main(["components", "--library", str(tmp_path / "lib.yaml"), "list"]) == 2
    assert "macros" in capsys.readouterr().err
    (tmp_path / "lib2.yaml").write_text("macro: {}\n")          # misspelt key
    assert main(["ert", str(design / "arch.yaml"), "--library", str(tmp_path / "lib2.yaml"),
                 "-o", str(tmp_path / "t")]) == 2
    assert "lib2.yaml" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_diff_markdown_path_checked_first(tmp_path, capsys):
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"schema_version": 1, "points": []}))
    (tmp_path / "file").write_text("x")
    assert main(["diff", str(summary), str(summary), "--markdown",
                 str(tmp_path / "file" / "x.md")]) == 2
    cap = capsys.readouterr()
    assert "--markdown" in cap.err and cap.out == ""


def test_compare_report_json_failures_only():
    ok = Row("summary", "", "Cycles", 100.0, 100.0, 0.0, 0.005)
    bad = Row("summary", "", "Energy", 100.0, 110.0, 0.005, 0.005)   # 10 % off
    rep = CompareReport("f", "f/stats.txt", 0.005, rows=[ok, bad])
    d = rep.to_json_dict(only_failures=True)
    assert [r["metric"] for r in d["rows"]] == ["Energy"]
    assert (d["compared"], d["failed"], d["ok"]) == (2, 1, False)
    assert len(rep.to_json_dict()["rows"]) == 2


@needs_reference
def test_compare_cli_json_failures_only(capsys):
    run = REFERENCE / "wwwcim" / "runs" / "rf_compute_analog6T" / "outputs_consv2p1"
    assert main(["compare", "--json", "--failures-only", str(run)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["rows"] == [] and d["failed"] == 0 and d["compared"] > 100


def test_export_components_are_compound_only(design):
    """timeloopfe includes components/*.yaml as compound classes; the only other file there is
    the Accelergy plug-in entry."""
    names = sorted(p.name for p in (design / "components").glob("*.yaml"))
    assert names and all("compound_components" in yaml.safe_load((design / "components" / n).read_text())
                         for n in names)
    assert sorted(p.name for p in (design / "components").iterdir()) == [
        *names, "cim_plugin_accelergy.py"]
