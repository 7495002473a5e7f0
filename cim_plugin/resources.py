"""Locate the data folders shipped with the package.

The folders `arch_templates/`, `components/` and `mapper_constraints/` live at the
repository root; a wheel installs them as `cim_plugin/_data/<name>`. In a source
checkout (or an editable install) they are found next to the package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DATA_FOLDERS = ("arch_templates", "components", "mapper_constraints")


def data_dir(name: str) -> Path:
    """Return the directory of one shipped data folder."""
    if name not in DATA_FOLDERS:
        raise ValueError(f"unknown data folder {name!r}; valid: {', '.join(DATA_FOLDERS)}")
    installed = Path(str(resources.files("cim_plugin"))) / "_data" / name
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"cim_plugin data folder {name!r} is missing from the installation")


def data_file(folder: str, *parts: str) -> Path:
    """Path of a file inside a shipped data folder."""
    return data_dir(folder).joinpath(*parts)
