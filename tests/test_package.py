"""Package foundation: data folders found, CLI exit codes and messages."""

from __future__ import annotations

import subprocess
import sys

from cim_plugin import __version__
from cim_plugin.cli import COMMANDS, main
from cim_plugin.resources import DATA_FOLDERS, data_dir


def test_data_folders_are_found():
    for name in DATA_FOLDERS:
        assert data_dir(name).is_dir(), name


def test_help_lists_subcommands(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("model", "map", "ert", "export", "study"):
        assert name in out
    assert set(COMMANDS) >= {"model", "map", "ert", "export", "study"}


def test_version_via_module():
    out = subprocess.run([sys.executable, "-m", "cim_plugin", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"cim-plugin {__version__}"
