"""Safe YAML loading and Timeloop-style merging of several input files.

Timeloop v0.4 specs use tags (`!Container`, `!Component`, `!Parallel`, ...).
We load them with a SafeLoader subclass that turns a tagged mapping into a plain
dict carrying its tag under the key `!`; nothing is ever constructed from a tag.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from cim_plugin.errors import InputError

TAG_KEY = "!"


_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml when present: same results, faster


class _TaggedSafeLoader(_SafeBase):  # type: ignore[misc, valid-type]
    """Safe loader that keeps unknown `!Tags` as data instead of failing."""


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        data = loader.construct_mapping(node, deep=True)
        out = {TAG_KEY: suffix}
        out.update(data)
        return out
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_TaggedSafeLoader.add_multi_constructor("!", _construct_tagged)


def loads_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text safely; errors name the source and line."""
    try:
        return yaml.load(text, Loader=_TaggedSafeLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"malformed YAML: {problem}", file=source, field=where,
                         expected="valid YAML") from None


def load_yaml(path: str | Path) -> Any:
    """Load one YAML file safely (a fresh object each call; parsed files are memoized)."""
    p = Path(path)
    try:
        st = p.stat()
        key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    if key is not None and key in _CACHE:
        return copy.deepcopy(_CACHE[key])
    doc = _load_uncached(p)
    if key is not None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = copy.deepcopy(doc)
    return doc


_CACHE: dict[tuple[str, int, int], Any] = {}


def read_input_text(path: str | Path, expected: str, *, lenient: bool = False) -> str:
    """Text of an input file; a missing, unreadable or non-text file is an InputError.

    `lenient` replaces undecodable bytes (tool outputs) instead of refusing the file.
    """
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8", errors="replace" if lenient else "strict")
    except FileNotFoundError:
        raise InputError("file not found", file=str(p), expected=expected) from None
    except IsADirectoryError:
        raise InputError("is a directory", file=str(p), expected=expected) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=str(p), expected=expected) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.__class__.__name__})", file=str(p),
                         expected=expected) from None


def _load_uncached(p: Path) -> Any:
    return loads_yaml(read_input_text(p, "a YAML file"), str(p))


def merge_dicts(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge the way Timeloop combines several input files.

    Mappings merge key by key; for other values the later file wins.
    """
    out = dict(base)
    for key, value in extra.items():
        if key in out and isinstance(out[key], dict) and isinstance(value, Mapping):
            out[key] = merge_dicts(out[key], value)
        else:
            out[key] = value
    return out


def load_inputs(paths: Iterable[str | Path]) -> tuple[dict[str, Any], dict[str, str]]:
    """Load and merge several input files.

    Returns the merged document and, for each top-level key, the file that
    provided it (so errors can name the right file).
    """
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for path in paths:
        doc = load_yaml(path)
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InputError("top level must be a mapping", file=str(path),
                             expected="keys such as architecture, problem, mapping")
        merged = merge_dicts(merged, doc)
        for key in doc:
            origin[key] = str(path)
    return merged, origin
