"""The study's per-point result cache: keyed on everything that decides a result,
checksummed, and recomputed whenever an entry does not verify.

A cached record is only reused when it would be recomputed identically, so the key
covers the design point, every configuration field that reaches the evaluation, the
package version and a fingerprint of the code and data that compute it: the package's
own source, the shipped templates, tables and macro library, and the contents of the
user's library files (`CIM_PLUGIN_LIBRARY`). Editing any of them makes earlier entries
unreachable.

Each entry stores its full key and the SHA-256 of its record. Anything that does not
verify (garbage bytes, `null`, `[]`, a missing `result`, an edited number, an entry
written for another key) is treated as absent: the point is evaluated again and the
entry rewritten. Entries are read and written through `SafeFolder`, so a symbolic link
planted in the cache folder is never followed.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from cim_plugin import __version__
from cim_plugin.io.safeio import SafeFolder

FORMAT = 1
#: largest cache entry read back (a record is a few kB)
MAX_ENTRY_BYTES = 16 * 2**20
#: configuration fields that do not reach the evaluation of one point
_NOT_IN_KEY = ("designs", "macros", "workloads", "models", "sweep_m", "sweep_nk",
               "paper_compat", "macro_sweep", "waterfall")


def _digest_files(h: Any, root: Path, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        for p in sorted(root.rglob(pattern)):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(root)).encode())
                h.update(p.read_bytes())


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """The package's source and shipped data (computed once per process)."""
    from cim_plugin.resources import DATA_FOLDERS, data_dir

    h = hashlib.sha256(__version__.encode())
    _digest_files(h, Path(__file__).resolve().parent.parent, ("*.py", "*.yaml"))
    for name in DATA_FOLDERS:
        _digest_files(h, data_dir(name), ("*",))
    return h.hexdigest()


def fingerprint(backend: str = "embedded") -> str:
    """Code, data and the user's library files; with the timeloop backend also which
    timeloop-model runs."""
    from cim_plugin.library.loader import library_paths
    from cim_plugin.spec.limits import max_input_bytes

    h = hashlib.sha256(_code_fingerprint().encode())
    limit = max_input_bytes()
    for p in library_paths():
        h.update(str(p).encode())
        try:
            with open(p, "rb") as fh:
                h.update(fh.read(limit + 1))
        except OSError as exc:
            h.update(f"unreadable: {exc.errno}".encode())
    if backend == "timeloop":
        from cim_plugin.backends import timeloop as tl

        tool = tl.find_tool(tl.MODEL)
        h.update(str(tool).encode())
        if tool is not None:
            st = os.stat(tool)
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def point_key(point: dict[str, Any], config: dict[str, Any], fingerprint_hex: str) -> str:
    """Full key (hex SHA-256) of one design point under one configuration."""
    payload = {"format": FORMAT, "version": __version__, "fingerprint": fingerprint_hex,
               "point": point,
               "config": {k: v for k, v in config.items() if k not in _NOT_IN_KEY}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _checksum(record: Any) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def entry_name(key: str) -> str:
    return f"{key[:32]}.json"


def encode_entry(key: str, record: dict[str, Any]) -> bytes:
    return json.dumps({"format": FORMAT, "key": key, "sha256": _checksum(record),
                       "record": record}, sort_keys=True).encode()


def decode_entry(data: bytes | None, key: str, point: dict[str, Any]) -> dict[str, Any] | None:
    """The record of a verified entry, else None (the caller recomputes)."""
    if data is None:
        return None
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("key") != key:
        return None
    record = doc.get("record")
    if not isinstance(record, dict) or doc.get("sha256") != _checksum(record):
        return None
    if record.get("point") != point or not isinstance(record.get("result"), dict):
        return None
    return record


class PointCache:
    """Cache entries of one study output folder (`<out>/cache/<key>.json`)."""

    def __init__(self, out_dir: str | Path) -> None:
        self._out = SafeFolder.open(out_dir, create=False, flag="--output-dir")
        self.folder = self._out.subfolder("cache", create=True)

    def close(self) -> None:
        self.folder.close()
        self._out.close()

    def __enter__(self) -> PointCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: str, point: dict[str, Any]) -> dict[str, Any] | None:
        return decode_entry(self.folder.read_bytes(entry_name(key), MAX_ENTRY_BYTES), key, point)

    def put(self, key: str, record: dict[str, Any]) -> None:
        self.folder.write_bytes(entry_name(key), encode_entry(key, record))

    def workdir(self, key: str) -> Path:
        """A private folder for tool runs of one point (`<out>/timeloop/<key>`), made here
        so that a link planted in its place is refused rather than followed."""
        with self._out.subfolder("timeloop") as tl, tl.subfolder(key[:32]):
            return self._out.path.resolve() / "timeloop" / key[:32]


__all__ = ["FORMAT", "PointCache", "decode_entry", "encode_entry", "entry_name", "fingerprint",
           "point_key"]
