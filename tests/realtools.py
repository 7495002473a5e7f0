"""Finding the real Timeloop/Accelergy/timeloopfe tools for the tests that need them.

The tools are found the way a user's shell finds them (PATH), and Timeloop's binaries
also the way the backend finds them (CIM_PLUGIN_TIMELOOP_BIN, TIMELOOP_BIN_DIR); tests
skip cleanly when one is missing. Accelergy runs in its own Python, which must import
cim_plugin: `tool_env` puts only this package on its PYTHONPATH (through a link in a
temporary folder), never the rest of our environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import cim_plugin
from cim_plugin.backends import timeloop as tl

PACKAGE_DIR = Path(cim_plugin.__file__).resolve().parent


def missing_tools(*names: str) -> list[str]:
    """The named tools ("timeloop-model", "tl", "accelergy", ...) that cannot be found."""
    out = []
    for name in names:
        if name.startswith("timeloop-"):
            found = tl.find_tool(name) is not None
        elif name == "accelergy":
            found = shutil.which(name) is not None or bool(os.environ.get("ACCELERGYPATH"))
        else:
            found = shutil.which(name) is not None
        if not found:
            out.append(name)
    return out


def needs(*names: str) -> pytest.MarkDecorator:
    missing = missing_tools(*names)
    return pytest.mark.skipif(bool(missing), reason=f"not found: {', '.join(missing)} "
                              "(PATH; CIM_PLUGIN_TIMELOOP_BIN for Timeloop's binaries)")


def tool_env(scratch: Path) -> dict[str, str]:
    """Environment for timeloopfe/Timeloop/Accelergy subprocesses: Timeloop's bin folder on
    PATH, and cim_plugin (alone) importable by Accelergy's Python."""
    env = dict(os.environ)
    link_dir = scratch / "pythonpath"
    link_dir.mkdir(parents=True, exist_ok=True)
    link = link_dir / "cim_plugin"
    if not link.exists():
        link.symlink_to(PACKAGE_DIR, target_is_directory=True)
    env["PYTHONPATH"] = os.pathsep.join([str(link_dir), *[p for p in
                                         env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    model = tl.find_tool(tl.MODEL)
    if model is not None:
        env["PATH"] = os.pathsep.join([str(model.parent), env.get("PATH", "")])
    return env


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    """Run a tool without a shell; its output, or a failure showing the output's tail."""
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited {proc.returncode}:\n{out[-3000:]}")
    return out
