"""Shared fixtures: where the third-party reference runs are (skip when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def reference_root() -> Path | None:
    env = os.environ.get("CIM_PLUGIN_REFERENCE")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "reference")
    for c in candidates:
        if (c / "wwwcim" / "runs").is_dir():
            return c
    return None


REFERENCE = reference_root()
RUN_NAMES = [
    "tensor_core_like/outputs",
    "rf_compute_analog6T/outputs",
    "rf_compute_analog6T/outputs_consv2p1",
    "rf_compute_digital6T/outputs",
    "rf_compute_digital6T/outputs_consv2p1",
    "smem_compute_digital8T/outputs",
    "smem_compute_digital8T/outputs_cons",
]

needs_reference = pytest.mark.skipif(REFERENCE is None, reason="../shared/reference not present")


@pytest.fixture(params=RUN_NAMES)
def reference_run(request) -> Path:
    """Folder of one real Timeloop run (skips when the reference data is absent)."""
    if REFERENCE is None:
        pytest.skip("../shared/reference not present")
    return REFERENCE / "wwwcim" / "runs" / request.param
