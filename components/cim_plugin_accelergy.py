"""Accelergy entry point for the cim_plugin CiM estimators.

Accelergy loads the Estimator classes *defined* in this file, so thin
subclasses of the package's estimators are declared here.
"""

from cim_plugin.library import accelergy_plugin as _impl


class CimMacroComputeEstimator(_impl.CimMacroCompute):
    """cimmac / cim_mac primitives of the CiM macro library."""


class CimMacroStorageEstimator(_impl.CimMacroStorage):
    """cimstorage / cim_storage primitives of the CiM macro library."""
