"""Accelergy's Estimator base class, or a minimal stand-in when Accelergy is absent.

cim_plugin must import without Accelergy. The stand-in carries the same names and the
behaviour our estimators rely on (the `@actionDynamicEnergy` marker, the per-instance
logger, the `idle` action), so tests can drive the estimators exactly as Accelergy's
EstimatorWrapper does. Accelergy 0.4 loads only `Estimator` subclasses from Python
plug-ins, so nothing else is needed.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

try:  # pragma: no cover - exercised only where Accelergy is installed
    from accelergy.plug_in_interface.estimator import Estimator, actionDynamicEnergy

    HAVE_ACCELERGY = True
except ImportError:
    HAVE_ACCELERGY = False

    def actionDynamicEnergy(func):  # noqa: N802 - Accelergy's name
        """Mark a method as an Accelergy action (returns J)."""
        func._is_accelergy_action = True
        return func

    class Estimator(ABC):  # type: ignore[no-redef]
        """Stand-in for accelergy.plug_in_interface.estimator.Estimator."""

        name: str | list[str] | None = None
        percent_accuracy_0_to_100: float | None = None

        def __init__(self, name: str | None = None) -> None:
            self.__ListLoggable__init__(name)

        def __ListLoggable__init__(self, name: str | None = None) -> None:  # noqa: N802
            self.logger = logging.getLogger(name or self.__class__.__name__)

        @abstractmethod
        def get_area(self) -> float: ...

        @abstractmethod
        def leak(self, global_cycle_seconds: float) -> float: ...

        @actionDynamicEnergy
        def idle(self) -> float:
            return 0

__all__ = ["HAVE_ACCELERGY", "Estimator", "actionDynamicEnergy"]
