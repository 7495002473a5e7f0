"""The study's design points on an executor whose workers may share no files with us.

The process pool's workers read and write the cache themselves; Dask workers may run on
other machines, so here the client does it: a point with a verified cache entry is never
sent, every other point is evaluated on a worker and its record is written to the cache
by the client as soon as it comes back. An interrupted run therefore resumes from the
points that came back, exactly as with the pool, and the records (hence the outputs) do
not depend on how many workers there were or which one ran what.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cim_plugin.study.cache import PointCache, fingerprint
from cim_plugin.study.config import StudyConfig
from cim_plugin.study.executors import in_order

#: tasks in flight per worker
WINDOW_PER_WORKER = 4


@dataclass(frozen=True)
class PointTask:
    point: Any
    cfg: StudyConfig
    macro: Any = None              # a macro that is not in the library (sweep refinement)


def evaluate_task(task: PointTask) -> dict[str, Any] | str:
    """One point evaluated on a worker; a failure is reported for the point."""
    from cim_plugin.study.point import evaluate_point

    try:
        if task.cfg.backend == "timeloop":
            with tempfile.TemporaryDirectory(prefix="cim-plugin-") as tmp:
                return evaluate_point(task.point, task.cfg, Path(tmp), task.macro)
        return evaluate_point(task.point, task.cfg, macro_obj=task.macro)
    except Exception as exc:  # noqa: BLE001 - reported per point, the study goes on
        return f"{type(exc).__name__}: {exc}"


def run_points_on(executor: Any, cfg: StudyConfig, points: list[Any], out_dir: Path,
                  progress: bool = True) -> dict[Any, dict[str, Any] | str]:
    """Every point from the cache or a worker, cached on the client as it arrives."""
    fp = fingerprint(cfg.backend)
    out: dict[Any, dict[str, Any] | str] = {}
    bar = tqdm(total=len(points), desc="study", disable=not progress, unit="pt")
    with PointCache(out_dir) as cache:
        def jobs():
            for p in points:
                key = p.key(cfg, fp)
                yield (p, key), PointTask(p, cfg), cache.get(key, p.__dict__)

        try:
            for (p, key), rec, fresh in in_order(executor, evaluate_task, jobs(),
                                                 WINDOW_PER_WORKER * executor.workers):
                if fresh and isinstance(rec, dict):
                    cache.put(key, rec)
                out[p] = rec
                bar.update(1)
        finally:
            bar.close()
    return out


__all__ = ["PointTask", "evaluate_task", "run_points_on"]
