"""Self-contained check of the tensor-core BERT-Large run (no ../shared needed).

The architecture, ERT, problem and mapping below are reconstructed from the figures of
the WWWtoCiM reference run `tensor_core_like/outputs` (parsed-processed-input.yaml:
levels and attributes; timeloop-mapper.ERT.yaml / .ART.yaml: energies and areas;
timeloop-mapper.map.yaml: the mapping). The expected numbers are copied from that
run's timeloop-mapper.stats.txt, which real timeloop-model reproduces byte for byte.
`benchmarks/bench_model.py` reuses `tensor_core_case()`.
"""

from __future__ import annotations

import pytest

from cim_plugin.model.engine import Engine
from cim_plugin.model.evaluate import evaluate
from cim_plugin.model.nest import build_nest
from cim_plugin.spec.arch import architecture_from_processed
from cim_plugin.spec.ert import art_from_dict, ert_from_dict
from cim_plugin.spec.mapping import mapping_from_list
from cim_plugin.spec.problem import gemm_problem


def _leaf(name, cls, **attrs):
    return {"name": name, "class": cls, "attributes": attrs}


# parsed-processed-input.yaml, architecture.subtree[0].local (attributes the model reads)
TENSOR_CORE_ARCH = {"subtree": [{"name": "system_top_level", "local": [
    _leaf("DRAM[1..1]", "DRAM", width=64, datawidth=8, read_bandwidth=32, write_bandwidth=32),
    _leaf("SMEM[1..1]", "storage", depth=8192, width=256, datawidth=8, read_bandwidth=42,
          write_bandwidth=42),
    _leaf("inter_Subpartition_spatial[1..1]", "dummy_storage", width=1, depth=1, datawidth=1),
    _leaf("RF[1..4]", "storage", depth=4096, width=8, datawidth=8, meshX=1, meshY=4),
    _leaf("inter_PE_spatial[1..4]", "dummy_storage", width=1, depth=1, datawidth=1, meshX=1,
          meshY=4),
    _leaf("LRF[1..1024]", "storage", depth=1, width=8, datawidth=8, meshX=16, meshY=64),
    _leaf("mac[1..1024]", "intmac", meshX=16, meshY=64),
]}]}


def _table(name, **energies):
    return {"name": f"system_top_level.{name}",
            "actions": [{"name": k, "arguments": {}, "energy": v} for k, v in energies.items()]}


# timeloop-mapper.ERT.yaml (pJ per access of the full width)
TENSOR_CORE_ERT = {"ERT": {"version": "0.4", "tables": [
    _table("DRAM[1..1]", read=512.0, update=512.0, leak=0.0, write=512.0),
    _table("SMEM[1..1]", read=124.695312, write=118.033, update=118.033, leak=0.007902),
    _table("RF[1..4]", write=11.46723, read=11.38848, leak=0.010198, update=11.38848),
    _table("LRF[1..1024]", read=0.019007, write=0.020478, update=0.020478, leak=0.0),
    _table("mac[1..1024]", compute=0.2625, leak=0.003),
]}}

# timeloop-mapper.ART.yaml (um^2 per instance)
TENSOR_CORE_ART = {"ART": {"version": "0.4", "tables": [
    {"name": "system_top_level.DRAM[1..1]", "area": 0.0},
    {"name": "system_top_level.SMEM[1..1]", "area": 1068811.0},
    {"name": "system_top_level.RF[1..4]", "area": 6731.96},
    {"name": "system_top_level.LRF[1..1024]", "area": 8.245},
    {"name": "system_top_level.mac[1..1024]", "area": 347.5},
]}}


def _dt(target, keep, bypass):
    return {"target": target, "type": "datatype", "keep": keep, "bypass": bypass}


# timeloop-mapper.map.yaml
TENSOR_CORE_MAPPING = [
    _dt("LRF", ["A"], ["B", "Z"]),
    _dt("inter_PE_spatial", [], ["A", "B", "Z"]),
    _dt("RF", ["Z"], ["A", "B"]),
    _dt("inter_Subpartition_spatial", [], ["A", "B", "Z"]),
    _dt("SMEM", ["A", "B"], ["Z"]),
    _dt("DRAM", ["A", "B", "Z"], []),
    {"target": "LRF", "type": "temporal", "factors": "M1 N8 K1", "permutation": "NMK"},
    {"target": "inter_PE_spatial", "type": "spatial", "factors": "M1 N16 K16",
     "permutation": "KNM", "split": 1},
    {"target": "RF", "type": "temporal", "factors": "M1 N1 K4", "permutation": "KMN"},
    {"target": "inter_Subpartition_spatial", "type": "spatial", "factors": "M4 N1 K1",
     "permutation": "MNK", "split": 0},
    {"target": "SMEM", "type": "temporal", "factors": "M32 N1 K16", "permutation": "KMN"},
    {"target": "DRAM", "type": "temporal", "factors": "M4 N8 K1", "permutation": "MNK"},
]


def tensor_core_case():
    """(arch, problem, mapping, ert, art) of the tensor-core BERT-Large GEMM M512 N1024 K1024."""
    arch = architecture_from_processed(TENSOR_CORE_ARCH, "tensor_core")
    problem = gemm_problem(512, 1024, 1024)
    mapping = mapping_from_list(TENSOR_CORE_MAPPING, file="tensor_core.map.yaml",
                                dims=problem.dimensions)
    return (arch, problem, mapping, ert_from_dict(TENSOR_CORE_ERT, "tensor_core.ERT"),
            art_from_dict(TENSOR_CORE_ART, "tensor_core.ART"))


def rel(x: float, expected: float, printed_decimals: int = 2) -> bool:
    """Within 0.5 % or the print rounding of the reference figure."""
    return abs(x - expected) <= max(0.005 * abs(expected), 0.6 * 10 ** -printed_decimals)


@pytest.fixture(scope="module")
def result():
    arch, problem, mapping, ert, art = tensor_core_case()
    return evaluate(arch, problem, mapping, ert, art)


# (level, dataspace) -> reads, fills, updates, utilized capacity, utilized instances,
# partition size, energy total pJ; from timeloop-mapper.stats.txt of tensor_core_like/outputs
EXPECTED_COUNTS = {
    ("LRF", "A"): (524288, 65536, 0, 1, 1024, 8192, 11578560.74),
    ("RF", "Z"): (8257536, 0, 8388608, 128, 4, 131072, 758297112.08),
    ("SMEM", "A"): (4194304, 4194304, 0, 131072, 1, 524288, 31814885.31),
    ("SMEM", "B"): (134217728, 1048576, 0, 131072, 1, 1048576, 526877751.25),
    ("DRAM", "A"): (4194304, 0, 0, 524288, 1, 524288, 268435456.00),
    ("DRAM", "B"): (1048576, 0, 0, 1048576, 1, 1048576, 67108864.00),
    ("DRAM", "Z"): (0, 0, 524288, 524288, 1, 524288, 33554432.00),
}


@pytest.mark.parametrize("key", list(EXPECTED_COUNTS))
def test_tensor_core_per_dataspace(result, key):
    level, ds = key
    s = result.level(level).dataspaces[ds]
    reads, fills, updates, cap, inst, part, energy = EXPECTED_COUNTS[key]
    assert (s.reads, s.fills, s.updates) == (reads, fills, updates)
    assert (s.utilized_capacity, s.utilized_instances, s.partition_size) == (cap, inst, part)
    assert rel(s.energy_pJ, energy)
    if ds == "Z":
        assert s.temporal_reductions == reads


def test_tensor_core_levels_and_summary(result):
    smem = result.level("SMEM")
    assert smem.cycles == 3295525
    assert rel(smem.bandwidth_throttling, 0.16)
    assert rel(smem.leakage_pJ, 26041.24)
    assert rel(result.level("RF").leakage_pJ, 134431.06)
    assert result.level("DRAM").cycles == 524288
    assert result.cycles == 3295525
    assert result.computes == 536870912
    assert rel(result.energy_pJ / 1e6, 1838.76)
    assert rel(result.gflops, 325.66)
    assert rel(result.utilization * 100, 15.91)
    assert rel(result.edp, 6.06e3)
    assert result.compute.utilized_instances == 1024
    assert rel(result.compute.energy_pJ, 140928614.40)
    expected_fj = {"mac": 262.50, "LRF": 21.57, "RF": 1412.69, "SMEM": 1040.69,
                   "DRAM": 687.50, "Total": 3424.95}
    for name, v in expected_fj.items():
        assert rel(result.fj_per_compute[name], v), name


def test_engine_reuse_gives_identical_results():
    arch, problem, mapping, ert, art = tensor_core_case()
    engine = Engine(arch, problem, ert, art)
    nest = build_nest(arch, problem, mapping)
    a, b = engine.evaluate(nest), engine.evaluate(nest)
    assert a.to_json_dict() == b.to_json_dict()
    assert a.energy_pJ == evaluate(arch, problem, mapping, ert, art).energy_pJ


def test_invalid_mapping_errors_name_the_mapping_file():
    """A nest built from a mapping file remembers the file, so an overflowing tile found
    by the engine names it; the file takes no part in the numbers or in comparisons."""
    import copy
    import dataclasses

    from cim_plugin.errors import InvalidMappingError

    arch, problem, mapping, ert, art = tensor_core_case()
    nest = build_nest(arch, problem, mapping)
    assert nest.source == "tensor_core.map.yaml"
    engine = Engine(arch, problem, ert, art)
    anonymous = dataclasses.replace(nest, source=None)
    assert anonymous == nest
    assert engine.evaluate(anonymous).to_json_dict() == engine.evaluate(nest).to_json_dict()
    entries = copy.deepcopy(TENSOR_CORE_MAPPING)
    entries[6]["factors"] = "M1 N8 K16"             # LRF holds 16 A words, not 1
    entries[10]["factors"] = "M32 N1 K1"
    bad = mapping_from_list(entries, file="overflow.map.yaml", dims=problem.dimensions)
    with pytest.raises(InvalidMappingError) as e:
        engine.evaluate(build_nest(arch, problem, bad))
    assert e.value.file == "overflow.map.yaml" and e.value.field == "level LRF"
    assert "capacity" in str(e.value)
    with pytest.raises(InvalidMappingError) as e:          # the public entry point too
        evaluate(arch, problem, bad, ert, art)
    assert e.value.file == "overflow.map.yaml"
