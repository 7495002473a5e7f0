"""`cim-plugin diff`: direction-aware regressions, one-sided points, bad input, Markdown, bless.

Summaries are written here by hand (the schema of `cim-plugin study`'s summary.json),
so every expected relative change is simple arithmetic on the numbers below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cim_plugin.cli import main
from cim_plugin.report.diff import (
    DIRECTIONS,
    diff_summaries,
    format_markdown,
    load_summary,
    parse_threshold,
)

GOLDEN = Path(__file__).resolve().parent / "golden" / "summary.json"

RF = "cim_rf/analog6T/bert-large"
SMEM = "cim_smem/digital8T/bert-large"
BASE = "tensor_core/-/bert-large"


def _point(tops: float, gops: float, energy: float, latency: float) -> dict:
    return {"tops_per_w": tops, "gops": gops, "energy_J": energy, "latency_s": latency,
            "edp_Js": energy * latency, "area_mm2": 0.25, "utilization": 0.5, "gemms": 5}


def _doc(**overrides: dict) -> dict:
    points = {RF: _point(2.0, 400.0, 1.0, 0.5), SMEM: _point(3.0, 1000.0, 0.8, 0.2),
              BASE: _point(1.0, 300.0, 2.0, 0.6)}
    for key, vals in overrides.items():
        name = {"rf": RF, "smem": SMEM, "base": BASE}[key]
        if vals is None:
            del points[name]
        else:
            points[name] = {**points[name], **vals}
    return {"schema_version": 1, "baseline": "tensor_core", "units": {}, "points": points}


def _write(folder: Path, doc: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return folder


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["diff", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_identical_results_exit_0_and_report_nothing(tmp_path, capsys):
    old = _write(tmp_path / "old", _doc())
    new = _write(tmp_path / "new", _doc())
    md = tmp_path / "diff.md"
    rc, out, _ = _run(capsys, str(old), str(new), "--markdown", str(md), "--metric", "all")
    assert rc == 0
    assert "OK: 3 design points compared" in out
    assert "0 regressed" in out and "0 improved" in out
    assert RF not in out                                # nothing listed per point
    assert "No differences." in md.read_text()


def test_regression_beyond_threshold_exits_1_and_names_the_point(tmp_path, capsys):
    old = _write(tmp_path / "old", _doc())
    # TOPS/W 2.0 -> 1.9 is -5 %; higher is better, so a 5 % regression
    new = _write(tmp_path / "new", _doc(rf={"tops_per_w": 1.9}))
    rc, out, _ = _run(capsys, str(old), str(new), "--max-regression", "2%")
    assert rc == 1
    line = next(ln for ln in out.splitlines() if ln.startswith(RF))
    assert "tops_per_w" in line and "-5.00%" in line and "regressed (fails)" in line
    assert out.rstrip().splitlines()[-1].startswith("FAIL")
    # the same 5 % is within a 10 % allowance
    rc, out, _ = _run(capsys, str(old), str(new), "--max-regression", "10%")
    assert rc == 0 and "1 regressed (0 beyond 10%)" in out


def test_direction_lower_is_better_for_energy_and_latency(tmp_path, capsys):
    old = _write(tmp_path / "old", _doc())
    # energy 0.8 -> 0.84 J is +5 %: worse
    worse = _write(tmp_path / "worse", _doc(smem={"energy_J": 0.84}))
    rc, out, _ = _run(capsys, str(old), str(worse), "--max-regression", "4.5")
    assert rc == 1 and "+5.00%" in out and SMEM in out
    # latency 0.2 -> 0.1 s is -50 %: better, even at a 0 % allowance
    better = _write(tmp_path / "better", _doc(smem={"latency_s": 0.1}))
    rc, out, _ = _run(capsys, str(old), str(better))
    assert rc == 0
    line = next(ln for ln in out.splitlines() if ln.startswith(SMEM))
    assert "-50.00%" in line and "improved" in line and "fails" not in line


def test_improvement_does_not_fail_but_exact_mode_does(tmp_path, capsys):
    old = _write(tmp_path / "old", _doc())
    new = _write(tmp_path / "new", _doc(rf={"gops": 600.0}))      # 400 -> 600: +50 %
    rc, out, _ = _run(capsys, str(old), str(new), "--max-regression", "0%")
    assert rc == 0 and "+50.00%" in out and "1 improved" in out
    rc, out, _ = _run(capsys, str(old), str(new), "--exact")
    assert rc == 1 and "improved (fails)" in out


def test_untracked_metric_is_ignored_until_tracked(tmp_path, capsys):
    old = _write(tmp_path / "old", _doc())
    new = _write(tmp_path / "new", _doc(base={"area_mm2": 0.5}))  # 0.25 -> 0.5 mm^2: +100 %
    rc, out, _ = _run(capsys, str(old), str(new))                # default metrics: no area
    assert rc == 0 and BASE not in out
    rc, out, _ = _run(capsys, str(old), str(new), "--metric", "area_mm2", "--metric", "gops")
    assert rc == 1 and "+100.00%" in out and "area_mm2, gops" in out
    # a metric without a direction fails whenever it moves beyond the allowance
    new2 = _write(tmp_path / "new2", _doc(base={"gemms": 6}))
    rc, out, _ = _run(capsys, str(old), str(new2), "--metric", "gemms", "--max-regression", "10%")
    assert rc == 1 and "changed (fails)" in out and "+20.00%" in out


def test_points_on_one_side_are_listed(tmp_path, capsys):
    old = _write(tmp_path / "old", _doc())
    fewer = _write(tmp_path / "fewer", _doc(smem=None))
    rc, out, _ = _run(capsys, str(old), str(fewer))
    assert rc == 1                                   # a design point disappeared
    assert f"only in OLD (missing from NEW): {SMEM}" in out
    rc, out, _ = _run(capsys, str(old), str(fewer), "--allow-missing")
    assert rc == 0 and "1 only in OLD" in out
    # a new point is reported but is not a regression
    rc, out, _ = _run(capsys, str(fewer), str(old))
    assert rc == 0 and f"only in NEW: {SMEM}" in out
    md = tmp_path / "pr.md"
    _run(capsys, str(fewer), str(old), "--markdown", str(md))
    assert f"- only in NEW: `{SMEM}`" in md.read_text()


def test_markdown_file_for_a_pull_request_comment(tmp_path, capsys):
    old = _write(tmp_path / "old", _doc())
    new = _write(tmp_path / "new", _doc(rf={"tops_per_w": 1.5}, smem={"gops": 1100.0}))
    md = tmp_path / "out" / "diff.md"
    rc, _, _ = _run(capsys, str(old / "summary.json"), str(new), "--markdown", str(md),
                    "--max-regression", "1%", "--title", "Study diff vs main")
    assert rc == 1
    text = md.read_text()
    assert text.startswith("<!-- cim-plugin-diff -->\n### Study diff vs main")
    assert "**FAIL: 3 design points compared" in text
    assert "| design point | metric | old | new | change | status |" in text
    # 2.0 -> 1.5 TOPS/W = -25 %, a failure; 1000 -> 1100 GOPS = +10 %, folded away
    fails = text.split("#### Regressions beyond the threshold")[1].split("<details>")[0]
    assert f"| {RF} | tops_per_w | 2 | 1.5 | -25.00% | regressed (fails) |" in fails
    assert f"| {SMEM} | gops | 1000 | 1100 | +10.00% | improved |" in text.split("<details>")[1]


@pytest.mark.parametrize("case, message", [
    ("missing", "no study summary here"),
    ("schema", "schema_version 2 is not supported"),
    ("malformed", "malformed JSON at line 1"),
    ("not_number", "is not a number"),
    ("threshold", "'abc' is not a percentage"),
    ("negative", "'-2%' is not a percentage"),
    ("metric", "unknown metric(s) ['tops']"),
])
def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys, case, message):
    good = _write(tmp_path / "good", _doc())
    other = tmp_path / "other"
    args = [str(good), str(other)]
    if case == "schema":
        _write(other, {**_doc(), "schema_version": 2})
    elif case == "malformed":
        other.mkdir()
        (other / "summary.json").write_text('{"schema_version": 1, "points": ')
    elif case == "not_number":
        _write(other, _doc(rf={"gops": "fast"}))
    elif case in ("threshold", "negative"):
        args = [str(good), str(good), "--max-regression=" + ("abc" if case == "threshold" else "-2%")]
    elif case == "metric":
        args = [str(good), str(good), "--metric", "tops"]
    rc, out, err = _run(capsys, *args)
    assert rc == 2
    assert message in err and "Traceback" not in err
    assert err.startswith("cim-plugin diff: error: ")
    if case == "missing":
        assert f"{other}: no study summary here" in err  # names the path given
    if case in ("schema", "malformed"):
        assert str(other / "summary.json") in err      # names the file
    if case == "not_number":
        assert f"points.{RF}.gops" in err              # names the field


def test_parse_threshold():
    assert parse_threshold("2%") == pytest.approx(0.02)
    assert parse_threshold("2") == pytest.approx(0.02)
    assert parse_threshold(" 0.5 % ") == pytest.approx(0.005)
    assert parse_threshold("0%") == 0.0


def test_directions():
    for m in ("tops_per_w", "gops", "utilization", "tops_per_w_vs_baseline", "gops_vs_baseline"):
        assert DIRECTIONS[m] == +1
    for m in ("energy_J", "latency_s", "edp_Js", "area_mm2", "energy_J_vs_baseline",
              "edp_Js_vs_baseline"):
        assert DIRECTIONS[m] == -1


def test_bless_copies_new_over_old_atomically(tmp_path, capsys):
    old = _write(tmp_path / "old", _doc())
    new = _write(tmp_path / "new", _doc(rf={"tops_per_w": 1.0}))
    rc, out, _ = _run(capsys, str(old), str(new), "--bless")
    assert rc == 0 and "blessed" in out and "regressed (fails)" in out
    assert (old / "summary.json").read_bytes() == (new / "summary.json").read_bytes()
    assert not [p for p in old.iterdir() if p.name != "summary.json"]    # no temp file left
    rc, _, _ = _run(capsys, str(old), str(new))
    assert rc == 0
    # blessing a golden file that does not exist yet creates it
    golden = tmp_path / "golden" / "summary.json"
    rc, out, _ = _run(capsys, str(golden), str(new), "--bless")
    assert rc == 0 and "created" in out
    assert golden.read_bytes() == (new / "summary.json").read_bytes()
    # ... also as a new study folder
    rc, out, _ = _run(capsys, str(tmp_path / "fresh"), str(new), "--bless")
    assert rc == 0
    assert (tmp_path / "fresh" / "summary.json").read_bytes() == (new / "summary.json").read_bytes()
    # a bad NEW is never blessed
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "summary.json").write_text("not json")
    rc, _, _ = _run(capsys, str(old), str(bad), "--bless")
    assert rc == 2 and (old / "summary.json").read_bytes() == (new / "summary.json").read_bytes()


@pytest.mark.skipif(not GOLDEN.is_file(), reason="golden summary not present")
def test_real_study_summary_perturbed(tmp_path):
    """On the committed golden summary: a 3 % energy rise at one point is found, nothing else."""
    doc = json.loads(GOLDEN.read_text())
    key = sorted(k for k in doc["points"] if k.startswith("cim_smem/"))[0]
    e0 = doc["points"][key]["energy_J"]
    doc["points"][key]["energy_J"] = e0 * 1.03
    _write(tmp_path / "new", doc)
    res = diff_summaries(load_summary(GOLDEN), load_summary(tmp_path / "new"),
                         ("all",), parse_threshold("2%"))
    assert [(c.point, c.metric, c.status, c.fails) for c in res.changes] == [
        (key, "energy_J", "regressed", True)]
    assert res.changes[0].rel == pytest.approx(0.03)
    assert res.compared == len(doc["points"]) and not res.only_old and not res.only_new
    assert key in format_markdown(res)


def test_tiny_changes_stay_visible(tmp_path, capsys):
    old = _write(tmp_path / "old", _doc())
    new = _write(tmp_path / "new", _doc(rf={"tops_per_w": 1.99999}))   # -0.0005 %
    rc, out, _ = _run(capsys, str(old), str(new), "--max-regression", "0.001%")
    assert rc == 0 and "-0.0005%" in out
    rc, out, _ = _run(capsys, str(old), str(new))                         # 0 % allowance
    assert rc == 1
