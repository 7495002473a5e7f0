"""Accelergy's plug-in base classes, or minimal stand-ins when Accelergy is absent.

cim_plugin must import without Accelergy. The stand-ins carry the same names and
the behaviour our estimators rely on (the `@actionDynamicEnergy` marker, the
per-instance logger, Estimation units), so tests can drive the estimators exactly
as Accelergy's EstimatorWrapper does.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

try:  # pragma: no cover - exercised only where Accelergy is installed
    from accelergy.plug_in_interface.estimator import Estimator, actionDynamicEnergy
    from accelergy.plug_in_interface.interface import (
        AccelergyPlugIn,
        AccelergyQuery,
        AccuracyEstimation,
        Estimation,
    )

    HAVE_ACCELERGY = True
except ImportError:
    HAVE_ACCELERGY = False

    def actionDynamicEnergy(func):  # noqa: N802 - Accelergy's name
        """Mark a method as an Accelergy action (returns J)."""
        func._is_accelergy_action = True
        return func

    class _ListLoggable:
        def __init__(self, name: str | None = None) -> None:
            self.__ListLoggable__init__(name)

        def __ListLoggable__init__(self, name: str | None = None) -> None:  # noqa: N802
            self.logger = logging.getLogger(name or self.__class__.__name__)

    class Estimator(_ListLoggable, ABC):  # type: ignore[no-redef]
        """Stand-in for accelergy.plug_in_interface.estimator.Estimator."""

        name: str | list[str] | None = None
        percent_accuracy_0_to_100: float | None = None

        def __init__(self, name: str | None = None) -> None:
            super().__init__(name=name)

        @abstractmethod
        def get_area(self) -> float: ...

        @abstractmethod
        def leak(self, global_cycle_seconds: float) -> float: ...

        @actionDynamicEnergy
        def idle(self) -> float:
            return 0

    _UNITS = {"": 1.0, "p": 1e-12, "u^2": 1e-12, "%": 1e-2, "percent": 1e-2, "f": 1e-15,
              "n": 1e-9, "u": 1e-6, "m": 1e-3, "m^2": 1e-6, "p^2": 1e-24}

    class Estimation:  # type: ignore[no-redef]
        """Stand-in for accelergy's Estimation: a value with a unit prefix."""

        def __init__(self, value: float, unit: str | None = None, success: bool = True) -> None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"Estimation value must be a number, not {type(value)}")
            self.value = value
            self.unit = unit or ""
            self.success = success
            self.messages: list[str] = []

        def get_value(self) -> float:
            return self.value * _UNITS[self.unit]

        @classmethod
        def from_value(cls, value: Any) -> Estimation:
            return value if isinstance(value, Estimation) else cls(value)

    class AccuracyEstimation(Estimation):  # type: ignore[no-redef]
        def __init__(self, value: float, success: bool = True) -> None:
            super().__init__(value, "percent", success and value > 0)

    class AccelergyQuery:  # type: ignore[no-redef]
        def __init__(self, class_name: str, class_attrs: dict[str, Any],
                     action_name: str | None = None,
                     action_args: dict[str, Any] | None = None) -> None:
            self.class_name = class_name
            self.class_attrs = {k: v for k, v in class_attrs.items() if v is not None}
            self.action_name = action_name
            self.action_args = {k: v for k, v in (action_args or {}).items() if v is not None}

    class AccelergyPlugIn(_ListLoggable, ABC):  # type: ignore[no-redef]
        def __init__(self) -> None:
            super().__init__(name=self.get_name())

        @abstractmethod
        def get_name(self) -> str: ...

        @abstractmethod
        def primitive_action_supported(self, query: AccelergyQuery) -> AccuracyEstimation: ...

        @abstractmethod
        def estimate_energy(self, query: AccelergyQuery) -> Estimation: ...

        @abstractmethod
        def primitive_area_supported(self, query: AccelergyQuery) -> AccuracyEstimation: ...

        @abstractmethod
        def estimate_area(self, query: AccelergyQuery) -> Estimation: ...

__all__ = ["HAVE_ACCELERGY", "AccelergyPlugIn", "AccelergyQuery", "AccuracyEstimation",
           "Estimation", "Estimator", "actionDynamicEnergy"]
