"""Accelergy estimator plug-in: every energy and area of cim_plugin's component library.

One source of truth: the compound components of `components/cim_components.yaml`
(DRAM, smartbuffer_SRAM/_RF/_metadata, intmac, custom_storage, cimmac_unit) each
bottom out in one primitive of class `cim_plugin_component`, which this plug-in
prices with `cim_plugin.library.tables.estimate_component`, the code `cim-plugin ert`
and the embedded model use. Accelergy therefore reproduces our ERT/ART exactly
(to Accelergy's 6 significant digits) instead of falling back to its generic
estimators, which price the baseline's register file and integer MAC differently.

Primitive classes served:
  cim_plugin_component      attribute `component_class` names the library class
                            (e.g. "smartbuffer_RF", "custom_storage"); the other
                            attributes are the component's own (width, depth, type,
                            macro, technology, datawidth, ...); actions as in its table
  cimmac / cim_mac          one MAC of a library macro (actions mac, compute); area 0
  cimstorage / cim_storage  a macro's weight storage (read 0, write, update; leak 0);
                            area = its share of the macro area
Energies are returned in J and areas in m^2, as Accelergy expects. Extra macro and
table files are read from $CIM_PLUGIN_LIBRARY.

Accelergy loads the Estimator classes defined in a plug-in file it is pointed at
(`components/cim_plugin_accelergy.py` through `cim_plugin.estimator.yaml`, or this
file); `cim_plugin` must be importable by Accelergy's Python. See
docs/timeloop-accelergy.md §5.
"""

from __future__ import annotations

from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.library.accelergy_compat import Estimator, actionDynamicEnergy
from cim_plugin.library.tables import (
    CIM_AREA_ATTRIBUTE,
    CIM_STORAGE_CLASSES,
    CIM_UNIT_CLASSES,
    Estimate,
    estimate_component,
)
from cim_plugin.spec.arch import Component

ACCURACY = 95          # our own classes: nothing else estimates them
COMPONENT_CLASSES = ["cim_plugin_component"]
COMPUTE_CLASSES = ["cimmac", "cim_mac"]
STORAGE_CLASSES = ["cimstorage", "cim_storage"]
PJ = 1e-12
UM2 = 1e-12


def _given(value: Any) -> bool:
    """Accelergy passes unset optional attributes as None or as the compound default ""."""
    return value is not None and not (isinstance(value, str) and value.strip() == "")


def _library_estimate(cls: str, given: dict[str, Any]) -> Estimate:
    """`estimate_component` for a component of library class `cls` with the attributes
    Accelergy gave (unset ones left out, so the library's defaults apply): the one
    estimator path of `cim-plugin ert` and the embedded model. An input the library
    refuses becomes the ValueError Accelergy reports as "cannot estimate"."""
    attrs = {k: (str(v) if isinstance(v, str) else v) for k, v in given.items() if _given(v)}
    comp = Component(name=cls, base_name=cls, cls=cls, subclass=None, instances=1,
                     mesh_x=1, mesh_y=1, attributes=attrs)
    try:
        est = estimate_component(comp)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    return est if est is not None else Estimate((), 0.0)


def _action(name: str, table_action: str | None = None):
    """An Accelergy action `name` (J) priced as the library's `table_action` (default the
    same name); Accelergy finds it by its marker and calls it by its name."""
    def act(self) -> float:
        return self._energy(table_action or name)

    act.__name__ = act.__qualname__ = name
    return actionDynamicEnergy(act)


class _LibraryEstimate:
    """Actions and area of one library estimate, in Accelergy's units (J, m^2); a mixin,
    not an Estimator, so Accelergy's discovery does not take it for a plug-in class."""

    def _use(self, cls: str, given: dict[str, Any]) -> None:
        self.component_class = cls
        self.estimate = _library_estimate(cls, given)
        self.energies_pJ = {a: e for a, e, _ in self.estimate.actions}

    def _energy(self, action: str) -> float:
        if action not in self.energies_pJ:
            raise ValueError(f"{self.component_class} has no action {action!r}; it has "
                             f"{', '.join(self.energies_pJ) or 'none'}")
        return self.energies_pJ[action] * PJ

    def leak(self, global_cycle_seconds: float = 1e-9) -> float:
        """Leakage per cycle, as the table records it (J); 0 where the table has none."""
        return self.energies_pJ.get("leak", 0.0) * PJ

    def get_area(self) -> float:
        return self.estimate.area_um2 * UM2


class CimPluginComponent(_LibraryEstimate, Estimator):
    """A component of the library, priced exactly as `cim-plugin ert` prices it.

    The attribute names are those of the architecture (Accelergy matches component
    attributes to these parameters by name); unset ones are left out of the
    component, so the library's defaults apply as they do for `cim-plugin ert`.
    """

    name = COMPONENT_CLASSES
    percent_accuracy_0_to_100 = ACCURACY

    def __init__(self, component_class: Any = None, technology: Any = None,
                 global_cycle_seconds: Any = None, width: Any = None, depth: Any = None,
                 datawidth: Any = None, metadata_storage_width: Any = None,
                 metadata_storage_depth: Any = None, type: Any = None, macro: Any = None,
                 voltage: Any = None, multiplier_width: Any = None, adder_width: Any = None,
                 cim_area: Any = None, n_instances: Any = None,
                 action_latency_cycles: Any = None, cycle_seconds: Any = None):
        super().__init__(name="CimPluginComponent")
        if not _given(component_class):
            raise ValueError("a cim_plugin_component needs attribute `component_class`")
        given = {"technology": technology, "global_cycle_seconds": global_cycle_seconds,
                 "width": width, "depth": depth, "datawidth": datawidth,
                 "metadata_storage_width": metadata_storage_width,
                 "metadata_storage_depth": metadata_storage_depth, "type": type,
                 "macro": macro, "voltage": voltage, "multiplier_width": multiplier_width,
                 "adder_width": adder_width, CIM_AREA_ATTRIBUTE: cim_area}
        self._use(str(component_class).strip(), given)

    read, write, update = _action("read"), _action("write"), _action("update")
    metadata_read, metadata_write = _action("metadata_read"), _action("metadata_write")
    metadata_update = _action("metadata_update")
    decompression_count = _action("decompression_count")
    compression_count = _action("compression_count")
    compute = _action("compute")


class CimMacroCompute(_LibraryEstimate, Estimator):
    """MAC energy of a library CiM macro (one compute element of Rp x Cp): the library's
    CiM unit class (`cimmac_unit`); its area is reported once, on the CiM storage."""

    name = COMPUTE_CLASSES
    percent_accuracy_0_to_100 = ACCURACY

    def __init__(self, technology: Any = None, datawidth: Any = None, type: Any = None,
                 macro: Any = None, voltage: Any = None):
        super().__init__(name="CimMacroCompute")
        self._use(CIM_UNIT_CLASSES[0], {"technology": technology, "datawidth": datawidth,
                                        "type": type, "macro": macro, "voltage": voltage})

    mac, compute = _action("mac", "compute"), _action("compute")


class CimMacroStorage(_LibraryEstimate, Estimator):
    """Weight storage of a library CiM macro (the library's `custom_storage` class):
    write/update cost, reads are the MAC; area = its share of the macro area."""

    name = STORAGE_CLASSES
    percent_accuracy_0_to_100 = ACCURACY

    def __init__(self, technology: Any = None, datawidth: Any = None, type: Any = None,
                 macro: Any = None, width: Any = None, depth: Any = None, voltage: Any = None):
        super().__init__(name="CimMacroStorage")
        self._use(CIM_STORAGE_CLASSES[0], {"technology": technology, "datawidth": datawidth,
                                           "type": type, "macro": macro, "width": width,
                                           "depth": depth, "voltage": voltage})

    read, write, update = _action("read"), _action("write"), _action("update")
