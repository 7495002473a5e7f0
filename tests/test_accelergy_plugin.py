"""The Accelergy estimator plug-in, driven the way Accelergy drives it.

Accelergy (accelergy/plug_in_interface/estimator_wrapper.py) loads every Estimator
subclass *defined* in a plug-in module, checks `name`/`percent_accuracy_0_to_100`,
matches component attributes to `__init__` parameters by name (all non-default ones
required), finds actions through the `_is_accelergy_action` marker, calls
`__ListLoggable__init__()` on the new instance, and converts J -> pJ and m^2 -> um^2.
A compound component's action costs the sum of its sub-actions; its area the sum of
its subcomponents' (docs/timeloop-accelergy.md §5). `expand` below does exactly that
for components/cim_components.yaml, so the self-contained tests check that Accelergy,
given our compound components, computes our ERT/ART; the last tests run the real
Accelergy (through timeloopfe) when it is installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
from pathlib import Path

import pytest
import yaml

from cim_plugin.export.build import build
from cim_plugin.export.templates import DESIGNS
from cim_plugin.library import accelergy_plugin as plugin
from cim_plugin.library import generate_tables, get_macro, load_macro_library, plugin_path
from cim_plugin.library.accelergy_compat import Estimator
from cim_plugin.library.loader import clear_cache
from cim_plugin.resources import data_file
from cim_plugin.spec.arch import Component


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("CIM_PLUGIN_LIBRARY", raising=False)
    clear_cache()


def discover(module) -> list[type]:
    """Accelergy's get_all_estimators_in_module rule."""
    return [x for _, x in inspect.getmembers(module, inspect.isclass)
            if x.__module__ == module.__name__ and issubclass(x, Estimator) and x is not Estimator]


def init_args(cls) -> tuple[list[str], list[str]]:
    code = cls.__init__.__code__
    args = list(code.co_varnames[1:code.co_argcount])
    n_default = len(cls.__init__.__defaults__ or ())
    return args[:len(args) - n_default], args[len(args) - n_default:]


def instantiate(cls, attrs: dict):
    required, optional = init_args(cls)
    assert all(attrs.get(a) is not None for a in required)
    obj = cls(**{k: v for k, v in attrs.items() if k in required + optional})
    obj.__ListLoggable__init__()
    return obj


def actions(cls) -> dict[str, object]:
    found = {a: getattr(cls, a) for a in dir(cls)
             if getattr(getattr(cls, a), "_is_accelergy_action", False)}
    found["leak"] = cls.leak
    return found


def call(cls, obj, action: str, args: dict | None = None) -> float:
    fn = actions(cls)[action]
    code = fn.__code__
    names = code.co_varnames[1:code.co_argcount]
    return fn(obj, **{k: v for k, v in (args or {}).items() if k in names})


def by_class_name(classes, name):
    return [c for c in classes if name in ([c.name] if isinstance(c.name, str) else c.name)]


# ------------------------------------------------------------------ Accelergy's expansion

COMPOUND = yaml.safe_load(data_file("components", "cim_components.yaml").read_text())
CLASSES = {c["name"]: c for c in COMPOUND["compound_components"]["classes"]}
# attributes Accelergy v0.4 injects into every primitive query (parsing_utils.py)
INJECTED = {"n_instances": 1, "action_latency_cycles": 1}


def expand(comp: Component) -> tuple[dict[str, float], float]:
    """(action -> pJ, area um^2) Accelergy computes for `comp` from our compound classes."""
    cc = CLASSES[comp.estimator_class]
    attrs = {k: v for k, v in (cc.get("attributes") or {}).items() if v != "must_specify"}
    attrs.update(comp.attributes)
    energies: dict[str, float] = {}
    area = 0.0
    subs = {}
    for sub in cc["subcomponents"]:
        sub_attrs = {}
        for key, expr in (sub.get("attributes") or {}).items():
            # a bare name refers to the compound's attribute; anything else is a literal
            sub_attrs[key] = attrs[expr] if isinstance(expr, str) and expr in attrs else expr
        sub_attrs.update(INJECTED, cycle_seconds=attrs.get("global_cycle_seconds"))
        sub_attrs.setdefault("global_cycle_seconds", attrs.get("global_cycle_seconds"))
        cls = by_class_name(discover(plugin), sub["class"])[0]
        obj = instantiate(cls, sub_attrs)
        subs[sub["name"]] = (cls, obj)
        area += obj.get_area() * 1e12
    for action in cc["actions"]:
        total = 0.0
        for ref in action["subcomponents"]:
            cls, obj = subs[ref["name"]]
            for a in ref["actions"]:
                total += call(cls, obj, a["name"], {"global_cycle_seconds": 1e-9}) * 1e12
        energies[action["name"]] = total
    return energies, area


DESIGN_MACROS = [(d, None) for d in DESIGNS if DESIGNS[d][1] is None] + \
    [(d, m) for d in DESIGNS if DESIGNS[d][1] is not None
     for m in ("analog6T", "analog8T", "digital6T", "digital8T", "chih_isscc21", "si_isscc20")]


@pytest.mark.parametrize("design, macro", DESIGN_MACROS)
def test_compound_components_give_our_ert_and_art(design, macro):
    """Every component of every template: Accelergy's sum over our compound classes equals
    `cim-plugin ert` (the same estimate; the ERT rounds to 9 decimals, Accelergy to 6 digits)."""
    b = build(design, get_macro(macro) if macro else None, (64, 256, 256))
    ert, art = generate_tables(b.architecture)
    for comp in b.architecture.components:
        if comp.cls == "dummy_storage":
            continue                     # Accelergy's dummy estimator: area 1, no actions
        energies, area = expand(comp)
        assert area == pytest.approx(art.areas[comp.base_name], rel=1e-6, abs=1e-9), comp.name
        for action, pj in ert.tables[comp.base_name].items():
            assert energies[action] == pytest.approx(pj, rel=1e-6, abs=1e-9), (comp.name, action)
        assert set(energies) == set(ert.tables[comp.base_name]), comp.name


def test_every_library_macro_through_the_compound_components():
    """Each library macro at RF level: the CiM unit's compute and the storage's write and
    area equal the library's figures, whatever node the macro comes from."""
    for name in sorted(load_macro_library()):
        b = build("cim_rf", get_macro(name), (64, 256, 256))
        ert, art = generate_tables(b.architecture)
        by = {c.base_name: c for c in b.architecture.components}
        for level in ("CiMUnit", "CiMStorage"):
            energies, area = expand(by[level])
            assert energies == pytest.approx(ert.tables[level]), (name, level)
            assert area == pytest.approx(art.areas[level]), (name, level)


def test_baseline_figures_through_the_compound_components():
    """tensor_core: the figures of the WWWtoCiM reference run tensor_core_like/outputs
    (timeloop-mapper.ERT.yaml/ART.yaml), which Accelergy's generic estimators do not give
    for the RF and the MAC."""
    b = build("tensor_core", None, (64, 64, 64))
    by = {c.base_name: c for c in b.architecture.components}
    rf, rf_area = expand(by["RF"])
    assert rf["read"] == pytest.approx(11.38848) and rf["write"] == pytest.approx(11.46723)
    assert rf_area == pytest.approx(6731.96)
    mac, mac_area = expand(by["mac"])
    assert mac == pytest.approx({"compute": 0.2625, "leak": 0.003}) and mac_area == 347.5
    smem, smem_area = expand(by["SMEM"])
    assert smem["read"] == pytest.approx(124.695312) and smem_area == pytest.approx(1068811.0)
    assert smem["metadata_read"] == pytest.approx(25.8695)
    dram, _ = expand(by["DRAM"])
    assert dram == {"read": 512.0, "write": 512.0, "update": 512.0, "leak": 0.0}


def test_cim_area_real_by_default_placeholder_on_request():
    """1.34 x 13360.13 um^2 per 4096 B analog6T macro; one CiMStorage instance holds 128 of
    its 32768 bits -> 69.932 um^2. `cim_area: placeholder` is WWW's 1 um^2."""
    b = build("cim_rf", get_macro("analog6T"), (64, 256, 256))
    by = {c.base_name: c for c in b.architecture.components}
    assert expand(by["CiMStorage"])[1] == pytest.approx(69.932, rel=1e-4)
    assert expand(by["CiMUnit"])[1] == 0.0 and expand(by["CiMInpBuffer"])[1] == 0.0
    storage = by["CiMStorage"]
    placeholder = dataclasses.replace(storage, attributes={**storage.attributes,
                                                           "cim_area": "placeholder"})
    assert expand(placeholder)[1] == 1.0
    bad = dataclasses.replace(storage, attributes={**storage.attributes, "cim_area": "huge"})
    with pytest.raises(ValueError, match="placeholder"):
        expand(bad)


def test_component_estimator_refuses_what_it_cannot_price():
    cls = by_class_name(discover(plugin), "cim_plugin_component")[0]
    with pytest.raises(ValueError, match="component_class"):
        instantiate(cls, {"technology": "45nm"})
    with pytest.raises(ValueError, match="fancy_mac"):
        instantiate(cls, {"component_class": "fancy_mac", "technology": "45nm"})
    rf = instantiate(cls, {"component_class": "smartbuffer_RF", "technology": "45nm",
                           "width": 8, "depth": 4096, "global_cycle_seconds": 1e-9})
    with pytest.raises(ValueError, match="no action 'compute'"):
        rf.compute()


# ------------------------------------------------------------------ per-macro classes

def test_discovery_and_class_attributes():
    classes = discover(plugin)
    assert {c.__name__ for c in classes} == {"CimPluginComponent", "CimMacroCompute",
                                             "CimMacroStorage"}
    for c in classes:
        assert isinstance(c.percent_accuracy_0_to_100, int | float)
        assert 0 <= c.percent_accuracy_0_to_100 <= 100
        assert init_args(c)[0] == []           # nothing mandatory: Accelergy may omit any
    assert by_class_name(classes, "cimmac") and by_class_name(classes, "cimstorage")


# cim-library-accelergy/cimmac.csv, cimstorage.csv (WWW): pJ at 45 nm, 8 b
WWW = {"analog6T": (0.15, 1.9), "analog8T": (0.09, 3.0), "digital6T": (0.34, 3.2),
       "digital8T": (0.84, 1.7)}


@pytest.mark.parametrize("cim_type", sorted(WWW))
def test_energies_in_joules_as_accelergy_calls(cim_type):
    attrs = {"technology": "45nm", "datawidth": 8, "type": cim_type,
             "global_cycle_seconds": 1e-9, "width": 128, "depth": 1}   # surplus attrs ignored
    mac_cls = by_class_name(discover(plugin), "cimmac")[0]
    sto_cls = by_class_name(discover(plugin), "cimstorage")[0]
    mac, sto = instantiate(mac_cls, attrs), instantiate(sto_cls, attrs)
    e_mac, e_write = WWW[cim_type]
    assert call(mac_cls, mac, "mac") * 1e12 == pytest.approx(e_mac)
    assert call(mac_cls, mac, "compute") * 1e12 == pytest.approx(e_mac)
    assert call(sto_cls, sto, "write") * 1e12 == pytest.approx(e_write)
    assert call(sto_cls, sto, "update") * 1e12 == pytest.approx(e_write)
    assert call(sto_cls, sto, "read") == 0.0
    assert call(sto_cls, sto, "leak", {"global_cycle_seconds": 1e-9}) == 0.0
    assert call(mac_cls, mac, "idle") == 0


def test_area_in_square_metres():
    sto_cls = by_class_name(discover(plugin), "cimstorage")[0]
    sto = instantiate(sto_cls, {"technology": "45nm", "datawidth": 8, "macro": "analog6T",
                                "width": 128, "depth": 1})
    # 1.34 x 13360.13 um^2 per 4096 B macro; 128 of its 32768 bits -> 69.932 um^2
    assert sto.get_area() == pytest.approx(69.932e-12, rel=1e-4)
    mac = instantiate(by_class_name(discover(plugin), "cimmac")[0],
                      {"technology": "45nm", "type": "analog6T"})
    assert mac.get_area() == 0.0
    zero = instantiate(sto_cls, {"technology": "45nm", "type": "zero", "width": 8, "depth": 16})
    assert zero.get_area() == 0.0 and zero.write() == 0.0


def test_published_macro_scaled_to_requested_node():
    cls = by_class_name(discover(plugin), "cimmac")[0]
    native = instantiate(cls, {"technology": "65nm", "macro": "colonnade_jssc21",
                               "datawidth": 8, "voltage": 0.8})
    # cim-macros.md [CL]: Colonnade 1170 fJ/MAC at 65 nm, 0.8 V, 8b x 8b
    assert native.mac() == pytest.approx(1170e-15)
    at45 = instantiate(cls, {"technology": "45nm", "macro": "colonnade_jssc21", "datawidth": 8})
    # 65 nm 0.8 V: 3.755*0.64 - 4.398*0.8 + 1.975 = 0.9318; 45 nm 1.0 V: 0.8612
    assert at45.mac() == pytest.approx(1170e-15 * 0.8612 / 0.9318, rel=1e-4)


def test_unknown_macro_cannot_estimate():
    cls = by_class_name(discover(plugin), "cimmac")[0]
    with pytest.raises(ValueError, match="analog6T"):
        instantiate(cls, {"technology": "45nm", "type": "nope"})


def test_shipped_entry_file_loads_like_accelergy():
    path = data_file("components", "cim_plugin_accelergy.py")
    spec = importlib.util.spec_from_file_location("cim_plugin_accelergy_entry", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = discover(module)
    assert {c.__name__ for c in classes} == {"CimPluginComponentEstimator",
                                             "CimMacroComputeEstimator",
                                             "CimMacroStorageEstimator"}
    mac = instantiate(by_class_name(classes, "cimmac")[0],
                      {"technology": "45nm", "type": "digital8T"})
    assert mac.compute() * 1e12 == pytest.approx(0.84)
    assert Path(plugin_path()).is_file() and plugin_path().endswith("accelergy_plugin.py")
    descriptor = yaml.safe_load(data_file("components", "cim_plugin.estimator.yaml").read_text())
    assert descriptor["python_plug_ins"] == ["cim_plugin_accelergy.py"]


def test_commands_do_not_import_accelergy(tmp_path):
    """Accelergy prints where its config file is when its plug-in interface is imported;
    cim-plugin's commands (ert, --plugin-path, export) never import it, so that line never
    reaches their output. A stand-in `accelergy` package prints a marker on import."""
    import os
    import subprocess
    import sys

    fake = tmp_path / "site" / "accelergy"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("print('ACCELERGY IMPORTED')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = tmp_path / "d"
    for argv in (["ert", "--plugin-path"],
                 ["export", "--design", "cim_rf", "--macro", "analog6T", "--gemm", "16,64,64",
                  "-o", str(out)],
                 ["ert", str(out / "arch.yaml"), "-o", str(tmp_path / "t")]):
        proc = subprocess.run([sys.executable, "-m", "cim_plugin", *argv], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "ACCELERGY IMPORTED" not in proc.stdout + proc.stderr, argv
