"""`cim-plugin compare`: Timeloop stats against the embedded model's re-evaluation."""

from __future__ import annotations

import copy

import pytest

from cim_plugin.backends.compare import compare_results
from cim_plugin.backends.parse import parse_stats_text
from cim_plugin.cli import main
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
