"""Writing inside one output folder without ever leaving it.

An output folder may hold files planted by someone else: a symbolic link named like a
temporary file, or a `cache` link pointing elsewhere. Opening paths by name would follow
them and write outside the folder. Here the folder is opened once, and every file and
subfolder is reached through that descriptor with `O_NOFOLLOW`:

- temporary files get unpredictable names (`secrets.token_hex`) and are created with
  `O_EXCL`, so they can neither be guessed in advance nor collide between processes;
- a subfolder or file that is a symbolic link is refused, never followed;
- `Staging` keeps every output in memory and publishes them together at the end (each
  file written to a temporary name, then all renamed), so a failure leaves no partial
  set of outputs;
- `lock()` takes an exclusive `flock` on the folder, so two runs into one folder do not
  interleave; the second is told which process holds it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cim_plugin.errors import InputError

LOCK_NAME = ".cim-plugin.lock"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


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


def _plain_name(name: str) -> str:
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        raise ValueError(f"not a plain file name: {name!r}")
    return name


class SafeFolder:
    """A folder opened once; files inside are reached through its descriptor only."""

    def __init__(self, path: Path, fd: int, flag: str) -> None:
        self.path = path
        self.fd = fd
        self.flag = flag

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, *, flag: str = "-o", create: bool = True) -> SafeFolder:
        """Open (and create) the folder the user named; a link the user named is
        resolved once, links inside it are never followed."""
        p = Path(path)
        try:
            resolved = p.resolve()
            if create:
                resolved.mkdir(parents=True, exist_ok=True)
            fd = os.open(resolved, _DIR_FLAGS)
        except OSError as exc:
            raise InputError(f"cannot use the output folder ({os.strerror(exc.errno or 0)})",
                             file=str(p), field=flag,
                             expected="a writable folder (created if missing)") from None
        return cls(p, fd, flag)

    def subfolder(self, name: str, *, create: bool = True) -> SafeFolder:
        """A folder inside this one; a symbolic link in its place is refused."""
        _plain_name(name)
        if create:
            try:
                os.mkdir(name, 0o777, dir_fd=self.fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise self._error(name, exc) from None
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        except OSError as exc:
            raise self._error(name, exc) from None
        return SafeFolder(self.path / name, fd, self.flag)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> SafeFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, name: str, exc: OSError) -> InputError:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            return InputError("is a symbolic link or not a plain file/folder; refusing to follow "
                              "it out of the output folder", file=str(self.path / name),
                              field=self.flag, expected="no links inside the output folder")
        return InputError(f"cannot write ({os.strerror(exc.errno or 0)})",
                          file=str(self.path / name), field=self.flag,
                          expected="a writable output folder")

    # ------------------------------------------------------------------ files
    def entries(self) -> list[str]:
        return os.listdir(self.fd)

    def read_bytes(self, name: str, limit: int) -> bytes | None:
        """Contents of a regular file (None when absent, a link, not regular or larger
        than `limit`): what a cache reader needs, which recomputes on None."""
        _plain_name(name)
        try:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK, dir_fd=self.fd)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            data = fh.read(limit + 1)
        return data if len(data) <= limit else None

    def open_temp(self, name: str) -> tuple[str, BinaryIO]:
        """A new file with an unpredictable name next to `name`, open for writing: for
        outputs streamed to disk piece by piece and published (renamed) at the end."""
        _plain_name(name)
        for _ in range(16):
            tmp = f".{name}.{secrets.token_hex(8)}.tmp"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600,
                             dir_fd=self.fd)
            except FileExistsError:
                continue
            except OSError as exc:
                raise self._error(name, exc) from None
            try:
                os.fchmod(fd, default_mode())
            except OSError as exc:
                os.close(fd)
                self.remove(tmp)
                raise self._error(name, exc) from None
            return tmp, os.fdopen(fd, "wb")
        raise InputError("cannot create a temporary file", file=str(self.path / name),
                         field=self.flag, expected="a writable output folder")

    def write_temp(self, name: str, data: bytes) -> str:
        """Write `data` to a new file with an unpredictable name next to `name`."""
        tmp, fh = self.open_temp(name)
        try:
            with fh:
                fh.write(data)
        except OSError as exc:
            self.remove(tmp)
            raise self._error(name, exc) from None
        return tmp

    def publish(self, tmp: str, name: str) -> None:
        """Rename a temporary file over `name` (a link at `name` is replaced, not followed)."""
        try:
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except OSError as exc:
            self.remove(tmp)
            raise self._error(name, exc) from None

    def write_bytes(self, name: str, data: bytes) -> None:
        """Atomic write: readers see the old file or the new one, never a half-written one."""
        self.publish(self.write_temp(name, data), name)

    def is_folder(self, name: str) -> bool:
        """`name` is a real folder (a link is not followed)."""
        try:
            return stat.S_ISDIR(os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode)
        except OSError:
            return False

    def remove(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self.fd)
        except OSError:
            pass

    # ------------------------------------------------------------------ locking
    @contextmanager
    def lock(self, what: str = "cim-plugin") -> Iterator[None]:
        """Exclusive use of the folder while the block runs; a second process gets an
        InputError naming the process that holds the folder. The lock ends with the
        process, however it ends (kill -9 included)."""
        try:
            fd = os.open(LOCK_NAME, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600, dir_fd=self.fd)
        except OSError as exc:
            raise self._error(LOCK_NAME, exc) from None
        try:
            busy = False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as exc:
                # another holder; any other failure is a file system without locks, where
                # the writes stay collision-free anyway
                busy = exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
            if busy:
                # the holder writes its pid just after it takes the lock: give it a moment
                holder = ""
                for _ in range(50):
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                    if holder.isdigit():
                        break
                    time.sleep(0.01)
                who = f"pid {holder}" if holder.isdigit() else "another process"
                raise InputError(f"the output folder is in use by {who}", file=str(self.path),
                                 field=self.flag,
                                 expected=f"a folder no other {what} is writing to (wait for "
                                          f"{who} to finish, or choose another folder)")
            yield
        finally:
            os.close(fd)


class Staging:
    """Outputs kept until `publish()`: all are written to temporary files first, then
    renamed into place together; nothing is published when any write fails."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def add(self, name: str, data: bytes | str) -> None:
        self.files[_plain_name(name)] = data.encode("utf-8") if isinstance(data, str) else data

    def publish(self, folder: SafeFolder) -> list[Path]:
        """Write every file to a temporary name, check every target can be replaced, then
        rename them all; on any failure the temporary files are removed and nothing new
        is visible."""
        temps: list[tuple[str, str]] = []
        try:
            for name in self.files:
                if folder.is_folder(name):
                    raise InputError("is a folder; an output file of that name cannot replace it",
                                     file=str(folder.path / name), field=folder.flag,
                                     expected="no folders named like the outputs")
            for name, data in self.files.items():
                temps.append((folder.write_temp(name, data), name))
            while temps:
                tmp, name = temps[0]
                folder.publish(tmp, name)
                temps.pop(0)
        finally:
            for tmp, _ in temps:
                folder.remove(tmp)
        return [folder.path / name for name in self.files]


__all__ = ["LOCK_NAME", "SafeFolder", "Staging", "default_mode", "write_text_atomic"]
