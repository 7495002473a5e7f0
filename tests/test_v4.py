"""v0.4 flattening against Timeloop's processed architectures and hand-built cases."""

from __future__ import annotations

import pytest
import yaml

from cim_plugin.errors import InputError
from cim_plugin.spec.arch import load_architecture
from cim_plugin.spec.v4 import flatten_v4, flatten_v4_constraints
from cim_plugin.spec.yamlio import load_yaml, loads_yaml
from tests.conftest import REFERENCE, needs_reference

TFE_DEFAULTS = {"has_power_gating", "power_gated_at", "reduction_supported", "min_utilization",
                "allow_overbooking", "multiple_buffering", "n_banks", "cluster_size"}

CASES = [("tensor_core_like/arch_split.yaml", "tensor_core_like/outputs"),
         ("rf_compute/arch_split.yaml", "rf_compute_analog6T/outputs_consv2p1"),
         ("rf_compute/arch_split.yaml", "rf_compute_digital6T/outputs_consv2p1"),
         ("smem_compute/arch_split.yaml", "smem_compute_digital8T/outputs_cons")]


def compare_processed(mine: dict, ref: dict) -> None:
    """Same levels, instances, classes, meshes and (non-default) attributes."""
    ml = mine["subtree"][0]["local"]
    rl = ref["subtree"][0]["local"]
    assert [x["name"] for x in ml] == [x["name"] for x in rl]
    for a, b in zip(ml, rl):
        assert a["class"] == b["class"] and a.get("subclass") == b.get("subclass"), a["name"]
        ra = {k: v for k, v in b["attributes"].items() if k not in TFE_DEFAULTS}
        ma = {k: v for k, v in a["attributes"].items()
              if k not in TFE_DEFAULTS and k not in OUR_ADDITIONS}
        assert ma == ra, a["name"]


# Attributes cim_plugin's templates add on purpose (Timeloop and Accelergy pass them
# through): the CiM macro latency, read by `cim-plugin model --latency-from-attribute`.
OUR_ADDITIONS = {"cim_latency_cycles"}


@needs_reference
@pytest.mark.parametrize("design, run", CASES)
def test_reference_designs_flatten_like_timeloopfe(design, run):
    """WWWtoCiM inputs/designs/<design> flattened == runs/<run>/parsed-processed-input.yaml."""
    root = REFERENCE / "wwwcim"
    doc = load_yaml(root / "inputs" / "designs" / design)
    ref = yaml.safe_load((root / "runs" / run / "parsed-processed-input.yaml").read_text())
    top = ref["architecture"]["subtree"][0]["attributes"]
    variables = {k: top[k] for k in (doc.get("variables") or {}) if k != "version"}
    compare_processed(flatten_v4(doc["architecture"], variables=variables), ref["architecture"])
    # dataspace keep lists of the processed constraints
    cons = flatten_v4_constraints({**doc, "variables": variables})["targets"]
    ref_keep = {t["target"]: set(t.get("keep") or []) for t in ref["architecture_constraints"]["targets"]
                if t["type"] == "bypass"}
    mine_keep = {t["target"]: set(t.get("keep") or []) for t in cons if t["type"] == "bypass"}
    for name, keep in ref_keep.items():
        assert mine_keep[name] == keep, name


SMALL = """
architecture:
  version: 0.4
  nodes:
  - !Container
    name: top
    attributes: {technology: "45nm", global_cycle_seconds: 1e-9}
  - !Component
    name: MEM
    class: DRAM
    attributes: {width: 64, datawidth: 8}
  - !Container
    name: Tile
    spatial: {meshX: 2, meshY: 3}
    constraints:
      spatial: {factors: [M=2, N=3], permutation: [M, N], split: 1}
  - !Parallel
    nodes:
    - !Component
      name: BufA
      class: storage
      attributes: {depth: n_rows, width: 8, datawidth: 8}
      constraints: {dataspace: {keep: [A]}}
    - !Component
      name: BufZ
      class: storage
      attributes: {depth: n_rows * 2, width: 8, datawidth: 8}
      constraints: {dataspace: {keep: [Z]}}
    - !Component
      name: Off
      class: storage
      enabled: false
  - !Component
    name: alu
    class: intmac
    spatial: {meshX: 4}
"""


def test_small_design_by_hand():
    doc = loads_yaml(SMALL)
    p = flatten_v4(doc["architecture"], variables={"n_rows": 5})
    assert p["subtree"][0]["name"] == "top_top_level"
    local = p["subtree"][0]["local"]
    # Tile fan-out 2x3 -> dummy above it at mesh 1x1; alu fan-out 4 in X -> dummy at 2x3
    assert [x["name"] for x in local] == ["MEM[1..1]", "inter_Tile_spatial[1..1]", "BufA[1..6]",
                                          "BufZ[1..6]", "inter_alu_spatial[1..6]", "alu[1..24]"]
    assert local[2]["attributes"]["depth"] == 5 and local[3]["attributes"]["depth"] == 10
    assert (local[5]["attributes"]["meshX"], local[5]["attributes"]["meshY"]) == (8, 3)
    assert local[1]["attributes"]["technology"] == -1 and local[2]["attributes"]["technology"] == "45nm"
    cons = flatten_v4_constraints({**doc, "variables": {"n_rows": 5}})["targets"]
    spatial = [t for t in cons if t["type"] == "spatial"]
    assert spatial == [{"target": "inter_Tile_spatial", "type": "spatial", "factors": "M=2,N=3",
                        "permutation": "MN", "split": 1}]
    bufa = next(t for t in cons if t["target"] == "BufA" and t["type"] == "bypass")
    assert bufa["keep"] == ["A"] and bufa["bypass"] == ["Z"]
    arch = load_architecture({"architecture": p})
    assert arch.compute.instances == 24 and arch.fanout(arch.storage_index("BufZ")) == (1, 1)


def test_last_node_must_compute():
    doc = loads_yaml(SMALL.replace("class: intmac", "class: storage"))
    with pytest.raises(InputError) as e:
        flatten_v4(doc["architecture"], variables={"n_rows": 5})
    assert "compute" in str(e.value)


def test_bad_mesh_names_field():
    doc = loads_yaml(SMALL.replace("meshX: 2, meshY: 3", "meshX: 0, meshY: 3"))
    with pytest.raises(InputError) as e:
        flatten_v4(doc["architecture"], variables={"n_rows": 5})
    assert e.value.field == "architecture.Tile.spatial.meshX"
