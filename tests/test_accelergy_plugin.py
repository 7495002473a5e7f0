"""The Accelergy estimator plug-in, driven the way Accelergy's EstimatorWrapper drives it.

Accelergy (accelergy/plug_in_interface/estimator_wrapper.py) loads every Estimator
subclass *defined* in a plug-in module, checks `name`/`percent_accuracy_0_to_100`,
matches component attributes to `__init__` parameters by name (all non-default ones
required), finds actions through the `_is_accelergy_action` marker, calls
`__ListLoggable__init__()` on the new instance, and converts J -> pJ and m^2 -> um^2.
"""

from __future__ import annotations

import importlib.util
import inspect

import pytest

from cim_plugin.library import accelergy_plugin as plugin
from cim_plugin.library import plugin_path
from cim_plugin.library.accelergy_compat import (
    HAVE_ACCELERGY,
    AccelergyQuery,
    Estimator,
)
from cim_plugin.library.loader import clear_cache
from cim_plugin.resources import data_file


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


def test_discovery_and_class_attributes():
    classes = discover(plugin)
    assert {c.__name__ for c in classes} == {"CimMacroCompute", "CimMacroStorage"}
    for c in classes:
        assert isinstance(c.percent_accuracy_0_to_100, int | float)
        assert 0 <= c.percent_accuracy_0_to_100 <= 100
        assert init_args(c)[0] == []           # nothing mandatory: technology etc. have defaults
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


def test_legacy_interface_units():
    p = plugin.CimMacroLegacyPlugIn()
    assert p.get_name() == "cim_plugin_macros"
    q = AccelergyQuery("cimstorage", {"technology": "45nm", "datawidth": 8, "type": "digital6T"},
                       "write", {})
    assert p.primitive_action_supported(q).value > 0
    est = p.estimate_energy(q)
    assert est.value == pytest.approx(3.2) and str(est.unit) == "p"
    qa = AccelergyQuery("cimstorage", {"technology": "45nm", "macro": "analog6T",
                                       "width": 128, "depth": 1})
    area = p.estimate_area(qa)
    assert area.value == pytest.approx(69.932, rel=1e-4) and str(area.unit) == "u^2"
    assert p.primitive_action_supported(AccelergyQuery("SRAM", {}, "read", {})).value == 0
    assert plugin.ACCURACY - 1 == p.primitive_area_supported(qa).value


def test_shipped_entry_file_loads_like_accelergy():
    path = data_file("components", "cim_plugin_accelergy.py")
    spec = importlib.util.spec_from_file_location("cim_plugin_accelergy_entry", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = discover(module)
    assert {c.__name__ for c in classes} == {"CimMacroComputeEstimator",
                                             "CimMacroStorageEstimator"}
    mac = instantiate(by_class_name(classes, "cimmac")[0],
                      {"technology": "45nm", "type": "digital8T"})
    assert mac.compute() * 1e12 == pytest.approx(0.84)
    assert plugin_path().endswith("accelergy_plugin.py")


@pytest.mark.skipif(not HAVE_ACCELERGY, reason="accelergy is not installed")
def test_accelergy_wrapper_integration():  # pragma: no cover - needs Accelergy
    from accelergy.plug_in_interface.estimator_wrapper import get_all_estimators_in_module
    from accelergy.plug_in_interface.interface import AccelergyQuery as Q

    wrappers = get_all_estimators_in_module(plugin, set())
    w = next(w for w in wrappers if "cimmac" in w.class_name)
    q = Q("cimmac", {"technology": "45nm", "datawidth": 8, "type": "analog6T"}, "mac", {})
    assert w.primitive_action_supported(q).value > 0
    assert w.estimate_energy(q).get_value() == pytest.approx(0.15e-12)
