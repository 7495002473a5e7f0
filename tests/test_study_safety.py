"""The study's output folder under attack and under load: planted links are never
followed, names from the inputs are escaped in report.md, a second study into a busy
folder is told who holds it, workers die with their parent, failed points make the
study exit 1 (unless allowed) and say so in the last line and in report.md."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cim_plugin.cli import main
from cim_plugin.io.outdir import MARKER, marker_text
from cim_plugin.io.safeio import LOCK_NAME
from cim_plugin.study.pool import usable_cores
from tests.hostile_corpus import snapshot

EVIL = "<script>alert(1)</script>"
WORKLOAD = f"""\
name: "{EVIL}"
gemms:
  - {{name: "<img src=x onerror=alert(2)>", m: 16, n: 256, k: 256}}
  - {{name: "a|b *c* _d_ [e](f)", m: 32, n: 256, k: 256}}
"""

# a macro larger than the register file: iso-capacity sizing cannot place it at cim_rf
HUGE_MACRO = """\
macros:
  - name: hugemacro
    Rp: 4096
    Cp: 4096
    Rh: 64
    Ch: 64
    capacity_bytes: 68719476736
    latency_cycles: 9
    energy_per_mac: 0.5 pJ
    write_energy: 1 pJ
    area_um2: 5000
    node: 45nm
    provenance:
      - {paper: "a paper", fields: [Rp, Cp, Rh, Ch, capacity_bytes, latency_cycles,
                                    energy_per_mac, write_energy, area_um2]}
"""


def _decoy(root: Path) -> Path:
    d = root / "decoy"
    d.mkdir()
    (d / "precious.txt").write_text("do not touch\n")
    return d


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A study whose workload and GEMM names carry HTML and Markdown, written into a folder
    of an earlier run where links to a decoy folder were planted under the names of the
    old fixed temporary files and of two outputs."""
    root = tmp_path_factory.mktemp("hostile")
    decoy = _decoy(root)
    (root / "w.yaml").write_text(WORKLOAD)
    cfg = root / "s.yaml"
    cfg.write_text(f"designs: [cim_rf]\nmacros: [analog6T]\nsweep_m: []\nworkloads: [{root / 'w.yaml'}]\n")
    out = root / "out"
    out.mkdir()
    (out / MARKER).write_text(marker_text("study"))
    plants = {".normalized.tmp.png": decoy / "precious.txt",
              ".tops_vs_gops.tmp.svg": decoy / "new.svg",
              "report.md": decoy / "precious.txt",
              "summary.json": decoy / "summary.json"}
    for name, target in plants.items():
        (out / name).symlink_to(target)
    before = snapshot(decoy)
    import io
    from contextlib import redirect_stderr, redirect_stdout

    err, std = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(std):
        rc = main(["study", str(cfg), "-o", str(out), "--no-progress", "--jobs", "1000"])
    return {"rc": rc, "out": out, "decoy": decoy, "before": before, "err": err.getvalue(),
            "stdout": std.getvalue(), "plants": plants}


def test_planted_links_are_not_followed(hostile_run):
    r = hostile_run
    assert r["rc"] == 0, r["err"]
    assert snapshot(r["decoy"]) == r["before"]                   # nothing written through a link
    for name in ("report.md", "summary.json"):                   # outputs replace the links
        p = r["out"] / name
        assert p.is_file() and not p.is_symlink()
    assert json.loads((r["out"] / "summary.json").read_text())["schema_version"] == 1
    leftovers = [p.name for p in r["out"].iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_report_escapes_names(hostile_run):
    md = (hostile_run["out"] / "report.md").read_text()
    html = (hostile_run["out"] / "report.html").read_text()
    assert re.search(r"(?<!\\)<", md) is None                     # every `<` is escaped
    for raw in ("<script", "<img src=x", "</script"):             # the report's own figures
        assert raw not in html                                   # are the only tags left
    assert "&lt;script\\&gt;alert(1)" in html                    # the Markdown, HTML-escaped
    assert "\\<script\\>alert(1)\\</script\\>" in md             # shown literally
    assert "a\\|b \\*c\\* \\_d\\_ \\[e\\](f)" in md
    header = None                                                # no table broken by a `|`:
    for line in md.splitlines():                                 # every row has its header's
        if not line.startswith("|"):                             # number of cells
            header = None
            continue
        cells = line.replace("\\|", "").count("|")
        if header is None:
            header = cells
        assert cells == header, line


def test_jobs_are_capped_at_the_cores_with_a_note(hostile_run):
    cores = usable_cores()
    if cores >= 1000:
        pytest.skip("this machine has 1000 cores")
    assert f"--jobs 1000 is more than the {cores} usable core" in hostile_run["err"]
    assert f"using {cores}" in hostile_run["err"]


def test_cache_link_out_of_the_folder_is_refused(tmp_path, capsys):
    decoy = _decoy(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text(marker_text("study"))
    (out / "cache").symlink_to(decoy)
    cfg = tmp_path / "s.yaml"
    cfg.write_text("designs: [cim_rf]\nmacros: [analog6T]\nworkloads: []\nsweep_m: [16]\nsweep_nk: [256]\n")
    before = snapshot(decoy)
    assert main(["study", str(cfg), "-o", str(out), "--no-progress", "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "cache" in err and "symbolic link" in err
    assert snapshot(decoy) == before


def _failing_study(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    lib = tmp_path / "lib.yaml"
    lib.write_text(HUGE_MACRO)
    monkeypatch.setenv("CIM_PLUGIN_LIBRARY", str(lib))
    from cim_plugin.library import loader

    loader.clear_cache()
    cfg = tmp_path / "s.yaml"
    cfg.write_text("designs: [cim_rf]\nmacros: [analog6T, hugemacro]\nworkloads: []\n"
                   "sweep_m: [16]\nsweep_nk: [256]\nsizing: iso-capacity\n")
    return cfg, tmp_path / "out"


def test_failed_points_exit_1_and_are_reported(tmp_path, capsys, monkeypatch):
    cfg, out = _failing_study(tmp_path, monkeypatch)
    rc = main(["study", str(cfg), "-o", str(out), "--no-progress", "--jobs", "1"])
    cap = capsys.readouterr()
    assert rc == 1
    last = cap.err.strip().splitlines()[-1]
    assert "1 of 3 design points could not be evaluated" in last and "--allow-failures" in last
    assert "larger than the RF level" in last                     # the first error, in words
    assert cap.out.strip().splitlines()[-1].startswith(f"results in {out};")
    md = (out / "report.md").read_text()
    assert "Incomplete study: 1 of 3 design points could not be evaluated" in md
    assert "hugemacro" in md.split("## Points that could not be evaluated")[1]
    # the same study, failures accepted: exit 0, the last line still says so
    rc = main(["study", str(cfg), "-o", str(out), "--no-progress", "--jobs", "1",
               "--allow-failures"])
    cap = capsys.readouterr()
    assert rc == 0
    assert "1 of 3 design points could not be evaluated" in cap.out.strip().splitlines()[-1]


# ---------------------------------------------------------------- other processes

SMALL = "designs: [cim_rf]\nmacros: [analog6T]\nworkloads: []\nsweep_m: [16]\nsweep_nk: [256]\n"


def _study(cfg: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cim_plugin", "study", str(cfg), "-o", str(out),
                             "--no-progress", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, limit: float = 120.0, what: str = "") -> None:
    """Poll `predicate` until true; fail (not hang) after `limit` seconds."""
    end = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_two_studies_into_one_folder(tmp_path):
    """Started at the same moment into one new folder: each either completes or is told,
    in one line, which of the others holds the folder; never an internal error on a
    shared temporary name. Afterwards the folder is free again."""
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SMALL)
    out = tmp_path / "out"
    procs = [_study(cfg, out, "--jobs", "1") for _ in range(2)]
    results = [(p.pid, *p.communicate(timeout=300), p.returncode) for p in procs]
    assert any(rc == 0 for *_, rc in results)
    pids = {pid for pid, *_ in results}
    for pid, _, err, rc in results:
        assert rc in (0, 2), err
        if rc == 2:
            assert len(err.strip().splitlines()) == 1
            assert any(f"in use by pid {other}" in err for other in pids - {pid}), err
    assert json.loads((out / "summary.json").read_text())["schema_version"] == 1
    with open(out / LOCK_NAME) as fh:                            # released by both
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_busy_folder_names_the_process_holding_it(tmp_path):
    """While another process holds the folder, a study exits 2 at once, naming that pid,
    and writes nothing."""
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SMALL)
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text(marker_text("study"))
    with open(out / LOCK_NAME, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        before = snapshot(out)
        proc = subprocess.run([sys.executable, "-m", "cim_plugin", "study", str(cfg), "-o",
                               str(out), "--no-progress"], capture_output=True, text=True,
                              timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"cim-plugin study: error: {out}: --output-dir: the output folder is in use by pid "
        f"{os.getpid()} (expected a folder no other study is writing to (wait for pid "
        f"{os.getpid()} to finish, or choose another folder))"]
    assert snapshot(out) == before


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.update(int(x) for x in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


# two points whose mapping takes many seconds (the CiM one over a minute), so both workers
# are busy computing, not waiting for work, when their parent is killed
LONG = "designs: [cim_rf]\nmacros: [analog6T]\nworkloads: []\nsweep_m: [720720]\nsweep_nk: [720720]\n"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_workers_exit_when_the_parent_is_killed(tmp_path):
    """SIGKILL of the study while both workers compute: they exit at once instead of
    finishing points for nobody."""
    cfg = tmp_path / "s.yaml"
    cfg.write_text(LONG)
    parent = _study(cfg, tmp_path / "out", "--jobs", "2")
    try:
        _wait_for(lambda: len(_children(parent.pid)) >= 2 or parent.poll() is not None,
                  what="two worker processes")
        workers = _children(parent.pid)
        assert parent.poll() is None and len(workers) >= 2, "the study ended before the kill"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        _wait_for(lambda: not any(_alive(w) for w in workers), limit=20,
                  what=f"workers {sorted(workers)} to exit after their parent was killed")
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.communicate()
