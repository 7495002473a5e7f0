"""Integer factorization helpers shared by the mapspace and the priority algorithm."""

from __future__ import annotations

import math
from functools import lru_cache


@lru_cache(maxsize=4096)
def prime_factors(n: int) -> tuple[int, ...]:
    """Prime factors of n with multiplicity, smallest first."""
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return tuple(out)


@lru_cache(maxsize=4096)
def divisors(n: int) -> tuple[int, ...]:
    """All divisors of n, ascending."""
    small = [d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0]
    return tuple(sorted(set(small + [n // d for d in small])))
