"""Human- and tool-readable reports of results (stats.txt, summaries)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def default_mode(base: int = 0o666) -> int:
    """Permissions a plain `open()` would give (`base` minus the umask); temporary files
    are created private (0600), which would otherwise leak into the results."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write via a temporary file in the same folder and `os.replace`, so readers never
    see a half-written file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, default_mode())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


__all__ = ["default_mode", "write_text_atomic"]
