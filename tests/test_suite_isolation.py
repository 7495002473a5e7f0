"""The suite collects next to another distribution's top-level `tests` package.

timeloopfe installs a regular package named `tests` into site-packages; before tests/
was a package, Python resolved `tests.conftest` there ("No module named
'tests.conftest'"). This runs pytest's collection in a subprocess with such a package
ahead of ours on the path, from the project root and from another folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# modules that import shared helpers from `tests.*`
MODULES = ["tests/test_export.py", "tests/test_backend_timeloop.py", "tests/test_cli_model.py"]


def _collect(cwd: Path, site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *[p for p in
                                         env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
            "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
            *[str(ROOT / m) for m in MODULES]]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_collects_next_to_a_foreign_tests_package(tmp_path):
    site = tmp_path / "site"
    (site / "tests").mkdir(parents=True)
    (site / "tests" / "__init__.py").write_text("")           # as timeloopfe installs it
    (site / "tests" / "test_nest.py").write_text("def test_foreign():\n    raise AssertionError\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd in (ROOT, elsewhere):
        proc = _collect(cwd, site)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-3000:]
        assert "Error" not in out and "ERROR" not in out
        assert "test_export.py::test_export_is_portable" in out
        assert "test_foreign" not in out
