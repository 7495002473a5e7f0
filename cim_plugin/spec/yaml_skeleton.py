"""Parse many YAML texts that differ only in their plain numbers, once.

A design template rendered for thousands of hypothetical macros gives texts that are
the same but for a few numbers (`meshY: 4`, `width: 128`). Parsing each costs about as
much as evaluating the design. Here a text's plain numeric scalars (a value after
`key: `, ending the line or followed by `,` or `}`) are replaced by numbered
placeholders; the resulting skeleton is parsed once with `loads_yaml`, and every text
of that skeleton is the skeleton's document with each placeholder replaced by the
value the loader gives its number (read by `loads_yaml` itself). The skeleton is used
only when every placeholder comes back as a whole scalar value exactly once (not
inside a quoted string or a comment); otherwise, and for any text the skeleton cannot
stand for, the text is parsed in full. The result equals `loads_yaml(text, source)`.
A fresh document is a `marshal` copy of the skeleton's (plain dicts, lists, strings and
numbers) with the placeholders' slots set, which is several times cheaper than
rebuilding it node by node.
"""

from __future__ import annotations

import marshal
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.yamlio import loads_yaml

_NUMBER = re.compile(r"(?<=: )([0-9]+(?:\.[0-9]+)?)(?=[ \t]*$|,|\})", re.MULTILINE)
_MARK = "__cim_number_"
_PLACEHOLDER = re.compile(rf"^{_MARK}([0-9]+)__$")


@dataclass(frozen=True)
class _Skeleton:
    doc: Any
    usable: bool
    #: the document in marshal's form, and per placeholder the path of the container
    #: holding it (keys and indices from the root), its key there and its number
    frozen: bytes | None = None
    slots: tuple[tuple[tuple[Any, ...], Any, int], ...] = ()


def _skeleton_of(text: str) -> tuple[str, list[str]]:
    numbers: list[str] = []

    def mark(m: re.Match[str]) -> str:
        numbers.append(m.group(1))
        return f"{_MARK}{len(numbers) - 1}__"

    return _NUMBER.sub(mark, text), numbers


def _index(value: Any) -> int | None:
    """The number a whole placeholder value stands for (None for any other value)."""
    m = _PLACEHOLDER.match(value) if isinstance(value, str) else None
    return int(m.group(1)) if m else None


def _placeholders(doc: Any, seen: list[int]) -> bool:
    """Collect placeholder numbers in `doc`; False if one sits inside a larger string."""
    if isinstance(doc, dict):
        return all(_placeholders(k, seen) and _placeholders(v, seen) for k, v in doc.items())
    if isinstance(doc, list):
        return all(_placeholders(v, seen) for v in doc)
    if isinstance(doc, str) and _MARK in doc:
        index = _index(doc)
        if index is None:
            return False
        seen.append(index)
    return True


@lru_cache(maxsize=32)
def _parsed_skeleton(skeleton: str, count: int, source: str) -> _Skeleton:
    try:
        doc = loads_yaml(skeleton, source=source)
    except InputError:
        return _Skeleton(None, False)
    seen: list[int] = []
    usable = _placeholders(doc, seen) and sorted(seen) == list(range(count))
    if not usable:
        return _Skeleton(doc, False)
    slots: list[tuple[tuple[Any, ...], Any, int]] = []
    try:
        frozen = marshal.dumps(doc, 2) if _slots(doc, (), slots) else None
    except ValueError:                  # a value marshal cannot copy: rebuild node by node
        frozen = None
    return _Skeleton(doc, True, frozen, tuple(slots))


def _slots(doc: Any, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], Any, int]]) -> bool:
    """Collect the placeholders' slots; False if one is a mapping key (not a slot)."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) \
        if isinstance(doc, list) else ()
    for key, value in items:
        if _index(key) is not None:
            return False
        index = _index(value)
        if index is not None:
            out.append((path, key, index))
        elif isinstance(value, dict | list) and not _slots(value, (*path, key), out):
            return False
    return True


@lru_cache(maxsize=4096)
def _number(token: str) -> Any:
    return loads_yaml(token, source="<number>")


def _filled(doc: Any, values: list[Any]) -> Any:
    if isinstance(doc, dict):
        return {_filled(k, values): _filled(v, values) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_filled(v, values) for v in doc]
    index = _index(doc)
    return doc if index is None else values[index]


def loads_numbers_apart(text: str, source: str = "<string>") -> Any:
    """`loads_yaml(text, source)`, parsing once per skeleton (a fresh document each call)."""
    if _MARK in text:
        return loads_yaml(text, source=source)
    skeleton, numbers = _skeleton_of(text)
    parsed = _parsed_skeleton(skeleton, len(numbers), source)
    if not parsed.usable:
        return loads_yaml(text, source=source)
    values = [_number(t) for t in numbers]
    if parsed.frozen is None:
        return _filled(parsed.doc, values)
    doc = marshal.loads(parsed.frozen)
    for path, key, number in parsed.slots:
        node = doc
        for step in path:
            node = node[step]
        node[key] = values[number]
    return doc


__all__ = ["loads_numbers_apart"]
