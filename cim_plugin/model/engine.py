"""Timeloop's analytical model for dense workloads, re-implemented.

Follows timeloop-model's legacy nest analysis (first-read elision on, perfect
factorization, cluster size 1): per storage level and dataspace, tile sizes,
partition sizes, utilized instances, scalar reads/fills/updates, temporal
reductions; bandwidth throttling and cycles; energy from the ERT with vector
accesses of `block_size` words and leakage split over dataspaces as Timeloop prints
it. Formulas, their Timeloop source files and the documented departures are in
`docs/model.md`.

Two steps, as Timeloop's `loop-analysis/` (counts) and `model/` (costs), and ZigZag's
staged `CostModelEvaluation`: `access_counts` yields per level and tensor the tiles,
reads, fills, updates and reductions of a nest; `cost` prices them (cycles from the
counts and bandwidths, energy from the ERT). Between them `check` says whether the
nest is a mapping the model accepts (`EvalStatus`, Timeloop's per-level status), so a
search asks `try_evaluate` and gets a status, not an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cim_plugin.errors import InputError, InvalidMappingError
from cim_plugin.model.counts import access_energy, fits, innermost_accesses, slowdown, transfer
from cim_plugin.model.counts import level_cycles as cycles_of_level
from cim_plugin.model.nest import LoopNest
from cim_plugin.model.result import ComputeStats, DataSpaceStats, EvalResult, LevelStats
from cim_plugin.spec.arch import Architecture, StorageLevel
from cim_plugin.spec.ert import ART, ERT
from cim_plugin.spec.problem import DataSpace, Problem

# Timeloop's action priority lists (topology.hpp storageOperationMappings, arithmetic).
READ_ACTIONS = ("random_read", "read")
FILL_ACTIONS = ("random_fill", "random_write", "fill", "write")
UPDATE_ACTIONS = ("random_update", "random_write", "update", "write")
LEAK_ACTIONS = ("leak",)
COMPUTE_ACTIONS = ("mac_random", "mult_random", "mac", "mult", "compute")


@dataclass(frozen=True)
class ModelOptions:
    """Documented departures from timeloop-model; all off by default.

    compute_latency_cycles: cycles per compute operation (a CiM macro performs one
    operation on all its compute elements every `latency` cycles). None means 1, as
    Timeloop assumes; `cim-plugin model --latency-from-attribute` takes it from the
    compute level's `cim_latency_cycles` attribute, which exported CiM designs carry.
    """

    compute_latency_cycles: float | None = None
    check_capacity: bool = True
    check_fanout: bool = True
    #: padded factorization: the problem given to the engine is padded (its factors
    #: multiply to more than the real dimensions); these are the real problem's MACs and
    #: read-write tensor size, which Timeloop counts as the computes (docs/model.md)
    actual_computes: int | None = None
    actual_rw_size: int | None = None


@dataclass(frozen=True)
class EvalStatus:
    """Whether the model accepts a nest; if not, the level and the reason (Timeloop's
    per-level `EvalStatus`) and the error `evaluate` raises for it."""

    ok: bool = True
    level: str | None = None
    reason: str = ""                       # "capacity" or "no keeper"
    error: InvalidMappingError | None = None


OK = EvalStatus()


@dataclass
class AccessCounts:
    """The access analysis of one nest: per storage level (outermost first) and tensor,
    the counts of `DataSpaceStats` (energies still 0), and the compute's side."""

    levels: list[dict[str, DataSpaceStats]]
    utilized_units: int                    # compute units working in parallel
    compute_cycles: float                  # temporal iterations x cycles per operation
    status: EvalStatus = field(default=OK)


@dataclass(frozen=True)
class _LevelEnergy:
    read: float | None
    fill: float | None
    update: float | None
    leak: float


class Engine:
    """Evaluates loop nests for one (architecture, problem, ERT); reuse it for many mappings."""

    def __init__(self, arch: Architecture, problem: Problem, ert: ERT, art: ART | None = None,
                 options: ModelOptions | None = None) -> None:
        self._set_problem(problem)
        self.arch = arch
        self.ert = ert
        self.art = art
        self.options = options or ModelOptions()
        self.level_energy = [self._energies(s) for s in arch.storage]
        lat = self.options.compute_latency_cycles
        if lat is None:
            lat = 1.0                      # Timeloop: one compute per cycle
        if not lat > 0 or lat == float("inf"):
            raise InputError(f"compute latency {lat} is not positive",
                             field=f"architecture.{arch.compute.name}.cim_latency_cycles",
                             expected="cycles > 0")
        self.compute_latency = lat
        self.compute_energy = ert.energy(arch.compute.base_name, *COMPUTE_ACTIONS)
        self._area_total: float | None = None
        # the levels (innermost first) where a count could lack its unit: only those are
        # checked by `require_units` (fan-out levels have no table and keep nothing)
        self._unpriced = tuple(i for i in range(len(arch.storage) - 1, -1, -1)
                               if None in (self.level_energy[i].read, self.level_energy[i].fill,
                                           self.level_energy[i].update))

    def _set_problem(self, problem: Problem) -> None:
        if not problem.simple_projections:
            raise InputError("the embedded model supports problems whose projections are single "
                             "dimensions (GEMM, batched GEMM, einsum-style)",
                             field="problem.shape.data_spaces.projection",
                             expected="each rank a single [dim] term")
        self.problem = problem
        self.macs = problem.macs
        self.spaces: tuple[DataSpace, ...] = problem.data_spaces
        self.sizes = problem.dataspace_sizes

    def for_problem(self, problem: Problem) -> Engine:
        """An engine for `problem` on the same architecture, tables and options: what
        depends on those alone (the levels' unit energies, the compute latency) is shared,
        not looked up again (a sweep evaluates several GEMMs per architecture)."""
        # a shallow copy, made directly: copy.copy's generic protocol (reduce, then
        # rebuild) costs about as much as counting a small GEMM's nest
        other = Engine.__new__(Engine)
        other.__dict__.update(self.__dict__)
        other._set_problem(problem)
        return other

    def _energies(self, level: StorageLevel) -> _LevelEnergy:
        name = level.base_name
        return _LevelEnergy(
            read=self.ert.energy(name, *READ_ACTIONS),
            fill=self.ert.energy(name, *FILL_ACTIONS),
            update=self.ert.energy(name, *UPDATE_ACTIONS),
            leak=self.ert.energy(name, *LEAK_ACTIONS) or 0.0,
        )

    # ------------------------------------------------------------------ steps
    def evaluate(self, nest: LoopNest) -> EvalResult:
        """Counts, check and cost of one nest; an InvalidMappingError for a nest the model
        does not accept (`try_evaluate` returns the status instead)."""
        return self.cost(self.checked_counts(nest))

    def checked_counts(self, nest: LoopNest) -> AccessCounts:
        """Counts and check of one nest (`evaluate` without the cost), for callers that
        price the same counts many ways (`cim_plugin.model.recost`)."""
        counts = self.access_counts(nest)
        status = counts.status if not counts.status.ok else self.check(counts, nest)
        if not status.ok:
            assert status.error is not None
            raise status.error
        return counts

    def try_evaluate(self, nest: LoopNest) -> tuple[EvalStatus, EvalResult | None]:
        """(status, result): the result is None when the status is not ok."""
        counts = self.access_counts(nest)
        status = counts.status if not counts.status.ok else self.check(counts, nest)
        return (status, self.cost(counts)) if status.ok else (status, None)

    def access_counts(self, nest: LoopNest) -> AccessCounts:
        """Per level and tensor: tile, partition, utilized instances, reads, fills,
        updates, temporal reductions and address generations (Timeloop's nest analysis).

        Each tensor walks the nest once, outermost level first, and notes at each of its
        keepers the products of the loops above it; a product over a range of levels is
        then a quotient of two such exact integer products (the tile at a keeper: the
        tensor's whole relevant product over the product above the keeper)."""
        macs = self.macs
        storage = self.arch.storage
        n = len(storage)
        levels = nest.levels
        # spatial products above each level (outer-first index), over every dimension
        sp_all_above = [1]
        sp = 1
        for lv in levels:
            for _, b, _ in lv.spatial:
                sp *= b
            sp_all_above.append(sp)
        stats: list[dict[str, DataSpaceStats]] = [{} for _ in range(n)]
        lat = self.compute_latency
        # an integral latency keeps the cycle count an exact integer (huge problems)
        compute_cycles = nest.temporal_product * (int(lat) if float(lat).is_integer() else lat)

        for ds in self.spaces:
            rel = ds.dims
            name = ds.name
            keepers = [i for i in range(n) if name in levels[i].keep]
            if not keepers:
                error = InvalidMappingError(
                    f"no level keeps dataspace {name}", file=nest.source,
                    field=f"mapping.{storage[0].base_name}.keep",
                    expected="the outermost level to keep every dataspace")
                return AccessCounts(stats, sp_all_above[n], compute_cycles,
                                    EvalStatus(False, storage[0].base_name, "no keeper", error))
            # above each keeper: the relevant loops' product (temporal and spatial), the
            # spatial products over relevant and over other dimensions, and R, the
            # temporal bounds from the outermost loop down to the innermost relevant one
            # (irrelevant loops below it do not re-fetch)
            size = self.sizes[name]
            rel_above, rel_sp_above, oth_sp_above, reuse, part = [], [], [], [], []
            rel_p = rel_sp = oth_sp = running = last = 1
            j = 0
            for stop in (*keepers, n):
                for lv in levels[j:stop]:
                    for d, b in lv.temporal:
                        running *= b
                        if d in rel:
                            rel_p *= b
                            last = running
                    for d, b, _ in lv.spatial:
                        if d in rel:
                            rel_p *= b
                            rel_sp *= b
                        else:
                            oth_sp *= b
                j = stop
                rel_above.append(rel_p)
                rel_sp_above.append(rel_sp)
                oth_sp_above.append(oth_sp)
                reuse.append(last)
                part.append(size // rel_sp)
            # (the last entries are the whole nest's products)
            rw = ds.read_write
            last_k = len(keepers) - 1
            tile = [rel_p // above for above in rel_above]
            # reads/updates at each keeper from below, fills from above (outermost: none),
            # from the innermost keeper out: spatial loops below it over other dimensions
            # multicast (read-only) or reduce (read-write) its accesses
            reads, updates = innermost_accesses(macs, sp_all_above[keepers[last_k]],
                                                oth_sp // oth_sp_above[last_k], part[last_k], rw)
            for x in range(last_k, -1, -1):           # keeper x, from the innermost out
                if x:                                  # what its parent (x - 1) sends it
                    fills, p_reads, p_updates = transfer(tile[x] * reuse[x],
                                                         rel_sp_above[x] // rel_sp_above[x - 1],
                                                         part[x], part[x - 1], rw)
                else:                                  # the outermost keeper: no parent
                    fills = p_reads = p_updates = 0
                i = keepers[x]
                stats[i][name] = DataSpaceStats(
                    partition_size=part[x], utilized_capacity=tile[x],
                    utilized_instances=sp_all_above[i], utilized_clusters=sp_all_above[i],
                    reads=reads, fills=fills, updates=updates,
                    temporal_reductions=reads if rw else 0,
                    address_generations=updates + fills if rw else reads + fills)
                reads, updates = p_reads, p_updates

        return AccessCounts(stats, sp_all_above[n], compute_cycles)

    def check(self, counts: AccessCounts, nest: LoopNest) -> EvalStatus:
        """Every level's kept tiles fit its capacity (`ModelOptions.check_capacity`)."""
        if not self.options.check_capacity:
            return OK
        for level, kept in zip(self.arch.storage, counts.levels):
            if not kept:                          # keeps nothing: fits
                continue
            used = sum(s.utilized_capacity for s in kept.values())
            if not fits(used, level.effective_size):
                return EvalStatus(False, level.base_name, "capacity", InvalidMappingError(
                    f"mapped tile size {used} exceeds buffer capacity {level.effective_size}",
                    file=nest.source, field=f"level {level.base_name}",
                    expected=f"tiles of {', '.join(sorted(kept))} summing to <= "
                             f"{level.effective_size} words"))
        return OK

    def cost(self, counts: AccessCounts) -> EvalResult:
        """Cycles (compute time and every level's bandwidth) and energy (ERT) of the
        counts, and the result timeloop-model reports."""
        arch = self.arch
        storage = arch.storage
        n = len(storage)
        stats = counts.levels
        compute_cycles = counts.compute_cycles
        level_cycles: list[int] = []
        throttles: list[float] = []
        for i, level in enumerate(storage):
            slow = slowdown(compute_cycles, sum(s.reads for s in stats[i].values()),
                            sum(s.fills + s.updates for s in stats[i].values()),
                            level.read_bandwidth, level.write_bandwidth, level.shared_bandwidth)
            throttles.append(slow)
            level_cycles.append(cycles_of_level(compute_cycles, slow))
        cycles = max([int(math.ceil(compute_cycles)), *level_cycles])

        # -------------------------------------------------------------- energy
        level_results: list[LevelStats] = []
        fj: dict[str, float] = {}
        utilized_units = counts.utilized_units
        self.require_units(counts)
        real = self.actual_computes
        compute_energy_total = real * self.compute_energy
        compute = ComputeStats(name=arch.compute.base_name, instances=arch.compute.instances,
                               utilized_instances=utilized_units, computes=real,
                               cycles=int(math.ceil(compute_cycles)),
                               energy_pJ=compute_energy_total,
                               energy_per_compute_pJ=self.compute_energy,
                               area_um2=self._area(arch.compute.base_name))
        fj[compute.name] = compute_energy_total * 1000.0 / real
        total = compute_energy_total
        for i in range(n - 1, -1, -1):
            level = storage[i]
            e = self.level_energy[i]
            block = level.block_size
            level_total = 0.0
            for s in stats[i].values():
                energy = access_energy(s, block, e.read, e.fill, e.update)
                s.energy_per_instance_pJ = energy
                s.energy_pJ = energy * s.utilized_instances
                level_total += s.energy_pJ
            leaks_per_cycle = max([1, *(s.utilized_instances for s in stats[i].values())])
            leakage = e.leak * cycles * leaks_per_cycle
            level_total += leakage
            total += level_total
            level_results.append(LevelStats(
                name=level.base_name, instances=level.instances, cycles=level_cycles[i],
                bandwidth_throttling=throttles[i], leakage_pJ=leakage, energy_pJ=level_total,
                area_um2=self._area(level.base_name), dataspaces=dict(stats[i])))
            if not level.dummy:
                fj[level.base_name] = level_total * 1000.0 / real
        fj["Total"] = total * 1000.0 / real
        rw_size = self.options.actual_rw_size if self.options.actual_rw_size is not None else \
            sum(self.sizes[ds.name] for ds in self.spaces if ds.read_write)
        return EvalResult(
            computes=real, cycles=cycles, energy_pJ=total,
            gflops=(2 * real - rw_size) / cycles,
            # busy fraction of the compute units; with a latency of L cycles per operation a
            # unit can start one operation every L cycles (L = 1: Timeloop's definition)
            utilization=real * self.compute_latency / (arch.compute.instances * cycles),
            levels=level_results, compute=compute, fj_per_compute=fj, area_um2=self.area_um2(),
            compute_latency_cycles=self.compute_latency)

    @property
    def actual_computes(self) -> int:
        """The computes energy is counted for (the real problem's MACs when padded)."""
        return self.options.actual_computes or self.macs

    def require_units(self, counts: AccessCounts) -> None:
        """The InputError for an action the counts need and the ERT lacks (the compute's,
        then each level's from the innermost out, as `cost` prices them)."""
        storage = self.arch.storage
        if self.compute_energy is None:
            raise InputError(f"ERT has no compute action for {self.arch.compute.base_name}",
                             file=self.ert.source, field=f"ERT.{self.arch.compute.base_name}",
                             expected=f"one of {', '.join(COMPUTE_ACTIONS)}")
        for i in self._unpriced:        # the others price every count they have
            level, e = storage[i], self.level_energy[i]
            for name, s in counts.levels[i].items():
                for count, unit, what in ((s.reads, e.read, "read"), (s.fills, e.fill, "write/fill"),
                                          (s.updates, e.update, "update/write")):
                    if count > 0 and unit is None:
                        raise InputError(
                            f"ERT has no {what} action for level {level.base_name}, which keeps {name}",
                            file=self.ert.source, field=f"ERT.{level.base_name}",
                            expected=f"an ERT table for {level.base_name} with read, write, update, leak")

    def area_um2(self) -> float:
        """The architecture's area (every component's instances, ART areas); it does not
        depend on the problem nor on the mapping, so it is summed once per engine (and
        shared by `for_problem`'s copies)."""
        if self._area_total is None:
            self._area_total = sum(c.instances * self._area(c.base_name)
                                   for c in self.arch.components)
        return self._area_total

    def _area(self, name: str) -> float:
        if self.art is None:
            return 0.0
        return self.art.areas.get(name, 0.0)
