"""Errors a user can act on.

Every error raised for bad input names the file, the field and what would be
valid, so the CLI can print one line and exit with status 2 instead of a
traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class CimPluginError(Exception):
    """Base class: a failure the user can understand without a traceback."""

    exit_code = 1


class InputError(CimPluginError):
    """Bad input (file, field, value). The CLI exits with status 2."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 expected: str | None = None) -> None:
        self.file = file
        self.field = field
        self.expected = expected
        self.detail = message
        parts = []
        if file:
            parts.append(str(file))
        if field:
            parts.append(field)
        prefix = ": ".join(parts)
        text = f"{prefix}: {message}" if prefix else message
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


class InvalidMappingError(InputError):
    """A mapping Timeloop would reject (capacity, fan-out, factor products)."""


class NotAvailableError(CimPluginError):
    """A capability that needs something not installed or not built."""

    exit_code = 1


@contextlib.contextmanager
def blame(file: str | None, field: str | None = None) -> Iterator[None]:
    """Errors raised inside name `file` (and `field`) when they name no file themselves:
    a level's capacity or a library lookup knows the level, the command knows the file."""
    try:
        yield
    except InputError as exc:
        if exc.file or not file:
            raise
        raise type(exc)(exc.detail, file=file, field=exc.field or field,
                        expected=exc.expected) from None
