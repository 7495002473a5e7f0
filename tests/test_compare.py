"""`cim-plugin compare`: Timeloop stats against the embedded model's re-evaluation."""

from __future__ import annotations

import copy
import math

import pytest

from cim_plugin.backends.compare import compare_folder, compare_results
from cim_plugin.backends.parse import parse_stats_text
from cim_plugin.cli import main
from cim_plugin.errors import InputError
from tests.test_parse_stats import DENSE


def test_rounding_slack_and_tolerance():
    ref = parse_stats_text(DENSE)
    model = copy.deepcopy(ref)
    model.level("RF").dataspaces["Z"].energy_pJ += 0.004     # within the 2-decimal print
    model.utilization = 0.25004                              # 25.00 % printed
    rep = compare_results(ref, model, 0.005)
    assert rep.ok, rep.format_table(only_failures=True)
    model.level("GLB").dataspaces["A"].fills = 2048 + 11     # 0.54 % > 0.5 %
    rep = compare_results(ref, model, 0.005)
    assert not rep.ok
    bad = rep.failures
    assert [(r.scope, r.dataspace, r.metric) for r in bad] == [("GLB", "A", "fills")]
    assert bad[0].rel_diff == pytest.approx(11 / 2048)
    assert compare_results(ref, model, 0.006).ok              # a looser tolerance accepts it


def test_hidden_level_must_be_inconsequential():
    ref = parse_stats_text(DENSE)
    model = copy.deepcopy(ref)
    from cim_plugin.model.result import LevelStats

    model.levels.insert(1, LevelStats(name="inter_PE_spatial", energy_pJ=0.0))
    assert compare_results(ref, model).ok
    model.levels[1].energy_pJ = 5.0
    assert not compare_results(ref, model).ok


def test_compare_cli_bad_input(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "absent")]) == 2
    assert main(["compare", str(tmp_path)]) == 2
    assert "parsed-processed-input.yaml" in capsys.readouterr().err


def test_compare_cli_agrees_on_reference_run(reference_run, capsys):
    """WWWtoCiM reference runs: the embedded model matches within 0.5 %."""
    pytest.importorskip("cim_plugin.model.engine")
    rc = main(["compare", str(reference_run), "--tolerance", "0.5"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "AGREE" in out and "DRAM" in out


def _run(tmp_path, **changes):
    """The self-contained tensor-core run folder of the hostile corpus, with files replaced."""
    from tests.hostile_corpus import _run_with

    for name, content in _run_with(**changes):
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return tmp_path / "run"


STATS = "timeloop-model.stats.txt"


def test_equal_values_agree_under_any_tolerance():
    ref = parse_stats_text(DENSE)
    for tol in (0.0, 1e300, math.inf):
        rep = compare_results(ref, copy.deepcopy(ref), tol)
        assert rep.ok and any(r.timeloop == 0 and r.model == 0 for r in rep.rows)
    model = copy.deepcopy(ref)
    model.level("GLB").dataspaces["A"].fills += 1000
    assert not compare_results(ref, model, 0.0).ok


def test_tolerance_must_be_finite(tmp_path, capsys):
    run = _run(tmp_path)
    with pytest.raises(InputError) as e:
        compare_folder(run, math.inf)
    assert e.value.field == "--tolerance"
    for bad in ("inf", "1_0", "nan", "-1", "\uff15"):
        assert main(["compare", str(run), f"--tolerance={bad}"]) == 2
        err = capsys.readouterr().err
        assert "--tolerance" in err and len(err.strip().splitlines()) == 1
    assert main(["compare", str(run), "--tolerance", "0"]) == 0
    assert "AGREE" in capsys.readouterr().out


@pytest.mark.parametrize("cut, field", [
    (2000, "Summary Stats"),                 # in the levels
    ("total", "Summary Stats.fJ/Compute.Total"),
    ("number", "Summary Stats.fJ/Compute.Total"),
])
def test_truncated_stats_is_bad_input_naming_the_file(tmp_path, capsys, cut, field):
    """A stats.txt cut short is an input error naming the file and the missing part, not
    a difference (exit 1)."""
    text = (_run(tmp_path / "full") / STATS).read_text()
    if cut == "total":
        text = text[: text.rindex("    Total")]
    elif cut == "number":
        text = text.rstrip("\n")[:-2]
    else:
        text = text[:cut]
    run = _run(tmp_path / "cut", **{STATS: text})
    with pytest.raises(InputError) as e:
        compare_folder(run)
    assert e.value.file == str(run / STATS) and e.value.field == field
    assert main(["compare", str(run)]) == 2
    err = capsys.readouterr().err
    assert STATS in err and field in err and "DIFFER" not in err


def test_complete_stats_fixture_passes_the_check(tmp_path):
    from cim_plugin.backends.parse import parse_stats

    p = tmp_path / "t.stats.txt"
    p.write_text(DENSE)
    assert parse_stats(p, complete=True).cycles == parse_stats_text(DENSE).cycles
    p.write_text(DENSE.replace("Summary Stats", "Summary Statz"))
    with pytest.raises(InputError):
        parse_stats(p, complete=True)
    assert parse_stats(p).warnings               # without `complete`: a warning only


def test_invalid_mapping_names_the_mapping_file(tmp_path):
    from tests.hostile_corpus import MAP_DOC, _y

    doc = copy.deepcopy(MAP_DOC)
    doc["mapping"][6]["factors"] = "M1 N8 K16"
    doc["mapping"][10]["factors"] = "M32 N1 K1"
    run = _run(tmp_path, **{"timeloop-model.map.yaml": _y(doc)})
    with pytest.raises(InputError) as e:
        compare_folder(run)
    assert e.value.file == str(run / "timeloop-model.map.yaml") and "LRF" in e.value.field
