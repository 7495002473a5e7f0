"""Design templates: reference equivalence, parameters, sizing."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from cim_plugin.errors import InputError
from cim_plugin.export.build import Sizing, build
from cim_plugin.export.sizing import parse_banks
from cim_plugin.export.templates import DesignParams, render_design
from cim_plugin.library.macro import Macro
from cim_plugin.spec.v4 import flatten_v4, flatten_v4_constraints
from tests.conftest import REFERENCE, needs_reference
from tests.test_v4 import compare_processed

# The method's four primitives (method.md table; WWWtoCiM
# inputs/my-inputs/primitives/cim-primitives.txt): Rp, Cp, Rh, Ch, latency, area factor,
# pJ/MAC, write pJ/8 b; each stores 4096 B.
_T = {"analog6T": (64, 4, 1, 16, 9, 1.34, 0.15, 1.9), "analog8T": (64, 4, 1, 16, 144, 2.1, 0.09, 3.0),
      "digital6T": (256, 16, 1, 1, 18, 1.4, 0.34, 3.2), "digital8T": (1, 128, 10, 1, 233, 1.1, 0.84, 1.7)}
MACROS = {n: Macro(n, *v[:4], 4096, v[4], v[6], v[7], area_factor=v[5]) for n, v in _T.items()}


def _ref(run):
    return yaml.safe_load((REFERENCE / "wwwcim" / "runs" / run / "parsed-processed-input.yaml").read_text())


@needs_reference
@pytest.mark.parametrize("design, run, params", [
    ("tensor_core", "tensor_core_like/outputs", {}),
    ("cim_rf", "rf_compute_analog6T/outputs_consv2p1", {}),
    ("cim_rf", "rf_compute_digital6T/outputs_consv2p1",
     dict(cimtype="digital6T", rp=256, cp=16, rh=1, ch=1)),
    ("cim_smem", "smem_compute_digital8T/outputs_cons",
     dict(cimtype="digital8T", rp=1, cp=128, rh=10, ch=1)),
])
def test_rendered_matches_reference_runs(design, run, params):
    ref = _ref(run)
    doc = render_design(design, params)
    compare_processed(flatten_v4(doc["architecture"]), ref["architecture"])
    ref_keep = {t["target"]: set(t.get("keep") or []) for t in ref["architecture_constraints"]["targets"]
                if t["type"] == "bypass"}
    mine = {t["target"]: set(t.get("keep") or []) for t in flatten_v4_constraints(doc)["targets"]
            if t["type"] == "bypass"}
    for name, keep in ref_keep.items():
        assert mine[name] == keep, name


def test_parameters_reach_the_architecture():
    doc = render_design("tensor_core", {"subpartitions": 2, "pe_x": 8, "smem_depth": 4096})
    local = flatten_v4(doc["architecture"])["subtree"][0]["local"]
    names = [x["name"] for x in local]
    assert "RF[1..2]" in names and "mac[1..256]" in names      # 2 * 8 * 16
    smem = next(x for x in local if x["name"].startswith("SMEM"))
    assert smem["attributes"]["depth"] == 4096
    l2 = flatten_v4(render_design("tensor_core_l2")["architecture"])["subtree"][0]["local"]
    assert [x["name"] for x in l2][:3] == ["DRAM[1..1]", "L2[1..1]", "SMEM[1..1]"]


@pytest.mark.parametrize("name, value", [("rp", "64"), ("clock_GHz", "fast"), ("with_l2", 1),
                                         ("banks_y", 0), ("smem_depth", True)])
def test_wrong_type_names_parameter(name, value):
    with pytest.raises(InputError) as e:
        render_design("cim_rf", {name: value})
    assert e.value.field == name


def test_unknown_design_and_parameter():
    with pytest.raises(InputError) as e:
        render_design("cim_l3")
    assert e.value.field == "design"
    with pytest.raises(InputError) as e:
        render_design("cim_rf", {"smem_kb": 3})
    assert e.value.field == "smem_kb"


def test_sizing_rules():
    p = DesignParams()
    counts = lambda design, mode, **kw: [  # noqa: E731
        build(design, MACROS[n], (64, 64, 64), Sizing(mode, **kw), params=p).params.banks_y
        for n in ("analog6T", "analog8T", "digital6T", "digital8T")]
    # method preset (method.md): RF 3, 2, 3, 4; SMEM 48, 32, 48, 64
    assert counts("cim_rf", "preset") == [3, 2, 3, 4]
    assert counts("cim_smem", "preset") == [48, 32, 48, 64]
    # iso-capacity: 4 x 4 KB RF / 4 KB = 4; 256 KB SMEM / 4 KB = 64
    assert counts("cim_rf", "iso-capacity") == [4, 4, 4, 4]
    assert counts("cim_smem", "iso-capacity") == [64, 64, 64, 64]
    # iso-area from area factors: RF 4/1.34=2.99, 4/2.1=1.90, 4/1.4=2.86, 4/1.1=3.64
    assert counts("cim_rf", "iso-area") == [2, 1, 2, 3]                       # floor
    assert counts("cim_rf", "iso-area", rounding="ceil") == [3, 2, 3, 4]      # the method's
    # SMEM 64/1.34=47.8, 64/2.1=30.5, 64/1.4=45.7, 64/1.1=58.2 (floor)
    assert counts("cim_smem", "iso-area") == [47, 30, 45, 58]
    assert parse_banks("2x8") == (2, 8)
    for bad in ("0x4", "4", "axb"):
        with pytest.raises(InputError):
            parse_banks(bad)


def test_build_design_is_model_ready():
    b = build("cim_rf", MACROS["analog6T"], (512, 1024, 1024), Sizing("explicit", (1, 4)),
              threshold=4)
    arch = b.architecture
    assert arch.level_names() == ["DRAM", "SMEM", "inter_CiMBank_spatial", "inter_CiMArray_spatial",
                                  "CiMInpBuffer", "CiMOutBuffer", "CiMStorage", "CiMUnit"]
    assert arch.compute.instances == 4 * 64 * 4
    assert b.processed["problem"]["instance"] == {"M": 512, "N": 1024, "K": 1024}
    smem = next(t for t in b.processed["architecture_constraints"]["targets"]
                if t["target"] == "SMEM" and t["type"] == "temporal")
    assert smem["factors"] == "M=512,N=1,K=2"
    big = dataclasses.replace(DesignParams(), smem_depth=8)
    with pytest.raises(InputError):
        build("cim_rf", MACROS["digital6T"], (64, 4096, 4096), Sizing("explicit", (1, 16)), params=big)


# ------------------------------------------------------------------ YAML injection

INJECTED = 'x"\n      injected_attr: 12345\n      z: "'


def _leaves(doc):
    out = {}

    def walk(nodes):
        for n in nodes:
            out[n.get("name")] = n
            walk(n.get("nodes") or [])

    walk(doc["architecture"]["nodes"])
    return out


@pytest.mark.parametrize("design", ["cim_rf", "cim_smem", "cim_smem_beside", "cim_l2"])
def test_names_stay_one_scalar_in_the_architecture(design):
    """A quote and newlines in a macro name (the CiM `type`), the technology or the DRAM
    type render as one YAML scalar holding exactly that text, never as an extra key."""
    clean = _leaves(render_design(design))
    doc = render_design(design, {"cimtype": INJECTED, "technology": INJECTED,
                                 "dram_type": 'LP"DDR4\nwidth: 1'})
    leaves = _leaves(doc)
    for name in ("CiMUnit", "CiMStorage"):
        assert leaves[name]["attributes"]["type"] == INJECTED
        assert set(leaves[name]["attributes"]) == set(clean[name]["attributes"])
    assert leaves["system"]["attributes"]["technology"] == INJECTED
    assert leaves["DRAM"]["attributes"]["type"] == 'LP"DDR4\nwidth: 1'
    assert leaves["DRAM"]["attributes"]["width"] == 64
    assert "injected_attr" not in _keys(flatten_v4(doc["architecture"]))


def _keys(doc):
    """Every mapping key anywhere in a document."""
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in _keys(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in _keys(v)}
    return set()


def test_level_names_stay_one_scalar_in_the_constraints():
    """Level names reach the constraint templates through the same filters."""
    from cim_plugin.export.templates import _constraints_env
    from cim_plugin.mapping.priority import CimNames

    bad = CimNames(inp='Inp"\n    - {target: DRAM, type: dataspace, keep: []}\n#')
    text = _constraints_env().get_template("cim_smem.yaml.jinja2").render(
        p=DesignParams(), names=bad, pin=None)
    targets = yaml.safe_load(text)["constraints"]["targets"]
    assert [t["target"] for t in targets].count("DRAM") == 1
    assert bad.inp in [t["target"] for t in targets]


def test_filters_write_yaml_and_keep_normal_values_as_before():
    from cim_plugin.export.templates import render_text, yaml_number, yaml_quoted

    assert yaml_quoted("analog6T") == '"analog6T"'
    assert yaml.safe_load(yaml_quoted(INJECTED)) == INJECTED
    assert "\n" not in yaml_quoted(INJECTED)
    assert yaml_number("1e-9") == "1e-9" and yaml_number(64) == "64"
    for bad in ("1e-9\nx: 1", "nan", True, float("inf")):
        with pytest.raises(InputError):
            yaml_number(bad)
    # the rendered text of ordinary values is the one the designs always had
    text = render_text("cim_rf")
    for line in ('      technology: "45nm"', "      global_cycle_seconds: 1e-9",
                 '      type: "LPDDR4"', "    spatial: {meshX: 1, meshY: 4}",
                 '        type: "analog6T"', "      cim_latency_cycles: 1.0",
                 "        width: 128"):
        assert line + "\n" in text, line
    cons = build("cim_rf", MACROS["analog6T"], (512, 1024, 1024), Sizing("explicit", (1, 4)),
                 threshold=4).constraints_text
    for line in ("    - {target: DRAM, type: dataspace, keep: [A, B, Z]}",
                 '    - {target: SMEM, type: temporal, factors: "M=512,N=1,K=2", '
                 'permutation: "MKN"}',
                 "    - {target: SMEM, type: dataspace, keep: [A, Z], bypass: [B]}"):
        assert line + "\n" in cons, line


def test_parse_banks_reads_ascii_within_the_limits():
    assert parse_banks("1x4") == (1, 4) and parse_banks("2×8") == (2, 8)
    for bad in ("100000x100000", "64x128", "1x\uff14", "1_0x4", "1x4x2", " x4"):
        with pytest.raises(InputError) as e:
            parse_banks(bad, field="--banks")
        assert e.value.field == "--banks"


def test_single_compute_element_macro_names_the_library_entry():
    one = dataclasses.replace(MACROS["analog6T"], name="tiny", rp=1, cp=1, rh=1, ch=1,
                              capacity_bytes=1, extra={"file": "my_lib.yaml"})
    for sizing in (Sizing("iso-area"), Sizing("explicit", (1, 4)), Sizing("iso-capacity")):
        with pytest.raises(InputError) as e:
            build("cim_rf", one, (64, 64, 64), sizing)
        assert e.value.file == "my_lib.yaml" and e.value.field == "macros[tiny].Rp,Cp"
    # two compute elements are enough for the CiM array
    two = dataclasses.replace(one, cp=2, capacity_bytes=2)
    assert build("cim_rf", two, (64, 64, 64), Sizing("explicit", (1, 4))).params.cp == 2


def test_for_macro_equals_a_full_replace_and_checks_the_macro_fields():
    """`DesignParams.for_macro` (what `build` renders a CiM design with) is the same
    record as a `dataclasses.replace` of the macro's fields and bank grid, and a bad
    macro field is refused naming it, as the full check names it."""
    base = DesignParams(smem_depth=4096, clock_GHz=1.25)
    m = MACROS["digital8T"]
    got = base.for_macro(m, (3, 5))
    want = dataclasses.replace(base, cimtype="digital8T", cim_latency_cycles=233.0, rp=1,
                               cp=128, rh=10, ch=1, banks_x=3, banks_y=5, datawidth=8)
    assert got == want and repr(got) == repr(want)
    assert (got.smem_depth, got.clock_GHz, base.rp) == (4096, 1.25, 64)    # base unchanged
    with pytest.raises(InputError) as e:
        base.for_macro(m, (0, 5))
    assert e.value.field == "banks_x" and "positive" in str(e.value)
    with pytest.raises(InputError) as e:
        base.for_macro(dataclasses.replace(m, rp=2.5), (1, 1))
    assert e.value.field == "rp"
    with pytest.raises(InputError) as e:
        dataclasses.replace(base, banks_x=0)
    assert e.value.field == "banks_x"
