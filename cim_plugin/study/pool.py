"""Worker processes for the study: never more than the cores, and never outliving the
process that started them.

- `usable_cores()` counts the cores this process may run on (CPU affinity, so a
  container's limit is respected); `--jobs` above it is capped, with a note, because
  extra processes only compete for the same cores.
- Each worker asks the kernel to kill it when its parent dies (Linux
  `PR_SET_PDEATHSIG`) and also watches its parent's pid, so a `kill -9` of the study
  does not leave workers computing for nobody.
- On any error or interrupt in the parent, the workers are terminated at once instead
  of finishing the queue.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1
#: seconds between checks of the parent's pid in a worker
WATCH_INTERVAL_S = 0.5


def usable_cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_jobs() -> int:
    """Worker processes when `--jobs` is not given: every usable core, at most 8."""
    return max(1, min(usable_cores(), 8))


def capped_jobs(requested: int) -> tuple[int, str | None]:
    """(processes to use, a note when the request was lowered)."""
    cores = usable_cores()
    if requested > cores:
        return cores, (f"--jobs {requested} is more than the {cores} usable core"
                       f"{'s' if cores != 1 else ''}; using {cores}")
    return requested, None


def _die_with_parent(parent: int) -> None:
    """Worker initializer: exit when the parent process goes away."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(WATCH_INTERVAL_S)

    if os.getppid() != parent:          # the parent died before the request took effect
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_parallel(fn: Callable[[T], R], tasks: Iterable[T], jobs: int) -> Iterator[R]:
    """`fn` over `tasks` in `jobs` worker processes, results as they finish.

    The workers are terminated (not drained) if the consumer stops early or fails.
    """
    tasks = list(tasks)
    pool = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None) \
        .Pool(processes=max(1, min(jobs, len(tasks) or 1)), initializer=_die_with_parent,
              initargs=(os.getpid(),))
    finished = False
    try:
        yield from pool.imap_unordered(fn, tasks, chunksize=1)
        finished = True
    finally:
        if finished:
            pool.close()
        else:
            pool.terminate()
        pool.join()


__all__ = ["capped_jobs", "default_jobs", "run_parallel", "usable_cores"]
