"""Safe YAML loading and Timeloop-style merging of several input files.

Timeloop v0.4 specs use tags (`!Container`, `!Component`, `!Parallel`, ...).
We load them with a SafeLoader subclass that turns a tagged mapping into a plain
dict carrying its tag under the key `!`; nothing is ever constructed from a tag.
Booleans are only true/false, as in YAML 1.2 and Timeloop (`Off` stays a name).

Inputs are bounded before they are built (`cim_plugin.spec.limits`): a file larger
than the size limit is not read, and the YAML event stream is scanned first so a
document nested too deeply or expanding, through aliases, to more nodes than the
limit (a "billion laughs" bomb) is refused before any object is constructed.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from cim_plugin.errors import InputError
from cim_plugin.spec.limits import MAX_NESTING, MAX_YAML_NODES, SIZE_ENV_VAR, max_input_bytes

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

# Booleans as YAML 1.2 and Timeloop's yaml-cpp read them: only true/false. YAML 1.1 also
# reads yes/no/on/off as booleans, which would turn a level named `Off` into False.
_TaggedSafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _SafeBase.yaml_implicit_resolvers.items()}
_TaggedSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def _mark_text(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"


def _check_structure(text: str, source: str) -> None:
    """Refuse a document nested deeper than MAX_NESTING or expanding (aliases and merge
    keys counted at their full size) to more than MAX_YAML_NODES nodes.

    Works on the event stream, so nothing is built and memory stays bounded.
    """
    anchors: dict[str, int] = {}
    stack: list[list[Any]] = [[None, 0]]            # [anchor, expanded size] per open node
    total = 0
    for event in yaml.parse(text, Loader=_TaggedSafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 1])
            total += 1
            if len(stack) - 1 > MAX_NESTING:
                raise InputError(f"nested more than {MAX_NESTING} levels deep", file=source,
                                 field=_event_where(event),
                                 expected=f"a document nested at most {MAX_NESTING} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
            if anchor:
                anchors[anchor] = size
            stack[-1][1] += size
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                anchors[event.anchor] = 1
            stack[-1][1] += 1
            total += 1
        elif isinstance(event, yaml.AliasEvent):
            size = anchors.get(event.anchor, 1)
            stack[-1][1] += size
            total += size
        if total > MAX_YAML_NODES:
            raise InputError(f"expands to more than {MAX_YAML_NODES} nodes (aliases included)",
                             file=source, field=_event_where(event),
                             expected=f"a document of at most {MAX_YAML_NODES} nodes after "
                                      "alias expansion")


def _event_where(event: yaml.Event) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"


def loads_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text safely, within the nesting and size limits; errors name the
    source and line."""
    try:
        _check_structure(text, source)
        return yaml.load(text, Loader=_TaggedSafeLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"malformed YAML: {problem}", file=source, field=_mark_text(exc),
                         expected="valid YAML") from None
    except (ValueError, OverflowError, RecursionError) as exc:
        # e.g. an integer of more digits than Python converts (sys.get_int_max_str_digits)
        what = "an integer has too many digits" if "digits" in str(exc) \
            else f"a value cannot be read ({type(exc).__name__})"
        raise InputError(what, file=source, field="YAML",
                         expected="numbers of at most 4300 digits") from None


def yaml_inline(value: Any) -> str:
    """One YAML scalar or flow collection, written by the YAML emitter.

    For templates that place user-supplied values into YAML text: quoting and escaping
    come from the emitter, so a quote or newline in a name cannot add keys.
    """
    if type(value) in _SCALARS:
        # a pure function of the value: templates place the same few numbers and names
        # many times, and the emitter costs ~0.1 ms a call (the key keeps 0 and 0.0,
        # 1 and True, 0.0 and -0.0 apart)
        return _inline_scalar(type(value), value if type(value) is str else repr(value), value)
    return _emit_inline(value)


_SCALARS = (int, float, str, bool, type(None))


@functools.lru_cache(maxsize=4096)
def _inline_scalar(kind: type, key: str, value: Any) -> str:
    return _emit_inline(value)


def _emit_inline(value: Any) -> str:
    text = yaml.safe_dump([value], default_flow_style=True, width=2**31 - 1,
                          allow_unicode=False, sort_keys=False).strip()
    return text[1:-1]


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
    """Text of an input file; a missing, unreadable, oversized or non-text file is an
    InputError. A UTF-8 byte-order mark is dropped.

    Only regular files are read (a FIFO or a device would block or never end), and
    never more than the size limit. `lenient` replaces undecodable bytes (tool outputs)
    instead of refusing the file.
    """
    p = Path(path)
    data = read_input_bytes(p, expected)
    try:
        return data.decode("utf-8-sig", errors="replace" if lenient else "strict")
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=str(p), expected=expected) from None


def read_input_bytes(path: str | Path, expected: str, *, limit: int | None = None,
                     raise_with: str = f"raise with {SIZE_ENV_VAR}") -> bytes:
    """Bytes of a regular input file of at most `limit` bytes (default: the input-size
    limit); what `read_input_text` reads, for binary formats (ONNX) too."""
    p = Path(path)
    limit = max_input_bytes() if limit is None else limit
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError("file not found", file=str(p), expected=expected) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.__class__.__name__})", file=str(p),
                         expected=expected) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory", file=str(p), expected=expected)
    if not stat.S_ISREG(st.st_mode):
        raise InputError("not a regular file", file=str(p), expected=expected)
    if st.st_size > limit:
        raise InputError(f"file of {st.st_size} bytes is larger than the input limit of "
                         f"{limit} bytes", file=str(p),
                         expected=f"{expected} of at most {limit // 2**20} MiB "
                                  f"({raise_with})")
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            data = _read_at_most(fh, limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read ({exc.__class__.__name__})", file=str(p),
                         expected=expected) from None
    if len(data) > limit:
        raise InputError(f"file is larger than the input limit of {limit} bytes", file=str(p),
                         expected=f"{expected} of at most {limit // 2**20} MiB "
                                  f"({raise_with})")
    return data


def _read_at_most(fh: Any, n: int, chunk: int = 2**20) -> bytes:
    """Up to `n` bytes, in chunks (a single `read(n)` reserves all `n` bytes at once)."""
    parts: list[bytes] = []
    left = n
    while left > 0:
        block = fh.read(min(chunk, left))
        if not block:
            break
        parts.append(block)
        left -= len(block)
    return b"".join(parts)


def load_json(path: str | Path, expected: str) -> Any:
    """A JSON file within the input limits (see `loads_json`)."""
    return loads_json(read_input_text(path, expected), str(path), expected)


def loads_json(text: str, source: str, expected: str) -> Any:
    """A JSON document: malformed text, nesting beyond Python's recursion limit,
    NaN/Infinity and integers of thousands of digits are InputErrors naming `source`."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                         file=source, field=f"line {exc.lineno}", expected=expected) from None
    except RecursionError:
        raise InputError("nested too deeply", file=source, field="(top level)",
                         expected=expected) from None
    except ValueError as exc:            # NaN/Infinity, or an integer of thousands of digits
        what = "an integer has too many digits" if "digits" in str(exc) else str(exc)[:60]
        raise InputError(f"a value cannot be read: {what}", file=source, field="(value)",
                         expected="finite numbers of at most 4300 digits") from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


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
