"""`--scheduler dask`: same bytes as the process pool, lost workers retried, resume.

One LocalCluster (2 worker processes) is shared by the tests that join a running
scheduler; one more is started by the command itself (`--scheduler dask`)."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from cim_plugin.cli import main

distributed = pytest.importorskip("distributed")

CONFIG = ("designs: [cim_rf]\nmacros: [analog6T]\nworkloads: []\nsweep_m: [1, 16]\n"
          "sweep_nk: [256]\ncim_strategy: priority\nbaseline_strategy: search\n"
          "macro_sweep:\n  energy_per_mac_pJ: [0.05, 0.5, 2.0]\n  latency_cycles: [1, 9]\n"
          "  Rp: [32, 64]\n")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR) as c:
        yield c


def _outputs(folder: Path) -> dict[str, bytes]:
    """Every published file (the cache's mapper timings and the lock's pid differ between
    any two runs, so they are left out)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "cache" not in p.parts and p.name != ".cim-plugin.lock"}


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(CONFIG)
    return cfg


@pytest.fixture(scope="module")
def pool_run(tmp_path_factory) -> dict[str, bytes]:
    """The outputs of the study with the local process pool, `--jobs 2`."""
    tmp = tmp_path_factory.mktemp("pool")
    out = tmp / "out"
    assert main(["study", str(_config(tmp)), "-o", str(out), "--jobs", "2",
                 "--no-progress"]) == 0
    return _outputs(out)


def test_local_cluster_gives_the_bytes_of_jobs_2(tmp_path, pool_run):
    dask = tmp_path / "dask"
    assert main(["study", str(_config(tmp_path)), "-o", str(dask), "--jobs", "2",
                 "--scheduler", "dask", "--no-progress"]) == 0
    assert "sweep.csv" in pool_run and "frontier.csv" in pool_run and len(pool_run) > 15
    assert _outputs(dask) == pool_run


def _square_or_die(arg: tuple[int, str]) -> int:
    """Kills the worker process running it the first time it sees task 3."""
    i, marker = arg
    if i == 3:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os.kill(os.getpid(), signal.SIGKILL)
    return i * i


@pytest.mark.parametrize("batch", [0, 3])
def test_a_killed_worker_is_retried(cluster, tmp_path, batch):
    """One job per task (a study's points) or three (a sweep's small chunks)."""
    from cim_plugin.study.executors import DaskExecutor, in_order

    marker = str(tmp_path / "killed-once")
    jobs = ((i, (i, marker), None) for i in range(8))
    weight = {"weight": lambda arg: 1.0, "batch": batch} if batch else {}
    with DaskExecutor(cluster.scheduler_address, 2) as ex:
        got = [(tag, value) for tag, value, _ in in_order(ex, _square_or_die, jobs, 4,
                                                          **weight)]
    assert Path(marker).exists()                          # a worker did die
    assert got == [(i, i * i) for i in range(8)]


class _Interrupt(Exception):
    pass


def test_interrupted_dask_run_resumes(cluster, tmp_path, pool_run):
    """Stop a Dask run after two points: those two are cached and kept; the rerun
    evaluates the rest and writes what an uninterrupted run writes."""
    from cim_plugin.study.config import load_config
    from cim_plugin.study.executors import DaskExecutor
    from cim_plugin.study.runner import run_points, study_gemms, study_points

    cfg_path = _config(tmp_path)
    cfg = load_config(cfg_path)
    points = study_points(cfg, study_gemms(cfg))
    out = tmp_path / "run"
    out.mkdir()

    class Stopping(DaskExecutor):
        seen = 0

        def result(self, handle):
            if Stopping.seen == 2:
                raise _Interrupt()
            Stopping.seen += 1
            return super().result(handle)

    with Stopping(cluster.scheduler_address, 2) as ex, pytest.raises(_Interrupt):
        run_points(cfg, points, out, 2, progress=False, executor=ex)
    entries = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "cache").iterdir()}
    assert len(entries) == 2 < len(points) == 4
    address = f"dask://{cluster.scheduler_address}"
    assert main(["study", str(cfg_path), "-o", str(out), "--scheduler", address,
                 "--no-progress", "--force"]) == 0
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "cache").iterdir()}
    assert len(after) == 4 + 2          # every point, and the sweep's two geometries
    assert all(after[name] == entries[name] for name in entries)      # reused, not rewritten
    assert _outputs(out) == pool_run


def test_bad_scheduler_is_one_line(tmp_path, capsys):
    rc = main(["study", str(_config(tmp_path)), "-o", str(tmp_path / "o"),
               "--scheduler", "dask://no port"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "--scheduler" in err
    assert not (tmp_path / "o").exists()


def _profiling(dask_worker) -> tuple[bool, bool, float]:
    """(the worker's config enables the profiler, the worker samples its stacks, its
    event-loop tick in ms)."""
    import dask

    return (bool(dask.config.get("distributed.worker.profile.enabled")),
            "profile" in dask_worker.periodic_callbacks,
            dask_worker.periodic_callbacks["tick"].callback_time)


def test_local_cluster_workers_do_not_profile_even_when_restarted(cluster):
    """The statistical profiler samples a worker's stacks every 10 ms for a dashboard
    the study never opens, and the event loops tick every 20 ms; the study's
    LocalCluster turns the one off and slows the other, in its scheduler and in its
    workers, also in a worker its nanny restarts, and leaves this process's
    configuration as it was."""
    import dask

    from cim_plugin.study.executors import DaskExecutor

    before = dask.config.get("distributed")
    with DaskExecutor(None, 1) as ex:
        assert dask.config.get("distributed") == before
        assert ex.cluster.scheduler.periodic_callbacks["tick"].callback_time == 500
        (address, first), = ex.client.run(_profiling).items()
        assert first == (False, False, 500)
        ex.client.restart_workers([address])
        ex.client.wait_for_workers(1)
        assert list(ex.client.run(_profiling).values()) == [(False, False, 500)]
    # a cluster started without that configuration does profile (the check can fail)
    with distributed.Client(cluster.scheduler_address) as client:
        on = bool(dask.config.get("distributed.worker.profile.enabled"))
        tick = 1000 * dask.utils.parse_timedelta(dask.config.get("distributed.admin.tick.interval"))
        assert list(client.run(_profiling).values()) == [(on, on, tick)] * 2
