"""Accelergy estimator plug-in serving every macro of the CiM macro library.

Primitive classes (as used by the CiM compound components in components/):
  cimmac / cim_mac          actions mac, compute (J per MAC); area 0 (counted on storage)
  cimstorage / cim_storage  actions read (0: reading is the MAC), write, update (J per
                            weight word), leak 0; area = the macro area share of the bits held
Attributes: `type` or `macro` (a macro name; `type: zero` is a free buffer), `technology`
(node, e.g. 45nm), `datawidth` (bits), optional `voltage`, and for storage `width`/`depth`.
Energies are moved to `technology` with Stillmaker & Baas (2017) scaling. Extra macro
files are read from $CIM_PLUGIN_LIBRARY.

Set-up: point Accelergy at this file (path printed by `cim-plugin ert --plugin-path`):
    globals: {accelergy_plug_ins: [<that path>]}
The module defines both interfaces: `Estimator` classes (current Accelergy) and a legacy
`AccelergyPlugIn`; the legacy one reports a lower accuracy so the Estimators win.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.library.accelergy_compat import (
    AccelergyPlugIn,
    AccelergyQuery,
    AccuracyEstimation,
    Estimation,
    Estimator,
    actionDynamicEnergy,
)
from cim_plugin.library.loader import load_macro_library
from cim_plugin.library.macro import Macro
from cim_plugin.library.scaling import parse_node
from cim_plugin.library.tables import macro_area_um2, macro_energies_pJ
from cim_plugin.library.units import parse_quantity

ACCURACY = 80
COMPUTE_CLASSES = ["cimmac", "cim_mac"]
STORAGE_CLASSES = ["cimstorage", "cim_storage"]
PJ = 1e-12
UM2 = 1e-12


def plugin_path() -> str:
    """Absolute path of this plug-in file, for `globals: accelergy_plug_ins: [...]`."""
    return str(Path(__file__).resolve())


class _MacroSelection:
    """Shared attribute handling (not an Estimator itself, so Accelergy skips it)."""

    def _select(self, technology: Any, datawidth: Any, type: Any, macro: Any,
                voltage: Any) -> None:
        chosen = macro if macro not in (None, "") else type
        if chosen in (None, ""):
            raise ValueError("a CiM component needs attribute `type` or `macro`")
        self.zero = str(chosen).strip().lower() == "zero"
        self.node_nm = parse_node(technology, field="technology")
        self.datawidth = int(float(datawidth))
        self.vdd = None if voltage in (None, "") else parse_quantity(voltage, "voltage",
                                                                      field="voltage")
        self.macro: Macro | None = None
        self.mac_pJ = self.write_pJ = 0.0
        if not self.zero:
            lib = load_macro_library()
            if str(chosen) not in lib:
                raise ValueError(f"unknown CiM macro {chosen!r}; known: {', '.join(sorted(lib))}")
            self.macro = lib[str(chosen)]
            self.mac_pJ, self.write_pJ = macro_energies_pJ(self.macro, self.node_nm,
                                                           self.datawidth, self.vdd)


class CimMacroCompute(Estimator, _MacroSelection):
    """MAC energy of a library CiM macro (one compute element of Rp x Cp)."""

    name = COMPUTE_CLASSES
    percent_accuracy_0_to_100 = ACCURACY

    def __init__(self, technology: Any = "45nm", datawidth: Any = 8, type: Any = None,
                 macro: Any = None, voltage: Any = None):
        super().__init__(name="CimMacroCompute")
        self._select(technology, datawidth, type, macro, voltage)

    @actionDynamicEnergy
    def mac(self) -> float:
        return self.mac_pJ * PJ

    @actionDynamicEnergy
    def compute(self) -> float:
        return self.mac_pJ * PJ

    def leak(self, global_cycle_seconds: float) -> float:
        return 0.0   # no published leakage for the macros; static power is not modelled

    def get_area(self) -> float:
        return 0.0   # the macro area is reported once, on the CiM storage


class CimMacroStorage(Estimator, _MacroSelection):
    """Weight storage of a library CiM macro: write/update cost, reads are the MAC."""

    name = STORAGE_CLASSES
    percent_accuracy_0_to_100 = ACCURACY

    def __init__(self, technology: Any = "45nm", datawidth: Any = 8, type: Any = None,
                 macro: Any = None, width: Any = None, depth: Any = None, voltage: Any = None):
        super().__init__(name="CimMacroStorage")
        self._select(technology, datawidth, type, macro, voltage)
        self.bits = None
        if width is not None:
            self.bits = float(width) * float(depth if depth is not None else 1)

    @actionDynamicEnergy
    def read(self) -> float:
        return 0.0

    @actionDynamicEnergy
    def write(self) -> float:
        return self.write_pJ * PJ

    @actionDynamicEnergy
    def update(self) -> float:
        return self.write_pJ * PJ

    def leak(self, global_cycle_seconds: float) -> float:
        return 0.0

    def get_area(self) -> float:
        if self.zero or self.macro is None:
            return 0.0
        m = self.macro
        bits = self.bits if self.bits is not None else m.rh * m.ch * self.datawidth
        return macro_area_um2(m, self.node_nm) * bits / (m.capacity_bytes * 8) * UM2


class CimMacroLegacyPlugIn(AccelergyPlugIn):
    """The same estimates through Accelergy's older query interface (pJ, um^2)."""

    def __init__(self) -> None:
        super().__init__()

    def get_name(self) -> str:
        return "cim_plugin_macros"

    def _estimator(self, query: AccelergyQuery) -> CimMacroCompute | CimMacroStorage | None:
        attrs = {k: v for k, v in (query.class_attrs or {}).items()}
        if query.class_name in COMPUTE_CLASSES:
            keys = ("technology", "datawidth", "type", "macro", "voltage")
            return CimMacroCompute(**{k: attrs[k] for k in keys if k in attrs})
        if query.class_name in STORAGE_CLASSES:
            keys = ("technology", "datawidth", "type", "macro", "width", "depth", "voltage")
            return CimMacroStorage(**{k: attrs[k] for k in keys if k in attrs})
        return None

    def _supported(self, query: AccelergyQuery, action: bool) -> AccuracyEstimation:
        try:
            est = self._estimator(query)
        except (ValueError, InputError):
            return AccuracyEstimation(0)
        if est is None:
            return AccuracyEstimation(0)
        if action and not callable(getattr(est, str(query.action_name), None)):
            return AccuracyEstimation(0)
        return AccuracyEstimation(ACCURACY - 1)

    def primitive_action_supported(self, query: AccelergyQuery) -> AccuracyEstimation:
        return self._supported(query, action=True)

    def primitive_area_supported(self, query: AccelergyQuery) -> AccuracyEstimation:
        return self._supported(query, action=False)

    def estimate_energy(self, query: AccelergyQuery) -> Estimation:
        est = self._estimator(query)
        if est is None:
            raise ValueError(f"class {query.class_name} is not a CiM macro class")
        if query.action_name == "leak":
            value = est.leak(float((query.action_args or {}).get("global_cycle_seconds", 1e-9)))
        else:
            value = getattr(est, str(query.action_name))()
        return Estimation(value / PJ, "p")

    def estimate_area(self, query: AccelergyQuery) -> Estimation:
        est = self._estimator(query)
        if est is None:
            raise ValueError(f"class {query.class_name} is not a CiM macro class")
        return Estimation(est.get_area() / UM2, "u^2")
