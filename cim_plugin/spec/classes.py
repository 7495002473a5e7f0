"""What kind of component a class names (storage, compute or network), as Timeloop and
timeloopfe decide it: both the processed-form reader (`arch.py`) and the v0.4 flattening
(`v4.py`) ask, so it lives apart from both."""

from __future__ import annotations

from cim_plugin.errors import InputError
from cim_plugin.spec.values import show

STORAGE_CLASS_WORDS = ("dram", "sram", "regfile", "smartbuffer", "storage")
COMPUTE_CLASS_WORDS = ("mac", "compute")
NETWORK_CLASS_WORDS = ("xy_noc", "legacy", "reductiontree", "simplemulticast")


def component_kind(cls: str, *, file: str | None = None, field: str = "class") -> str:
    """Timeloop/timeloopfe decide the kind of a leaf by substrings of its class."""
    if not isinstance(cls, str):
        raise InputError(f"class {show(cls)} is not a name", file=file, field=field,
                         expected="a storage, compute or network class name")
    low = cls.lower()
    if low == "dummy_storage":
        return "storage"
    if any(w in low for w in STORAGE_CLASS_WORDS):
        return "storage"
    if any(w in low for w in COMPUTE_CLASS_WORDS):
        return "compute"
    if any(w in low for w in NETWORK_CLASS_WORDS):
        return "network"
    raise InputError(f"class {show(cls)} is neither storage, compute nor network", file=file,
                     field=field,
                     expected="a class containing DRAM/SRAM/regfile/smartbuffer/storage, "
                              "mac/compute, or a network class")
