"""Human- and tool-readable reports of results (stats.txt, summaries)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cim_plugin.errors import InputError


def default_mode(base: int = 0o666) -> int:
    """Permissions a plain `open()` would give (`base` minus the umask); temporary files
    are created private (0600), which would otherwise leak into the results."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write via a temporary file in the same folder and `os.replace`, so readers never
    see a half-written file. The temporary name is unpredictable and created exclusively
    (`tempfile.mkstemp`); a link at `path` is replaced, not followed. A path that cannot
    be written is an InputError naming it, not a traceback."""
    p = Path(path)
    tmp: str | None = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        os.fchmod(fd, default_mode())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except OSError as exc:
        _discard(tmp)
        raise InputError(f"cannot write ({os.strerror(exc.errno) if exc.errno else exc})",
                         file=str(p), expected="a writable location") from None
    except BaseException:
        _discard(tmp)
        raise
    return p


def _discard(tmp: str | None) -> None:
    if tmp is not None and os.path.lexists(tmp):
        os.unlink(tmp)


__all__ = ["default_mode", "write_text_atomic"]
