"""Timeloop's random numbers: libstdc++'s std::default_random_engine (minstd_rand0)
read through std::uniform_int_distribution, as Timeloop's RandomGenerator128 reads them
(timeloop src/util/numeric.cpp). Computing the same numbers lets the random-mapper
reproduction (`random_mapper`) visit the mappings Timeloop visits.
"""

from __future__ import annotations

import numpy as np

#: std::minstd_rand0 (libstdc++'s std::default_random_engine): x <- 16807 x mod 2^31 - 1
MINSTD_A = 16807
MINSTD_M = 2**31 - 1
_URNG_RANGE = MINSTD_M - 2          # its max - min: (2^31 - 2) - 1
_U64 = 2**64
_POW_CHUNK = 4096
_POWERS = np.array([pow(MINSTD_A, k, MINSTD_M) for k in range(1, _POW_CHUNK + 1)], dtype=np.int64)


def engine_state(seed: int) -> int:
    """The engines' start state for a seed: seed 0 is Timeloop's own (a default-constructed
    engine, state 1); other seeds are spread over the engine's states by numpy's
    SeedSequence (nearby states of a multiplicative generator give related streams)."""
    if seed == 0:
        return 1
    word = int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0])
    return 1 + word % (MINSTD_M - 1)


class StdUniform:
    """One of Timeloop's random generators (RandomGenerator128): a default-constructed
    std::default_random_engine (minstd_rand0, seed 1) read through libstdc++'s
    std::uniform_int_distribution over [0, bound). Each mapspace dimension has its own,
    all starting from the same state, so they read the same raw stream: the loop-order
    index of a draw is, but for a rare rejection, a coarse function of its
    index-factorization ID. `state` 1 is Timeloop's own start; other states are other
    seeds of the same process. Draws come in arrays, the raw stream advanced in chunks
    by jumping ahead with powers of the multiplier."""

    def __init__(self, bound: int, state: int = 1) -> None:
        if bound < 1:
            raise ValueError("bound must be positive")
        self.bound = bound
        self.state = state
        self._raw_buf: list[int] = []
        self._buf = np.empty(0, dtype=np.int64)

    def _raw_chunk(self) -> np.ndarray:
        out = (self.state * _POWERS) % MINSTD_M
        self.state = int(out[-1])
        return out

    def raw(self) -> int:
        """The engine's next output (1 .. 2^31 - 2)."""
        if not self._raw_buf:
            self._raw_buf = self._raw_chunk().tolist()[::-1]
        return self._raw_buf.pop()

    def _one(self, urange: int) -> int:
        """libstdc++ uniform_int_distribution over [0, urange], one value, exactly."""
        if urange < _URNG_RANGE:                        # downscaling
            scaling = _URNG_RANGE // (urange + 1)
            past = (urange + 1) * scaling
            while True:
                ret = self.raw() - 1
                if ret < past:
                    return ret // scaling
        if urange == _URNG_RANGE:
            return self.raw() - 1
        uer = _URNG_RANGE + 1                          # upscaling
        while True:
            tmp = uer * self._one(urange // uer)
            ret = (tmp + self.raw() - 1) % _U64
            if ret <= urange and ret >= tmp:
                return ret

    def _next_big(self) -> int:
        """RandomGenerator128::Next: one distribution below 2^64 - 1, two above."""
        u64max = _U64 - 1
        if self.bound <= u64max:
            return self._one(self.bound - 1)
        low = self._one(u64max)
        high = self._one(self.bound // u64max - 1)
        return (low + high * u64max) % self.bound     # Timeloop asserts it is below

    def take(self, n: int) -> np.ndarray:
        """The next n draws."""
        if self.bound - 1 >= _URNG_RANGE:
            return np.array([self._next_big() for _ in range(n)], dtype=object)
        scaling = _URNG_RANGE // self.bound
        past = self.bound * scaling
        parts = [self._buf]
        have = len(self._buf)
        while have < n:
            ret = self._raw_chunk() - 1
            ok = ret[ret < past] // scaling
            parts.append(ok)
            have += len(ok)
        got = np.concatenate(parts)
        self._buf = got[n:]
        return got[:n]
