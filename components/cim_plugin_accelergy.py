"""Accelergy entry point for cim_plugin's estimators (listed by cim_plugin.estimator.yaml).

Accelergy loads the Estimator classes *defined* in the file it is pointed at, so thin
subclasses of the package's estimators are declared here. The package itself must be
importable by the Python that runs Accelergy (install cim-plugin there, or add its
location to PYTHONPATH).
"""

try:
    from cim_plugin.library import accelergy_plugin as _impl
except ImportError as exc:  # pragma: no cover - depends on Accelergy's environment
    raise ImportError(
        "the cim_plugin Accelergy plug-in needs the cim_plugin package in the Python that "
        f"runs Accelergy ({exc}); install cim-plugin there or add it to PYTHONPATH") from exc


class CimPluginComponentEstimator(_impl.CimPluginComponent):
    """cim_plugin_component: baseline and CiM components of the library."""


class CimMacroComputeEstimator(_impl.CimMacroCompute):
    """cimmac / cim_mac primitives of the CiM macro library."""


class CimMacroStorageEstimator(_impl.CimMacroStorage):
    """cimstorage / cim_storage primitives of the CiM macro library."""
