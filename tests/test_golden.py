"""The project's golden study: any change of model numbers must be re-blessed explicitly.

`tests/golden/study.yaml` runs every CiM placement (cim_rf, cim_smem, cim_smem_beside,
cim_l2) x the four method macros x four GEMMs (`tests/golden/gemms.yaml`: an M=1 decode
projection, a BERT-Large 512x1024x1024 projection, a per-head attention score and a
small tile) against the tensor-core baseline. Its summary is committed as
`tests/golden/summary.json`; this test reruns the study and diffs the two on every
metric, failing on any difference (improvements included).

After an intended change of the model or the designs, review the diff and re-bless
from the repository root:

    cim-plugin study tests/golden/study.yaml -o /tmp/g --no-progress \\
        && cim-plugin diff tests/golden/summary.json /tmp/g --bless
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cim_plugin.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
BLESS = ("cim-plugin study tests/golden/study.yaml -o /tmp/g --no-progress "
         "&& cim-plugin diff tests/golden/summary.json /tmp/g --bless")

# Hand derivation from tests/golden/gemms.yaml: sum of count * M * N * K
GOLDEN_MACS = (4 * 1 * 4096 * 4096          # decode_proj   67 108 864
               + 4 * 512 * 1024 * 1024      # bert_qkv   2 147 483 648
               + 16 * 512 * 512 * 64        # attn_score   268 435 456
               + 1 * 16 * 256 * 256)        # small_tile     1 048 576
DESIGNS = ("cim_rf", "cim_smem", "cim_smem_beside", "cim_l2")
MACROS = ("analog6T", "analog8T", "digital6T", "digital8T")


@pytest.fixture(scope="module")
def golden_runs(tmp_path_factory) -> tuple[Path, Path]:
    """The golden study run twice from scratch (separate caches; 1 and 2 processes)."""
    runs = []
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)                     # the config names its workload file from the root
        for jobs in ("1", "2"):
            out = tmp_path_factory.mktemp(f"golden_jobs{jobs}")
            rc = main(["study", "tests/golden/study.yaml", "-o", str(out), "--no-progress",
                       "--jobs", jobs])
            assert rc == 0
            runs.append(out)
    return runs[0], runs[1]


def test_rerun_is_byte_identical(golden_runs):
    a, b = golden_runs
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()


def test_matches_committed_golden_summary(golden_runs, capsys):
    new = golden_runs[0]
    md = new / "golden_diff.md"
    rc = main(["diff", str(GOLDEN / "summary.json"), str(new), "--metric", "all",
               "--max-regression", "0%", "--exact", "--markdown", str(md)])
    out = capsys.readouterr().out
    assert rc == 0, (f"the golden study changed:\n{out}\nIf the change is intended, "
                     f"re-bless from the repository root:\n  {BLESS}")
    assert "No differences." in md.read_text()


def test_golden_summary_covers_every_placement_and_macro():
    doc = json.loads((GOLDEN / "summary.json").read_text())
    expected = {f"{d}/{m}/golden" for d in DESIGNS for m in MACROS} | {"tensor_core/-/golden"}
    assert set(doc["points"]) == expected
    assert doc["schema_version"] == 1 and doc["baseline"] == "tensor_core"


def test_golden_summary_is_consistent_with_its_workload():
    """Each point's totals follow from the GEMM list and the metric definitions
    (ops = 2 MACs, TOPS/W = ops / J / 1e12, GOPS = ops / s / 1e9, EDP = J * s)."""
    doc = json.loads((GOLDEN / "summary.json").read_text())
    base = doc["points"]["tensor_core/-/golden"]
    rel = 2e-5                             # values are stored with 6 significant digits
    for key, p in doc["points"].items():
        assert p["gemms"] == 4, key
        assert p["macs"] == pytest.approx(GOLDEN_MACS, rel=rel), key
        assert p["ops"] == pytest.approx(2 * GOLDEN_MACS, rel=rel), key
        assert p["tops_per_w"] == pytest.approx(p["ops"] / p["energy_J"] / 1e12, rel=rel), key
        assert p["gops"] == pytest.approx(p["ops"] / p["latency_s"] / 1e9, rel=rel), key
        assert p["edp_Js"] == pytest.approx(p["energy_J"] * p["latency_s"], rel=rel), key
        for m in ("tops_per_w", "gops", "energy_J", "latency_s"):
            assert p[f"{m}_vs_baseline"] == pytest.approx(p[m] / base[m], rel=rel), (key, m)
        assert 0 < p["utilization"] <= 1, key


def test_golden_report_carries_the_waterfall(golden_runs):
    """The published-to-ours waterfall: in summary.json for both published placements
    (digital 6T, the published primitive), in report.md, and as a figure."""
    out = golden_runs[0]
    wf = json.loads((out / "summary.json").read_text())["waterfall"]
    assert len(wf["steps"]) == 7 and wf["steps"][0] == "published"
    for design in ("cim_rf", "cim_smem"):
        for metric in ("tops_per_w", "gops"):
            row = wf["rows"][design][metric]["golden"]
            assert row["macro"] == "digital6T" and row["gemms"] == 4
            assert row["ratio"]["published"] is None          # no published figure for it
            steps = ["original", "units", "latency", "baseline", "cim_search", "iso_area"]
            # the chain: each step's ratio is the previous one times its factor
            for prev, step in zip(steps, steps[1:]):
                assert row["ratio"][step] == pytest.approx(
                    row["ratio"][prev] * row["factor"][step], rel=1e-5)
    md = (out / "report.md").read_text()
    assert "## From the published ratios to ours, one switch at a time" in md
    assert (out / "waterfall.png").is_file() and (out / "waterfall.svg").is_file()
