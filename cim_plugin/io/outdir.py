"""Which output folders cim-plugin may write into, checked before any work is done.

A folder named with `-o` must be creatable and writable. The root of the file system,
the top-level system folders and the kernel's pseudo file systems (/proc, /sys, /dev)
are always refused: run as root, a mistyped `-o /` would otherwise scatter results
into `/`. A command that offers `--force` also refuses an existing, non-empty folder
that cim-plugin did not make, unless `--force` is given; cim-plugin recognises its own
folders by the marker file it leaves in them (`MARKER`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cim_plugin import __version__
from cim_plugin.errors import InputError

MARKER = ".cim-plugin"
SYSTEM_FOLDERS = frozenset({"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32",
                            "proc", "run", "sbin", "sys", "usr", "var"})
PSEUDO_FILESYSTEMS = ("proc", "sys", "dev")


def _system_folder(resolved: Path) -> str | None:
    """Why a folder is off limits, or None."""
    parts = resolved.parts
    if len(parts) <= 1:
        return "is the root of the file system"
    if len(parts) >= 2 and parts[1] in PSEUDO_FILESYSTEMS:
        return f"is inside /{parts[1]}, a system pseudo file system"
    if len(parts) == 2 and parts[1] in SYSTEM_FOLDERS:
        return "is a system folder"
    return None


def made_by_cim_plugin(folder: Path) -> bool:
    """The folder holds the marker an earlier cim-plugin run left, or the lock of a run
    that has just created it (and is about to write the marker)."""
    from cim_plugin.io.safeio import LOCK_NAME

    return any((folder / name).is_file() and not (folder / name).is_symlink()
               for name in (MARKER, LOCK_NAME))


def check_output_dir(d: Path, flag: str, *, force: bool | None = None) -> None:
    """Fail before any work on an output folder that cannot or must not be used.

    `force=None` is for commands without a `--force` option: only the always-refused
    folders and unusable paths are checked.
    """
    if d.is_symlink() and not d.exists():
        raise InputError("is a symbolic link to nothing", file=str(d), field=flag,
                         expected="a folder, or a link to an existing folder")
    resolved = d.resolve()
    why = _system_folder(resolved)
    if why:
        raise InputError(f"{resolved} {why}", file=str(d), field=flag,
                         expected="a folder of your own for the results")
    for q in (d, *d.parents):
        if q.exists():
            if not q.is_dir():
                raise InputError(f"{q} is a file, not a folder", file=str(d), field=flag,
                                 expected="a folder (created if missing)")
            if not os.access(q, os.W_OK | os.X_OK):
                raise InputError(f"{q} is not writable", file=str(d), field=flag,
                                 expected="a folder you may write to")
            break
    if force is False and d.is_dir() and has_entries(d, flag) and not made_by_cim_plugin(d):
        raise InputError("the folder exists, is not empty and was not made by cim-plugin",
                         file=str(d), field=flag,
                         expected="a new or empty folder, one cim-plugin wrote before, "
                                  "or --force to write into it anyway")


def has_entries(d: Path, flag: str) -> bool:
    """The folder holds anything at all (an unreadable folder is an InputError)."""
    try:
        with os.scandir(d) as it:
            return any(True for _ in it)
    except OSError as exc:
        raise InputError(f"cannot list the folder ({os.strerror(exc.errno or 0)})", file=str(d),
                         field=flag, expected="a folder you may read and write") from None


def check_output_file(path: Path, flag: str) -> None:
    """An output file: not a folder, in a folder that can be used."""
    if path.is_dir():
        raise InputError("the output file names a folder", file=str(path), field=flag,
                         expected="a file path")
    check_output_dir(path.parent, flag)


def check_output_paths(json_file: str | Path | None, output_dir: str | Path | None,
                       force: bool | None = None, *, dir_flag: str = "-o") -> None:
    """A command's `--json` file and `-o` folder, checked before any work (and before
    anything is written). `force` as for `check_output_dir`."""
    if json_file:
        check_output_file(Path(json_file), "--json")
    if output_dir:
        check_output_dir(Path(output_dir), dir_flag, force=force)


def marker_text(command: str) -> str:
    """Contents of the marker file (which command made the folder, and which version)."""
    return json.dumps({"made_by": "cim-plugin", "command": command, "version": __version__},
                      sort_keys=True) + "\n"


def mark_output_dir(folder: Path, command: str) -> None:
    """Leave the marker in a folder cim-plugin made or wrote (atomic, no link followed)."""
    from cim_plugin.io.safeio import SafeFolder

    with SafeFolder.open(folder) as f:
        if MARKER not in f.entries():
            f.write_bytes(MARKER, marker_text(command).encode())


__all__ = ["MARKER", "check_output_dir", "check_output_file", "check_output_paths", "has_entries", "made_by_cim_plugin",
           "mark_output_dir", "marker_text"]
