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
