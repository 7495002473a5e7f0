"""How large an input may be before cim-plugin refuses it.

Inputs come from users and from files found on disk. A mistaken or hostile input
(a 5-million-row GEMM list, a YAML alias bomb, a dimension of 10^12) must fail at once
with a message that names the limit, instead of exhausting memory or running for
days. Every limit here is listed in README.md ("Input limits"); the file-size limit
can be raised with the environment variable `CIM_PLUGIN_MAX_INPUT_MB`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

from cim_plugin.errors import InputError

#: environment variable that raises (or lowers) the input-file size limit, in MiB
SIZE_ENV_VAR = "CIM_PLUGIN_MAX_INPUT_MB"
DEFAULT_MAX_INPUT_MB = 8

#: nesting depth of a YAML/JSON document (Timeloop specs nest about ten levels)
MAX_NESTING = 64
#: YAML nodes after alias expansion (a "billion laughs" bomb expands to 10^9)
MAX_YAML_NODES = 1_000_000

#: one loop bound (a problem dimension, a GEMM's M, N or K, a coefficient)
MAX_DIMENSION = 2**31
#: product of all bounds of a problem (MACs of one GEMM) and of MACs x repeat count,
#: so every count the model and the tables keep stays a 64-bit integer
MAX_MACS = 2**62
#: how often one GEMM repeats in a workload
MAX_COUNT = 2**31
#: GEMM rows of one workload file
MAX_GEMMS = 100_000
#: design points of one study
MAX_STUDY_POINTS = 100_000
#: instances of one level (meshX x meshY)
MAX_INSTANCES = 2**31
#: words of one storage level
MAX_CAPACITY = 2**62

#: CiM macros of one design (banks X x Y) and along one axis
MAX_BANKS = 4096
MAX_BANKS_AXIS = 1024

#: energy of one action (pJ): 1 mJ is beyond any circuit's single access
MAX_ENERGY_PJ = 1e9
#: area of one component (um^2): one square metre
MAX_AREA_UM2 = 1e12

#: characters of a number written as text (refused before conversion)
MAX_NUMBER_TEXT = 40


def max_input_bytes() -> int:
    """Largest input file accepted, in bytes (`CIM_PLUGIN_MAX_INPUT_MB`, default 8 MiB)."""
    raw = os.environ.get(SIZE_ENV_VAR, "").strip()
    if not raw:
        return DEFAULT_MAX_INPUT_MB * 2**20
    if not raw.isascii() or not raw.isdigit() or len(raw) > 7 or int(raw) < 1:
        raise InputError(f"{SIZE_ENV_VAR}={raw!r} is not a size in MiB", field=SIZE_ENV_VAR,
                         expected="a whole number of MiB between 1 and 9999999")
    return int(raw) * 2**20


def check_bound(value: int, *, file: str | None, field: str, what: str = "bound") -> int:
    """A loop bound within [1, MAX_DIMENSION]."""
    if value < 1 or value > MAX_DIMENSION:
        raise InputError(f"{what} {value} is out of range", file=file, field=field,
                         expected=f"an integer from 1 to 2**31 = {MAX_DIMENSION}")
    return value


def check_macs(bounds: Iterable[int], *, file: str | None, field: str, count: int = 1) -> int:
    """The product of `bounds` (times `count`) stays within MAX_MACS."""
    product = math.prod(bounds) * count
    if product > MAX_MACS:
        raise InputError(f"the product of the bounds is {product}, too large", file=file,
                         field=field, expected=f"a product of all bounds (times the repeat "
                                               f"count) of at most 2**62 = {MAX_MACS}")
    return product


def check_banks(x: int, y: int, *, file: str | None, field: str) -> tuple[int, int]:
    """A bank grid X x Y of CiM macros within the limits."""
    if not (1 <= x <= MAX_BANKS_AXIS and 1 <= y <= MAX_BANKS_AXIS and x * y <= MAX_BANKS):
        raise InputError(f"banks {x}x{y} are out of range", file=file, field=field,
                         expected=f"XxY with 1 <= X, Y <= {MAX_BANKS_AXIS} and X*Y <= "
                                  f"{MAX_BANKS}, e.g. 1x4")
    return x, y


__all__ = ["MAX_AREA_UM2", "MAX_BANKS", "MAX_BANKS_AXIS", "MAX_CAPACITY", "MAX_COUNT",
           "MAX_DIMENSION", "MAX_ENERGY_PJ", "MAX_GEMMS", "MAX_INSTANCES", "MAX_MACS",
           "MAX_NESTING", "MAX_NUMBER_TEXT", "MAX_STUDY_POINTS", "MAX_YAML_NODES", "SIZE_ENV_VAR",
           "check_banks", "check_bound", "check_macs", "max_input_bytes"]
