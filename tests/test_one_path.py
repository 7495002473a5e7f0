"""One rule, wherever it is asked for: a problem's own dimension names in the targets the
v0.4 flattening adds, the study's mapping strategies as search presets, and one
estimator path for CiM areas whether Accelergy asks or `cim-plugin ert` does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cim_plugin.cli import main
from cim_plugin.errors import InputError
from cim_plugin.library.accelergy_plugin import CimMacroCompute, CimMacroStorage
from cim_plugin.library.loader import clear_cache
from cim_plugin.library.tables import estimate_component
from cim_plugin.spec.arch import Component
from cim_plugin.spec.problem import gemm_problem, gemm_problem_doc, load_problem
from cim_plugin.study.config import load_config


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("CIM_PLUGIN_LIBRARY", raising=False)
    clear_cache()


# ------------------------------------------------------------------ problem names
def _figures(capsys, argv: list[str]) -> tuple[int, float]:
    assert main(argv) == 0, capsys.readouterr().err
    data = json.loads(Path(argv[argv.index("--json") + 1]).read_text())
    return data["cycles"], data["energy_pJ"]


def test_exported_tensor_core_maps_a_problem_with_lowercase_dimensions(tmp_path, capsys):
    """The fan-out levels' targets the flattening adds name the problem's dimensions and
    tensors, not the GEMM's M, N, K: the same design and GEMM written with m, n, k maps
    to the same answer."""
    folder = tmp_path / "tc"
    assert main(["export", "--design", "tensor_core", "--gemm", "16,32,8", "-o",
                 str(folder)]) == 0
    upper = (folder / "problem.yaml").read_text()
    lower = tmp_path / "problem_lc.yaml"
    lower.write_text(re.sub(r"\b([MNK])\b", lambda m: m.group(1).lower(), upper))
    assert "- m" in lower.read_text() and "m: 16" in lower.read_text()
    arch = str(folder / "arch.yaml")
    ref = _figures(capsys, ["map", arch, str(folder / "problem.yaml"), "-o", str(tmp_path / "a"),
                        "--json", str(tmp_path / "a.json")])
    got = _figures(capsys, ["map", arch, str(lower), "-o", str(tmp_path / "b"),
                        "--json", str(tmp_path / "b.json")])
    assert got == ref
    assert re.search(r"factors: m\d+ n\d+ k\d+", (tmp_path / "b" / "map.yaml").read_text())


def test_gemm_problem_and_its_document_agree():
    assert load_problem(gemm_problem_doc(3, 5, 7)) == gemm_problem(3, 5, 7)
    assert gemm_problem(3, 5, 7).macs == 3 * 5 * 7


# ------------------------------------------------------------------ strategies
def test_baseline_strategy_seed_is_refused(tmp_path):
    """The baseline has no priority mapping to return, so `seed` would silently run the
    full search: it is refused, naming the field and what is valid."""
    cfg = tmp_path / "study.yaml"
    cfg.write_text("study:\n  baseline_strategy: seed\n")
    with pytest.raises(InputError) as exc:
        load_config(cfg)
    assert exc.value.field == "baseline_strategy" and exc.value.file == str(cfg)
    assert "search" in str(exc.value.expected)


def test_baseline_strategy_seed_exits_2_in_one_line(tmp_path, capsys):
    cfg = tmp_path / "study.yaml"
    cfg.write_text("study:\n  baseline_strategy: seed\n")
    assert main(["study", str(cfg), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "baseline_strategy" in err and "study.yaml" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ estimator path
def _storage(**attrs) -> Component:
    return Component(name="CiMStorage", base_name="CiMStorage", cls="storage",
                     subclass="custom_storage", instances=1, mesh_x=1, mesh_y=1,
                     attributes=attrs)


def test_cim_storage_area_without_width_and_depth_is_one_number():
    """analog6T: 4096 B macro of 1.34 x 13360.13 um^2 at 45 nm; one storage instance holds
    one compute element's weights, Rh x Ch words of 8 b = 1 x 16 x 8 = 128 of the
    macro's 32768 bits: 1.34 x 13360.13 x 128 / 32768 = 69.932 um^2, whether Accelergy
    asks the plug-in or the ERT/ART generator asks the library."""
    hand = 1.34 * 13360.13 * 128 / 32768
    plugin = CimMacroStorage(technology="45nm", datawidth=8, macro="analog6T")
    ert = estimate_component(_storage(technology="45nm", datawidth=8, macro="analog6T"))
    assert plugin.get_area() == pytest.approx(hand * 1e-12, rel=1e-5)
    assert ert.area_um2 == pytest.approx(hand, rel=1e-5)
    assert plugin.get_area() == ert.area_um2 * 1e-12


def test_cim_storage_given_width_and_depth():
    # 2 rows of 256 b: 512 of 32768 bits
    hand = 1.34 * 13360.13 * 512 / 32768
    plugin = CimMacroStorage(technology="45nm", macro="analog6T", width=256, depth=2)
    ert = estimate_component(_storage(technology="45nm", macro="analog6T", width=256, depth=2))
    assert plugin.get_area() == pytest.approx(hand * 1e-12, rel=1e-5)
    assert ert.area_um2 == pytest.approx(hand, rel=1e-5)


def test_macro_classes_against_accelergys_own_wrapper():
    """Where Accelergy is importable, its own discovery and wrapper drive the plug-in."""
    pytest.importorskip("accelergy.plug_in_interface.estimator")
    from accelergy.plug_in_interface.estimator import Estimator
    from accelergy.plug_in_interface.estimator_wrapper import get_all_estimators_in_module
    from accelergy.plug_in_interface.interface import AccelergyQuery

    from cim_plugin.library import accelergy_plugin

    assert issubclass(CimMacroStorage, Estimator) and issubclass(CimMacroCompute, Estimator)
    wrappers = {w.get_name(): w for w in get_all_estimators_in_module(accelergy_plugin, set())}
    assert set(wrappers) == {"CimPluginComponent", "CimMacroCompute", "CimMacroStorage"}
    attrs = {"technology": "45nm", "datawidth": 8, "type": "analog6T"}
    mac = wrappers["CimMacroCompute"].estimate_energy(
        AccelergyQuery("cimmac", attrs, "mac", {}))
    # cim-library-accelergy/cimmac.csv (WWW): analog6T 0.15 pJ per MAC at 45 nm, 8 b
    assert mac.value == pytest.approx(0.15e-12)
    area = wrappers["CimMacroStorage"].estimate_area(AccelergyQuery("cimstorage", attrs))
    assert area.value == pytest.approx(1.34 * 13360.13 * 128 / 32768 * 1e-12, rel=1e-5)


# ------------------------------------------------------------------ model steps
def test_counts_check_and_cost_with_a_status():
    """The engine's steps: counts, a status instead of an exception, then cost. The
    tensor-core case keeps a 128-word Z tile at RF (stats.txt: utilized capacity 128);
    with RF at 64 words the status names RF and the capacity, and evaluate raises it."""
    import copy

    from cim_plugin.errors import InvalidMappingError
    from cim_plugin.model.engine import Engine
    from cim_plugin.model.nest import build_nest
    from cim_plugin.spec.arch import architecture_from_processed
    from tests.test_model_tensor_core import TENSOR_CORE_ARCH, tensor_core_case

    arch, problem, mapping, ert, art = tensor_core_case()
    engine = Engine(arch, problem, ert, art)
    nest = build_nest(arch, problem, mapping)
    counts = engine.access_counts(nest)
    rf = [lv.base_name for lv in arch.storage].index("RF")
    assert counts.levels[rf]["Z"].utilized_capacity == 128
    assert counts.levels[rf]["Z"].updates == 8388608         # stats.txt: RF Z updates
    status, result = engine.try_evaluate(nest)
    assert status.ok and result is not None and result.cycles == 3295525
    assert engine.cost(engine.access_counts(nest)).energy_pJ == result.energy_pJ

    small = copy.deepcopy(TENSOR_CORE_ARCH)
    found = [lv for lv in small["subtree"][0]["local"] if lv["name"].startswith("RF")]
    found[0]["attributes"]["depth"] = 64
    tiny = architecture_from_processed(small, "small_rf")
    engine = Engine(tiny, problem, ert, art)
    nest = build_nest(tiny, problem, mapping)
    status, result = engine.try_evaluate(nest)
    assert (status.ok, status.level, status.reason, result) == (False, "RF", "capacity", None)
    with pytest.raises(InvalidMappingError, match="128 exceeds buffer capacity 64"):
        engine.evaluate(nest)


def test_search_counts_capacity_failures_per_level():
    """The search counts the choices it drops for overflowing a level, per level (the
    tensor core at 256^3 without pinned factors: RF holds 128 words of Z, so some factor
    choices overflow it)."""
    from cim_plugin import api
    from cim_plugin.export.build import Sizing, build
    from cim_plugin.library.ert_gen import generate_tables

    b = build("tensor_core", None, (256, 256, 256), Sizing())
    targets = [t for t in b.processed["architecture_constraints"]["targets"]
               if t.get("type") in ("bypass", "dataspace", "datatype")]
    ert, art = generate_tables(b.architecture)
    stats = api.map_problem(b.architecture, gemm_problem(256, 256, 256), ert, art,
                            targets=targets).search.stats
    at = stats["pruned_capacity_at"]
    assert at and set(at) <= {lv.base_name for lv in b.architecture.storage}
    assert sum(at.values()) == stats["pruned_capacity"] > 0


# ------------------------------------------------------------------ schema checks
@pytest.mark.parametrize(("field", "value", "detail", "expected"), [
    ("smem_depth", 0, "must be positive, got 0", "a positive int"),
    ("clock_GHz", -1.0, "must be positive, got -1.0", "a positive float"),
    ("datawidth", True, "has the wrong type (bool)", "int"),
    ("rp", 4.0, "has the wrong type (float)", "int"),
    ("with_l2", 1, "has the wrong type (int)", "bool"),
    ("cimtype", 6, "has the wrong type (int)", "str"),
])
def test_design_params_refused_by_their_annotations(field, value, detail, expected):
    from cim_plugin.export.templates import DesignParams

    with pytest.raises(InputError) as exc:
        DesignParams.from_mapping({field: value})
    assert exc.value.field == field and exc.value.expected == expected
    assert exc.value.detail == f"parameter {field} {detail}"
    assert DesignParams.from_mapping({"clock_GHz": 2}).clock_GHz == 2      # an int is a float
