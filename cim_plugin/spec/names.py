"""Names that reach generated files: levels, tensors, dimensions, macros, workloads.

A name flows into YAML files (architectures, ERTs, map.yaml), Accelergy table names,
Markdown reports and plot labels. A quote, newline or colon in a name can break the
structure of those files, so names are checked against strict patterns when they are
read, with a message that names the file and the field:

- identifiers (levels, tensors, macros, designs): a letter or `_`, then letters,
  digits, `_` or `-`, at most 64 characters;
- dimensions: letters only (Timeloop's factor strings such as `M4 N8` depend on it),
  at most 16;
- labels (GEMM and workload names, shown but never parsed): printable text without
  control characters, at most 128 characters.
"""

from __future__ import annotations

import re
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.values import show

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", re.ASCII)
DIMENSION = re.compile(r"[A-Za-z]{1,16}", re.ASCII)
MAX_LABEL = 128

IDENTIFIER_TEXT = "a name of letters, digits, '_' or '-' starting with a letter or '_' (at most 64)"
DIMENSION_TEXT = "a dimension name of 1 to 16 letters"
LABEL_TEXT = f"printable text of at most {MAX_LABEL} characters"


def check_identifier(value: Any, *, file: str | None = None, field: str | None = None,
                     what: str = "name") -> str:
    """A level, tensor, macro or design name (see module docstring)."""
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise InputError(f"{what} {show(value)} is not allowed", file=file, field=field,
                         expected=IDENTIFIER_TEXT)
    return value


def check_dimension(value: Any, *, file: str | None = None, field: str | None = None) -> str:
    """A problem dimension name."""
    if not isinstance(value, str) or not DIMENSION.fullmatch(value):
        raise InputError(f"dimension {show(value)} is not allowed", file=file, field=field,
                         expected=DIMENSION_TEXT)
    return value


def check_label(value: Any, *, file: str | None = None, field: str | None = None,
                what: str = "name") -> str:
    """A name that is only displayed: printable, one line, bounded length."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"{what} {show(value)} is not text", file=file, field=field,
                         expected=LABEL_TEXT)
    text = str(value)
    if not text.strip() or len(text) > MAX_LABEL or not text.isprintable():
        raise InputError(f"{what} {show(text)} is not allowed", file=file, field=field,
                         expected=LABEL_TEXT)
    return text


__all__ = ["DIMENSION", "IDENTIFIER", "check_dimension", "check_identifier", "check_label"]
