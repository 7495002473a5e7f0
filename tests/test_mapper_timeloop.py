"""The exact search against timeloop-mapper's exhaustive search (skips without Timeloop).

Timeloop's mapper enumerates the whole mapspace of a small spec (algorithm exhaustive,
no early stop); its best mapping, evaluated by our model (which equals timeloop-model),
is never better than our proven optimum, and on these specs it is the same optimum.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from cim_plugin.backends import timeloop as tl
from cim_plugin.mapping.constraints import parse_constraints
from cim_plugin.mapping.mapspace import MapSpace
from cim_plugin.mapping.search import search
from cim_plugin.model.engine import Engine, ModelOptions
from cim_plugin.model.evaluate import evaluate
from cim_plugin.spec.arch import architecture_from_processed
from cim_plugin.spec.ert import ert_from_dict
from cim_plugin.spec.mapping import load_mapping
from cim_plugin.spec.problem import gemm_problem
from tests.realtools import needs, tool_env

ARCH = {"subtree": [{"name": "sys", "attributes": {"technology": "45nm"}, "local": [
    {"name": "DRAM", "class": "DRAM", "attributes": {"width": 64, "datawidth": 8, "read_bandwidth": 4}},
    {"name": "GLB", "class": "SRAM", "attributes": {"depth": 64, "width": 8, "datawidth": 8,
                                                     "read_bandwidth": 2}},
    {"name": "RF[1..4]", "class": "regfile", "attributes": {"depth": 8, "width": 8, "datawidth": 8,
                                                           "meshX": 2, "meshY": 2}},
    {"name": "mac[1..4]", "class": "intmac", "attributes": {"meshX": 2, "meshY": 2, "datawidth": 8}},
]}]}
ERT = {"version": "0.4", "tables": [
    {"name": "sys.DRAM", "actions": [{"name": "read", "energy": 200.0}, {"name": "write", "energy": 200.0},
                                     {"name": "update", "energy": 200.0}, {"name": "leak", "energy": 0.0}]},
    {"name": "sys.GLB", "actions": [{"name": "read", "energy": 6.0}, {"name": "write", "energy": 7.5},
                                    {"name": "update", "energy": 7.5}, {"name": "leak", "energy": 0.0}]},
    {"name": "sys.RF[1..4]", "actions": [{"name": "read", "energy": 0.5}, {"name": "write", "energy": 0.6},
                                         {"name": "update", "energy": 0.6}, {"name": "leak", "energy": 0.0}]},
    {"name": "sys.mac[1..4]", "actions": [{"name": "compute", "energy": 0.3}]}]}
KEEP_ALL = [{"target": n, "type": "bypass", "keep": ["A", "B", "Z"]} for n in ("DRAM", "GLB", "RF")]


@needs("timeloop-mapper")
@pytest.mark.parametrize("gemm", [(3, 2, 6)])
def test_exact_search_equals_timeloop_exhaustive_mapper(tmp_path, gemm):
    doc = {"architecture": {"version": 0.4, **ARCH},
           "architecture_constraints": {"targets": KEEP_ALL},
           "problem": {"version": 0.4, "shape": {
               "name": "gemm", "dimensions": ["M", "N", "K"], "data_spaces": [
                   {"name": "A", "projection": [[["M"]], [["K"]]]},
                   {"name": "B", "projection": [[["N"]], [["K"]]]},
                   {"name": "Z", "projection": [[["M"]], [["N"]]], "read_write": True}]},
               "instance": dict(zip("MNK", gemm))},
           "mapper": {"version": 0.4, "algorithm": "exhaustive", "optimization_metrics": ["edp"],
                      "num_threads": 2, "timeout": 10 ** 9, "victory_condition": 10 ** 9,
                      "search_size": 0, "live_status": False},
           "ERT": ERT, "ART": {"version": "0.4", "tables": []}}
    (tmp_path / "in.yaml").write_text(yaml.safe_dump(doc))
    subprocess.run([str(tl.find_tool(tl.MAPPER)), "in.yaml"], cwd=tmp_path, check=True,
                   capture_output=True, env=tool_env(tmp_path), timeout=1800)
    arch = architecture_from_processed(ARCH)
    problem = gemm_problem(*gemm)
    ert = ert_from_dict({"ERT": ERT})
    options = ModelOptions(compute_latency_cycles=1.0)
    (tmp_path / "theirs.yaml").write_bytes((tmp_path / "timeloop-mapper.map.yaml").read_bytes())
    theirs = evaluate(arch, problem, load_mapping(tmp_path / "theirs.yaml", dims=problem.dimensions),
                      ert, options=options)
    space = MapSpace(arch, problem, parse_constraints(KEEP_ALL, arch, problem))
    ours = search(space, Engine(arch, problem, ert, options=options), mode="exact")
    assert ours.optimal
    assert ours.result.edp <= theirs.edp * (1 + 1e-9)
    assert ours.result.edp == pytest.approx(theirs.edp, rel=1e-9)
