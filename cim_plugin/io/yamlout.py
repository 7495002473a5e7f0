"""YAML writing that Timeloop and Accelergy read back unchanged.

PyYAML writes `technology: "45nm"` as `technology: 45nm`; Accelergy then evaluates
`45nm` as an expression and fails. Strings that start with a digit, sign or dot (and
strings YAML would read as another type) are therefore written double-quoted. Tagged
mappings loaded by `cim_plugin.spec.yamlio` (tag under the key "!") get their tag back.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from cim_plugin.io.safeio import write_text_atomic
from cim_plugin.spec.yamlio import TAG_KEY

_NEEDS_QUOTES = re.compile(r"^[\d.+\-]")


class QuotedStr(str):
    """A string always written double-quoted: Accelergy evaluates every unquoted attribute
    value as an expression (`type: zero` is the name `zero`, an error), quoted ones are
    strings."""


def _number_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def quote_strings(attrs: dict[str, Any]) -> dict[str, Any]:
    """The attributes with every string value marked to be written double-quoted, except
    number texts such as `1e-9` (YAML 1.1 reads them as strings, Accelergy as numbers):
    those stay plain so that Accelergy still reads a number."""
    return {k: QuotedStr(v) if isinstance(v, str) and not _number_text(v) else
            (_PlainNumber(v) if isinstance(v, str) else v) for k, v in attrs.items()}


class _PlainNumber(str):
    """A number text written without quotes."""


class _Dumper(yaml.SafeDumper):
    """SafeDumper that keeps number-like strings quoted and restores `!Tags`."""


def _repr_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    plain_type = dumper.resolve(yaml.ScalarNode, value, (True, False))
    if _NEEDS_QUOTES.match(value) or plain_type != "tag:yaml.org,2002:str":
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _repr_dict(dumper: yaml.SafeDumper, value: dict) -> yaml.Node:
    if TAG_KEY in value and isinstance(value[TAG_KEY], str):
        rest = {k: v for k, v in value.items() if k != TAG_KEY}
        return dumper.represent_mapping("!" + value[TAG_KEY], rest)
    return dumper.represent_dict(value)


_Dumper.add_representer(str, _repr_str)
_Dumper.add_representer(_PlainNumber,
                        lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style=""))
_Dumper.add_representer(QuotedStr, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v),
                                                                    style='"'))
_Dumper.add_representer(dict, _repr_dict)


def dump_yaml(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)


def write_yaml(path: str | Path, doc: Any) -> Path:
    return write_text_atomic(path, dump_yaml(doc))
