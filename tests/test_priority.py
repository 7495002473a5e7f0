"""Priority-based CiM mapping: reference runs, hand derivations and properties."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cim_plugin.errors import InputError
from cim_plugin.mapping.priority import (
    CimShape,
    PlainLevel,
    loop_order,
    mpf,
    priority_mapping,
)
from tests.conftest import REFERENCE, needs_reference

# Macro geometries of the method's four primitives (method.md table; WWWtoCiM
# inputs/my-inputs/primitives/cim-primitives.txt): Rp, Cp, Rh, Ch.
ANALOG6T = CimShape(64, 4, 1, 16)
ANALOG8T = CimShape(64, 4, 1, 16)
DIGITAL6T = CimShape(256, 16, 1, 1)
DIGITAL8T = CimShape(1, 128, 10, 1)
SMEM_WORDS = 8192 * 256 // 8          # 256 KB of 8-bit words (depth 8192, width 256)


def _targets_by_key(targets):
    out = {}
    for t in targets:
        key = (t["target"], t["type"])
        out[key] = t
    return out


def _norm_factors(text):
    return {p.split("=")[0].strip(): int(p.split("=")[1]) for p in text.split(",")}


def test_mpf_and_loop_order():
    assert mpf(1024, 4) == 4
    assert mpf(147, 64) == 49          # 147 = 3 * 7 * 7
    assert mpf(1000, 16) == 10
    assert mpf(7, 4) == 1
    assert loop_order(512, 1, 2) == "MKN"
    assert loop_order(1, 4, 8) == "KNM"


def test_bert_analog6T_hand_derivation():
    """BERT 512x1024x1024, analog 6T, 1x4 banks, THRESHOLD 4 (derived by hand).

    Array: N=mpf(1024,4)=4, K=mpf(1024,64)=64. K_max=Rh*Rp=64 equals N_max=Ch*Cp=64,
    so N is spread: 64*1<4*64 -> 2, 64*2<256 -> 4. Storage: N=mpf(64,16)=16, K=1.
    SMEM: A row 64 + Z row 256 words -> all M=512 fit (163840 <= 262144); K=2 gives
    196608 < 262144, K=4 gives 262144 (not below) -> K=2. DRAM: N=4, K=8.
    """
    pm = priority_mapping(512, 1024, 1024, ANALOG6T, (1, 4), threshold=4)
    assert pm.array == {"M": 1, "N": 4, "K": 64}
    assert pm.bank == {"M": 1, "N": 4, "K": 1}
    assert pm.storage == {"M": 1, "N": 16, "K": 1}
    assert [(lv.name, f) for lv, f in pm.plain] == [
        ("DRAM", {"M": 1, "N": 4, "K": 8}), ("SMEM", {"M": 512, "N": 1, "K": 2})]


@needs_reference
@pytest.mark.parametrize("run, shape", [("rf_compute_analog6T", ANALOG6T),
                                        ("rf_compute_digital6T", DIGITAL6T)])
def test_matches_reference_consv2p1(run, shape):
    """Factors and loop orders equal the constraints the reference runs used
    (WWWtoCiM reference run <run>/outputs_consv2p1, parsed-processed-input.yaml) and
    the mapping Timeloop returned under them (timeloop-mapper.map.yaml)."""
    folder = REFERENCE / "wwwcim" / "runs" / run / "outputs_consv2p1"
    ref = yaml.safe_load((folder / "parsed-processed-input.yaml").read_text())
    pm = priority_mapping(512, 1024, 1024, shape, (1, 4), threshold=4)
    mine = _targets_by_key(pm.constraint_targets())
    for t in ref["architecture_constraints"]["targets"]:
        key = (t["target"], t["type"])
        assert key in mine, key
        if "factors" in t:
            assert _norm_factors(mine[key]["factors"]) == _norm_factors(t["factors"]), key
        if "permutation" in t and t["type"] == "temporal":
            assert mine[key]["permutation"] == t["permutation"], key
        if t["type"] == "bypass":
            assert set(mine[key].get("keep") or []) == set(t.get("keep") or []), key
    found = yaml.safe_load((folder / "timeloop-mapper.map.yaml").read_text())["mapping"]
    my_list = {(e["target"], e["type"]): e for e in pm.to_yaml_list()}
    for e in found:
        if e["type"] in ("temporal", "spatial"):
            assert my_list[(e["target"], e["type"])]["factors"] == e["factors"], e


@needs_reference
def test_matches_reference_smem_digital8T_threshold4():
    """smem_compute_digital8T/outputs_cons: DRAM M512 N8 K32 (MKN), banks K=4,
    array N=128, storage K=8 — reproduced with THRESHOLD 4 and DRAM directly above."""
    folder = REFERENCE / "wwwcim" / "runs" / "smem_compute_digital8T" / "outputs_cons"
    ref = yaml.safe_load((folder / "parsed-processed-input.yaml").read_text())
    pm = priority_mapping(512, 1024, 1024, DIGITAL8T, (1, 4), threshold=4,
                          levels=[PlainLevel("DRAM", None)])
    mine = _targets_by_key(pm.constraint_targets())
    for t in ref["architecture_constraints"]["targets"]:
        key = (t["target"], t["type"])
        if "factors" in t:
            assert _norm_factors(mine[key]["factors"]) == _norm_factors(t["factors"]), key
        if t["type"] == "temporal":
            assert mine[key]["permutation"] == t["permutation"], key


def test_awkward_dims():
    # ResNet-like K=147 (3*7*7) and N=1000 (2^3 * 5^3) on digital 6T, 48 banks.
    pm = priority_mapping(12544, 1000, 147, DIGITAL6T, (1, 48), threshold=32)
    for i, d in enumerate("MNK"):
        assert pm.factor_product(d) == (12544, 1000, 147)[i]
    assert pm.array["K"] == 147 and pm.array["N"] == 10


def test_duplication_example():
    """M=64, N=K=64 on analog 6T with 1x4 banks: array N=4 K=64, the bank step
    spreads N by 4 (64*1 < 4*64, 64*2 < 4*64), storage N=4: no bank idle.
    With 1x16 banks N can only use 16/4... N_rem=16 -> banks N=4 (64*4 >= 256 stops),
    12 banks idle -> duplicate splits M by mpf(64, 4) = 4."""
    base = priority_mapping(64, 64, 64, ANALOG6T, (1, 16), threshold=4, duplicate=False)
    dup = priority_mapping(64, 64, 64, ANALOG6T, (1, 16), threshold=4, duplicate=True)
    assert base.bank == {"M": 1, "N": 4, "K": 1}
    assert dup.bank == {"M": 4, "N": 4, "K": 1}
    assert dup.temporal_steps * 4 == base.temporal_steps


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True])
def test_bad_gemm_dims(bad):
    with pytest.raises(InputError) as e:
        priority_mapping(bad, 64, 64, ANALOG6T)
    assert e.value.field == "M"


def test_macro_too_large_for_level():
    with pytest.raises(InputError) as e:
        priority_mapping(64, 4096, 4096, DIGITAL6T, (1, 16),
                         levels=[PlainLevel("DRAM", None), PlainLevel("SMEM", 256, ("A", "Z"))])
    assert "SMEM" in e.value.field


_macros = st.sampled_from([ANALOG6T, DIGITAL6T, DIGITAL8T, CimShape(32, 8, 2, 4),
                           CimShape(128, 32, 4, 2)])
_dims = st.one_of(st.integers(1, 4096), st.sampled_from([1, 2, 3, 7, 147, 1000, 997, 4099]))


def _check(pm, m, n, k, macro, bx, by, levels):
    for i, d in enumerate("MNK"):
        assert pm.factor_product(d) == (m, n, k)[i]
    assert pm.array["N"] <= macro.cp and pm.array["K"] <= macro.rp and pm.array["M"] == 1
    x = math.prod(pm.bank_x.values())
    y = math.prod(pm.bank_y.values())
    assert x <= bx and y <= by
    assert pm.storage["N"] * pm.storage["K"] <= macro.rh * macro.ch
    assert pm.storage["N"] <= macro.ch and pm.storage["K"] <= macro.rh
    # capacity of plain levels: tiles of kept tensors over all inner loops
    inner = {d: pm.array[d] * pm.bank[d] * pm.storage[d] for d in "MNK"}
    for level, f in reversed(pm.plain):
        inner = {d: inner[d] * f[d] for d in "MNK"}
        if level.capacity_words is not None:
            rel = {"A": "MK", "B": "NK", "Z": "MN"}
            words = sum(math.prod(inner[d] for d in rel[ds]) for ds in level.keeps)
            assert words <= level.capacity_words


@settings(max_examples=150, deadline=None)
@given(m=_dims, n=_dims, k=_dims, macro=_macros, bx=st.integers(1, 4), by=st.integers(1, 64),
       threshold=st.sampled_from([4, 32]), duplicate=st.booleans())
def test_properties(m, n, k, macro, bx, by, threshold, duplicate):
    levels = [PlainLevel("DRAM", None), PlainLevel("SMEM", SMEM_WORDS, ("A", "Z"))]
    pm = priority_mapping(m, n, k, macro, (bx, by), threshold=threshold, levels=levels,
                          duplicate=duplicate)
    _check(pm, m, n, k, macro, bx, by, levels)
    # the map.yaml list carries the same factors
    lst = pm.to_yaml_list()
    assert {e["target"] for e in lst} >= {"DRAM", "SMEM", "CiMStorage", "inter_CiMArray_spatial"}
    # a fan-out of 1 inserts no inter_*_spatial level: the banks' appears with 2+ banks
    assert ("inter_CiMBank_spatial" in {e["target"] for e in lst}) == (bx * by > 1)


@settings(max_examples=150, deadline=None)
@given(m=_dims, n=_dims, k=_dims, macro=_macros, by=st.integers(1, 64))
def test_duplication_never_lowers_throughput(m, n, k, macro, by):
    """Throughput = MACs / (temporal steps); duplication may only reduce the steps,
    and does so whenever banks are idle and M has a divisor that fits them."""
    levels = [PlainLevel("DRAM", None), PlainLevel("SMEM", SMEM_WORDS, ("A", "Z"))]
    base = priority_mapping(m, n, k, macro, (1, by), levels=levels)
    dup = priority_mapping(m, n, k, macro, (1, by), levels=levels, duplicate=True)
    assert dup.temporal_steps <= base.temporal_steps
    assert dup.utilized_units >= base.utilized_units
    idle = by // base.utilized_macros
    if mpf(m, idle) > 1:
        assert dup.temporal_steps < base.temporal_steps
