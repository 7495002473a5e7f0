"""Where a study's tasks run: in this process, in a local process pool, or on Dask.

`--jobs N` (the default) runs tasks in N local worker processes (`cim_plugin.study.pool`
rules: never more than the cores, never outliving the study). `--scheduler dask` runs
them on a `dask.distributed.LocalCluster` of N worker processes started for the study,
and `--scheduler dask://tcp://HOST:PORT` on the workers of a running Dask scheduler.

Every executor offers the same calls, `submit(fn, arg)`, `result(handle)` and
`warm(fn, arg)` (a warm-up on every worker before the tasks), and the
callers (`cim_plugin.study.remote`, `cim_plugin.dse.run`) keep a bounded window of
submitted tasks, read results back in submission order and write each to the cache and
the output files on the client as it arrives. So memory on the client is bounded by the
window, the outputs do not depend on which worker ran what, and a finished task is on
disk before the next result is read. A worker that dies mid-task (killed, out of memory)
is replaced by Dask's nanny and its tasks are rescheduled by the scheduler; finished
results already on the client are not recomputed.
"""

from __future__ import annotations

import copy
import logging
import multiprocessing
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cim_plugin.errors import CimPluginError, InputError, NotAvailableError

#: how often a task is resubmitted after it raised on a worker (a lost worker is
#: handled by the scheduler itself, which reschedules the task elsewhere)
TASK_RETRIES = 2
#: seconds to wait for a remote Dask scheduler
CONNECT_TIMEOUT_S = 20
#: the Dask configuration of a LocalCluster started for a study (its scheduler, in this
#: process, and its workers). Off: the statistical profiler, which samples every
#: worker's stack every 10 ms for the dashboard's profile page (a study opens no
#: dashboard; on pure-Python tasks it took about a sixth of the CPU of two workers on
#: two cores). Less often: the event-loop tick (20 ms; it only detects a blocked loop)
#: and the system monitor (0.5 s; dashboard metrics). An idle two-worker cluster used
#: 18-19 % of a core with Dask's defaults, 5-6 % with these. Workers of a running
#: scheduler keep their own configuration (README, "On a cluster").
LOCAL_CLUSTER_CONFIG = {"distributed.worker.profile.enabled": False,
                        "distributed.admin.tick.interval": "500ms",
                        "distributed.admin.system-monitor.interval": "5s"}
_ADDRESS = re.compile(r"^(?:(tcp|tls|inproc|ucx|ws|wss)://)?([A-Za-z0-9_.\-\[\]:]+):([0-9]{1,5})$")


@dataclass(frozen=True)
class Scheduler:
    """`kind` "pool" (local processes) or "dask"; `address` of a running Dask scheduler."""

    kind: str = "pool"
    address: str | None = None


def parse_scheduler(text: str | None) -> Scheduler:
    """`--scheduler` value: `pool`, `dask` or `dask://[tcp://]HOST:PORT`."""
    if text is None or text == "pool":
        return Scheduler()
    if text == "dask":
        return Scheduler("dask")
    if text.startswith("dask://"):
        rest = text[len("dask://"):]
        m = _ADDRESS.match(rest)
        if m and 0 < int(m.group(3)) < 65536:
            return Scheduler("dask", f"{m.group(1) or 'tcp'}://{m.group(2)}:{m.group(3)}")
    raise InputError(f"{text!r} is not a scheduler", field="--scheduler",
                     expected="pool, dask (a local Dask cluster) or dask://HOST:PORT "
                              "(e.g. dask://tcp://10.0.0.5:8786)")


class _Done:
    """A result computed at once (serial executor)."""

    def __init__(self, value: Any) -> None:
        self.value = value


class SerialExecutor:
    """Tasks in this process, one after the other (`--jobs 1`)."""

    workers = 1

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return _Done(fn(arg))

    def warm(self, fn: Callable[[Any], Any], arg: Any) -> None:
        """Run a warm-up on every worker: here, this process."""
        fn(arg)

    def result(self, handle: Any) -> Any:
        return handle.value


class PoolExecutor:
    """Local worker processes that die with the study (`cim_plugin.study.pool`)."""

    def __init__(self, jobs: int) -> None:
        self.workers = jobs
        self._pool: Any = None
        self._ok = False

    def __enter__(self) -> PoolExecutor:
        from cim_plugin.study.pool import _die_with_parent

        ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
        self._pool = ctx.Pool(processes=self.workers, initializer=_die_with_parent,
                              initargs=(os.getpid(),))
        return self

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if exc_type is None:
            self._pool.close()
        else:
            self._pool.terminate()            # not drained: the study stops at once
        self._pool.join()

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return self._pool.apply_async(fn, (arg,))

    def warm(self, fn: Callable[[Any], Any], arg: Any) -> None:
        """Nothing: a pool cannot address each of its workers, which are forked from this
        process and warm up on their first task."""

    def result(self, handle: Any) -> Any:
        return handle.get()


class DaskExecutor:
    """Tasks on a Dask cluster: a LocalCluster of `workers` processes, or the workers of
    the scheduler at `address`."""

    def __init__(self, address: str | None, workers: int) -> None:
        self.address = address
        self.workers = workers
        self.client: Any = None
        self.cluster: Any = None

    def __enter__(self) -> DaskExecutor:
        distributed = require_dask()
        try:
            if self.address is None:
                import dask

                with dask.config.set(LOCAL_CLUSTER_CONFIG):     # read by the scheduler
                    # the nannies keep a copy, from which a restarted worker starts too
                    # (they copy the configuration shallowly: the block's end would
                    # undo it in theirs)
                    self.cluster = distributed.LocalCluster(
                        n_workers=self.workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, silence_logs=logging.ERROR,
                        config=copy.deepcopy(dask.config.config))
                self.client = distributed.Client(self.cluster)
            else:
                self.client = distributed.Client(self.address, timeout=CONNECT_TIMEOUT_S)
                self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        except OSError as exc:
            self.__exit__(None)
            raise InputError(f"cannot reach the Dask scheduler ({exc})", field="--scheduler",
                             expected="the address a running `dask scheduler` prints "
                                      "(dask://tcp://HOST:PORT)") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return self.client.submit(fn, arg, pure=False, retries=TASK_RETRIES)

    def warm(self, fn: Callable[[Any], Any], arg: Any) -> None:
        """Run `fn(arg)` on every worker now, all at once (`Client.run`): fresh worker
        processes load their modules and shared data in parallel instead of in their
        first task. Best effort: a worker that fails it (or joins later) warms up on its
        first task."""
        try:
            self.client.run(fn, arg)
        except Exception:  # noqa: BLE001 - the warm-up is an optimisation only
            pass

    def result(self, handle: Any) -> Any:
        import distributed

        try:
            value = handle.result()
        except (distributed.KilledWorker, OSError, TimeoutError) as exc:
            # not a failure of the point: the cluster lost it (a task that kept killing its
            # workers, or the scheduler gone); what came back is cached, so a rerun resumes
            raise CimPluginError(f"the Dask cluster lost a task ({type(exc).__name__}: {exc}); "
                                 "the points that came back are cached: rerun to resume") from None
        handle.release()
        return value


#: at most this many jobs share a task or wait in one group (bounds the cached results
#: held back while a task is filled)
MAX_GROUP = 256


def _each(call: tuple[Callable[[Any], Any], list[Any]]) -> list[Any]:
    """One task running `fn` on several jobs' arguments, in order (`in_order`'s batches)."""
    fn, args = call
    return [fn(arg) for arg in args]


def in_order(executor: Any, fn: Callable[[Any], Any],
             jobs: Iterable[tuple[Any, Any, Any]], window: int, *,
             weight: Callable[[Any], float] | None = None,
             batch: float = 0.0) -> Iterator[tuple[Any, Any, bool]]:
    """`(tag, value, fresh)` for each `(tag, arg, cached)` of `jobs`, in their order.

    A job whose `cached` value is not None is not run; the others run as `fn(arg)` with at
    most `window` tasks in flight, so the results held at once stay bounded however many
    jobs there are (and `jobs` may be a generator).

    With `weight`, consecutive jobs to run share one task until their weights reach
    `batch` (at most MAX_GROUP jobs): many small jobs would each pay a task's round trip
    through the scheduler (a few milliseconds on Dask), as much as their own work. The
    values are the same and come back in the same order, one job at a time; a task lost
    with its worker is run again as a whole.
    """
    pending: deque[tuple[list[tuple[Any, Any]], Any]] = deque()
    group: list[tuple[Any, Any]] = []          # (tag, cached value or None)
    args: list[Any] = []
    load = 0.0

    def close() -> None:
        nonlocal group, args, load
        if not args:
            handle = None
        elif weight is None:
            handle = executor.submit(fn, args[0])
        else:
            handle = executor.submit(_each, (fn, args))
        pending.append((group, handle))
        group, args, load = [], [], 0.0

    def take() -> Iterator[tuple[Any, Any, bool]]:
        entries, handle = pending.popleft()
        if handle is None:
            values: Iterator[Any] = iter(())
        else:
            got = executor.result(handle)
            values = iter(got if weight is not None else (got,))
        for tag, cached in entries:
            yield (tag, cached, False) if cached is not None else (tag, next(values), True)

    for tag, arg, cached in jobs:
        group.append((tag, cached))
        if cached is None:
            args.append(arg)
            load += weight(arg) if weight is not None else 0.0
        if weight is None or load >= batch or len(group) >= MAX_GROUP:
            close()
            if len(pending) >= window:
                yield from take()
    if group:
        close()
    while pending:
        yield from take()


def require_dask() -> Any:
    """`dask.distributed`, or a message saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise NotAvailableError("--scheduler dask needs Dask's distributed scheduler, which is "
                                "not installed: pip install 'cim-plugin[dask]'") from None
    return distributed


def open_executor(scheduler: Scheduler, jobs: int) -> Any:
    """The executor for `--scheduler`/`--jobs` (use it as a context manager)."""
    if scheduler.kind == "dask":
        return DaskExecutor(scheduler.address, jobs)
    return SerialExecutor() if jobs <= 1 else PoolExecutor(jobs)


__all__ = ["DaskExecutor", "in_order", "PoolExecutor", "Scheduler", "SerialExecutor", "open_executor",
           "parse_scheduler", "require_dask"]
