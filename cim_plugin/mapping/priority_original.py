"""The method's priority algorithm exactly as its authors' code runs it (`--paper-compat`).

`cim_plugin.mapping.priority` is the corrected algorithm our default uses. This module
reproduces the original (WWWtoCiM `www-cim/constraints/main.py`, driven by `run.py`),
quirks included, so that `--paper-compat` maps every shape the way the published
study did:

- Steps 1-3 (array, banks over Y, CiM storage) are the same as the corrected
  algorithm's (`bank_factors`); the bank grid's X is left unused and weights are never
  duplicated.
- The level above the CiM (SMEM, for RF-level CiM) always counts A + Z tiles:
  M1 = mpf(M, cap // (K_used + N_used)), then K and N grow by their smallest prime
  factors while the running size stays <= cap; the last factor, the one that
  crossed the capacity, is taken back. The running size is updated as
  ``size = p * factor * size`` (main.py `improvise_K`/`improvise_N`), which multiplies
  in the factors grown so far a second time: the grown tile is over-counted, so the
  growth stops earlier than the true tile size would. A is counted with the grown K
  when N grows.
- The capacity is the `width` attribute of the SMEM node read as KB (run.py:
  ``spec.architecture.nodes[2].attributes.width``, times 1024 in main.py). In the
  method's architecture that is 256 (bits per SMEM row), so 262144 words -- by
  coincidence exactly the SMEM's real 256 KB of 8-bit words (depth 8192 x 256 bits).
  A design whose SMEM row width differs would get a different capacity there;
  `original_capacity_words` says what the original would have passed.
- Where the CiM tiles alone exceed the capacity (cap // (K_used + N_used) == 0) the
  original stops with a ZeroDivisionError; here that is an InputError naming the level.
- THRESHOLD is a module constant in main.py (32 in the published code; its comment
  says 32 for SMEM, 4 for RF); it is a parameter here. The authors' runs evidently
  used 4 at both placements: the reference runs (RF analog 6T / digital 6T and SMEM
  digital 8T, BERT) carry the factors of THRESHOLD 4, and with 4 the original pipeline
  reproduces the published SMEM-level BERT ratios (docs/paper-fidelity.md), with 32
  it falls far short. `ORIGINAL_PIPELINE_THRESHOLD` is what `--paper-compat` uses.
- Loop orders: largest factor innermost at DRAM and SMEM, "M, K, N" at CiM storage --
  as in the corrected algorithm (`loop_order`).
"""

from __future__ import annotations

from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.mapping.priority import (
    CimNames,
    PlainLevel,
    PriorityMapping,
    array_factors,
    bank_factors,
    checked_inputs,
    mpf,
)

#: main.py's default THRESHOLD and the one its comment gives for RF-level runs
ORIGINAL_THRESHOLD_SMEM = 32
ORIGINAL_THRESHOLD_RF = 4
#: what the authors' runs used at every placement (module doc)
ORIGINAL_PIPELINE_THRESHOLD = 4


def original_capacity_words(smem_width_bits: int) -> int:
    """What run.py passes as the SMEM capacity: the node's `width` read as KB, in words."""
    return int(smem_width_bits) * 1024


def _smallest_factor(number: int) -> int | None:
    """main.py `min_factor`: the smallest divisor >= 2, None for 1."""
    for i in range(2, number + 1):
        if number % i == 0:
            return i
    return None


def _grow(capacity: int, a_size: int, z_size: int, rem: int, grow_a: bool) -> int:
    """main.py `improvise_K` (grow_a) / `improvise_N`: the over-counting growth loop."""
    factor = 1
    last: int | None = None
    while a_size + z_size <= capacity:
        last = _smallest_factor(rem // factor)
        if last is None:
            break
        if grow_a:
            a_size = last * factor * a_size
        else:
            z_size = last * factor * z_size
        factor *= last
    if last is not None:
        factor //= last
    return factor


def original_level_factors(capacity: int, rem: dict[str, int], used: dict[str, int],
                           level: str = "SMEM") -> dict[str, int]:
    """(M, N, K) factors the original puts at the level above the CiM (main.py step
    "After CiM banks"); `used` are the factors below it (M is 1 there)."""
    per_m = used["K"] * used["M"] + used["N"] * used["M"]
    m_max = capacity // per_m
    if m_max < 1:
        raise InputError(f"the CiM tiles ({per_m} words per M) do not fit {level} "
                         f"({capacity} words); the original algorithm stops here",
                         field=f"{level}.capacity", expected="a larger level or fewer banks")
    m1 = mpf(rem["M"], m_max)
    k1 = _grow(capacity, used["K"] * m1, used["N"] * m1, rem["K"], grow_a=True)
    n1 = _grow(capacity, used["K"] * k1 * m1, used["N"] * m1, rem["N"], grow_a=False)
    return {"M": m1, "N": n1, "K": k1}


def original_priority_mapping(m: int, n: int, k: int, macro: Any, banks: tuple[int, int] = (1, 4),
                              *, threshold: float = ORIGINAL_THRESHOLD_SMEM,
                              levels: list[PlainLevel] | None = None,
                              names: CimNames | None = None) -> PriorityMapping:
    """The authors' algorithm for GEMM M×N×K on `banks` = (X, Y) macros (X unused).

    `levels`: DRAM, then at most the level the original sizes (SMEM for RF-level
    CiM), outermost first; default DRAM + 256 KB SMEM. Further levels in between get
    the same rule, innermost first (the original has none).
    """
    (m, n, k), shape, (bx, by), levels = checked_inputs((m, n, k), macro, banks, threshold,
                                                         levels)
    array, rem = array_factors(m, n, k, shape)
    kb, nb = bank_factors(by, rem["N"], rem["K"], shape.ch * shape.cp, shape.rh * shape.rp,
                          threshold)
    rem["N"] //= nb
    rem["K"] //= kb
    storage = {"M": 1, "N": mpf(rem["N"], shape.ch), "K": mpf(rem["K"], shape.rh)}
    rem["N"] //= storage["N"]
    rem["K"] //= storage["K"]
    plain: list[tuple[PlainLevel, dict[str, int]]] = []
    for level in reversed(levels[1:]):
        if level.capacity_words is None:
            f = {"M": 1, "N": 1, "K": 1}
        else:
            used = {d: (m, n, k)[i] // rem[d] for i, d in enumerate(("M", "N", "K"))}
            f = original_level_factors(level.capacity_words, rem, used, level.name)
        for d in f:
            rem[d] //= f[d]
        plain.append((level, f))
    plain.append((levels[0], dict(rem)))
    plain.reverse()
    return PriorityMapping(gemm=(m, n, k), array=array, bank_x={"M": 1, "N": 1, "K": 1},
                           bank_y={"M": 1, "N": nb, "K": kb}, storage=storage, plain=plain,
                           names=names or CimNames(), banks=(bx, by))
