"""Timeloop's random mapper, reproduced (how the method mapped its baseline).

The method mapped the tensor-core baseline with `timeloop-mapper`, algorithm `random`,
objective EDP, victory condition 100, timeout 100000, 8 threads (the reference run's
parsed-processed-input.yaml), under the design's constraints. On the method's shapes it
left the tensor core at a few percent to 16 % utilization. `random_search` follows that
mapper step by step (timeloop src/applications/mapper/mapper.cpp and mapper-thread.cpp,
src/search/random.cpp, src/mapspaces/uber.cpp), deterministically:

- **The mapspace** is Timeloop's, indexed as Timeloop indexes it (`uber.UberSpace`):
  index factorizations, loop permutations, spatial splits and bypass choices, each
  listed in Timeloop's order.
- **The threads share one mapspace split by residue.** Timeloop splits the
  index-factorization space into `threads` parts: thread t draws an ID r of its part
  and maps global ID r * threads + t (the first parts one longer when the size does
  not divide).
- **Its random numbers** (`std_random.StdUniform`): the index-factorization,
  permutation and spatial-split IDs each come from their own default-constructed
  std::default_random_engine read through libstdc++'s uniform_int_distribution; the
  bypass choices go in sequence, all of them per draw. Every thread's generators start
  alike, so the threads draw the same sequence, and a draw's three IDs are, but for a
  rare rejection, coarse functions of one raw number: Timeloop's 8 threads search far
  less than 8 independent searches would.
- **A draw is rejected** when a spatial split overflows its fan-out or a kept tile
  overflows a level.
- **Termination per thread**, as Timeloop counts: after `victory` valid mappings in a
  row that do not improve the thread's best (a mapping that differs from the previous
  one only in its bypass choice is not counted), after `timeout` invalid mappings in a
  row (an overflowing bypass-only change not counted), or when the thread has seen as
  many valid mappings as its part of the mapspace holds. The best over the threads wins,
  the earlier thread on a tie (Timeloop updates only on a strict improvement).

**Seed 0 is timeloop-mapper's own run.** Its engines start where Timeloop's do, so it
visits the same mappings in the same order and returns the mapping Timeloop returns
(tests/test_random_mapper.py checks it against real runs, mapping by mapping). Other
seeds start the engines elsewhere (`std_random.engine_state`): the same search with
other random numbers, for the spread over seeds. Timeloop ranks mappings with its own
energy figures and ours agree with them to about 1e-7, so a near-tie could in principle
rank differently.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from cim_plugin.errors import InvalidMappingError
from cim_plugin.mapping.mapspace import Choice, MapSpace
from cim_plugin.mapping.std_random import StdUniform, engine_state
from cim_plugin.mapping.uber import UberSpace
from cim_plugin.model.engine import Engine
from cim_plugin.model.objective import Objective
from cim_plugin.model.result import EvalResult

#: the reference mapper settings (WWWtoCiM designs/_include/mapper.yaml, 8 threads)
VICTORY = 100
THREADS = 8
TIMEOUT = 100000
#: a draw's bypass choices are all evaluated; refuse spaces where that explodes
MAX_BYPASS_CHOICES = 4096


@dataclass
class RandomOutcome:
    choice: Choice
    result: EvalResult
    score: float
    valid: int                 # valid mappings evaluated over all threads
    invalid: int


def split_sizes(total: int, threads: int) -> list[int]:
    """Each thread's part of an index-factorization space of `total` IDs, as Timeloop's
    Uber::Split cuts it: parts of ceil(total / threads), the last `residue` one shorter.
    Thread t's part holds the global IDs t, t + threads, t + 2 * threads, ..."""
    size = 1 + (total - 1) // threads
    residue = size * threads - total
    return [size if t < threads - residue else size - 1 for t in range(threads)]


class _Sampler:
    """The mapspace as Timeloop's random mapper indexes it (`uber.UberSpace`), with the
    checks that reject a draw before the model runs (spatial factors against the
    fan-outs, kept tiles against capacities) done for a batch of draws at once."""

    def __init__(self, space: MapSpace, template: str = "uber") -> None:
        self.space = space
        self.uber = UberSpace(space, template)
        self.sizes = self.uber.sizes
        self.if_size = self.uber.if_size
        self.n_perm = self.uber.perm_size
        self.n_split = self.uber.split_size
        self.bypass = self._bypass_space()
        self._vector_checks()

    def _bypass_space(self) -> list[tuple[frozenset[str], ...]]:
        """Timeloop's datatype-bypass space: one bit per data space and level left open,
        data space by data space, innermost level first; bit k of choice j keeps it
        when (j >> k) & 1."""
        sp = self.space
        n = sp.n_levels
        bits = [(ds.name, i) for ds in sp.problem.data_spaces for i in reversed(range(n))
                if ds.name in sp.levels[i].keep_free]
        if 2 ** len(bits) > MAX_BYPASS_CHOICES:
            raise InvalidMappingError(
                f"{2 ** len(bits)} bypass choices per draw (more than {MAX_BYPASS_CHOICES}): "
                "constrain keep/bypass for the random mapper", field="random")
        out = []
        for j in range(2 ** len(bits)):
            keep = [set(lv.keep_fixed) for lv in sp.levels]
            for k, (name, i) in enumerate(bits):
                if (j >> k) & 1:
                    keep[i].add(name)
            out.append(tuple(frozenset(k) for k in keep))
        return out

    def _vector_checks(self) -> None:
        """Per dimension and factorization: its product at every spatial tiling level
        (a draw fits the fan-outs only if, per level, the product over dimensions is at
        most the fan-out; the X/Y split is checked when the mapping is built), and its
        tile at and below every capacity-bounded level (a draw's kept tiles fit iff,
        per level, the kept data spaces' tile products sum to at most the level's
        effective size: the model's capacity rule)."""
        sp = self.space
        uber = self.uber
        tiling = uber.tiling
        self.spatial_t = [t for t, (_, s) in enumerate(tiling) if s]
        self.sfac = [np.array([[o[t] for t in self.spatial_t] for o in opts], dtype=float)
                     .reshape(len(opts), len(self.spatial_t)) for opts in uber.options]
        # per spatial level: how its permutation digit and split point are read from the
        # IDs, and for each (digit, split) which dimensions go to X (SpatialSplitSpace)
        self.split_tables = []
        dims = list(sp.dims)
        split_div = 1
        for j, t in enumerate(self.spatial_t):
            pl = uber.perm_levels[t]
            perm_div = math.prod(q.size for q in uber.perm_levels[:t])
            user = uber.splits[j][1]
            size = uber.split_sizes[j]
            xmask = np.zeros((pl.size, len(dims) + 1, len(dims)), dtype=bool)
            for digit in range(pl.size):
                pattern = pl.pattern(digit)
                for split in range(len(dims) + 1):
                    for pos, d in enumerate(pattern):
                        xmask[digit, split, dims.index(d)] = pos < split
            fx, fy = sp.levels[tiling[t][0]].fanout
            self.split_tables.append((perm_div, pl.size, user, split_div, size, xmask, fx, fy))
            split_div *= size
        self.cap_levels = [i for i, lv in enumerate(sp.arch.storage) if lv.effective_size is not None]
        self.caps = np.array([sp.arch.storage[i].effective_size for i in self.cap_levels], dtype=float)
        # inner[di][option, c]: product of the option's factors at levels >= cap_levels[c]
        self.inner = []
        for opts in self.uber.options:
            arr = np.ones((len(opts), len(self.cap_levels)))
            factors = np.array(opts, dtype=float).reshape(len(opts), len(tiling))
            for c, lvl in enumerate(self.cap_levels):
                cols = [t for t, (i, _) in enumerate(tiling) if i >= lvl]
                arr[:, c] = np.prod(factors[:, cols], axis=1)
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
        if gids.dtype == object:                 # IDs past 64 bits: Python integers
            rows = [self.uber.digits(int(g)) for g in gids]
            return [np.array([r[di] for r in rows], dtype=np.int64)
                    for di in range(len(self.sizes))]
        out = []
        g = gids
        for n in self.sizes:
            g, idx = np.divmod(g, n)
            out.append(idx.astype(np.int64))
        return out

    def check(self, digits: list[np.ndarray], pids: np.ndarray, sids: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """For a batch of draws (factorization digits, permutation and split IDs): does
        each build (its X and Y products within every fan-out, as
        Uber::AssignSpatialTilingDirections checks), and does each (draw, bypass choice)
        fit the capacities."""
        n = len(digits[0])
        built = np.ones(n, dtype=bool)
        pids = np.asarray(pids, dtype=np.int64)
        sids = np.asarray(sids, dtype=np.int64)
        if self.split_tables:
            factors = np.stack([self.sfac[di][d] for di, d in enumerate(digits)], axis=1)
        for j, (perm_div, perm_size, user, split_div, split_size, xmask, fx, fy) in \
                enumerate(self.split_tables):
            digit = (pids // perm_div) % perm_size
            split = np.full(n, user) if user is not None else (sids // split_div) % split_size
            mask = xmask[digit, split]                       # n x dims: in X
            f = factors[:, :, j]
            x = np.prod(np.where(mask, f, 1.0), axis=1)
            y = np.prod(np.where(mask, 1.0, f), axis=1)
            built &= (x <= fx) & (y <= fy)
        if not self.cap_levels:
            return built, np.ones((n, len(self.bypass)), dtype=bool)
        tiles = np.ones((n, len(self.cap_levels), len(self.ds_dims)))
        for d, dims in enumerate(self.ds_dims):
            for di in dims:
                tiles[:, :, d] *= self.inner[di][digits[di]]
        used = np.einsum("ncd,vcd->nvc", tiles, self.kept)
        return built, np.all(used <= self.caps, axis=2)


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
    #: (mappings drawn, valid mappings, utilization) at every valid mapping, if kept
    trace: list[tuple[int, int, float]] | None = None

    def running(self) -> bool:
        return (self.since < self.victory and self.bad < self.timeout
                and self.valid < self.part_mappings)


def _skip_invalid(th: _Thread, built: np.ndarray, n_bypass: int) -> None:
    """Count a run of draws none of whose bypass choices reaches the model: a draw that
    does not build fails every choice, each counted towards the timeout; one that builds
    but overflows a level counts its first choice only (the others change only the
    bypass). Stops the thread where the timeout is reached, mid-draw if need be."""
    inc_bad = np.where(built, 1, n_bypass)
    reach = th.bad + np.cumsum(inc_bad)
    stop = int(np.searchsorted(reach, th.timeout))      # first draw reaching the timeout
    if stop >= len(built):
        th.invalid += n_bypass * len(built)
        th.bad = int(reach[-1])
        th.seq += n_bypass * len(built)
        return
    before = int(reach[stop - 1]) if stop else th.bad
    th.invalid += n_bypass * stop + (1 if built[stop] else th.timeout - before)
    th.bad = th.timeout


def _run_thread(sampler: _Sampler, engine: Engine, obj: Objective, th: _Thread, t: int,
                threads: int, seed: int) -> tuple[float, Choice, EvalResult] | None:
    """Thread t's search; returns its best (score, choice, result)."""
    space = sampler.space
    n_bypass = len(sampler.bypass)
    # batches grow: a thread often ends within its first few thousand draws
    batch, max_batch = 1024, max(64, 65536 // n_bypass)
    state = engine_state(seed)
    ids = StdUniform(th.part, state)
    perms = StdUniform(sampler.n_perm, state)
    splits = StdUniform(sampler.n_split, state)
    best: tuple[float, Choice, EvalResult] | None = None
    while th.running():
        batch = min(2 * batch, max_batch)
        gids = ids.take(batch) * threads + t
        pids = perms.take(batch)
        sids = splits.take(batch)
        digits = sampler.digits(gids)
        built, cap_ok = sampler.check(digits, pids, sids)
        events = np.flatnonzero(built & cap_ok.any(axis=1))
        done = 0
        for n in [*events.tolist(), batch]:
            if not th.running():
                break
            if n > done:                                 # draws that never reach the model
                _skip_invalid(th, built[done:n], n_bypass)
            if n == batch or not th.running():
                break
            done = n + 1
            c0 = sampler.uber.construct([int(d[n]) for d in digits], int(pids[n]),
                                        int(sids[n]), sampler.bypass[0])
            for j in range(n_bypass):
                if not th.running():
                    break
                only_bypass = j > 0
                v = th.seq % n_bypass
                th.seq += 1
                r = None
                if cap_ok[n, v]:
                    c = dataclasses.replace(c0, keep=sampler.bypass[v])
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
                if th.trace is not None:
                    th.trace.append((th.valid + th.invalid, th.valid, r.utilization))
                score = obj.of(r)
                if score < th.best:
                    th.best, th.since = score, 0
                    best = (score, c, r)
                elif not only_bypass:
                    th.since += 1
    return best


def random_search(space: MapSpace, engine: Engine, *, objective: str = "edp", seed: int = 0,
                  threads: int = THREADS, victory: int = VICTORY,
                  timeout: int = TIMEOUT, template: str = "uber") -> RandomOutcome:
    """The best of `threads` random-search threads over a split mapspace (module doc).

    Each thread reads three streams that start alike in every thread (index
    factorization, loop permutation, spatial split), one number of each per draw, drawn
    in batches so that the split and capacity checks run on arrays; `template` is the
    Timeloop mapspace to walk (`uber`, or `ruby` as the method ran it)."""
    obj = Objective(objective)
    sampler = _Sampler(space, template)
    if not sampler.if_size:
        raise space.empty_reason()
    per_id = sampler.n_perm * sampler.n_split * len(sampler.bypass)
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
        # the space may hold mappings the search never drew: say what Timeloop would
        raise InvalidMappingError(
            f"the random mapper found no valid mapping in {invalid} draws: each of its "
            f"{threads} threads stopped after {timeout} invalid mappings in a row (Timeloop's "
            "timeout, as timeloop-mapper would)", field="mapper",
            expected="a shape whose mapspace the random draws can hit; the searched baseline "
                     "(without --paper-compat) maps any shape")
    return RandomOutcome(choice=best[1], result=best[2], score=best[0], valid=valid,
                         invalid=invalid)
