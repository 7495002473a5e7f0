"""Timeloop's counts for loop nests built from the outermost level in (the mapper's view).

A mapping is decided in three steps: what each level keeps, the spatial fan-out
factors, then the temporal loops level by level from the outermost in. Once the
keep sets and the fan-outs are fixed (a *placement*) and the temporal loops above a
boundary are chosen, every transfer into a keeper at or above that boundary is
final: its tile depends only on the factors left below it, and its reuse only on
the loops above it. `PlacedNest` prices those transfers for many candidate choices
of the next level at once (numpy arrays), with the rules of `counts.py` that the
engine uses, so a mapping costs the same here as in `Engine.evaluate`.

Notation (per instance, as Timeloop prints it): for a keeper c of tensor t with
parent keeper p, pas = tile_c x R_c = part_c x NR, where NR is the number of
iterations of the loops above c that are irrelevant to t and not in the trailing
run of such loops directly above c (the "run", which gives reuse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cim_plugin.errors import InputError
from cim_plugin.model.counts import (
    fits,
    innermost_accesses,
    level_cycles,
    priced,
    slowdown,
    transfer,
)
from cim_plugin.model.engine import Engine


@dataclass(frozen=True)
class Placement:
    """What each level keeps and the spatial factor of every dimension at every fan-out."""

    keep: tuple[frozenset[str], ...]            # per storage level, outermost first
    spatial: tuple[tuple[int, ...], ...]        # [level][dim]: fan-out factor below the level


@dataclass(frozen=True)
class _Link:
    """One transfer: tensor `t` from parent keeper `p` into keeper `c`."""

    t: int
    p: int
    c: int
    rel: tuple[int, ...]          # dims relevant to the tensor
    irrel: tuple[int, ...]
    part_c: int
    part_p: int
    sc: int
    read_write: bool
    c_fill: tuple[int, float]     # (block, pJ per vector fill) of the child
    p_read: tuple[int, float]
    p_update: tuple[int, float]
    inst_c: int
    inst_p: int


class NestModel:
    """What pricing a nest needs from the engine, gathered once per (arch, problem, ERT)."""

    def __init__(self, engine: Engine) -> None:
        arch, problem = engine.arch, engine.problem
        self.engine = engine
        dims = problem.dimensions
        self.D = D = len(dims)
        self.n = n = len(arch.storage)
        self.bound = tuple(problem.bounds[d] for d in dims)
        self.macs = engine.macs
        self.tensors = []
        for ds in problem.data_spaces:
            rel = tuple(d for d in range(D) if dims[d] in ds.dims)
            irrel = tuple(d for d in range(D) if d not in rel)
            self.tensors.append((ds.name, rel, irrel, ds.read_write, engine.sizes[ds.name]))
        le = engine.level_energy
        self.block = [lv.block_size for lv in arch.storage]
        self.units = [(_unit(e.read), _unit(e.fill), _unit(e.update)) for e in le]
        self.leak = [e.leak for e in le]
        self.capacity = [lv.effective_size for lv in arch.storage]
        self.bandwidth = [(lv.read_bandwidth, lv.write_bandwidth, lv.shared_bandwidth)
                          for lv in arch.storage]
        self.limited = [i for i in range(n) if any(b is not None for b in self.bandwidth[i])]
        self.compute_energy = (engine.options.actual_computes or engine.macs) * \
            (engine.compute_energy or 0.0)
        self.latency = engine.compute_latency


class PlacedNest:
    """Constants of one placement and the pricing of partial nests under it.

    `placement.spatial` may also be an integer array `[rows, level, dim]` of many
    spatial assignments sharing the keep sets: every constant is then an array over
    the rows, which prices the bounds of all those placements at once.

    Raises `ValueError` from the constructor when the spatial factors do not divide
    the problem or a tensor has no keeper (the caller skips such placements).
    """

    def __init__(self, model: NestModel, placement: Placement) -> None:
        self.model = model
        self.engine = model.engine
        self.placement = placement
        D, n = model.D, model.n
        self.D, self.n = D, n
        self.bound = model.bound
        sp = placement.spatial
        if isinstance(sp, np.ndarray):
            def factor(i: int, d: int) -> Any:
                return sp[:, i, d]
            one: Any = np.ones(len(sp), dtype=sp.dtype)
        else:
            def factor(i: int, d: int) -> Any:
                return sp[i][d]
            one = 1
        s_ge = [[one] * D for _ in range(n + 1)]
        for i in range(n - 1, -1, -1):
            for d in range(D):
                s_ge[i][d] = s_ge[i + 1][d] * factor(i, d)
        s_lt = [[one] * D for _ in range(n + 1)]
        for i in range(1, n + 1):
            for d in range(D):
                s_lt[i][d] = s_lt[i - 1][d] * factor(i - 1, d)
        self.s_ge, self.s_lt = s_ge, s_lt
        self.s_tot = s_ge[0]
        if not isinstance(sp, np.ndarray) and any(self.bound[d] % self.s_tot[d] for d in range(D)):
            raise ValueError("spatial factors do not divide the problem")
        #: temporal product of each dimension over all levels
        self.t_tot = tuple(self.bound[d] // self.s_tot[d] for d in range(D))
        self.inst = [math.prod(s_lt[i]) for i in range(n)]
        self.c0 = math.prod(self.t_tot)
        self.compute_cycles = self.c0 * model.latency
        self.bandwidth = model.bandwidth
        self.limited = model.limited
        self.capacity = model.capacity
        self.tensors = [(rel, irrel, rw) for _, rel, irrel, rw, _ in model.tensors]
        units, block = model.units, model.block
        links: list[_Link] = []
        self.keepers: list[list[int]] = []
        reads0: list[Any] = [0] * n
        writes0: list[Any] = [0] * n
        energy0: Any = model.compute_energy
        for t, (name, rel, irrel, rw, size) in enumerate(model.tensors):
            keepers = [i for i in range(n) if name in placement.keep[i]]
            if not keepers:
                raise ValueError(f"no level keeps {name}")
            self.keepers.append(keepers)
            part = {i: size // math.prod(s_lt[i][d] for d in rel) for i in keepers}
            k0 = keepers[-1]
            mc = math.prod(s_ge[k0][d] for d in irrel)
            r, u = innermost_accesses(model.macs, self.inst[k0], mc, part[k0], rw)
            energy0 = energy0 + (self._price(r, k0, 0) + self._price(u, k0, 2)) * self.inst[k0]
            reads0[k0] = reads0[k0] + r
            writes0[k0] = writes0[k0] + u
            for p, c in zip(keepers, keepers[1:]):
                links.append(_Link(
                    t=t, p=p, c=c, rel=rel, irrel=irrel, part_c=part[c], part_p=part[p],
                    sc=part[p] // part[c], read_write=rw,
                    c_fill=(block[c], units[c][1]), p_read=(block[p], units[p][0]),
                    p_update=(block[p], units[p][2]), inst_c=self.inst[c], inst_p=self.inst[p]))
        self.links = links
        self.energy0 = energy0
        self.reads0 = reads0
        self.writes0 = writes0
        self.leak_per_cycle = sum(model.leak[i] * (self.inst[i] if placement.keep[i] else 1)
                                  for i in range(n))

    def _price(self, count: Any, level: int, action: int) -> Any:
        unit = self.model.units[level][action]
        if math.isnan(unit) and np.any(np.asarray(count) > 0):
            what = ("read", "write/fill", "update/write")[action]
            lv = self.engine.arch.storage[level].base_name
            raise InputError(f"ERT has no {what} action for level {lv}, which keeps data",
                             file=self.engine.ert.source, field=f"ERT.{lv}",
                             expected=f"an ERT table for {lv} with read, write, update, leak")
        return _priced(count, (self.model.block[level], unit))

    # ------------------------------------------------------------------ pieces
    def fits(self, level: int, remaining: tuple[Any, ...]) -> Any:
        """Whether the tiles kept at `level` fit, given the temporal factors left at and
        below it (`remaining[d]`, numbers or arrays)."""
        cap = self.capacity[level]
        if cap is None:
            return True
        used: Any = 0
        for t, (rel, _, _) in enumerate(self.tensors):
            if level in self.keepers[t]:
                tile: Any = 1
                for d in rel:
                    tile = tile * (remaining[d] * self.s_ge[level][d])
                used = used + tile
        return fits(used, cap)

    def max_remaining(self, level: int, d: int) -> int | None:
        """Largest temporal factor of dimension d that can stay at and below `level`:
        each kept tile must fit alone, with every other dimension at its minimum."""
        cap = self.capacity[level]
        if cap is None:
            return None
        out = None
        for t, (rel, _, _) in enumerate(self.tensors):
            if level in self.keepers[t] and d in rel:
                lim = cap // math.prod(self.s_ge[level][e] for e in rel)
                out = lim if out is None else min(out, lim)
        return out

    def links_into(self, lo: int, hi: int) -> list[_Link]:
        """Transfers into keepers at levels lo < c <= hi."""
        return [lk for lk in self.links if lo < lk.c <= hi]

    def price_links(self, links: list[_Link], pas_of: Any, energy: Any, reads: list[Any],
                    writes: list[Any]) -> Any:
        """Add the transfers `links` (pas given per link by `pas_of(link)`) to the energy
        and to the per-level read/write counts; returns the new energy."""
        for lk in links:
            pas = pas_of(lk)
            fills, rp, up = transfer(pas, lk.sc, lk.part_c, lk.part_p, lk.read_write)
            energy = energy + _priced(fills, lk.c_fill) * lk.inst_c
            energy = energy + _priced(rp, lk.p_read) * lk.inst_p
            if lk.read_write:
                energy = energy + _priced(up, lk.p_update) * lk.inst_p
                writes[lk.p] = writes[lk.p] + up
            reads[lk.p] = reads[lk.p] + rp
            writes[lk.c] = writes[lk.c] + fills
        return energy

    def pas_exact(self, remaining: tuple[Any, ...], runs: tuple[Any, ...]):
        """pas of a keeper whose tile is `remaining` x the fan-outs below it, with the
        temporal loops above it fixed and `runs[t]` the trailing run of each tensor."""
        above: Any = 1
        for d in range(self.D):
            above = above * (self.t_tot[d] // remaining[d] if not isinstance(remaining[d], np.ndarray)
                             else self.t_tot[d] / remaining[d])

        def pas_of(lk: _Link) -> Any:
            tile: Any = 1
            for d in lk.rel:
                tile = tile * (remaining[d] * self.s_ge[lk.c][d])
            reuse = above / runs[lk.t] if isinstance(above, np.ndarray) or isinstance(
                runs[lk.t], np.ndarray) else above // runs[lk.t]
            return tile * reuse
        return pas_of

    def own_tile_limit(self, level: int, t: int, d: int) -> int | None:
        """Largest temporal factor of dimension d (relevant to tensor t) that can stay at
        and below `level` with t's tile there fitting alone; None if unbounded."""
        cap = self.capacity[level]
        if cap is None or level not in self.keepers[t]:
            return None
        rel = self.tensors[t][0]
        return cap // math.prod(self.s_ge[level][e] for e in rel)

    def irrelevant_above(self, remaining: tuple[Any, ...]) -> list[Any]:
        """Iterations of each tensor's irrelevant loops above a boundary (reuse or not)."""
        out = []
        for _, irrel, _ in self.tensors:
            x: Any = 1
            for d in irrel:
                x = x * (self.t_tot[d] / remaining[d])
            out.append(x)
        return out

    def cycles(self, reads: list[Any], writes: list[Any]) -> Any:
        """Cycles: the compute time, or the slowest level's bandwidth time."""
        cc = self.compute_cycles
        out: Any = np.ceil(cc) if isinstance(cc, np.ndarray) else int(math.ceil(cc))
        for i in self.limited:
            lc = level_cycles(cc, slowdown(cc, reads[i], writes[i], *self.bandwidth[i]))
            if isinstance(lc, np.ndarray) or isinstance(out, np.ndarray):
                out = np.maximum(out, lc)
            else:
                out = max(out, lc)
        return out


def run_after(perm_outer_first: tuple[int, ...], factors: tuple[Any, ...], rel: tuple[int, ...],
              run_above: Any) -> Any:
    """Trailing run of a tensor below a level whose temporal loops are `perm` (outer
    first) with `factors` (numbers or arrays): the product of the innermost loops that
    are irrelevant to the tensor, continued into the levels above (`run_above`) when
    every loop of this level with a bound above 1 is irrelevant (Timeloop's R)."""
    run: Any = 1
    open_: Any = True
    for d in reversed(perm_outer_first):
        f = factors[d]
        if d in rel:
            open_ = open_ & (f == 1)
        elif isinstance(open_, np.ndarray) or isinstance(f, np.ndarray):
            run = np.where(open_, run * f, run)
        elif open_:
            run = run * f
    if isinstance(open_, np.ndarray) or isinstance(run, np.ndarray):
        return np.where(open_, run * run_above, run)
    return run * run_above if open_ else run


def _unit(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _priced(count: Any, block_unit: tuple[int, float]) -> Any:
    block, unit = block_unit
    if isinstance(count, np.ndarray):
        out = priced(count, block, unit)
        if math.isnan(unit):
            return np.where(count > 0, np.inf, 0.0)
        return out
    if count <= 0:
        return 0.0
    if math.isnan(unit):
        return math.inf
    return priced(count, block, unit)
