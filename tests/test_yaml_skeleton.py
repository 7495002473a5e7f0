"""Parsing texts that differ in numbers once per skeleton gives what `loads_yaml` gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cim_plugin.errors import InputError
from cim_plugin.spec.yaml_skeleton import loads_numbers_apart
from cim_plugin.spec.yamlio import loads_yaml

TEXT = """a:
  - !Component
    name: x
    spatial: {{meshX: {0}, meshY: {1}}}
    attributes:
      width: {2}
      latency: {3}
      octal: 0{1}
      text: "k"
"""
#: a number inside a quoted string, a plain string or a comment: parsed in full
NOT_A_SKELETON = TEXT + """      label: "n: {0}, m"
      note: {0}, {1}
      # depth: {2}
"""

numbers = st.one_of(st.integers(0, 10**6).map(str),
                    st.tuples(st.integers(0, 999), st.integers(0, 999)).map(
                        lambda t: f"{t[0]}.{t[1]}"))


@settings(max_examples=40, deadline=None)
@given(st.tuples(numbers, numbers, numbers, numbers))
def test_numbers_apart_equals_a_full_parse(values):
    from cim_plugin.spec.yaml_skeleton import _parsed_skeleton, _skeleton_of

    text = TEXT.format(*values)
    # equal, and of the same types (4 == 4.0): the same text
    assert repr(loads_numbers_apart(text, "t.yaml")) == repr(loads_yaml(text, "t.yaml"))
    skeleton, found = _skeleton_of(text)
    parsed = _parsed_skeleton(skeleton, 5, "t.yaml")
    assert len(found) == 5 and parsed.usable
    assert parsed.frozen is not None and len(parsed.slots) == 5     # the copying path
    other = NOT_A_SKELETON.format(*values)
    assert loads_numbers_apart(other, "t.yaml") == loads_yaml(other, "t.yaml")
    skeleton, found = _skeleton_of(other)
    assert not _parsed_skeleton(skeleton, len(found), "t.yaml").usable


def test_the_skeleton_is_reused_and_its_document_not_shared():
    a = loads_numbers_apart("x: {meshY: 4}\ny: 8\n")
    b = loads_numbers_apart("x: {meshY: 16}\ny: 1.5\n")
    assert a == {"x": {"meshY": 4}, "y": 8}
    assert b == {"x": {"meshY": 16}, "y": 1.5}
    a["x"]["meshY"] = 0
    assert loads_numbers_apart("x: {meshY: 4}\ny: 8\n") == {"x": {"meshY": 4}, "y": 8}


def test_bad_yaml_fails_as_a_full_parse_does():
    text = "x: [1, 2\ny: 3\n"
    with pytest.raises(InputError) as full:
        loads_yaml(text, "t.yaml")
    with pytest.raises(InputError) as fast:
        loads_numbers_apart(text, "t.yaml")
    assert str(fast.value) == str(full.value)
