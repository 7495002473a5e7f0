"""Constraint templates (`mapper_constraints/`): design and priority flavours."""

from __future__ import annotations

import pytest
import yaml

from cim_plugin.errors import InputError
from cim_plugin.export.build import Sizing, build, plain_levels
from cim_plugin.export.templates import DESIGNS, DesignParams, render_constraints, render_design
from cim_plugin.library.macro import Macro
from cim_plugin.mapping.priority import priority_mapping
from cim_plugin.spec.v4 import flatten_v4_constraints
from tests.conftest import REFERENCE, needs_reference

# The method's primitives (method.md table; WWWtoCiM inputs/my-inputs/primitives/
# cim-primitives.txt): Rp, Cp, Rh, Ch, 4096 B each; latency, pJ/MAC, write pJ/8 b.
MACROS = {"analog6T": Macro("analog6T", 64, 4, 1, 16, 4096, 9, 0.15, 1.9),
          "digital6T": Macro("digital6T", 256, 16, 1, 1, 4096, 18, 0.34, 3.2),
          "digital8T": Macro("digital8T", 1, 128, 10, 1, 4096, 233, 0.84, 1.7)}

D8T_2X3 = dict(cimtype="digital8T", rp=1, cp=128, rh=10, ch=1, banks_x=2, banks_y=3)
ONE_BANK = dict(banks_x=1, banks_y=1)


def _ds(target, keep, bypass=None):
    t = {"target": target, "type": "bypass", "keep": keep}
    if bypass is not None:
        t["bypass"] = bypass
    return t


def _dummy(name):
    return [{"target": f"inter_{name}_spatial", "type": "temporal", "factors": "M=1,N=1,K=1",
             "permutation": "MNK"},
            {"target": f"inter_{name}_spatial", "type": "bypass", "bypass": ["A", "B", "Z"]}]


# Produced by the previous inline `constraints:` blocks of arch_templates/ (before the
# constraints moved to mapper_constraints/), for default parameters, a digital 8T macro
# on 2x3 banks and a single bank. Cross-checked against the reference runs'
# `architecture_constraints` (WWWtoCiM runs tensor_core_like/outputs,
# rf_compute_analog6T/outputs_consv2p1, smem_compute_digital8T/outputs_cons,
# parsed-processed-input.yaml): same keep lists for DRAM, SMEM, RF, LRF and the CiM
# buffers, same dummy levels with M=1,N=1,K=1 / MNK and bypass [A, B, Z]. The reference
# also pins factors; those come from the priority flavour here.
_CIM_BUFFERS = [_ds("CiMInpBuffer", ["A"], ["Z", "B"]), _ds("CiMOutBuffer", ["Z"], ["A", "B"]),
                _ds("CiMStorage", ["B"], ["A", "Z"])]
_TC = [_ds("DRAM", ["A", "B", "Z"]), _ds("SMEM", ["A", "B"], ["Z"]), *_dummy("Subpartition"),
       _ds("RF", ["Z"], ["A", "B"]), *_dummy("PE"), _ds("LRF", ["A"], ["B", "Z"])]
_TC_L2 = [_TC[0], _ds("L2", ["A", "B", "Z"]), *_TC[1:]]
_SMEM_AZ = [_ds("SMEM", ["A", "Z"], ["B"])]
# The CiM array's physics (K on rows, N on columns, never M), as the method's own design
# constrains it (WWWtoCiM inputs/designs/rf_compute/arch_split.yaml: CiMArray spatial,
# split 1, permutation [N, K, M], M=1).
_ARRAY = {"target": "inter_CiMArray_spatial", "type": "spatial", "factors": "M=1",
          "permutation": "NKM", "split": 1}
_CIM = [*_dummy("CiMBank"), *_dummy("CiMArray"), _ARRAY, *_CIM_BUFFERS]
_CIM_ONE = [*_dummy("CiMArray"), _ARRAY, *_CIM_BUFFERS]
_DRAM = [_ds("DRAM", ["A", "B", "Z"])]
EXPECTED = {
    ("tensor_core", None): _TC,
    ("tensor_core_l2", None): _TC_L2,
    ("cim_rf", None): [*_DRAM, *_SMEM_AZ, *_CIM],
    ("cim_rf", "d8T"): [*_DRAM, *_SMEM_AZ, *_CIM],
    ("cim_rf", "one"): [*_DRAM, *_SMEM_AZ, *_CIM_ONE],
    ("cim_smem", None): [*_DRAM, *_CIM],
    ("cim_smem", "d8T"): [*_DRAM, *_CIM],
    ("cim_smem", "one"): [*_DRAM, *_CIM_ONE],
    ("cim_smem_beside", None): [*_DRAM, *_SMEM_AZ, *_CIM],
    ("cim_smem_beside", "d8T"): [*_DRAM, *_SMEM_AZ, *_CIM],
    ("cim_l2", None): [*_DRAM, *_CIM],
    ("cim_l2", "d8T"): [*_DRAM, *_CIM],
}
PARAMS = {None: {}, "d8T": D8T_2X3, "one": ONE_BANK}


def _explicit(banks):
    return Sizing("explicit", banks)


@pytest.mark.parametrize("design, case", list(EXPECTED))
def test_design_flavour_unchanged(design, case):
    """Flattened targets are exactly those of the former inline constraints (order too)."""
    doc = render_design(design, PARAMS[case])
    assert flatten_v4_constraints(doc)["targets"] == EXPECTED[(design, case)]


def _key(t):
    return (t["target"], t["type"])


def _priority_targets(b):
    doc = {"architecture": b.v4["architecture"], **render_constraints(b.design, b.params, b.mapping)}
    return flatten_v4_constraints(doc)["targets"]


@pytest.mark.parametrize("design, macro, gemm, banks", [
    ("cim_rf", "analog6T", (512, 1024, 1024), (1, 4)),      # BERT layer of the reference run
    ("cim_rf", "digital6T", (512, 1024, 1024), (1, 3)),
    ("cim_smem", "digital8T", (512, 1024, 1024), (1, 4)),
    ("cim_smem", "analog6T", (147, 1000, 147), (2, 24)),
    ("cim_smem_beside", "digital6T", (64, 4096, 4096), (1, 16)),
    ("cim_l2", "digital8T", (96, 384, 768), (4, 8)),
])
def test_priority_flavour_equals_algorithm(design, macro, gemm, banks):
    """The rendered priority template, flattened, is exactly `PriorityMapping.constraint_targets()`."""
    b = build(design, MACROS[macro], gemm, _explicit(banks))
    mine = _priority_targets(b)
    assert sorted(mine, key=_key) == sorted(b.mapping.constraint_targets(), key=_key)
    assert b.processed["architecture_constraints"]["targets"] == mine
    # weight stationary: B is kept only by DRAM and the CiM storage
    keeps_b = [t["target"] for t in mine if t["type"] == "bypass" and "B" in (t.get("keep") or [])]
    assert keeps_b == ["DRAM", "CiMStorage"]


def test_priority_flavour_bert_analog6T_by_hand():
    """BERT 512x1024x1024 on 4 analog 6T macros at RF, THRESHOLD 4 (hand derivation).

    Array: N = mpf(1024, Cp=4) = 4, K = mpf(1024, Rp=64) = 64. Banks over Y=4:
    K_max = Rh*Rp = 64, N_max = Ch*Cp = 64, equal, so N is spread: N=4 (64*1 < 4*64).
    Storage: N = mpf(1024/16, Ch=16) = 16, K = mpf(16, Rh=1) = 1; tile N=256, K=64.
    SMEM (256 KB = 262144 words, keeps A and Z): M=512 (512*64 + 512*256 = 163840 words
    fit); K grows by 2 (512*128 + 512*256 = 196608 < 262144) but not by 4 (262144 is not
    strictly below); N cannot grow (512*128 + 512*512 > 262144). DRAM takes the rest:
    M=1, N=1024/256=4, K=1024/128=8. Loop order, largest innermost: SMEM (512,1,2) -> MKN,
    DRAM (1,4,8) -> KNM.
    The reference run (WWWtoCiM rf_compute_analog6T/outputs_consv2p1,
    parsed-processed-input.yaml, architecture_constraints) pins the same factors.
    """
    b = build("cim_rf", MACROS["analog6T"], (512, 1024, 1024), _explicit((1, 4)), threshold=4)
    cons = yaml.safe_load(b.constraints_text)["constraints"]["targets"]
    by = {(t["target"], t["type"]): t for t in cons}
    assert by[("DRAM", "temporal")] == {"target": "DRAM", "type": "temporal",
                                        "factors": "M=1,N=4,K=8", "permutation": "KNM"}
    assert by[("SMEM", "temporal")]["factors"] == "M=512,N=1,K=2"
    assert by[("SMEM", "temporal")]["permutation"] == "MKN"
    assert by[("CiMBank", "spatial")] == {"target": "CiMBank", "type": "spatial",
                                          "factors": "M=1,N=4,K=1", "permutation": "NKM", "split": 0}
    assert by[("CiMArray", "spatial")]["factors"] == "M=1,N=4,K=64"
    assert by[("CiMStorage", "temporal")]["factors"] == "M=1,N=16,K=1"
    assert by[("CiMStorage", "dataspace")]["keep"] == ["B"]


@needs_reference
def test_priority_flavour_matches_reference_run():
    """Factors and permutations == the reference run's architecture_constraints."""
    run = REFERENCE / "wwwcim" / "runs" / "rf_compute_analog6T" / "outputs_consv2p1"
    ref = yaml.safe_load((run / "parsed-processed-input.yaml").read_text())["architecture_constraints"]
    b = build("cim_rf", MACROS["analog6T"], (512, 1024, 1024), _explicit((1, 4)), threshold=4)
    mine = {_key(t): t for t in _priority_targets(b)}
    for t in ref["targets"]:
        if t["type"] in ("temporal", "spatial"):
            got = mine[_key(t)]
            assert (got["factors"], got["permutation"]) == (t["factors"], t["permutation"]), _key(t)
            if t["type"] == "spatial":
                assert got["split"] == t["split"]
        else:
            assert set(mine[_key(t)]["keep"] if "keep" in t else []) == set(t.get("keep") or [])


def test_single_bank_has_no_bank_level():
    """With 1x1 banks there is no inter_CiMBank_spatial level, so nothing is pinned on it."""
    b = build("cim_smem", MACROS["analog6T"], (64, 64, 64), _explicit((1, 1)))
    assert "inter_CiMBank_spatial" not in b.architecture.level_names()
    mine = _priority_targets(b)
    algo = [t for t in b.mapping.constraint_targets() if t["target"] != "inter_CiMBank_spatial"]
    assert sorted(mine, key=_key) == sorted(algo, key=_key)


def test_every_design_has_a_template_and_arch_templates_carry_no_constraints():
    p = DesignParams()
    for design in DESIGNS:
        doc = render_design(design, p)
        assert all("constraints" not in n for n in doc["architecture"]["nodes"]), design
        assert doc["constraints"]["version"] == 0.4
        targets = render_constraints(design, p)["constraints"]["targets"]
        # the mapper picks every factor: only keeps, and the CiM array's physics
        physics = {"target": "CiMArray", "type": "spatial", "factors": "M=1", "permutation": "NKM",
                   "split": 1}
        assert all(t["type"] == "dataspace" or t == physics for t in targets), design
        assert (physics in targets) == (DESIGNS[design][1] is not None), design


def test_baseline_has_no_priority_flavour_and_errors_name_the_file():
    b = build("cim_rf", MACROS["analog6T"], (64, 64, 64), _explicit((1, 4)))
    with pytest.raises(InputError) as e:
        render_constraints("tensor_core", None, b.mapping)
    assert e.value.field == "mapping"
    with pytest.raises(InputError) as e:
        render_constraints("cim_l3")
    assert e.value.field == "design"


def test_priority_flavour_uses_plain_levels_of_the_design():
    """cim_rf and cim_smem_beside pin SMEM; cim_smem and cim_l2 have only DRAM above the CiM."""
    p = DesignParams()
    for design, levels in (("cim_rf", ["DRAM", "SMEM"]), ("cim_smem_beside", ["DRAM", "SMEM"]),
                           ("cim_smem", ["DRAM"]), ("cim_l2", ["DRAM"])):
        assert [lv.name for lv in plain_levels(design, p)] == levels
        pm = priority_mapping(64, 256, 256, MACROS["analog6T"], (1, 4),
                              levels=plain_levels(design, p))
        cons = render_constraints(design, p, pm)["constraints"]["targets"]
        pinned = [t["target"] for t in cons if t["type"] == "temporal"]
        assert pinned == [*levels, "CiMInpBuffer", "CiMOutBuffer", "CiMStorage"]


def test_export_writes_the_rendered_template(tmp_path, monkeypatch):
    """constraints.yaml is the priority template; with arch.yaml it flattens to the build's targets."""
    from cim_plugin.cli import main
    from cim_plugin.commands import export as export_cmd
    from cim_plugin.spec.yamlio import load_yaml

    monkeypatch.setattr(export_cmd, "get_macro", lambda name: MACROS[name])
    out = tmp_path / "d"
    assert main(["export", "--design", "cim_smem", "--macro", "digital8T", "--gemm", "512,1024,1024",
                 "--banks", "1x4", "--threshold", "4", "-o", str(out)]) == 0
    b = build("cim_smem", MACROS["digital8T"], (512, 1024, 1024), _explicit((1, 4)), threshold=4)
    assert (out / "constraints.yaml").read_text() == b.constraints_text
    doc = {**load_yaml(out / "arch.yaml"), **load_yaml(out / "constraints.yaml")}
    assert flatten_v4_constraints(doc)["targets"] == b.processed["architecture_constraints"]["targets"]
    # Hand derivation (digital 8T: Rp=1, Cp=128, Rh=10, Ch=1; 4 banks; THRESHOLD 4, as
    # the reference run): array N = mpf(1024, 128) = 128, K = mpf(1024, 1) = 1;
    # K_max = 10 < N_max = 128 and 128/10 >= 4, so K is spread over the banks while
    # 10*kb < 4*128: K=4; storage K = mpf(256, 10) = 8, N = mpf(8, Ch=1) = 1; DRAM takes
    # M=512, N=8, K=32, loop order MKN -- the reference run smem_compute_digital8T/
    # outputs_cons pins the same (parsed-processed-input.yaml, architecture_constraints).
    by = {_key(t): t for t in load_yaml(out / "constraints.yaml")["constraints"]["targets"]}
    assert by[("CiMArray", "spatial")]["factors"] == "M=1,N=128,K=1"
    assert by[("CiMBank", "spatial")]["factors"] == "M=1,N=1,K=4"
    assert by[("CiMStorage", "temporal")]["factors"] == "M=1,N=1,K=8"
    assert by[("DRAM", "temporal")]["factors"] == "M=512,N=8,K=32"
    assert by[("DRAM", "temporal")]["permutation"] == "MKN"
    # the baseline exports the design flavour
    assert main(["export", "--design", "tensor_core", "--gemm", "64,64,64", "-o", str(tmp_path / "b")]) == 0
    assert load_yaml(tmp_path / "b" / "constraints.yaml") == render_constraints("tensor_core")


def test_templates_are_sandboxed_and_strict():
    """A template reading something it was not given is an InputError naming the file."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from cim_plugin.export import templates

    env = templates._constraints_env()
    assert isinstance(env, SandboxedEnvironment) and env.undefined is StrictUndefined

    class NoFactors:                       # a mapping without the CiM levels' factors
        names = priority_mapping(8, 8, 8, MACROS["analog6T"], (1, 4)).names

        def mapping(self):
            from cim_plugin.spec.mapping import Mapping
            return Mapping(levels={})

    with pytest.raises(InputError) as e:
        render_constraints("cim_smem", None, NoFactors())
    assert e.value.file == "cim_smem.yaml.jinja2" and e.value.field == "template"
    # a mapping over other levels than the design's (SMEM pinned on cim_smem) is refused
    pm = priority_mapping(64, 64, 64, MACROS["analog6T"], (1, 4))     # default levels DRAM, SMEM
    with pytest.raises(InputError) as e:
        render_constraints("cim_smem", None, pm)
    assert e.value.field == "mapping" and "SMEM" in str(e.value)


def test_sandbox_reads_design_fields_directly_and_refuses_the_rest():
    """The templates' sandbox reads a DesignParams field as the record holds it, and
    still refuses what a template could reach through the record's class or methods."""
    from jinja2.exceptions import SecurityError, UndefinedError

    from cim_plugin.export.templates import DesignParams, _env

    p = DesignParams(rp=48, cimtype='a"b', clock_GHz=1.5)
    env = _env()
    assert env.from_string("{{ p.rp * 2 }} {{ p.cimtype }} {{ p.clock_GHz }}").render(p=p) \
        == '96 a"b 1.5'
    assert env.from_string("{{ p.global_cycle_seconds }}").render(p=p) == "6.66667e-10"
    for text in ("{{ p.__class__.__mro__ }}", "{{ p.from_mapping.__func__.__globals__ }}",
                 "{{ p.__init__.__globals__ }}", "{{ p._PARAM }}"):
        with pytest.raises((SecurityError, UndefinedError)):
            env.from_string(text).render(p=p)
