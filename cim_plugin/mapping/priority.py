"""The priority-based, weight-stationary CiM mapping algorithm of the method.

For Z[M,N] = A[M,K]·B[N,K] on CiM banks (X×Y macros of Rp×Cp compute elements,
each holding Rh×Ch weights), with mpf(d, p) = the largest divisor of d not above p:

1. CiM array (spatial): Nc = mpf(N, Cp) on X, Kc = mpf(K, Rp) on Y.
2. CiM banks (spatial over Y): with K_max = Rh·Rp, N_max = Ch·Cp, spread the larger
   of K/N unless larger/smaller ≥ THRESHOLD (then the other one); multiply in the
   prime factors of Y (smallest first) while they divide the remaining dimension
   and dim_max·bank < THRESHOLD·other_max. Only one of N, K is spread over Y.
3. CiM storage (temporal): Nh = mpf(N_rem, Ch), Kh = mpf(K_rem, Rh); order "M, K, N".
4. Each plain level between the CiM and the outermost one (SMEM for RF-level CiM),
   innermost first: the largest M factor whose kept tiles fit, then grow K by its
   smallest prime factors (weight reuse), then N (partial-sum reuse).
5. Loop order at each level: largest factor innermost.
6. The outermost level (DRAM) takes the remaining factors.

Beyond the method (documented choices):
- X > 1: the dimension not spread over Y is spread over X (prime factors of X while
  they divide it); the original leaves X unused.
- ``duplicate=True``: banks left idle by steps 1–2 hold copies of the weights and M is
  split across the copies (spatial M at the bank level), which the method lacks.
- Growth in step 4 continues only while the tiles stay strictly below the capacity.
  The original code reaches the same choices on the reference BERT runs through a
  tile update that over-counts the grown tile; a strict bound reproduces them
  (analog 6T: SMEM K=2; digital 6T: SMEM N=2) without that over-count.
- Ties in the loop order follow the original's comparison table.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.mapping.factors import divisors, prime_factors
from cim_plugin.model.counts import fits
from cim_plugin.spec.mapping import LevelMapping, Mapping
from cim_plugin.spec.problem import GEMM_DIMS, GEMM_TENSORS

DIMS = GEMM_DIMS

# the sets and orders `PriorityMapping.mapping` writes (immutable, so shared)
_ALL_TENSORS = frozenset(("A", "B", "Z"))
_NONE: frozenset[str] = frozenset()
_KEEPS_ONE = {t: (frozenset(t), _ALL_TENSORS - {t}) for t in _ALL_TENSORS}   # keep t alone
_ONES = dict.fromkeys(DIMS, 1)           # copied, never handed out
_MNK, _MKN = tuple("MNK"), tuple("MKN")


def mpf(d: int, p: int) -> int:
    """Largest divisor of d that is not above p (at least 1)."""
    divs = divisors(d)                  # ascending, 1 first
    return divs[bisect.bisect_right(divs, max(p, 1)) - 1]


def loop_order(m: int, n: int, k: int) -> str:
    """Permutation (innermost first) putting the largest factor innermost.

    Ties follow the original comparison table (e.g. m == n puts N before M).
    """
    if m > n:
        if n > k:
            return "MNK"
        return "MKN" if m > k else "KMN"
    if n < k:
        return "KNM"
    return "NMK" if m > k else "NKM"


@dataclass(frozen=True)
class CimShape:
    """The macro geometry the algorithm needs (a `Macro` has these fields)."""

    rp: int
    cp: int
    rh: int
    ch: int


@dataclass(frozen=True)
class PlainLevel:
    """A storage level above the CiM: name, capacity in words (None = unbounded), kept tensors."""

    name: str
    capacity_words: int | None
    keeps: tuple[str, ...] = ("A", "B", "Z")


@dataclass(frozen=True)
class CimNames:
    """Level names of the CiM subtree in the design."""

    bank: str = "CiMBank"
    array: str = "CiMArray"
    inp: str = "CiMInpBuffer"
    out: str = "CiMOutBuffer"
    storage: str = "CiMStorage"


@dataclass
class PriorityMapping:
    """Result of the algorithm: factors per level and helpers to emit Timeloop inputs."""

    gemm: tuple[int, int, int]
    array: dict[str, int]                   # spatial, N on X and K on Y
    bank_x: dict[str, int]
    bank_y: dict[str, int]
    storage: dict[str, int]                 # temporal at CiM storage
    plain: list[tuple[PlainLevel, dict[str, int]]]   # outermost first, temporal
    names: CimNames = field(default_factory=CimNames)
    banks: tuple[int, int] = (1, 1)

    @property
    def bank(self) -> dict[str, int]:
        return {d: self.bank_x.get(d, 1) * self.bank_y.get(d, 1) for d in DIMS}

    @property
    def utilized_units(self) -> int:
        """CiM compute elements working in parallel."""
        return math.prod(self.array.values()) * math.prod(self.bank.values())

    @property
    def utilized_macros(self) -> int:
        return math.prod(self.bank.values())

    @property
    def temporal_steps(self) -> int:
        """Sequential CiM operations: product of all temporal factors."""
        steps = math.prod(self.storage.values())
        for _, f in self.plain:
            steps *= math.prod(f.values())
        return steps

    def factor_product(self, dim: str) -> int:
        p = self.array.get(dim, 1) * self.bank.get(dim, 1) * self.storage.get(dim, 1)
        for _, f in self.plain:
            p *= f.get(dim, 1)
        return p

    def _bank_spatial(self) -> tuple[dict[str, int], str, int]:
        x_dims = [d for d in ("N", "K", "M") if self.bank_x.get(d, 1) > 1]
        y_dims = [d for d in ("N", "K", "M") if d not in x_dims]
        return self.bank, "".join(x_dims + y_dims), len(x_dims)

    def constraint_targets(self) -> list[dict[str, Any]]:
        """Timeloop processed `architecture_constraints.targets` that pin `mapping()`
        exactly: per level, its spatial factors (fan-out levels), temporal factors and
        order, and what it keeps and bypasses."""
        def fac(f: dict[str, int]) -> str:
            return ",".join(f"{d}={f.get(d, 1)}" for d in DIMS)

        out: list[dict[str, Any]] = []
        for name, lm in self.mapping().levels.items():
            if lm.spatial:
                out.append({"target": name, "type": "spatial", "factors": fac(lm.spatial),
                            "permutation": "".join(lm.spatial_permutation), "split": lm.split})
            out.append({"target": name, "type": "temporal", "factors": fac(lm.temporal),
                        "permutation": "".join(lm.temporal_permutation)})
            t: dict[str, Any] = {"target": name, "type": "bypass"}
            for key, tensors in (("keep", lm.keep), ("bypass", lm.bypass)):
                if tensors:
                    t[key] = [d for d in GEMM_TENSORS if d in tensors]
            out.append(t)
        return out

    def mapping(self) -> Mapping:
        """The complete mapping (map.yaml form): fresh factor dicts (a caller may edit
        them), the immutable keep/bypass sets and permutations shared."""
        nm = self.names
        levels: dict[str, LevelMapping] = {}
        for level, f in self.plain:
            keep = frozenset(level.keeps)
            levels[level.name] = LevelMapping(
                target=level.name, temporal=dict(f),
                temporal_permutation=tuple(loop_order(f["M"], f["N"], f["K"])),
                keep=keep, bypass=_ALL_TENSORS - keep)
        bank, perm, split = self._bank_spatial()
        for dummy, f, p, s in self._spatial_levels(bank, perm, split):
            levels[dummy] = LevelMapping(target=dummy, temporal=dict(_ONES),
                                         temporal_permutation=_MNK,
                                         spatial={d: f.get(d, 1) for d in DIMS},
                                         spatial_permutation=tuple(p), split=s,
                                         keep=_NONE, bypass=_ALL_TENSORS)
        storage = self.storage
        for name, tensor, temporal, p in (
                (nm.inp, "A", dict(_ONES), _MNK), (nm.out, "Z", dict(_ONES), _MNK),
                (nm.storage, "B", {d: storage.get(d, 1) for d in DIMS}, _MKN)):
            keep, bypass = _KEEPS_ONE[tensor]
            levels[name] = LevelMapping(target=name, temporal=temporal, temporal_permutation=p,
                                        keep=keep, bypass=bypass)
        return Mapping(levels=levels)

    def _spatial_levels(self, bank: dict[str, int], perm: str, split: int
                        ) -> list[tuple[str, dict[str, int], str, int]]:
        """The fan-out levels Timeloop inserts: the banks' only when there is more than
        one bank (a fan-out of 1 inserts no level), then the array's."""
        nm = self.names
        out = []
        if self.banks[0] * self.banks[1] > 1:
            out.append((f"inter_{nm.bank}_spatial", bank, perm, split))
        out.append((f"inter_{nm.array}_spatial", self.array, "NKM", 1))
        return out

    def level_order_inner_first(self) -> list[str]:
        nm = self.names
        spatial = [name for name, *_ in reversed(self._spatial_levels(self.bank, "", 0))]
        return [nm.storage, nm.out, nm.inp, *spatial, *[lv.name for lv, _ in reversed(self.plain)]]

    def to_yaml_list(self) -> list[dict[str, Any]]:
        return self.mapping().to_yaml_list(self.level_order_inner_first(), DIMS)


#: the design's level names (frozen, so one instance serves every mapping)
_DEFAULT_NAMES = CimNames()


def _check_positive(value: Any, name: str) -> int:
    if type(value) is int and value >= 1:      # the usual case (a bool is not an int here)
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}", field=name,
                         expected="an integer >= 1")
    return value


def _spread(primes: list[int], rem: int) -> int:
    """Multiply in factors mpf(rem, p) for each prime p while they exceed 1."""
    f = 1
    for p in primes:
        g = mpf(rem // f, p)
        if g == 1:
            break
        f *= g
    return f


def bank_factors(y: int, n_rem: int, k_rem: int, n_max: int, k_max: int,
                 threshold: float) -> tuple[int, int]:
    """(K, N) bank factors over Y (step 2)."""
    primes = prime_factors(y)
    if not primes:
        return 1, 1
    if k_max > n_max:
        k_first = k_max / n_max < threshold
    else:
        k_first = not (n_max / k_max < threshold)
    first = primes[0]
    if k_first and mpf(k_rem, first) == 1:
        k_first = False
    elif not k_first and mpf(n_rem, first) == 1:
        k_first = True
    kb = nb = 1
    for p in primes:
        if k_first:
            f = mpf(k_rem // kb, p)
            if f == 1 or k_max * kb >= threshold * n_max * nb:
                break
            kb *= f
        else:
            f = mpf(n_rem // nb, p)
            if f == 1 or n_max * nb >= threshold * k_max * kb:
                break
            nb *= f
    return kb, nb


def checked_inputs(gemm: tuple[Any, Any, Any], macro: Any, banks: tuple[Any, Any],
                   threshold: Any, levels: list[PlainLevel] | None
                   ) -> tuple[tuple[int, int, int], CimShape, tuple[int, int], list[PlainLevel]]:
    """The algorithm's inputs checked: GEMM, macro geometry, banks, THRESHOLD and the
    plain levels (default: DRAM, then a 256 KB SMEM keeping A and Z)."""
    m, n, k = gemm
    m, n, k = _check_positive(m, "M"), _check_positive(n, "N"), _check_positive(k, "K")
    shape = CimShape(_check_positive(int(macro.rp), "rp"), _check_positive(int(macro.cp), "cp"),
                     _check_positive(int(macro.rh), "rh"), _check_positive(int(macro.ch), "ch"))
    bx, by = (_check_positive(v, name) for v, name in zip(banks, ("banks X", "banks Y")))
    if not (isinstance(threshold, int | float) and threshold > 0):
        raise InputError(f"threshold must be a positive number, got {threshold!r}",
                         field="threshold", expected="a number > 0")
    if levels is None:
        levels = [PlainLevel("DRAM", None), PlainLevel("SMEM", 262144, ("A", "Z"))]
    if not levels:
        raise InputError("at least one storage level above the CiM is needed", field="levels",
                         expected="e.g. DRAM")
    return (m, n, k), shape, (bx, by), levels


def array_factors(m: int, n: int, k: int, shape: CimShape) -> tuple[dict[str, int], dict[str, int]]:
    """Step 1: N over the array's Cp columns, K over its Rp rows; and what remains."""
    array = {"M": 1, "N": mpf(n, shape.cp), "K": mpf(k, shape.rp)}
    return array, {"M": m, "N": n // array["N"], "K": k // array["K"]}


def _tile_words(level: PlainLevel, used: dict[str, int]) -> int:
    """Words of the level's kept tiles at the per-dimension tile sizes `used` (each GEMM
    tensor is indexed by two dimensions)."""
    words = 0
    for ds in level.keeps:
        a, b = GEMM_TENSORS[ds]
        words += used[a] * used[b]
    return words


def priority_mapping(m: int, n: int, k: int, macro: Any, banks: tuple[int, int] = (1, 4), *,
                     threshold: float = 4, levels: list[PlainLevel] | None = None,
                     duplicate: bool = False, names: CimNames | None = None) -> PriorityMapping:
    """Run the algorithm for GEMM M×N×K on `banks` = (X, Y) macros of `macro`.

    `levels` are the plain storage levels above the CiM, outermost first (the
    first takes all remaining factors); default: DRAM, then a 256 KB SMEM keeping A, Z.
    """
    (m, n, k), shape, (bx, by), levels = checked_inputs((m, n, k), macro, banks, threshold,
                                                         levels)
    # 1. CiM array
    array, rem = array_factors(m, n, k, shape)
    # 2. banks over Y, then (beyond the method) the other dimension over X
    k_max, n_max = shape.rh * shape.rp, shape.ch * shape.cp
    kb, nb = bank_factors(by, rem["N"], rem["K"], n_max, k_max, threshold)
    bank_y = {"M": 1, "N": nb, "K": kb}
    rem["N"] //= nb
    rem["K"] //= kb
    bank_x = {"M": 1, "N": 1, "K": 1}
    if bx > 1:
        other = "K" if nb > 1 else "N" if kb > 1 else ("K" if k_max <= n_max else "N")
        f = _spread(prime_factors(bx), rem[other])
        if f == 1:
            other = "N" if other == "K" else "K"
            f = _spread(prime_factors(bx), rem[other]) if bank_y[other] == 1 else 1
        bank_x[other] = f
        rem[other] //= f
    if duplicate:
        idle_y = by // (bank_y["N"] * bank_y["K"])
        idle_x = bx // (bank_x["N"] * bank_x["K"])
        target = bank_y if idle_y >= idle_x else bank_x
        f = mpf(rem["M"], max(idle_y, idle_x))
        target["M"] = f
        rem["M"] //= f
    # 3. CiM storage
    storage = {"M": 1, "N": mpf(rem["N"], shape.ch), "K": mpf(rem["K"], shape.rh)}
    rem["N"] //= storage["N"]
    rem["K"] //= storage["K"]
    # 4. plain levels below the outermost, innermost first
    used = {d: (m, n, k)[i] // rem[d] for i, d in enumerate(DIMS)}
    plain: list[tuple[PlainLevel, dict[str, int]]] = []
    for level in reversed(levels[1:]):
        f = {"M": 1, "N": 1, "K": 1}
        cap = level.capacity_words
        if cap is not None:
            if not fits(_tile_words(level, used), cap):
                raise InputError(
                    f"the CiM tiles ({_tile_words(level, used)} words) do not fit {level.name} "
                    f"({cap} words)", field=f"{level.name}.capacity",
                    expected="a larger level or fewer banks / a smaller macro")
            best = 1
            for cand in reversed(divisors(rem["M"])):
                if fits(_tile_words(level, {**used, "M": used["M"] * cand}), cap):
                    best = cand
                    break
            f["M"] = best
            for d in ("K", "N"):
                grown = 1
                for p in prime_factors(rem[d]):
                    trial = {**used, "M": used["M"] * f["M"], d: used[d] * grown * p}
                    if _tile_words(level, trial) >= cap:
                        break
                    grown *= p
                f[d] = grown
                if d == "K":
                    used = {**used, "K": used["K"] * grown}
                    rem["K"] //= grown
            used = {**used, "M": used["M"] * f["M"], "N": used["N"] * f["N"]}
            rem["M"] //= f["M"]
            rem["N"] //= f["N"]
        plain.append((level, f))
    plain.append((levels[0], dict(rem)))
    plain.reverse()
    return PriorityMapping(gemm=(m, n, k), array=array, bank_x=bank_x, bank_y=bank_y,
                           storage=storage, plain=plain, names=names or _DEFAULT_NAMES,
                           banks=(bx, by))
