"""The original priority algorithm (`--paper-compat`) against the authors' own code.

tests/data/priority_original_cases.json holds the factors and loop orders that
tanvisharma/WWWtoCiM `www-cim/constraints/main.py` (`get_mapping_constraints`, commit
named in the file) returned for 224 generated shapes -- primes, M=1, K=147, every
primitive of the method, THRESHOLD 4 and 32, with an SMEM level (RF-level CiM, the
capacity run.py passes) and without (SMEM-level CiM). The figures were produced by
running that script outside this repository; only its outputs are stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cim_plugin.errors import InputError
from cim_plugin.mapping.priority import CimShape, PlainLevel, loop_order, priority_mapping
from cim_plugin.mapping.priority_original import (
    original_capacity_words,
    original_level_factors,
    original_priority_mapping,
)
from tests.conftest import REFERENCE, needs_reference

DATA = json.loads((Path(__file__).parent / "data" / "priority_original_cases.json").read_text())
GEOMETRY = {"analog6T": CimShape(64, 4, 1, 16), "analog8T": CimShape(64, 4, 1, 16),
            "digital6T": CimShape(256, 16, 1, 1), "digital8T": CimShape(1, 128, 10, 1)}


def _levels(smem_kb: int) -> list[PlainLevel]:
    levels = [PlainLevel("DRAM", None)]
    if smem_kb != -1:
        levels.append(PlainLevel("SMEM", smem_kb * 1024, ("A", "Z")))
    return levels


def _run(case):
    return original_priority_mapping(case["m"], case["n"], case["k"], GEOMETRY[case["macro"]],
                                     (case["x"], case["y"]), threshold=case["threshold"],
                                     levels=_levels(case["smem_kb"]))


def test_the_data_covers_what_it_should():
    cases = DATA["cases"]
    assert len(cases) >= 200 and len(DATA["commit"]) == 40
    assert {c["macro"] for c in cases} == set(GEOMETRY)
    assert {(c["threshold"], c["smem_kb"]) for c in cases} == {(4, 256), (32, 256), (4, -1), (32, -1)}
    assert any(c["m"] == 1 for c in cases) and any(c["k"] == 147 for c in cases)
    assert any(c["n"] in (997, 1009, 4099) or c["k"] in (997, 1013) for c in cases)


@pytest.mark.parametrize("i", range(len(DATA["cases"])))
def test_equals_the_authors_algorithm(i):
    case = DATA["cases"][i]
    pm = _run(case)
    got = {"CiMArray": pm.array, "CiMBank": pm.bank, "CiMStorage": pm.storage,
           **{lv.name: f for lv, f in pm.plain}}
    for level, factors in case["expected"].items():
        assert got[level] == factors, level
    for lv, f in pm.plain:
        want = case["permutation"][lv.name]
        assert ", ".join(loop_order(f["M"], f["N"], f["K"])) == want, lv.name


def test_over_counted_growth_by_hand():
    """analog6T at RF, 1x4 banks, THRESHOLD 4, M=16, N=K=8192: array N=4 K=64, banks
    N=4, storage N=16, so K_used=64, N_used=256 per M row. M1 = mpf(16, 262144 // 320)
    = 16. improvise_K: A=1024, Z=4096; p=2: A=2*1*1024=2048; p=2: A=2*2*2048=8192;
    p=2: A=2*4*8192=65536; p=2: A=2*8*65536=1048576 > cap -> back one: K1=8 (the true
    tile at K x16 would be 16384+4096 words, far below 262144). improvise_N (A counted
    with K1: 8192): Z=4096; p=2: Z=8192; p=2: Z=2*2*8192=32768; p=2: Z=2*4*32768=262144,
    A+Z > cap -> N1=4. The corrected algorithm grows K to 128 (tile 131072+4096 <
    262144)."""
    shape = GEOMETRY["analog6T"]
    levels = _levels(256)
    pm = original_priority_mapping(16, 8192, 8192, shape, (1, 4), threshold=4, levels=levels)
    assert pm.plain[1][1] == {"M": 16, "N": 4, "K": 8}
    ours = priority_mapping(16, 8192, 8192, shape, (1, 4), threshold=4, levels=levels)
    assert ours.plain[1][1]["K"] == 128
    assert original_level_factors(262144, {"M": 16, "N": 8, "K": 128},
                                  {"M": 1, "N": 256, "K": 64}) == {"M": 16, "N": 4, "K": 8}


def test_capacity_is_the_width_read_as_kb():
    # run.py: spec.architecture.nodes[2].attributes.width (SMEM width 256 bits) -> Smem=256 KB
    assert original_capacity_words(256) == 262144 == 8192 * 256 // 8


def test_tiles_too_large_for_the_level():
    with pytest.raises(InputError) as e:
        original_priority_mapping(64, 4096, 4096, GEOMETRY["digital6T"], (1, 4),
                                  levels=[PlainLevel("DRAM", None), PlainLevel("SMEM", 100, ("A", "Z"))])
    assert e.value.field == "SMEM.capacity"


@needs_reference
@pytest.mark.parametrize("run, macro", [("rf_compute_analog6T", "analog6T"),
                                        ("rf_compute_digital6T", "digital6T")])
def test_reference_bert_runs(run, macro):
    """The reference BERT runs (outputs_consv2p1 constraints) come out of both modes."""
    folder = REFERENCE / "wwwcim" / "runs" / run / "outputs_consv2p1"
    ref = yaml.safe_load((folder / "parsed-processed-input.yaml").read_text())
    want = {}
    for t in ref["architecture_constraints"]["targets"]:
        if "factors" in t and t["target"] in ("DRAM", "SMEM", "CiMStorage"):
            want[t["target"]] = {p.split("=")[0].strip(): int(p.split("=")[1])
                                 for p in t["factors"].split(",")}
    for fn in (original_priority_mapping, priority_mapping):
        pm = fn(512, 1024, 1024, GEOMETRY[macro], (1, 4), threshold=4, levels=_levels(256))
        got = {lv.name: f for lv, f in pm.plain} | {"CiMStorage": pm.storage}
        for level, f in want.items():
            assert got[level] == f, (fn.__name__, level)


@needs_reference
def test_reference_smem_digital8T_run():
    """smem_compute_digital8T/outputs_cons (DRAM M512 N8 K32, banks K=4, array N=128,
    storage K=8): the original algorithm with THRESHOLD 4 and no SMEM level gives it."""
    folder = REFERENCE / "wwwcim" / "runs" / "smem_compute_digital8T" / "outputs_cons"
    ref = yaml.safe_load((folder / "parsed-processed-input.yaml").read_text())
    pm = original_priority_mapping(512, 1024, 1024, GEOMETRY["digital8T"], (1, 4), threshold=4,
                                   levels=_levels(-1))
    got = {"DRAM": pm.plain[0][1], "CiMStorage": pm.storage}
    for t in ref["architecture_constraints"]["targets"]:
        if "factors" in t and t["target"] in got:
            want = {p.split("=")[0].strip(): int(p.split("=")[1]) for p in t["factors"].split(",")}
            assert got[t["target"]] == want, t["target"]
    assert pm.bank == {"M": 1, "N": 1, "K": 4} and pm.array == {"M": 1, "N": 128, "K": 1}
