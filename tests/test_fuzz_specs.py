"""Random values in every input loader (hypothesis): each either returns something that
satisfies the documented limits or raises InputError, never another exception and never
a silently coerced value."""

from __future__ import annotations

import copy
import json
import math
import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cim_plugin.errors import InputError
from cim_plugin.report.markdown import md_code, md_text
from cim_plugin.spec.arch import architecture_from_processed
from cim_plugin.spec.ert import art_from_dict, ert_from_dict
from cim_plugin.spec.limits import MAX_DIMENSION, MAX_ENERGY_PJ, MAX_MACS
from cim_plugin.spec.mapping import mapping_from_list
from cim_plugin.spec.problem import load_problem
from cim_plugin.spec.v4 import MAX_MAGNITUDE, resolve_value
from cim_plugin.spec.values import int_from_text, real_from_text, to_int
from cim_plugin.spec.yamlio import loads_yaml
from tests.hostile_corpus import PROBLEM
from tests.test_model_tensor_core import TENSOR_CORE_ARCH, TENSOR_CORE_ERT, TENSOR_CORE_MAPPING

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(-2**70, 2**70), st.sampled_from([0, 1, -1, 2**31, 2**31 + 1, 2**62, 10**12]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.sampled_from(["64", "6_4", "６４", "1e3", "nan", "inf", " 8 ", "0x10"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)


def _set_path(doc, path, value):
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


PROBLEM_PATHS = [("problem", "instance", "M"), ("problem", "instance", "N"),
                 ("problem", "instance", "Q"), ("problem", "instance", "densities"),
                 ("problem", "shape", "dimensions"), ("problem", "shape", "name"),
                 ("problem", "shape", "data_spaces"), ("problem", "shape", "coefficients"),
                 ("problem", "shape", "data_spaces", 0, "projection"),
                 ("problem", "shape", "data_spaces", 1, "name"),
                 ("problem", "shape", "data_spaces", 2, "read_write"), ("problem", "shape")]


@SETTINGS
@given(path=st.sampled_from(PROBLEM_PATHS), value=VALUES)
def test_problem_loader(path, value):
    doc = copy.deepcopy(PROBLEM)
    _set_path(doc, path, value)
    try:
        p = load_problem(doc, "p.yaml")
    except InputError as exc:
        assert exc.file == "p.yaml" and exc.field and exc.expected
        return
    assert all(type(b) is int and 1 <= b <= MAX_DIMENSION for b in p.bounds.values())
    assert set(p.bounds) == set(p.dimensions)                    # no dimension defaulted
    assert math.prod(p.bounds.values()) <= MAX_MACS


LEAF_ATTRS = ["depth", "width", "datawidth", "entries", "block_size", "cluster_size", "meshX",
              "meshY", "read_bandwidth", "multiple_buffering", "sizeKB"]


@SETTINGS
@given(leaf=st.integers(0, 6), key=st.sampled_from(LEAF_ATTRS), value=SCALARS)
def test_architecture_loader(leaf, key, value):
    arch = copy.deepcopy(TENSOR_CORE_ARCH)
    arch["subtree"][0]["local"][leaf]["attributes"][key] = value
    try:
        a = architecture_from_processed(arch, "a.yaml")
    except InputError as exc:
        assert exc.file == "a.yaml" and exc.field and exc.expected
        return
    for s in a.storage:
        assert s.size is None or (type(s.size) is int and s.size >= 1)
        assert s.word_bits >= 1 and s.block_size >= 1 and s.multiple_buffering > 0
        assert s.mesh_x >= 1 and s.mesh_y >= 1
        for bw in (s.read_bandwidth, s.write_bandwidth, s.shared_bandwidth):
            assert bw is None or (math.isfinite(bw) and bw > 0)


MAP_KEYS = ["factors", "permutation", "split", "keep", "bypass", "target", "type"]


@SETTINGS
@given(index=st.integers(0, len(TENSOR_CORE_MAPPING) - 1), key=st.sampled_from(MAP_KEYS),
       value=st.one_of(VALUES, st.text(alphabet="MNKQ0123456789 =,_６", max_size=12)))
def test_mapping_loader(index, key, value):
    entries = copy.deepcopy(TENSOR_CORE_MAPPING)
    entries[index][key] = value
    try:
        m = mapping_from_list(entries, file="m.yaml", dims=("M", "N", "K"),
                              dataspaces=("A", "B", "Z"))
    except InputError as exc:
        assert exc.file == "m.yaml" and exc.field and exc.expected
        return
    for lm in m.levels.values():
        for factors in (lm.temporal, lm.spatial):
            assert set(factors) <= {"M", "N", "K"}
            assert all(type(v) is int and 1 <= v <= MAX_DIMENSION for v in factors.values())
        for perm in (lm.temporal_permutation, lm.spatial_permutation):
            assert set(perm) <= {"M", "N", "K"} and len(set(perm)) == len(perm)
        assert not ((lm.keep or frozenset()) & (lm.bypass or frozenset()))
        assert (lm.keep or frozenset()) | (lm.bypass or frozenset()) <= {"A", "B", "Z"}


@SETTINGS
@given(value=SCALARS)
def test_energy_table_accepts_only_plausible_energies(value):
    ert = copy.deepcopy(TENSOR_CORE_ERT)
    ert["ERT"]["tables"][1]["actions"][0]["energy"] = value
    try:
        table = ert_from_dict(ert, "e.yaml")
    except InputError as exc:
        assert "SMEM" in exc.field and "read" in exc.field
        return
    e = table.tables["SMEM"]["read"]
    assert 0 <= e <= MAX_ENERGY_PJ and not isinstance(value, bool)
    assert e == float(value)                                   # taken as written, not coerced


@SETTINGS
@given(value=SCALARS)
def test_area_table_accepts_only_plausible_areas(value):
    try:
        art = art_from_dict({"ART": {"tables": [{"name": "s.SMEM[1..1]", "area": value}]}}, "a")
    except InputError:
        return
    assert 0 <= art.areas["SMEM"] <= 1e12 and art.areas["SMEM"] == float(value)


@SETTINGS
@given(text=st.text(max_size=40))
def test_integer_text_is_plain_ascii(text):
    v = int_from_text(text)
    if v is not None:
        t = text.strip(" \t")
        assert t.isascii() and re.fullmatch(r"[+-]?[0-9]+", t) and v == int(t)
    r = real_from_text(text)
    if r is not None:
        assert text.strip(" \t").isascii() and math.isfinite(r)


@SETTINGS
@given(value=SCALARS)
def test_to_int_never_truncates(value):
    try:
        v = to_int(value, field="f")
    except InputError:
        return
    assert not isinstance(value, bool)
    assert v == value or v == int_from_text(value)             # exact, never truncated


@settings(max_examples=80, deadline=None)
@given(text=st.text(alphabet=string.printable + "&*[]{}|<>!%@`", max_size=200))
def test_yaml_loader_raises_only_input_errors(text):
    try:
        loads_yaml(text, "x.yaml")
    except InputError as exc:
        assert exc.file == "x.yaml"


@settings(max_examples=80, deadline=None)
@given(text=st.text(alphabet="0123456789+-*/()% .e", max_size=40),
       names=st.dictionaries(st.sampled_from(["a", "b"]), SCALARS, max_size=2))
def test_expressions_stay_bounded(text, names):
    out = resolve_value(text, names)
    assert isinstance(out, str | int | float | bool)
    if isinstance(out, int | float) and not isinstance(out, bool):
        assert math.isfinite(out) and abs(out) <= MAX_MAGNITUDE


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=80))
def test_markdown_text_is_literal(text):
    out = md_text(text)
    assert "\n" not in out and "\r" not in out
    assert re.search(r"(?<!\\)[<>|`*\[\]]", out) is None         # every special escaped
    unescaped = re.sub(r"\\(.)", r"\1", out)
    assert unescaped == " ".join(text.split())[:200] or len(text) > 197
    code = md_code(text)
    fence = re.match(r"`+", code).group(0)
    assert code.endswith(fence) and fence not in code[len(fence):-len(fence)]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.recursive(SCALARS.filter(lambda v: not (isinstance(v, float) and not math.isfinite(v))),
                        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3)),
                        max_leaves=8))
def test_summary_loader(doc, tmp_path):
    from cim_plugin.report.diff import load_summary

    assume(not isinstance(doc, str))
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"schema_version": 1, "points": doc}))
    try:
        s = load_summary(p)
    except InputError as exc:
        assert "s.json" in str(exc)
        return
    for vals in s.points.values():
        assert all(v is None or (math.isfinite(v) and not isinstance(v, bool)) for v in vals.values())


@pytest.mark.parametrize("text", ["a: &a [1]\nb: [*a, *a]\n", "a: Off\nb: yes\n"])
def test_small_aliases_and_yaml12_booleans_load(text):
    doc = loads_yaml(text)
    assert doc in ({"a": [1], "b": [[1], [1]]}, {"a": "Off", "b": "yes"})


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(st.text(max_size=60), st.sampled_from(
    ['x"\n      injected_attr: 12345\n      z: "', "Off", "yes", "1e-9", "- a", "{a: 1}",
     "&x *x", "#", "'", "\\", "\u2028", "\x85"])))
def test_yaml_inline_emits_one_scalar(value):
    """A value placed into YAML text through `yaml_inline` reads back as exactly that
    value: a quote or line break cannot add keys."""
    from cim_plugin.spec.yamlio import yaml_inline

    doc = loads_yaml(f"attributes:\n  type: {yaml_inline(value)}\n  width: 8\n")
    assert doc == {"attributes": {"type": value, "width": 8}}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(alphabet=string.printable + "\ufeff６é\x00", max_size=200))
def test_gemm_list_loader(body, tmp_path):
    """A random GEMM list: every GEMM of an accepted list is within the limits; anything
    else is an InputError naming the file."""
    from cim_plugin.study.workloads import load_gemm_csv

    path = tmp_path / "g.csv"
    path.write_text("name,m,n,k,count\n" + body, encoding="utf-8")
    try:
        w = load_gemm_csv(path)
    except InputError as exc:
        assert exc.file == str(path) and exc.field and exc.expected
        return
    for g in w.gemms:
        assert all(type(v) is int and 1 <= v <= MAX_DIMENSION for v in (g.m, g.n, g.k, g.count))
        assert g.m * g.n * g.k * g.count <= MAX_MACS and g.name.isprintable()
