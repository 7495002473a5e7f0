"""A deterministic emulation of Timeloop's random mapper (how the method mapped its baseline).

The method mapped the tensor-core baseline with `timeloop-mapper`, algorithm `random`,
objective EDP, victory condition 100, timeout 100000, 8 threads (the reference run's
parsed-processed-input.yaml), under the design's constraints. On the method's shapes it
left the tensor core at a few percent to 16 % utilization. `random_search` follows that
mapper's structure step by step (timeloop src/applications/mapper/mapper.cpp and
mapper-thread.cpp, src/search/random.cpp, src/mapspaces/uber.cpp), with a seeded
generator so that the study stays deterministic bit for bit:

- **The mapspace.** Each dimension has a list of every ordered factorization of its
  bound over the temporal levels and the fan-outs that the constraints allow (the
  index-factorization space of that dimension). A mapping's index-factorization ID is
  a mixed-radix number over the dimensions, the problem's first dimension the least
  significant digit, as Timeloop's cartesian counter reads it.
- **The threads share one mapspace split by residue.** Timeloop splits the
  index-factorization space into `threads` parts: thread t draws an ID r of its part
  and maps global ID r * threads + t (the first parts one longer when the size does
  not divide).
- **Its random numbers** (`StdUniform`): each mapspace dimension (index factorization,
  loop permutation, spatial split) has its own generator, a default-constructed
  std::default_random_engine (minstd_rand0, seed 1) read through libstdc++'s
  std::uniform_int_distribution. The emulation computes the same numbers. Two
  consequences shape the search: every thread draws the same sequence, so when the
  first dimension's factorization count is a multiple of the thread count the threads
  differ only in that dimension; and the generators of one thread read the same raw
  stream, so a draw's loop-order index is, but for a rare rejection, a coarse function
  of its factorization ID. Timeloop's 8 threads therefore search far less than 8
  independent searches would. Seed 0 starts the engines where Timeloop does; other
  seeds start them elsewhere (`engine_state`).
- **A draw** is an index-factorization ID and a loop-permutation index (its
  mixed-radix digits pick each level's order, the innermost level the least
  significant); then every bypass choice of the mapspace in sequence (Timeloop's
  sequence generator, which goes on where it stopped). A draw whose spatial factors fit
  no fan-out, or whose tiles overflow a level, is invalid.
- **Termination per thread**, as Timeloop counts: after `victory` valid mappings in a
  row that do not improve the thread's best (a mapping that differs from the previous
  one only in its bypass choice is not counted), after `timeout` invalid mappings in a
  row (an overflowing bypass-only change not counted), or when the thread has seen as
  many valid mappings as its part of the mapspace holds. The best over the threads wins,
  the earlier thread on a tie (Timeloop updates only on a strict improvement).

Differences to the real mapper: the order in which each dimension's factorizations and
each level's loop orders are listed, and the X/Y split of a fan-out, which Timeloop
draws from a third generator (rejecting a split that overflows) where the emulation
takes the first split that fits. So even seed 0 is a sample of the same process, not
Timeloop's own run; the spread over seeds is what to compare (docs/paper-fidelity.md).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from cim_plugin.errors import InvalidMappingError
from cim_plugin.mapping.factors import divisors
from cim_plugin.mapping.mapspace import Choice, MapSpace, Spatial
from cim_plugin.model.engine import Engine
from cim_plugin.model.objective import Objective
from cim_plugin.model.result import EvalResult

#: the reference mapper settings (WWWtoCiM designs/_include/mapper.yaml, 8 threads)
VICTORY = 100
THREADS = 8
TIMEOUT = 100000
MAX_FACTORIZATIONS = 2_000_000
#: a draw's bypass choices are all evaluated; refuse spaces where that explodes
MAX_BYPASS_CHOICES = 4096


@dataclass
class RandomOutcome:
    choice: Choice
    result: EvalResult
    score: float
    valid: int                 # valid mappings evaluated over all threads
    invalid: int


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


def split_sizes(total: int, threads: int) -> list[int]:
    """Each thread's part of an index-factorization space of `total` IDs, as Timeloop's
    Uber::Split cuts it: parts of ceil(total / threads), the last `residue` one shorter.
    Thread t's part holds the global IDs t, t + threads, t + 2 * threads, ..."""
    size = 1 + (total - 1) // threads
    residue = size * threads - total
    return [size if t < threads - residue else size - 1 for t in range(threads)]


class _Sampler:
    """The mapspace as Timeloop's random mapper indexes it (module doc), with the checks
    that reject a draw before the model runs (spatial factors against the fan-outs, kept
    tiles against capacities) done for a batch of draws at once."""

    def __init__(self, space: MapSpace) -> None:
        self.space = space
        self.slots = [("t", i) for i in space.temporal_levels] + [("s", i) for i in space.fanout_levels]
        self.nt = len(space.temporal_levels)
        self.options = [self._factorizations(di) for di in range(len(space.dims))]
        self.sizes = [len(o) for o in self.options]
        self.if_size = math.prod(self.sizes)
        # every spatial assignment that fits the fan-outs, by its factors per dimension
        self.table = space.spatial_table()
        fl = list(space.fanout_levels)
        self.spatial_rows: dict[tuple[tuple[int, ...], ...], int] = {}
        for row in range(len(self.table)):
            key = tuple(tuple(int(x) for x in self.table.factors[row][fl, di])
                        for di in range(len(space.dims)))
            self.spatial_rows.setdefault(key, row)
        self._spatial: dict[int, Spatial] = {}
        self.orders = [space.orders(i) for i in range(space.n_levels)]
        self.n_perm = math.prod(len(o) for o in self.orders)
        per_level = [[lv.keep_fixed | frozenset(c) for r in range(len(lv.keep_free) + 1)
                      for c in itertools.combinations(lv.keep_free, r)] for lv in space.levels]
        n_bypass = math.prod(len(p) for p in per_level)
        if n_bypass > MAX_BYPASS_CHOICES:
            raise InvalidMappingError(
                f"{n_bypass} bypass choices per draw (more than {MAX_BYPASS_CHOICES}): "
                "constrain keep/bypass for the random mapper", field="random")
        self.bypass = [tuple(k) for k in itertools.product(*per_level)]
        self._vector_checks()

    def _vector_checks(self) -> None:
        """Per dimension and factorization: a code of its spatial part, and the size of
        its tile at and below every capacity-bounded level (the product of its factors
        there). A draw's spatial assignment fits iff its codes form a fitting key; its
        kept tiles fit iff, per level, the kept data spaces' tile products sum to at most
        the level's effective size (the model's capacity rule)."""
        sp = self.space
        self.codes, self.valid_codes = [], set()
        index: list[dict[tuple[int, ...], int]] = []
        for opts in self.options:
            parts: dict[tuple[int, ...], int] = {}
            self.codes.append(np.array([parts.setdefault(o[self.nt:], len(parts)) for o in opts],
                                       dtype=np.int64))
            index.append(parts)
        self.code_base = [math.prod(len(p) for p in index[:di]) for di in range(len(index))]
        for key in self.spatial_rows:
            if all(key[di] in index[di] for di in range(len(key))):
                self.valid_codes.add(sum(index[di][key[di]] * self.code_base[di]
                                         for di in range(len(key))))
        self.valid_code_array = np.array(sorted(self.valid_codes), dtype=np.int64)
        slot_levels = [i for _, i in self.slots]
        self.cap_levels = [i for i, lv in enumerate(sp.arch.storage) if lv.effective_size is not None]
        self.caps = np.array([sp.arch.storage[i].effective_size for i in self.cap_levels], dtype=float)
        # inner[di][option, c]: product of the option's factors at levels >= cap_levels[c]
        self.inner = []
        for opts in self.options:
            arr = np.ones((len(opts), len(self.cap_levels)))
            for c, lvl in enumerate(self.cap_levels):
                for j, sl in enumerate(slot_levels):
                    if sl >= lvl:
                        arr[:, c] *= np.array([o[j] for o in opts], dtype=float)
            self.inner.append(arr)
        self.ds_dims = [[sp.dims.index(d) for d in ds.dims] for ds in sp.problem.data_spaces]
        names = [ds.name for ds in sp.problem.data_spaces]
        # kept[v, c, d]: does bypass choice v keep data space d at capacity level c
        self.kept = np.array([[[name in keep[i] for name in names] for i in self.cap_levels]
                              for keep in self.bypass], dtype=float).reshape(
                                  len(self.bypass), len(self.cap_levels), len(names))

    def digits(self, gids: np.ndarray) -> list[np.ndarray]:
        """Each dimension's factorization index of global IDs (the first dimension the
        least significant digit, as Timeloop's cartesian counter reads an ID)."""
        out = []
        g = gids
        for n in self.sizes:
            g, idx = np.divmod(g, n)
            out.append(idx.astype(np.int64))
        return out

    def check(self, digits: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """For a batch: does each draw's spatial assignment fit the fan-outs, and does
        each (draw, bypass choice) fit the capacities."""
        combo = sum(self.codes[di][d] * self.code_base[di] for di, d in enumerate(digits))
        spatial_ok = np.isin(combo, self.valid_code_array)
        if not self.cap_levels:
            return spatial_ok, np.ones((len(combo), len(self.bypass)), dtype=bool)
        tiles = np.ones((len(combo), len(self.cap_levels), len(self.ds_dims)))
        for d, dims in enumerate(self.ds_dims):
            for di in dims:
                tiles[:, :, d] *= self.inner[di][digits[di]]
        used = np.einsum("ncd,vcd->nvc", tiles, self.kept)
        return spatial_ok, np.all(used <= self.caps, axis=2)

    def perm(self, index: int) -> tuple[tuple[str, ...], ...]:
        """The loop orders of a loop-permutation index (the innermost level the least
        significant digit)."""
        out: list[tuple[str, ...]] = [()] * len(self.orders)
        for i in reversed(range(len(self.orders))):
            index, j = divmod(index, len(self.orders[i]))
            out[i] = self.orders[i][j]
        return tuple(out)

    def _bound(self, kind: str, i: int, di: int):
        lv = self.space.levels[i]
        return lv.temporal[di] if kind == "t" else lv.spatial[di]

    def _factorizations(self, di: int) -> list[tuple[int, ...]]:
        """Every ordered factorization of dimension di over the slots that its bounds
        allow (Timeloop's index-factorization space of that dimension)."""
        out: list[tuple[int, ...]] = []
        bounds = [self._bound(kind, i, di) for kind, i in self.slots]

        def rec(j: int, rem: int, acc: tuple[int, ...]) -> None:
            if len(out) > MAX_FACTORIZATIONS:
                raise InvalidMappingError("too many factorizations to list", field="random")
            if j == len(bounds) - 1:
                if bounds[j].allows(rem):
                    out.append(acc + (rem,))
                return
            for f in divisors(rem):
                if bounds[j].allows(f):
                    rec(j + 1, rem // f, acc + (f,))

        rec(0, self.space.bounds[di], ())
        return out

    def construct(self, global_id: int, perm: tuple[tuple[str, ...], ...],
                  keep: tuple[frozenset[str], ...]) -> Choice | None:
        """The mapping of an index-factorization ID, or None when its spatial factors
        fit no fan-out."""
        sp = self.space
        picks = []
        g = global_id
        for opts in self.options:           # first dimension: least significant digit
            g, idx = divmod(g, len(opts))
            picks.append(opts[idx])
        row = self.spatial_rows.get(tuple(p[self.nt:] for p in picks))
        if row is None:
            return None
        temporal = [[1] * len(sp.dims) for _ in range(sp.n_levels)]
        for di, p in enumerate(picks):
            for j, i in enumerate(sp.temporal_levels):
                temporal[i][di] = p[j]
        if row not in self._spatial:
            got = self.table.get(row)
            self._spatial[row] = Spatial(got.factors, got.axes)
        return Choice(keep=keep, spatial=self._spatial[row],
                      temporal=tuple(tuple(t) for t in temporal), perm=perm)


@dataclass
class _Thread:
    """One search thread's counters, as timeloop's MapperThread keeps them."""

    part: int                    # index factorizations in the thread's part
    part_mappings: int           # mappings in it (Timeloop's search ends once seen)
    victory: int
    timeout: int
    since: int = 0               # valid mappings since the last improvement
    bad: int = 0                 # invalid mappings in a row
    valid: int = 0
    invalid: int = 0
    seq: int = 0                 # the bypass sequence goes on across draws
    best: float = math.inf

    def running(self) -> bool:
        return (self.since < self.victory and self.bad < self.timeout
                and self.valid < self.part_mappings)


def _run_thread(sampler: _Sampler, engine: Engine, obj: Objective, th: _Thread, t: int,
                threads: int, seed: int) -> tuple[float, Choice, EvalResult] | None:
    """Thread t's search; returns its best (score, choice, result)."""
    space = sampler.space
    n_bypass = len(sampler.bypass)
    batch = max(64, 65536 // n_bypass)
    state = engine_state(seed)
    ids = StdUniform(th.part, state)
    perms = StdUniform(sampler.n_perm, state)
    best: tuple[float, Choice, EvalResult] | None = None
    while th.running():
        gids = ids.take(batch) * threads + t
        pids = perms.take(batch)
        spatial_ok, cap_ok = sampler.check(sampler.digits(gids))
        for n in range(batch):
            if not th.running():
                break
            if not spatial_ok[n]:
                # every bypass choice of the draw fails to construct, each counted
                step = min(n_bypass, th.timeout - th.bad)
                th.invalid += step
                th.bad += step
                th.seq += n_bypass
                continue
            perm = sampler.perm(int(pids[n]))
            for j in range(n_bypass):
                if not th.running():
                    break
                only_bypass = j > 0
                v = th.seq % n_bypass
                th.seq += 1
                r = None
                if cap_ok[n, v]:
                    c = sampler.construct(int(gids[n]), perm, sampler.bypass[v])
                    try:
                        r = engine.evaluate(space.to_nest(c))
                    except InvalidMappingError:
                        r = None
                if r is None:
                    th.invalid += 1
                    if not only_bypass:
                        th.bad += 1
                    continue
                th.bad = 0
                th.valid += 1
                score = obj.of(r)
                if score < th.best:
                    th.best, th.since = score, 0
                    best = (score, c, r)
                elif not only_bypass:
                    th.since += 1
    return best


def random_search(space: MapSpace, engine: Engine, *, objective: str = "edp", seed: int = 0,
                  threads: int = THREADS, victory: int = VICTORY,
                  timeout: int = TIMEOUT) -> RandomOutcome:
    """The best of `threads` random-search threads over a split mapspace (module doc).

    Each thread reads two streams that start alike in every thread: index-factorization
    IDs (drawn in batches, so that the fan-out and capacity checks run on arrays) and
    loop orders (one per draw that reaches the model)."""
    obj = Objective(objective)
    sampler = _Sampler(space)
    if not sampler.valid_codes or not sampler.if_size:
        raise space.empty_reason()
    per_id = sampler.n_perm * len(sampler.bypass)
    best: tuple[float, Choice, EvalResult] | None = None
    valid = invalid = 0
    for t, part in enumerate(split_sizes(sampler.if_size, threads)):
        if part <= 0:
            continue
        th = _Thread(part=part, part_mappings=part * per_id, victory=victory, timeout=timeout)
        got = _run_thread(sampler, engine, obj, th, t, threads, seed)
        valid += th.valid
        invalid += th.invalid
        if got is not None and (best is None or got[0] < best[0]):
            best = got                       # the earlier thread wins a tie
    if best is None:
        raise space.empty_reason()
    return RandomOutcome(choice=best[1], result=best[2], score=best[0], valid=valid,
                         invalid=invalid)
