"""A corpus of hostile and mistaken inputs for the command line, one `Case` each.

Every error case must end with exit status 2 and one line that names the file (when a
file is at fault), the field and what would be valid, with no traceback, nothing
created or changed in the work folder (no partial output) and nothing touched in a
decoy folder next to it. `tests/test_fuzz_cli.py` runs the corpus in-process;
`benchmarks/bench_hostile.py` runs it in subprocesses with a time limit and counts the
outcomes per subcommand.

Placeholders in arguments, file contents and link targets: `{w}` is the work folder,
`{decoy}` the decoy folder.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from tests.test_cli_model import PROBLEM
from tests.test_model_tensor_core import (
    TENSOR_CORE_ARCH,
    TENSOR_CORE_ART,
    TENSOR_CORE_ERT,
    TENSOR_CORE_MAPPING,
)

#: the input-size limit the corpus runs under (MiB), so size cases stay small
LIMIT_MB = "1"

V4_ARCH = """\
architecture:
  version: 0.4
  nodes:
  - !Container
    name: top
    attributes: {technology: "45nm", global_cycle_seconds: 1e-9}
  - !Component
    name: DRAM
    class: DRAM
    attributes: {width: 64, datawidth: 8}
  - !Component
    name: SMEM
    class: storage
    subclass: smartbuffer_SRAM
    attributes: {depth: 8192, width: 256, datawidth: 8}
  - !Container
    name: PE
    spatial: {meshX: 4}
  - !Component
    name: RF
    class: storage
    subclass: smartbuffer_RF
    attributes: {depth: 256, width: 8, datawidth: 8}
  - !Component
    name: mac
    class: intmac
    attributes: {datawidth: 8}
"""

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

MACRO = {
    "name": "mymacro", "title": "a user macro", "Rp": 64, "Cp": 4, "Rh": 1, "Ch": 16,
    "capacity_bytes": 4096, "latency_cycles": 9, "clock_GHz": 1.0, "energy_per_mac": "0.5 pJ",
    "write_energy": "1.0 pJ", "area_um2": 5000, "node": "45nm", "precision_bits": 8,
    "provenance": [{"paper": "a paper", "fields": ["Rp", "Cp", "Rh", "Ch", "capacity_bytes",
                                                   "latency_cycles", "clock_GHz",
                                                   "energy_per_mac", "write_energy",
                                                   "area_um2", "precision_bits"]}],
}


@dataclass(frozen=True)
class Case:
    """One command line with the files it reads, and what it must produce."""

    id: str
    command: str
    argv: tuple[str, ...]
    files: tuple[tuple[str, str | bytes], ...] = ()
    names: tuple[str, ...] = ()               # substrings the error line must contain
    expect: str = "error"                     # "error": exit 2; "ok": exit 0
    env: tuple[tuple[str, str], ...] = ()
    links: tuple[tuple[str, str], ...] = ()   # (link under {w}, target)
    fifos: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()                # empty folders under {w}


@dataclass
class Outcome:
    """How a case ended (see `classify`)."""

    case: Case
    status: str                 # clean | unclear | internal | hang | silent | ok | failed
    rc: int | None
    err: str
    problems: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- helpers

def _y(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


def _edit(doc: dict[str, Any], fn: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    fn(out)
    return out


def _leaf(doc: dict[str, Any], base: str) -> dict[str, Any]:
    return next(x for x in doc["architecture"]["subtree"][0]["local"]
                if x["name"].split("[")[0] == base)


ARCH_DOC = {"architecture": TENSOR_CORE_ARCH}
MAP_DOC = {"mapping": TENSOR_CORE_MAPPING}


def _spec_files(arch: Any = None, problem: Any = None, mapping: Any = None, ert: Any = None,
                art: Any = None) -> tuple[tuple[str, str | bytes], ...]:
    out = []
    for name, doc, default in (("arch.yaml", arch, ARCH_DOC), ("problem.yaml", problem, PROBLEM),
                               ("map.yaml", mapping, MAP_DOC), ("ert.yaml", ert, TENSOR_CORE_ERT),
                               ("art.yaml", art, TENSOR_CORE_ART)):
        doc = default if doc is None else doc
        out.append((name, doc if isinstance(doc, str | bytes) else _y(doc)))
    return tuple(out)


MODEL_ARGV = ("model", "{w}/arch.yaml", "{w}/problem.yaml", "--mapping", "{w}/map.yaml",
              "--ert", "{w}/ert.yaml", "--art", "{w}/art.yaml")


def model_case(id: str, names: tuple[str, ...], *, extra: tuple[str, ...] = ("-o", "{w}/out"),
               expect: str = "error", more: tuple[tuple[str, str | bytes], ...] = (),
               **docs: Any) -> Case:
    return Case(f"model-{id}", "model", MODEL_ARGV + extra, _spec_files(**docs) + more, names,
                expect)


def map_case(id: str, names: tuple[str, ...], *, extra: tuple[str, ...] = (),
             more: tuple[tuple[str, str | bytes], ...] = (), **docs: Any) -> Case:
    argv = ("map", "{w}/arch.yaml", "{w}/problem.yaml", "--ert", "{w}/ert.yaml", "--art",
            "{w}/art.yaml", "-o", "{w}/out", *extra)
    return Case(f"map-{id}", "map", argv, _spec_files(**docs) + more, names)


def ert_case(id: str, names: tuple[str, ...], arch: Any, *, extra: tuple[str, ...] = (),
             more: tuple[tuple[str, str | bytes], ...] = ()) -> Case:
    text = arch if isinstance(arch, str) else _y(arch)
    return Case(f"ert-{id}", "ert", ("ert", "{w}/arch.yaml", "-o", "{w}/out", *extra),
                (("arch.yaml", text), *more), names)


# ------------------------------------------------------------------------ spec cases

def _problem_cases() -> list[Case]:
    P = PROBLEM
    inst = lambda **kv: _edit(P, lambda d: d["problem"]["instance"].update(kv))  # noqa: E731
    cases = [
        model_case("problem-missing-dim", ("problem.yaml", "problem.instance.K"),
                   problem=_edit(P, lambda d: d["problem"]["instance"].pop("K"))),
        model_case("problem-unknown-instance-key", ("problem.yaml", "problem.instance.Q"),
                   problem=inst(Q=5)),
        model_case("problem-bound-zero", ("problem.yaml", "problem.instance.M"), problem=inst(M=0)),
        model_case("problem-bound-negative", ("problem.yaml", "problem.instance.M"),
                   problem=inst(M=-4)),
        model_case("problem-bound-fraction", ("problem.yaml", "problem.instance.M"),
                   problem=inst(M=1.5)),
        model_case("problem-bound-string", ("problem.yaml", "problem.instance.M"),
                   problem=inst(M="64")),
        model_case("problem-bound-bool", ("problem.yaml", "problem.instance.M"),
                   problem=inst(M=True)),
        model_case("problem-bound-huge", ("problem.yaml", "problem.instance.M"),
                   problem=inst(M=10**12)),
        model_case("problem-bound-over-2^31", ("problem.yaml", "problem.instance.N"),
                   problem=inst(N=2**31 + 1)),
        model_case("problem-product-over-2^62", ("problem.yaml", "problem.instance"),
                   problem=inst(M=2**21, N=2**21, K=2**21)),
        model_case("problem-density-negative", ("problem.yaml", "densities.A"),
                   problem=inst(densities={"A": -0.5})),
        model_case("problem-density-above-one", ("problem.yaml", "densities.B"),
                   problem=inst(densities={"B": {"density": 2, "distribution": "fixed"}})),
        model_case("problem-density-unknown-tensor", ("problem.yaml", "densities.Q"),
                   problem=inst(densities={"Q": 0.5})),
        model_case("problem-densities-not-mapping", ("problem.yaml", "densities"),
                   problem=inst(densities=5)),
        model_case("problem-dims-string", ("problem.yaml", "problem.shape.dimensions"),
                   problem=_edit(P, lambda d: d["problem"]["shape"].update(dimensions="MNK"))),
        model_case("problem-dims-duplicate", ("problem.yaml", "problem.shape.dimensions"),
                   problem=_edit(P, lambda d: d["problem"]["shape"].update(
                       dimensions=["M", "M", "K"]))),
        model_case("problem-dim-number", ("problem.yaml", "problem.shape.dimensions[1]"),
                   problem=_edit(P, lambda d: d["problem"]["shape"].update(
                       dimensions=["M", 1, "K"]))),
        model_case("problem-dim-with-space", ("problem.yaml", "problem.shape.dimensions[0]"),
                   problem=_edit(P, lambda d: d["problem"]["shape"].update(
                       dimensions=["M N", "K"]))),
        model_case("problem-projection-unknown-dim", ("problem.yaml", "data_spaces[0].projection"),
                   problem=_edit(P, lambda d: d["problem"]["shape"]["data_spaces"][0].update(
                       projection=[[["Q"]], [["K"]]]))),
        model_case("problem-dataspace-duplicate", ("problem.yaml", "data_spaces[1].name"),
                   problem=_edit(P, lambda d: d["problem"]["shape"]["data_spaces"][1].update(
                       name="A"))),
        model_case("problem-dataspace-quote", ("problem.yaml", "data_spaces[0].name"),
                   problem=_edit(P, lambda d: d["problem"]["shape"]["data_spaces"][0].update(
                       name='A"\n  injected: 1'))),
        model_case("problem-projection-not-list", ("problem.yaml", "data_spaces[0].projection"),
                   problem=_edit(P, lambda d: d["problem"]["shape"]["data_spaces"][0].update(
                       projection="MK"))),
        model_case("problem-read-write-text", ("problem.yaml", "data_spaces[2].read_write"),
                   problem=_edit(P, lambda d: d["problem"]["shape"]["data_spaces"][2].update(
                       read_write="yes"))),
        model_case("problem-coefficient-unknown", ("problem.yaml", "data_spaces[0].projection"),
                   problem=_edit(P, lambda d: d["problem"]["shape"]["data_spaces"][0].update(
                       projection=[[["M", "Wstride"]], [["K"]]]))),
        model_case("problem-coefficient-fraction", ("problem.yaml", "coefficients"),
                   problem=_edit(P, lambda d: d["problem"]["shape"].update(
                       coefficients=[{"name": "Wstride", "default": 1.5}]))),
        model_case("problem-coefficient-text", ("problem.yaml", "coefficients"),
                   problem=_edit(P, lambda d: d["problem"]["shape"].update(
                       coefficients=[{"name": "Wstride", "default": "abc"}]))),
        model_case("problem-unknown-key", ("problem.yaml", "problem.colour"),
                   problem=_edit(P, lambda d: d["problem"].update(colour="blue"))),
        model_case("problem-no-dataspaces", ("problem.yaml", "problem.shape.data_spaces"),
                   problem=_edit(P, lambda d: d["problem"]["shape"].update(data_spaces=[]))),
        model_case("problem-alias-bomb", ("problem.yaml", "nodes"),
                   problem=BOMB + "problem:\n  shape: {name: x, dimensions: *i, data_spaces: []}\n"
                                  "  instance: {M: 1}\n"),
        model_case("problem-5000-digits", ("problem.yaml", "digits"),
                   problem=_y(P).replace("M: 512", "M: " + "9" * 5000)),
        model_case("problem-deeply-nested", ("problem.yaml", "nested"),
                   problem="x: " + "[" * 100 + "]" * 100 + "\n" + _y(P)),
        model_case("problem-top-level-list", ("problem.yaml", "mapping"), problem="- 1\n- 2\n"),
        model_case("problem-malformed", ("problem.yaml", "line"), problem="problem: [1, 2\n"),
        model_case("problem-binary", ("problem.yaml", "UTF-8"), problem=b"\xff\xfe\x00garbage"),
        model_case("problem-tag-python", ("problem.yaml",),
                   problem="problem: !!python/object/apply:os.system ['true']\n"),
    ]
    return cases


def _arch_cases() -> list[Case]:
    A = ARCH_DOC

    def attr(base: str, **kv: Any) -> dict[str, Any]:
        return _edit(A, lambda d: _leaf(d, base)["attributes"].update(kv))

    cases = [
        model_case("arch-width-zero", ("arch.yaml", "SMEM", "width"), arch=attr("SMEM", width=0)),
        model_case("arch-depth-negative", ("arch.yaml", "SMEM", "depth"),
                   arch=attr("SMEM", depth=-4096)),
        model_case("arch-depth-fraction", ("arch.yaml", "RF", "depth"), arch=attr("RF", depth=1.5)),
        model_case("arch-depth-underscore", ("arch.yaml", "RF", "depth"),
                   arch=attr("RF", depth="40_96")),
        model_case("arch-depth-fullwidth", ("arch.yaml", "RF", "depth"),
                   arch=attr("RF", depth="４０９６")),
        model_case("arch-depth-nan", ("arch.yaml", "RF", "depth"), arch=attr("RF", depth=float("nan"))),
        model_case("arch-datawidth-zero", ("arch.yaml", "SMEM", "datawidth"),
                   arch=attr("SMEM", datawidth=0)),
        model_case("arch-entries-zero", ("arch.yaml", "SMEM", "entries"),
                   arch=attr("SMEM", entries=0)),
        model_case("arch-sizekb-negative", ("arch.yaml", "SMEM", "sizeKB"),
                   arch=_edit(A, lambda d: _leaf(d, "SMEM").update(
                       attributes={"sizeKB": -1, "datawidth": 8}))),
        model_case("arch-bandwidth-inf", ("arch.yaml", "SMEM", "read_bandwidth"),
                   arch=attr("SMEM", read_bandwidth=float("inf"))),
        model_case("arch-bandwidth-negative", ("arch.yaml", "DRAM", "write_bandwidth"),
                   arch=attr("DRAM", write_bandwidth=-1)),
        model_case("arch-multiple-buffering-zero", ("arch.yaml", "SMEM", "multiple_buffering"),
                   arch=attr("SMEM", multiple_buffering=0)),
        model_case("arch-mesh-zero", ("arch.yaml", "mac", "meshX"), arch=attr("mac", meshX=0)),
        model_case("arch-mesh-huge", ("arch.yaml", "mac", "meshY"), arch=attr("mac", meshY=10**12)),
        model_case("arch-subtree-string", ("arch.yaml", "architecture.subtree"),
                   arch={"architecture": {"subtree": "nope"}}),
        model_case("arch-subtree-numbers", ("arch.yaml", "architecture.subtree"),
                   arch={"architecture": {"subtree": [1, 2]}}),
        model_case("arch-local-string", ("arch.yaml", "local"),
                   arch={"architecture": {"subtree": [{"name": "s", "local": "x"}]}}),
        model_case("arch-attributes-list", ("arch.yaml", "attributes"),
                   arch=_edit(A, lambda d: _leaf(d, "SMEM").update(attributes=[1, 2]))),
        model_case("arch-duplicate-level", ("arch.yaml", "SMEM"),
                   arch=_edit(A, lambda d: d["architecture"]["subtree"][0]["local"].insert(
                       2, copy.deepcopy(_leaf(d, "SMEM"))))),
        model_case("arch-unknown-class", ("arch.yaml", "SMEM", "class"),
                   arch=_edit(A, lambda d: _leaf(d, "SMEM").update({"class": "foo_bar"}))),
        model_case("arch-class-number", ("arch.yaml", "SMEM", "class"),
                   arch=_edit(A, lambda d: _leaf(d, "SMEM").update({"class": 5}))),
        model_case("arch-name-reversed-range", ("arch.yaml", "RF[5..2]"),
                   arch=_edit(A, lambda d: _leaf(d, "RF").update(name="RF[5..2]"))),
        model_case("arch-name-quote", ("arch.yaml", "name"),
                   arch=_edit(A, lambda d: _leaf(d, "SMEM").update(name='SM"EM[1..1]'))),
        model_case("arch-name-number", ("arch.yaml", "name"),
                   arch=_edit(A, lambda d: _leaf(d, "SMEM").update(name=5))),
        model_case("arch-required-actions-text", ("arch.yaml", "required_actions"),
                   arch=_edit(A, lambda d: _leaf(d, "SMEM").update(required_actions="read"))),
        model_case("arch-network-class", ("arch.yaml", "SMEM"),
                   arch=_edit(A, lambda d: _leaf(d, "SMEM").update({"class": "XY_NoC"}))),
        model_case("arch-no-compute", ("arch.yaml", "architecture"),
                   arch=_edit(A, lambda d: d["architecture"]["subtree"][0]["local"].pop())),
        model_case("arch-not-mapping", ("arch.yaml", "architecture"),
                   arch={"architecture": [1, 2]}),
        model_case("arch-alias-bomb", ("arch.yaml", "nodes"),
                   arch=BOMB + "architecture: {subtree: *i}\n"),
    ]
    v4 = V4_ARCH
    cases += [
        ert_case("v4-duplicate-level", ("arch.yaml", "SMEM"), v4.replace("name: RF", "name: SMEM")),
        ert_case("v4-depth-negative", ("arch.yaml", "SMEM", "depth"),
                 v4.replace("depth: 8192", "depth: -4096")),
        ert_case("v4-width-zero", ("arch.yaml", "RF", "width"), v4.replace("width: 8,", "width: 0,")),
        ert_case("v4-expression-power-bomb", ("arch.yaml", "RF", "depth"),
                 v4.replace("depth: 256", "depth: 2**2**2**30")),
        ert_case("v4-expression-string-bomb", ("arch.yaml", "RF", "depth"),
                 v4.replace("depth: 256", "depth: \"'a' * 10**9\"")),
        ert_case("v4-expression-complex", ("arch.yaml", "RF", "depth"),
                 v4.replace("depth: 256", "depth: (-4096) ** 0.5")),
        ert_case("v4-mesh-huge", ("arch.yaml", "PE", "meshX"),
                 v4.replace("meshX: 4", "meshX: 1000000000000")),
        ert_case("v4-attributes-list", ("arch.yaml", "RF", "attributes"),
                 v4.replace("attributes: {depth: 256, width: 8, datawidth: 8}", "attributes: [1, 2]")),
        ert_case("v4-unknown-tag", ("arch.yaml", "nodes", "!Container"),
                 v4.replace("!Container\n    name: PE", "!Contaner\n    name: PE")),
        ert_case("v4-unknown-class", ("arch.yaml", "RF", "class"),
                 v4.replace("class: storage\n    subclass: smartbuffer_RF", "class: blah")),
        ert_case("v4-name-quote", ("arch.yaml", "name"), v4.replace("name: RF", "name: 'R\"F'")),
        ert_case("v4-spatial-list", ("arch.yaml", "PE", "spatial"),
                 v4.replace("spatial: {meshX: 4}", "spatial: [4]")),
        ert_case("v4-dataspace-keep-text", ("arch.yaml", "RF", "keep"),
                 v4.replace("    subclass: smartbuffer_RF\n",
                            "    subclass: smartbuffer_RF\n    constraints: {dataspace: {keep: A}}\n")),
        ert_case("v4-version", ("arch.yaml", "architecture.version"),
                 v4.replace("version: 0.4", "version: 9")),
        ert_case("v4-subtree-nope", ("arch.yaml", "architecture"),
                 "architecture: {subtree: nope}\n"),
        Case("ert-out-root", "ert", ("ert", "{w}/arch.yaml", "-o", "/"), (("arch.yaml", v4),),
             ("-o", "root")),
        Case("ert-out-under-file", "ert", ("ert", "{w}/arch.yaml", "-o", "{w}/f/sub"),
             (("arch.yaml", v4), ("f", "x")), ("-o", "f")),
    ]
    return cases


def _mapping_cases() -> list[Case]:
    M = MAP_DOC

    def entry(i: int, **kv: Any) -> dict[str, Any]:
        return _edit(M, lambda d: d["mapping"][i].update(kv))

    temporal_lrf = 6          # {"target": "LRF", "type": "temporal", ...}
    spatial_pe = 7
    return [
        model_case("map-permutation-unknown", ("map.yaml", "mapping[6].permutation"),
                   mapping=entry(temporal_lrf, permutation="QQQ")),
        model_case("map-permutation-repeat", ("map.yaml", "mapping[6].permutation"),
                   mapping=entry(temporal_lrf, permutation="MMK")),
        model_case("map-permutation-number", ("map.yaml", "mapping[6].permutation"),
                   mapping=entry(temporal_lrf, permutation=5)),
        model_case("map-keep-unknown", ("map.yaml", "mapping[0].keep"),
                   mapping=entry(0, keep=["A", "Q"])),
        model_case("map-kept-and-bypassed", ("map.yaml", "mapping[0]", "both"),
                   mapping=entry(0, keep=["A"], bypass=["A", "B", "Z"])),
        model_case("map-keep-text", ("map.yaml", "mapping[0].keep"), mapping=entry(0, keep="A")),
        model_case("map-factor-zero", ("map.yaml", "mapping[6].factors"),
                   mapping=entry(temporal_lrf, factors="M0 N8 K1")),
        model_case("map-factor-underscore", ("map.yaml", "mapping[6].factors"),
                   mapping=entry(temporal_lrf, factors="M1 N8_0 K1")),
        model_case("map-factor-fullwidth", ("map.yaml", "mapping[6].factors"),
                   mapping=entry(temporal_lrf, factors="M1 N８ K1")),
        model_case("map-factor-huge", ("map.yaml", "mapping[6].factors"),
                   mapping=entry(temporal_lrf, factors="M1 N99999999999 K1")),
        model_case("map-factor-5000-digits", ("map.yaml", "mapping[6].factors"),
                   mapping=entry(temporal_lrf, factors="M1 N" + "9" * 5000 + " K1")),
        model_case("map-factor-twice", ("map.yaml", "mapping[6].factors"),
                   mapping=entry(temporal_lrf, factors="M1 N8 N8 K1")),
        model_case("map-split-text", ("map.yaml", "mapping[7].split"),
                   mapping=entry(spatial_pe, split="abc")),
        model_case("map-split-negative", ("map.yaml", "mapping[7].split"),
                   mapping=entry(spatial_pe, split=-1)),
        model_case("map-split-fraction", ("map.yaml", "mapping[7].split"),
                   mapping=entry(spatial_pe, split=1.5)),
        model_case("map-entry-twice", ("map.yaml", "mapping[12]", "RF"),
                   mapping=_edit(M, lambda d: d["mapping"].append(copy.deepcopy(d["mapping"][8])))),
        model_case("map-unknown-key", ("map.yaml", "mapping[6].colour"),
                   mapping=entry(temporal_lrf, colour="red")),
        model_case("map-unknown-type", ("map.yaml", "mapping[6].type"),
                   mapping=entry(temporal_lrf, type="sideways")),
        model_case("map-target-quote", ("map.yaml", "mapping[6].target"),
                   mapping=entry(temporal_lrf, target='LRF"x')),
        model_case("map-unknown-dimension", ("map.yaml", "mapping[6].factors"),
                   mapping=entry(temporal_lrf, factors="M1 N8 Q1")),
        model_case("map-empty", ("map.yaml", "mapping"), mapping={"mapping": []}),
        model_case("map-alias-bomb", ("map.yaml", "nodes"), mapping=BOMB + "mapping: *i\n"),
    ]


def _table_cases() -> list[Case]:
    E, R = TENSOR_CORE_ERT, TENSOR_CORE_ART

    def energy(value: Any, table: int = 1, action: int = 0) -> dict[str, Any]:
        return _edit(E, lambda d: d["ERT"]["tables"][table]["actions"][action].update(energy=value))

    def area(value: Any) -> dict[str, Any]:
        return _edit(R, lambda d: d["ART"]["tables"][1].update(area=value))

    return [
        model_case("ert-negative", ("ert.yaml", "SMEM", "read", "-566.5"), ert=energy(-566.5)),
        model_case("ert-nan", ("ert.yaml", "SMEM", "read"), ert=energy(float("nan"))),
        model_case("ert-inf", ("ert.yaml", "SMEM", "read"), ert=energy(float("inf"))),
        model_case("ert-absurd", ("ert.yaml", "SMEM", "read", "1e+300"), ert=energy(1e300)),
        model_case("ert-text", ("ert.yaml", "SMEM", "read"), ert=energy("abc")),
        model_case("ert-bool", ("ert.yaml", "SMEM", "read"), ert=energy(True)),
        model_case("ert-fullwidth", ("ert.yaml", "SMEM", "read"), ert=energy("１２")),
        model_case("ert-no-name", ("ert.yaml", "ERT.tables[0]"),
                   ert=_edit(E, lambda d: d["ERT"]["tables"][0].pop("name"))),
        model_case("ert-duplicate-table", ("ert.yaml", "SMEM"),
                   ert=_edit(E, lambda d: d["ERT"]["tables"].append(copy.deepcopy(d["ERT"]["tables"][1])))),
        model_case("ert-actions-text", ("ert.yaml", "actions"),
                   ert=_edit(E, lambda d: d["ERT"]["tables"][1].update(actions="read"))),
        model_case("ert-arguments-list", ("ert.yaml", "arguments"),
                   ert=_edit(E, lambda d: d["ERT"]["tables"][1]["actions"][0].update(arguments=[1]))),
        model_case("art-negative", ("art.yaml", "SMEM", "area"), art=area(-1)),
        model_case("art-nan", ("art.yaml", "SMEM", "area"), art=area(float("nan"))),
        model_case("art-absurd", ("art.yaml", "SMEM", "area"), art=area(1e300)),
        model_case("art-missing-area", ("art.yaml", "ART.tables[1]"),
                   art=_edit(R, lambda d: d["ART"]["tables"][1].pop("area"))),
    ]


def _model_paths() -> list[Case]:
    return [
        model_case("out-under-file", ("-o", "afile"), extra=("-o", "{w}/afile/sub"),
                   more=(("afile", "x"),)),
        model_case("json-is-folder", ("--json", "adir"), extra=("--json", "{w}/adir"),
                   more=(("adir/keep", "x"),)),
        model_case("out-root", ("-o", "root"), extra=("-o", "/")),
        model_case("out-proc", ("-o", "/proc"), extra=("-o", "/proc/cim-plugin-out")),
        model_case("json-proc", ("--json", "/proc"), extra=("--json", "/proc/self/x.json")),
        model_case("out-system-folder", ("-o", "system folder"), extra=("-o", "/etc")),
        model_case("out-foreign-folder", ("-o", "not made by cim-plugin", "--force"),
                   extra=("-o", "{w}/theirs"), more=(("theirs/notes.txt", "mine"),)),
        model_case("latency-fullwidth", ("--compute-latency",), extra=("--compute-latency", "９")),
        model_case("latency-underscore", ("--compute-latency",), extra=("--compute-latency", "1_0")),
        model_case("latency-nan", ("--compute-latency",), extra=("--compute-latency", "nan")),
        model_case("latency-zero", ("--compute-latency",), extra=("--compute-latency", "0")),
        Case("model-spec-missing", "model", ("model", "{w}/nope.yaml", "--mapping", "{w}/nope.yaml"),
             (), ("nope.yaml", "not found")),
        Case("model-spec-folder", "model", ("model", "{w}/adir", "--mapping", "{w}/adir"),
             (("adir/x", "1"),), ("adir", "directory")),
        Case("model-spec-device", "model", ("model", "/dev/zero", "--mapping", "/dev/zero"),
             (), ("/dev/zero", "regular file")),
        Case("model-spec-fifo", "model", ("model", "{w}/fifo.yaml", "--mapping", "{w}/fifo.yaml"),
             (), ("fifo.yaml", "regular file"), fifos=("fifo.yaml",)),
        Case("model-spec-too-large", "model", ("model", "{w}/big.yaml", "--mapping", "{w}/big.yaml"),
             (("big.yaml", "# " + "x" * (2 * 2**20) + "\n"),), ("big.yaml", "input limit"),
             env=(("CIM_PLUGIN_MAX_INPUT_MB", LIMIT_MB),)),
        Case("model-size-env-bad", "model", MODEL_ARGV, _spec_files(), ("CIM_PLUGIN_MAX_INPUT_MB",),
             env=(("CIM_PLUGIN_MAX_INPUT_MB", "lots"),)),
    ]


def _weak_message_cases() -> list[Case]:
    """Errors found deep inside the model or the library name the file they concern."""
    overflow = _edit(MAP_DOC, lambda d: (d["mapping"][6].update(factors="M1 N8 K16"),
                                         d["mapping"][10].update(factors="M32 N1 K1")))
    return [
        model_case("tile-overflow-names-mapping", ("map.yaml", "LRF", "capacity"),
                   mapping=overflow),
        Case("model-unknown-library-class", "model",
             ("model", "{w}/v4.yaml", "{w}/problem.yaml", "--mapping", "{w}/map.yaml"),
             (("v4.yaml", V4_ARCH.replace("subclass: smartbuffer_RF", "subclass: weird_thing")),
              ("problem.yaml", _y(PROBLEM)), ("map.yaml", _y(MAP_DOC))),
             ("v4.yaml", "RF", "weird_thing")),
    ]


def _map_cases() -> list[Case]:
    P = PROBLEM
    return [
        map_case("problem-missing-dim", ("problem.yaml", "problem.instance.K"),
                 problem=_edit(P, lambda d: d["problem"]["instance"].pop("K"))),
        map_case("ert-negative", ("ert.yaml", "SMEM", "read"),
                 ert=_edit(TENSOR_CORE_ERT, lambda d: d["ERT"]["tables"][1]["actions"][0].update(
                     energy=-566.5))),
        map_case("arch-width-zero", ("arch.yaml", "SMEM", "width"),
                 arch=_edit(ARCH_DOC, lambda d: _leaf(d, "SMEM")["attributes"].update(width=0))),
        map_case("problem-alias-bomb", ("problem.yaml", "nodes"),
                 problem=BOMB + "problem: {shape: {dimensions: *i}, instance: {}}\n"),
        map_case("problem-huge-product", ("problem.yaml", "problem.instance"),
                 problem=_edit(P, lambda d: d["problem"]["instance"].update(
                     M=2**31, N=2**31, K=2**31))),
        Case("map-out-root", "map", ("map", "{w}/arch.yaml", "{w}/problem.yaml", "-o", "/"),
             _spec_files(), ("-o", "root")),
        Case("map-out-proc", "map", ("map", "{w}/arch.yaml", "{w}/problem.yaml", "-o", "/proc/x"),
             _spec_files(), ("-o", "/proc")),
        map_case("seed-product", ("seed.yaml", "M"), extra=("--seed-mapping", "{w}/seed.yaml"),
                 more=(("seed.yaml", _y(_edit(MAP_DOC, lambda d: d["mapping"][11].update(
                     factors="M2 N8 K1")))),)),
    ]


#: a v4 architecture every component of which the library can estimate
V4_ARCH_OK = V4_ARCH.replace("attributes: {datawidth: 8}\n",
                             "attributes: {datawidth: 8, multiplier_width: 8, adder_width: 16}\n")

TABLE_ROW = {"class": "smartbuffer_SRAM", "scaling": "sram", "match": {"width": 64, "depth": 512},
             "actions": {"read": 1.0, "write": 1.0}, "area_um2": 100.0, "source": "a datasheet"}


def _ert_library_cases() -> list[Case]:
    def table(id: str, names: tuple[str, ...], **row: Any) -> Case:
        return ert_case(id, names, V4_ARCH_OK, extra=("--library", "{w}/lib.yaml"),
                        more=(("lib.yaml", _y({"tables": [{**TABLE_ROW, **row}]})),))

    return [
        ert_case("library-folder", ("lib", "folder"), V4_ARCH, extra=("--library", "{w}/lib"),
                 more=(("lib/x.yaml", "macros: []\n"),)),
        ert_case("library-energy-zero", ("lib.yaml", "energy_per_mac"), V4_ARCH,
                 extra=("--library", "{w}/lib.yaml"),
                 more=(("lib.yaml", _y({"macros": [{**MACRO, "energy_per_mac": 0}]})),)),
        ert_case("library-name-injection", ("lib.yaml", "macros[0].name"), V4_ARCH_OK,
                 extra=("--library", "{w}/lib.yaml"),
                 more=(("lib.yaml", _y({"macros": [{**MACRO, "name": INJECTED_NAME}]})),)),
        ert_case("unknown-class-names-spec", ("arch.yaml", "RF", "weird_thing"),
                 V4_ARCH_OK.replace("subclass: smartbuffer_RF", "subclass: weird_thing")),
        ert_case("attribute-text", ("arch.yaml", "mac", "multiplier_width"),
                 V4_ARCH_OK.replace("multiplier_width: 8", "multiplier_width: abc")),
        ert_case("dram-type-unknown", ("arch.yaml", "DRAM", "type"),
                 V4_ARCH_OK.replace("attributes: {width: 64, datawidth: 8}",
                                    "attributes: {width: 64, datawidth: 8, type: HBM9}")),
        table("table-match-text", ("lib.yaml", "tables[0].match.width"),
              match={"width": "abc", "depth": 512}),
        table("table-match-zero", ("lib.yaml", "tables[0].match"), match={"width": 0, "depth": 512}),
        table("table-match-list", ("lib.yaml", "tables[0].match"), match=[64, 512]),
        table("table-energy-fullwidth", ("lib.yaml", "tables[0].actions.read"),
              actions={"read": "\uff15 pJ"}),
        table("table-energy-underscore", ("lib.yaml", "tables[0].actions.read"),
              actions={"read": "1_0 pJ"}),
        table("table-energy-huge-int", ("lib.yaml", "tables[0].actions.read"),
              actions={"read": 10**400}),
        table("table-area-nan", ("lib.yaml", "tables[0].area_um2"), area_um2=float("nan")),
        Case("ert-out-foreign-folder", "ert", ("ert", "{w}/arch.yaml", "-o", "{w}/theirs"),
             (("arch.yaml", V4_ARCH_OK), ("theirs/notes.txt", "mine")),
             ("-o", "not made by cim-plugin", "--force")),
        Case("ert-out-dangling-link", "ert", ("ert", "{w}/arch.yaml", "-o", "{w}/link"),
             (("arch.yaml", V4_ARCH_OK),), ("link", "symbolic link"),
             links=(("link", "{decoy}/new"),)),
        Case("ert-out-proc", "ert", ("ert", "{w}/arch.yaml", "-o", "/proc/cim-ert"),
             (("arch.yaml", V4_ARCH_OK),), ("-o", "/proc")),
    ]


# ---------------------------------------------------------------------------- export

EXPORT_ARGV = ("export", "--design", "cim_rf", "--macro", "analog6T")
#: the macro name of the YAML-injection report (issue: `injected_attr` in arch.yaml)
INJECTED_NAME = 'x"\n      injected_attr: 12345\n      z: "'
#: a macro of one compute element holding one 8-bit weight (1 B)
ONE_ELEMENT = {**MACRO, "Rp": 1, "Cp": 1, "Rh": 1, "Ch": 1, "capacity_bytes": 1}


def _export_cases() -> list[Case]:
    def e(id: str, names: tuple[str, ...], *args: str, gemm: str = "64,64,64",
          files: tuple[tuple[str, str | bytes], ...] = (), argv: tuple[str, ...] = EXPORT_ARGV,
          out: str = "{w}/d", **kw: Any) -> Case:
        return Case(f"export-{id}", "export", (*argv, "--gemm", gemm, *args, "-o", out), files,
                    names, **kw)

    def lib(macro: dict[str, Any]) -> dict[str, Any]:
        return {"files": (("lib.yaml", _y({"macros": [macro]})),),
                "env": (("CIM_PLUGIN_LIBRARY", "{w}/lib.yaml"),)}

    user = ("export", "--design", "cim_rf", "--macro", "mymacro")
    return [
        e("gemm-underscore", ("--gemm", "M"), gemm="6_4,64,64"),
        e("gemm-fullwidth", ("--gemm", "N"), gemm="64,\uff16\uff14,64"),
        e("gemm-fraction", ("--gemm", "K"), gemm="64,64,2.5"),
        e("gemm-zero", ("--gemm", "M"), gemm="0,64,64"),
        e("gemm-negative", ("--gemm", "N"), gemm="64,-4,64"),
        e("gemm-huge", ("--gemm", "M"), gemm="1000000000000,64,64"),
        e("gemm-5000-digits", ("--gemm", "M"), gemm="9" * 5000 + ",64,64"),
        e("gemm-product", ("--gemm", "product"), gemm="2147483648,2147483648,2"),
        e("gemm-two-parts", ("--gemm", "M,N,K"), gemm="64,64"),
        e("gemm-nan", ("--gemm", "K"), gemm="64,64,nan"),
        e("banks-huge", ("--banks", "100000x100000"), "--banks", "100000x100000"),
        e("banks-fullwidth", ("--banks",), "--banks", "\uff11x4"),
        e("banks-zero", ("--banks",), "--banks", "0x4"),
        e("banks-text", ("--banks",), "--banks", "axb"),
        e("banks-over-4096", ("--banks",), "--banks", "64x128"),
        e("threshold-underscore", ("--threshold",), "--threshold", "1_0"),
        e("threshold-inf", ("--threshold",), "--threshold", "inf"),
        e("threshold-nan", ("--threshold",), "--threshold", "nan"),
        e("threshold-zero", ("--threshold",), "--threshold", "0"),
        e("threshold-fullwidth", ("--threshold",), "--threshold", "\uff14"),
        e("paper-compat-duplicate", ("duplicate", "--paper-compat"), "--paper-compat",
          "--duplicate"),
        e("design-unknown", ("design", "cim_l9"),
          argv=("export", "--design", "cim_l9", "--macro", "analog6T")),
        e("macro-unknown", ("macro", "nosuch"),
          argv=("export", "--design", "cim_rf", "--macro", "nosuch")),
        e("baseline-with-macro", ("macro", "tensor_core"),
          argv=("export", "--design", "tensor_core", "--macro", "analog6T")),
        e("preset-user-macro", ("preset", "mymacro"), "--preset", "method", argv=user,
          **lib(MACRO)),
        e("out-link-to-empty", ("link", "symbolic link"), out="{w}/link",
          links=(("link", "{w}/empty"),), dirs=("empty",)),
        e("out-dangling-link", ("link", "symbolic link"), out="{w}/link",
          links=(("link", "{decoy}/new"),)),
        e("out-link-to-decoy", ("link", "symbolic link"), out="{w}/link",
          links=(("link", "{decoy}/sub"),)),
        e("out-not-empty", ("-o", "not empty"), files=(("d/keep.txt", "mine"),)),
        e("out-is-file", ("-o", "afile"), files=(("afile", "x"),), out="{w}/afile"),
        e("out-under-file", ("-o", "afile"), files=(("afile", "x"),), out="{w}/afile/sub"),
        e("out-root", ("-o", "root"), out="/"),
        e("out-proc", ("-o", "/proc"), out="/proc/cim-export"),
        e("macro-name-injection", ("lib.yaml", "macros[0].name"), argv=user,
          **lib({**MACRO, "name": INJECTED_NAME})),
        e("macro-name-quote", ("lib.yaml", "macros[0].name"),
          argv=("export", "--design", "cim_rf", "--macro", 'my"macro'),
          **lib({**MACRO, "name": 'my"macro'})),
        e("macro-one-element-iso-area", ("lib.yaml", "macros[mymacro].Rp", "compute element"),
          "--iso-area", argv=user, **lib(ONE_ELEMENT)),
        e("macro-one-element-banks", ("lib.yaml", "macros[mymacro].Rp", "compute element"),
          "--banks", "1x4", argv=user, **lib(ONE_ELEMENT)),
        e("macro-larger-than-level", ("lib.yaml", "macros[mymacro].capacity_bytes"),
          "--iso-capacity", argv=user, **lib({**MACRO, "capacity_bytes": 2**30})),
        e("macro-too-many-banks", ("lib.yaml", "macros[mymacro].capacity_bytes", "4096"),
          "--iso-capacity", argv=("export", "--design", "cim_smem", "--macro", "mymacro"),
          **lib({**ONE_ELEMENT, "Cp": 2, "capacity_bytes": 2})),
        e("macro-area-too-large", ("lib.yaml", "macros[mymacro].area_um2"), "--iso-area",
          argv=user, **lib({**MACRO, "area_um2": 1e11})),
        e("library-missing", ("none.yaml", "not found"), argv=user,
          env=(("CIM_PLUGIN_LIBRARY", "{w}/none.yaml"),)),
    ]


# --------------------------------------------------------------------------- compare

@lru_cache(maxsize=1)
def _run_folder() -> tuple[tuple[str, str], ...]:
    """A Timeloop output folder (`run/`) of the tensor-core GEMM: processed input, mapping,
    ERT, ART and the stats.txt the embedded model writes in Timeloop's layout."""
    from cim_plugin.model.engine import Engine
    from cim_plugin.model.nest import build_nest
    from cim_plugin.report.stats_text import format_stats
    from tests.test_model_tensor_core import tensor_core_case

    arch, problem, mapping, ert, art = tensor_core_case()
    nest = build_nest(arch, problem, mapping)
    stats = format_stats(Engine(arch, problem, ert, art).evaluate(nest), arch, problem, nest, ert)
    return (("run/parsed-processed-input.yaml", _y({**ARCH_DOC, **PROBLEM})),
            ("run/timeloop-model.map.yaml", _y(MAP_DOC)),
            ("run/timeloop-model.ERT.yaml", _y(TENSOR_CORE_ERT)),
            ("run/timeloop-model.ART.yaml", _y(TENSOR_CORE_ART)),
            (STATS, stats))


STATS = "run/timeloop-model.stats.txt"


def _run_with(**changes: str | bytes) -> tuple[tuple[str, str | bytes], ...]:
    """The run folder with some files replaced (keys: the file name without `run/`)."""
    files = dict(_run_folder())
    for name, content in changes.items():
        files[f"run/{name}"] = content
    return tuple(files.items())


def _compare_cases() -> list[Case]:
    def c(id: str, names: tuple[str, ...], *extra: str, files: Any = None,
          folder: str = "{w}/run", **kw: Any) -> Case:
        return Case(f"compare-{id}", "compare", ("compare", folder, *extra),
                    _run_folder() if files is None else files, names, **kw)

    stats = dict(_run_folder())[STATS]
    name = STATS.removeprefix("run/")
    total = stats.rindex("    Total")
    overflow = _edit(MAP_DOC, lambda d: (d["mapping"][6].update(factors="M1 N8 K16"),
                                         d["mapping"][10].update(factors="M32 N1 K1")))
    return [
        c("tolerance-underscore", ("--tolerance",), "--tolerance", "1_0"),
        c("tolerance-inf", ("--tolerance",), "--tolerance", "inf"),
        c("tolerance-nan", ("--tolerance",), "--tolerance", "nan"),
        c("tolerance-negative", ("--tolerance",), "--tolerance=-1"),
        c("tolerance-fullwidth", ("--tolerance",), "--tolerance", "\uff15"),
        c("tolerance-overflow", ("--tolerance",), "--tolerance", "1e999"),
        c("stats-truncated-2000", (name, "Summary Stats", "missing"),
          files=_run_with(**{name: stats[:2000]})),
        c("stats-truncated-before-total", (name, "fJ/Compute.Total", "missing"),
          files=_run_with(**{name: stats[:total]})),
        c("stats-truncated-mid-number", (name, "line break"),
          files=_run_with(**{name: stats.rstrip("\n")[:-2]})),
        c("stats-energy-nan", (name, "Summary Stats.Energy"),
          files=_run_with(**{name: stats.replace("\nEnergy: ", "\nEnergy: nan uJ # ")})),
        c("stats-cycles-fullwidth", (name, "Summary Stats.Cycles"),
          files=_run_with(**{name: stats.replace("\nCycles: ", "\nCycles: \uff11")})),
        c("stats-binary", (name, "Buffer and Arithmetic Levels"),
          files=_run_with(**{name: b"\xff\xfe\x00garbage\n" * 10})),
        c("stats-too-large", (name, "input limit"),
          files=_run_with(**{name: stats + "#" * (2 * 2**20)}),
          env=(("CIM_PLUGIN_MAX_INPUT_MB", LIMIT_MB),)),
        c("stats-empty", ("run", "stats"), files=_run_with(**{name: ""})),
        c("map-tile-overflow", ("timeloop-model.map.yaml", "LRF", "capacity"),
          files=_run_with(**{"timeloop-model.map.yaml": _y(overflow)})),
        c("ert-negative", ("timeloop-model.ERT.yaml", "SMEM", "read"),
          files=_run_with(**{"timeloop-model.ERT.yaml": _y(_edit(
              TENSOR_CORE_ERT, lambda d: d["ERT"]["tables"][1]["actions"][0].update(
                  energy=-566.5)))})),
        c("inputs-missing", ("run", "parsed-processed-input.yaml"),
          files=tuple(f for f in _run_folder() if "parsed-processed" not in f[0])),
        c("folder-missing", ("none", "not a folder"), folder="{w}/none"),
        c("folder-is-file", ("afile", "not a folder"), files=(("afile", "x"),), folder="{w}/afile"),
    ]


# --------------------------------------------------------------------- components

def _components_cases() -> list[Case]:
    def lib(id: str, names: tuple[str, ...], macro: dict[str, Any] | str, action: str = "list",
            env: bool = False) -> Case:
        text = macro if isinstance(macro, str) else _y({"macros": [macro]})
        argv = ("components",) if env else ("components", "--library", "{w}/lib.yaml")
        argv += (action,) if action == "list" else ("show", "mymacro")
        return Case(f"components-{id}", "components", argv, (("lib.yaml", text),), names,
                    env=(("CIM_PLUGIN_LIBRARY", "{w}/lib.yaml"),) if env else ())

    m = MACRO
    return [
        lib("energy-zero", ("lib.yaml", "energy_per_mac"), {**m, "energy_per_mac": 0}),
        lib("energy-negative", ("lib.yaml", "energy_per_mac"), {**m, "energy_per_mac": -1}),
        lib("energy-nan", ("lib.yaml", "energy_per_mac"), {**m, "energy_per_mac": float("nan")}),
        lib("energy-huge", ("lib.yaml", "energy_per_mac"), {**m, "energy_per_mac": "1e400 pJ"}),
        lib("energy-absurd", ("lib.yaml", "energy_per_mac"), {**m, "energy_per_mac": "1e20 pJ"}),
        lib("energy-fullwidth", ("lib.yaml", "energy_per_mac"), {**m, "energy_per_mac": "５ pJ"}),
        lib("write-negative", ("lib.yaml", "write_energy"), {**m, "write_energy": "-1 pJ"}),
        lib("area-zero", ("lib.yaml", "area_um2"), {**m, "area_um2": 0}),
        lib("latency-zero", ("lib.yaml", "latency_cycles"), {**m, "latency_cycles": 0}),
        lib("name-quote", ("lib.yaml", "name"), {**m, "name": 'x"\n      injected_attr: 12345\n      z: "'}),
        lib("name-space", ("lib.yaml", "name"), {**m, "name": "my macro"}),
        lib("name-number", ("lib.yaml", "name"), {**m, "name": 5}),
        lib("rp-fraction", ("lib.yaml", "Rp"), {**m, "Rp": 1.5}),
        lib("published-inf", ("lib.yaml", "published"),
            {**m, "published": {"gops": float("inf")}}),
        lib("env-energy-zero", ("lib.yaml", "energy_per_mac"), {**m, "energy_per_mac": 0},
            env=True),
        lib("show-energy-zero", ("lib.yaml", "energy_per_mac"), {**m, "energy_per_mac": 0},
            action="show"),
        lib("alias-bomb", ("lib.yaml", "nodes"), BOMB + "macros: *i\n"),
        lib("not-a-library", ("lib.yaml", "macros"), "- 1\n"),
        Case("components-library-folder", "components",
             ("components", "--library", "{w}/libdir", "list"), (("libdir/a.yaml", "macros: []\n"),),
             ("libdir", "folder")),
        Case("components-library-missing", "components",
             ("components", "--library", "{w}/none.yaml", "list"), (), ("none.yaml", "not found")),
        Case("components-unknown-macro", "components", ("components", "show", "nosuch"), (),
             ("macro", "nosuch")),
    ]


# --------------------------------------------------------------------------- study

def _study_cases() -> list[Case]:
    def cfg(id: str, names: tuple[str, ...], text: str | bytes,
            more: tuple[tuple[str, str | bytes], ...] = (), extra: tuple[str, ...] = (),
            env: tuple[tuple[str, str], ...] = (), fifos: tuple[str, ...] = ()) -> Case:
        return Case(f"study-{id}", "study", ("study", "{w}/s.yaml", "-o", "{w}/out", *extra),
                    (("s.yaml", text), *more), names, env=env, fifos=fifos)

    small = "designs: [cim_rf]\nmacros: [analog6T]\nworkloads: []\nsweep_m: [16]\nsweep_nk: [256]\n"
    csv = lambda body: (("g.csv", body),)  # noqa: E731
    wl = "designs: [cim_rf]\nmacros: [analog6T]\nsweep_m: []\nworkloads: [{w}/g.csv]\n"
    return [
        cfg("top-level-number", ("s.yaml", "study"), "study: 5\n"),
        cfg("top-level-list", ("s.yaml", "study"), "study: [1, 2]\n"),
        cfg("top-level-extra", ("s.yaml", "designs"), "study: {}\ndesigns: [cim_rf]\n"),
        cfg("banks-text", ("s.yaml", "banks"), small + "sizing: explicit\nbanks: axb\n"),
        cfg("banks-huge", ("s.yaml", "banks"), small + "sizing: explicit\nbanks: 100000x100000\n"),
        cfg("banks-fullwidth", ("s.yaml", "banks"), small + "banks: ６x4\n"),
        cfg("banks-list-float", ("s.yaml", "banks"), small + "banks: [1.5, 4]\n"),
        cfg("seed-removed", ("s.yaml", "seed"), small + "seed: 1.5\n"),
        cfg("seed-list", ("s.yaml", "seed"), small + "seed: [1]\n"),
        cfg("sweep-2^40", ("s.yaml", "sweep_nk"), small.replace("[256]", "[1099511627776]")),
        cfg("sweep-fraction", ("s.yaml", "sweep_m"), small.replace("sweep_m: [16]", "sweep_m: [1.5]")),
        cfg("sweep-text", ("s.yaml", "sweep_m"), small.replace("sweep_m: [16]", "sweep_m: ['16']")),
        cfg("sweep-zero", ("s.yaml", "sweep_m"), small.replace("sweep_m: [16]", "sweep_m: [0]")),
        cfg("sweep-repeat", ("s.yaml", "sweep_m"), small.replace("sweep_m: [16]", "sweep_m: [16, 16]")),
        cfg("sweep-too-many", ("s.yaml", "sweep_m"),
            small.replace("sweep_m: [16]", f"sweep_m: {list(range(1, 1001))}")
            .replace("sweep_nk: [256]", f"sweep_nk: {list(range(1, 1001))}")),
        cfg("too-many-points", ("s.yaml", "design points"),
            small.replace("sweep_m: [16]", f"sweep_m: {list(range(1, 401))}")
            .replace("sweep_nk: [256]", f"sweep_nk: {list(range(1, 251))}")),
        cfg("designs-repeat", ("s.yaml", "designs"), small.replace("[cim_rf]", "[cim_rf, cim_rf]")),
        cfg("designs-baseline", ("s.yaml", "designs"), small.replace("[cim_rf]", "[tensor_core]")),
        cfg("baseline-cim", ("s.yaml", "baseline"), small + "baseline: cim_rf\n"),
        cfg("macro-quote", ("s.yaml", "macros"), small.replace("[analog6T]", "['x\"y']")),
        cfg("objective-list", ("s.yaml", "objective"), small + "objective: [edp]\n"),
        cfg("duplicate-yes", ("s.yaml", "duplicate"), small + "duplicate: yes\n"),
        cfg("waterfall-string", ("s.yaml", "waterfall"), small + "waterfall: 'on'\n"),
        cfg("unknown-field", ("s.yaml", "colour"), small + "colour: blue\n"),
        cfg("resnet-image-zero", ("s.yaml", "models[0].image"),
            small + "models: [{model: resnet50, image: 0}]\n"),
        cfg("resnet-batch-negative", ("s.yaml", "models[0].batch"),
            small + "models: [{model: resnet50, batch: -2}]\n"),
        cfg("bert-seq-huge", ("s.yaml", "models[0]"),
            small + "models: [{model: bert-large, seq_len: 1000000000000}]\n"),
        cfg("model-bool-param", ("s.yaml", "models[0].seq_len"),
            small + "models: [{model: bert-large, seq_len: true}]\n"),
        cfg("model-unknown-param", ("s.yaml", "models[0]"),
            small + "models: [{model: bert-large, colour: 3}]\n"),
        cfg("model-name-number", ("s.yaml", "models[0].model"), small + "models: [{model: 5}]\n"),
        cfg("alias-bomb", ("s.yaml", "nodes"), BOMB + "designs: *i\n"),
        cfg("deeply-nested", ("s.yaml", "nested"), "x: " + "[" * 100 + "]" * 100 + "\n"),
        cfg("binary", ("s.yaml", "UTF-8"), b"\x00\xff\xfe binary"),
        cfg("csv-underscore", ("g.csv", "row 2", "m"), wl, csv("name,m,n,k\na,6_4,64,64\n")),
        cfg("csv-fullwidth", ("g.csv", "row 2", "n"), wl, csv("name,m,n,k\na,64,６４,64\n")),
        cfg("csv-fraction-count", ("g.csv", "row 2", "count"), wl,
            csv("name,m,n,k,count\na,64,64,64,1.5\n")),
        cfg("csv-huge-dim", ("g.csv", "row 2", "k"), wl, csv("name,m,n,k\na,64,64,10000000000000\n")),
        cfg("csv-huge-product", ("g.csv", "row 2"), wl,
            csv("name,m,n,k,count\na,2147483648,2147483648,2,1\n")),
        cfg("csv-missing-column", ("g.csv", "header"), wl, csv("name,m,n\na,1,2\n")),
        cfg("csv-binary", ("g.csv", "UTF-8"), wl, csv(b"m,n,k\n\xff\xfe,1,1\n")),
        cfg("csv-too-many-rows", ("g.csv", "rows"), wl,
            csv("m,n,k\n" + "1,1,1\n" * 100_001)),
        cfg("csv-too-large", ("g.csv", "input limit"), wl,
            csv("m,n,k\n" + "16,16,16\n" * 250_000), env=(("CIM_PLUGIN_MAX_INPUT_MB", LIMIT_MB),)),
        cfg("csv-name-control-chars", ("g.csv", "row 2", "name"), wl, csv("name,m,n,k\na\x07b,4,4,4\n")),
        cfg("workload-folder", ("workloads", "gdir", "folder"), wl.replace("g.csv", "gdir"),
            (("gdir/x", "1"),)),
        cfg("workload-fifo", ("fifo.csv", "special file"), wl.replace("g.csv", "fifo.csv"),
            fifos=("fifo.csv",)),
        cfg("workload-names-collide", ("workloads", "g"),
            wl.replace("[{w}/g.csv]", "[{w}/g.csv, {w}/sub/g.csv]"),
            (("g.csv", "m,n,k\n4,4,4\n"), ("sub/g.csv", "m,n,k\n8,8,8\n"))),
        cfg("workload-named-sweep", ("workloads", "sweep"),
            small.replace("workloads: []", "workloads: [{w}/sweep.csv]"),
            (("sweep.csv", "m,n,k\n4,4,4\n"),)),
        cfg("workload-yaml-bomb", ("w.yaml", "nodes"),
            wl.replace("g.csv", "w.yaml"), (("w.yaml", BOMB + "gemms: *i\n"),)),
        cfg("workload-yaml-sweep-huge", ("w.yaml", "sweeps[0]"),
            wl.replace("g.csv", "w.yaml"),
            (("w.yaml", _y({"sweeps": [{"m": list(range(1, 1001)), "n": list(range(1, 1001)),
                                        "k": list(range(1, 1001))}]})),)),
        cfg("workload-yaml-unknown-key", ("w.yaml", "colour"), wl.replace("g.csv", "w.yaml"),
            (("w.yaml", "gemms: [{m: 4, n: 4, k: 4}]\ncolour: red\n"),)),
        cfg("macro-sweep-backwards", ("s.yaml", "macro_sweep.energy_per_mac_pJ.to"),
            small + "macro_sweep: {energy_per_mac_pJ: {from: 2, to: 1, steps: 3}, "
                    "latency_cycles: [1, 9]}\n"),
        cfg("macro-sweep-negative-energy", ("s.yaml", "macro_sweep.write_energy_pJ[1]"),
            small + "macro_sweep: {write_energy_pJ: [1.0, -2.0], latency_cycles: [1, 9],"
                    " energy_per_mac_pJ: [0.1, 1]}\n"),
        cfg("macro-sweep-zero-rows", ("s.yaml", "macro_sweep.Rp[0]"),
            small + "macro_sweep: {Rp: [0, 64]}\n"),
        cfg("macro-sweep-zero-latency", ("s.yaml", "macro_sweep.latency_cycles.from"),
            small + "macro_sweep: {latency_cycles: {from: 0, to: 4, steps: 3}}\n"),
        cfg("macro-sweep-steps-text", ("s.yaml", "macro_sweep.latency_cycles.steps"),
            small + "macro_sweep: {latency_cycles: {from: 1, to: 4, steps: many}}\n"),
        cfg("macro-sweep-log-from-zero", ("s.yaml", "macro_sweep.energy_per_mac_pJ.from"),
            small + "macro_sweep: {energy_per_mac_pJ: {from: 0, to: 4, steps: 3, scale: log}}\n"),
        cfg("macro-sweep-fraction-bits", ("s.yaml", "macro_sweep.bits[0]"),
            small + "macro_sweep: {bits: [4.5]}\n"),
        cfg("macro-sweep-nan", ("s.yaml", "macro_sweep.area_factor[0]"),
            small + "macro_sweep: {area_factor: [.nan]}\n"),
        cfg("macro-sweep-unknown-field", ("s.yaml", "macro_sweep.voltage"),
            small + "macro_sweep: {voltage: [0.8]}\n"),
        cfg("macro-sweep-not-mapping", ("s.yaml", "macro_sweep"), small + "macro_sweep: [1, 2]\n"),
        cfg("macro-sweep-base-unknown", ("s.yaml", "macro_sweep.base"),
            small + "macro_sweep: {base: nosuch, latency_cycles: [1, 2]}\n"),
        cfg("macro-sweep-frontier-unswept", ("s.yaml", "macro_sweep.frontiers"),
            small + "macro_sweep: {Rp: [32, 64], frontiers: [[bits, Rp]]}\n"),
        cfg("macro-sweep-explosion", ("s.yaml", "macro_sweep", "10000000"),
            small + "macro_sweep: {energy_per_mac_pJ: {from: 0.01, to: 1, steps: 10000}, "
                    "latency_cycles: {from: 1, to: 10000, steps: 10000}}\n"),
        cfg("scheduler-unknown", ("--scheduler",), small, extra=("--scheduler", "slurm")),
        cfg("scheduler-bad-address", ("--scheduler",), small,
            extra=("--scheduler", "dask://host:99999")),
        cfg("jobs-zero", ("--jobs",), small, extra=("--jobs", "0")),
        cfg("jobs-negative", ("--jobs",), small, extra=("--jobs", "-1")),
        cfg("jobs-underscore", ("--jobs",), small, extra=("--jobs", "1_0")),
        cfg("jobs-fullwidth", ("--jobs",), small, extra=("--jobs", "４")),
        cfg("out-under-file", ("--output-dir", "afile"), small, (("afile", "x"),),
            extra=("-o", "{w}/afile/sub")),
        cfg("out-root", ("--output-dir", "root"), small, extra=("-o", "/")),
        cfg("out-proc", ("--output-dir", "/proc"), small, extra=("-o", "/proc/cim-study")),
        cfg("out-foreign", ("--output-dir", "--force"), small, (("theirs/a.txt", "keep"),),
            extra=("-o", "{w}/theirs")),
        Case("study-config-missing", "study", ("study", "{w}/none.yaml", "-o", "{w}/out"), (),
             ("none.yaml", "not found")),
        Case("study-config-folder", "study", ("study", "{w}/cdir", "-o", "{w}/out"),
             (("cdir/x", "1"),), ("cdir", "directory")),
    ]


# ------------------------------------------------------------------------ workload

LLAMA_TINY = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "vocab_size": 100}


def _onnx_bytes() -> dict[str, bytes]:
    """Small ONNX graphs for the corpus (none when the onnx package is absent)."""
    try:
        from onnx import helper

        from tests import onnx_models
    except ImportError:
        return {}
    g = onnx_models.Graph()
    fc = g.op("Gemm", [g.input("x", [4, 8]), g.weight("w", [8, 16])], "fc1", transB=1)
    huge = onnx_models.Graph()
    big = huge.op("MatMul", [huge.input("x", [2**40, 8]), huge.weight("w", [8, 8])], "mm")
    wide = onnx_models.Graph()
    wmm = wide.op("MatMul", [wide.input("x", [2**30, 2**30]), wide.weight("w", [2**30, 8])],
                  "wide_mm")
    empty = helper.make_model(helper.make_graph([], "empty", [], []))
    f32 = 1                                  # TensorProto.FLOAT
    custom = helper.make_model(helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm"),
         helper.make_node("FastGelu", ["y"], ["z"], name="gelu", domain="com.microsoft"),
         helper.make_node("MatMul", ["z", "w2"], ["o"], name="mm2")], "fused",
        [helper.make_tensor_value_info("x", f32, [2, 64]),
         helper.make_tensor_value_info("w", f32, [64, 32]),
         helper.make_tensor_value_info("w2", f32, [32, 16])],
        [helper.make_tensor_value_info("o", f32, [2, 16])]),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    custom.ir_version = 8
    return {"bert": onnx_models.bert_like(layers=1).SerializeToString(),
            "mismatch": g.model(fc).SerializeToString(),
            "huge": huge.model(big).SerializeToString(),
            "wide": wide.model(wmm).SerializeToString(),
            "tiny": onnx_models.tiny().SerializeToString(),
            "empty": empty.SerializeToString(), "custom": custom.SerializeToString()}


def _workload_cases() -> list[Case]:
    def w(id: str, names: tuple[str, ...], *args: str,
          files: tuple[tuple[str, str | bytes], ...] = (), fifos: tuple[str, ...] = ()) -> Case:
        return Case(f"workload-{id}", "workload", ("workload", *args), files, names,
                    fifos=fifos)

    def cfg(id: str, names: tuple[str, ...], change: dict[str, Any] | str,
            *extra: str) -> Case:
        text = change if isinstance(change, str) else json.dumps({**LLAMA_TINY, **change})
        return w(id, names, "{w}/config.json", "--seq-len", "16", *extra,
                 files=(("config.json", text),))

    cases = [
        cfg("hf-model-type", ("config.json", "model_type"), {"model_type": "t5"}),
        cfg("hf-type-missing", ("config.json", "model_type"), {"model_type": None}),
        cfg("hf-fraction", ("config.json", "hidden_size"), {"hidden_size": 64.5}),
        cfg("hf-text-number", ("config.json", "hidden_size"), {"hidden_size": "64"}),
        cfg("hf-bool", ("config.json", "num_hidden_layers"), {"num_hidden_layers": True}),
        cfg("hf-zero-heads", ("config.json", "num_attention_heads"), {"num_attention_heads": 0}),
        cfg("hf-kv-heads", ("config.json", "num_key_value_heads"), {"num_key_value_heads": 3}),
        cfg("hf-heads-divide", ("config.json", "num_attention_heads"),
            {"num_attention_heads": 5, "num_key_value_heads": 5}),
        cfg("hf-huge-dim", ("config.json", "vocab_size"), {"vocab_size": 10**12}),
        cfg("hf-huge-product", ("config.json", "gemms"),
            {"hidden_size": 2**30, "intermediate_size": 2**31, "num_attention_heads": 2**20,
             "num_key_value_heads": 2**20}),
        cfg("hf-null", ("config.json", "intermediate_size"), {"intermediate_size": None}),
        cfg("hf-experts", ("config.json", "num_experts_per_tok"),
            {"model_type": "mixtral", "num_local_experts": 8, "num_experts_per_tok": 9}),
        cfg("hf-malformed", ("config.json", "line 1"), '{"model_type": "llama",'),
        cfg("hf-top-list", ("config.json", "top level"), "[1, 2]"),
        cfg("hf-nan", ("config.json", "NaN"), '{"model_type": "llama", "hidden_size": NaN}'),
        cfg("hf-deep", ("config.json", "nested"), "[" * 100_000 + "]" * 100_000),
        cfg("hf-bert-decode", ("config.json", "phase"),
            {"model_type": "bert"}, "--phase", "decode"),
        cfg("hf-dim-flag", ("config.json", "dims"), {}, "--dim", "x=3"),
        cfg("hf-seq-huge", ("seq_len",), {}, "--seq-len", "9999999999"),
        w("hf-no-seq-len", ("config.json", "seq_len"), "{w}/config.json",
          files=(("config.json", json.dumps(LLAMA_TINY)),)),
        w("hf-binary", ("config.json", "UTF-8"), "{w}/config.json", "--seq-len", "4",
          files=(("config.json", b"\xff\xfe{}"),)),
        w("batch-fullwidth", ("--batch",), "{w}/config.json", "--batch", "\uff14",
          files=(("config.json", json.dumps(LLAMA_TINY)),)),
        w("dim-no-value", ("--dim",), "{w}/config.json", "--dim", "seq"),
        w("flags-on-a-list", ("--seq-len",), "bert-large", "--seq-len", "4"),
        w("unknown-name", ("nosuch", "workload"), "nosuch"),
        w("missing-onnx", ("none.onnx", "not found"), "{w}/none.onnx"),
        w("onnx-folder", ("odir.onnx", "directory"), "{w}/odir.onnx",
          files=(("odir.onnx/x", "1"),)),
        w("onnx-fifo", ("fifo.onnx", "regular"), "{w}/fifo.onnx", fifos=("fifo.onnx",)),
        w("out-under-file", ("--output", "afile"), "bert-large", "-o", "{w}/afile/g.yaml",
          files=(("afile", "x"),)),
        w("name-control", ("--name",), "bert-large", "--name", "a\x07b"),
    ]
    onnx = _onnx_bytes()
    if onnx:
        cases += [
            w("onnx-corrupt", ("bad.onnx", "ONNX"), "{w}/bad.onnx",
              files=(("bad.onnx", b"\x08\x07\x12\x04junk\xff\xff\xff"),)),
            w("onnx-text", ("bad.onnx", "ONNX"), "{w}/bad.onnx",
              files=(("bad.onnx", "hello, this is not a model\n"),)),
            w("onnx-truncated", ("m.onnx",), "{w}/m.onnx",
              files=(("m.onnx", onnx["bert"][: len(onnx["bert"]) // 2]),)),
            w("onnx-empty", ("m.onnx", "graph"), "{w}/m.onnx", files=(("m.onnx", b""),)),
            w("onnx-no-nodes", ("m.onnx", "graph"), "{w}/m.onnx",
              files=(("m.onnx", onnx["empty"]),)),
            w("onnx-symbolic-batch", ("m.onnx", "batch_size", "shape[0]"), "{w}/m.onnx",
              files=(("m.onnx", onnx["bert"]),)),
            w("onnx-symbolic-seq", ("m.onnx", "sequence_length", "shape[1]"), "{w}/m.onnx",
              "--batch", "2", files=(("m.onnx", onnx["bert"]),)),
            w("onnx-unused-dim", ("m.onnx", "--dim", "colour"), "{w}/m.onnx", "--batch", "1",
              "--seq-len", "4", "--dim", "colour=3", files=(("m.onnx", onnx["bert"]),)),
            w("onnx-huge-batch", ("batch",), "{w}/m.onnx", "--batch", "4294967296",
              "--seq-len", "4", files=(("m.onnx", onnx["bert"]),)),
            w("onnx-huge-product", ("m.onnx", "graph"), "{w}/m.onnx", "--batch", "2147483648",
              "--seq-len", "2147483648", files=(("m.onnx", onnx["bert"]),)),
            w("onnx-huge-static-dim", ("m.onnx", "shape[0]"), "{w}/m.onnx",
              files=(("m.onnx", onnx["huge"]),)),
            w("onnx-huge-macs", ("m.onnx", "wide_mm"), "{w}/m.onnx",
              files=(("m.onnx", onnx["wide"]),)),
            w("onnx-inner-mismatch", ("m.onnx", "fc1"), "{w}/m.onnx",
              files=(("m.onnx", onnx["mismatch"]),)),
            w("onnx-custom-op", ("m.onnx", "mm2", "com.microsoft.FastGelu"), "{w}/m.onnx",
              files=(("m.onnx", onnx["custom"]),)),
            w("onnx-phase", ("m.onnx", "phase"), "{w}/m.onnx", "--phase", "decode",
              files=(("m.onnx", onnx["tiny"]),)),
            Case("study-onnx-symbolic", "study", ("study", "{w}/s.yaml", "-o", "{w}/out"),
                 (("s.yaml", "designs: [cim_rf]\nmacros: [analog6T]\nsweep_m: []\n"
                             "workloads: [{w}/m.onnx]\n"), ("m.onnx", onnx["bert"])),
                 ("m.onnx", "batch_size")),
            Case("study-onnx-corrupt", "study", ("study", "{w}/s.yaml", "-o", "{w}/out"),
                 (("s.yaml", "designs: [cim_rf]\nmacros: [analog6T]\nsweep_m: []\n"
                             "models: [{model: {w}/m.onnx, batch: 1}]\n"),
                  ("m.onnx", b"\x08\x07\x12\x04junk\xff\xff\xff")),
                 ("s.yaml", "models[0]", "m.onnx")),
        ]
    cases.append(Case("study-config-no-seq-len", "study", ("study", "{w}/s.yaml", "-o", "{w}/out"),
                      (("s.yaml", "designs: [cim_rf]\nmacros: [analog6T]\nsweep_m: []\n"
                                  "models: [{model: {w}/config.json}]\n"),
                       ("config.json", json.dumps(LLAMA_TINY))),
                      ("s.yaml", "models[0].seq_len")))
    return cases


# ---------------------------------------------------------------------------- diff

def _summary(points: Any = None, **top: Any) -> str:
    doc = {"schema_version": 1, "baseline": "tensor_core", "units": {},
           "points": points if points is not None else
           {"cim_rf/analog6T/w": {"tops_per_w": 2.0, "gops": 300.0, "energy_J": 1.0,
                                  "latency_s": 0.5}}}
    doc.update(top)
    return json.dumps(doc)


def _diff_cases() -> list[Case]:
    good = ("good.json", _summary())

    def d(id: str, names: tuple[str, ...], text: str | bytes, extra: tuple[str, ...] = (),
          more: tuple[tuple[str, str | bytes], ...] = ()) -> Case:
        return Case(f"diff-{id}", "diff", ("diff", "{w}/good.json", "{w}/bad.json", *extra),
                    (good, ("bad.json", text), *more), names)

    return [
        d("deep-json", ("bad.json", "nested"), "[" * 100_000 + "]" * 100_000),
        d("5000-digits", ("bad.json", "digits"),
          _summary().replace("2.0", "9" * 5000)),
        d("nan", ("bad.json", "NaN"), _summary().replace("2.0", "NaN")),
        d("infinity", ("bad.json", "Infinity"), _summary().replace("2.0", "Infinity")),
        d("overflow", ("bad.json", "tops_per_w"), _summary().replace("2.0", "1e999")),
        d("points-list", ("bad.json", "points"), _summary(points=[1, 2])),
        d("schema", ("bad.json", "schema_version"), _summary(schema_version=2)),
        d("string-metric", ("bad.json", "tops_per_w"), _summary().replace("2.0", '"2.0"')),
        d("binary", ("bad.json", "UTF-8"), b"\xff\xfe\x00\x00"),
        d("malformed", ("bad.json", "line 1"), '{"schema_version": 1,'),
        d("top-list", ("bad.json", "top level"), "[1, 2]"),
        d("too-large", ("bad.json", "input limit"), " " * (9 * 2**20) + _summary()),
        d("threshold-fullwidth", ("--max-regression",), _summary(), ("--max-regression", "２%")),
        d("threshold-underscore", ("--max-regression",), _summary(), ("--max-regression", "1_0%")),
        d("threshold-inf", ("--max-regression",), _summary(), ("--max-regression", "inf")),
        d("threshold-negative", ("--max-regression",), _summary(), ("--max-regression", "-1%")),
        d("threshold-huge", ("--max-regression",), _summary(), ("--max-regression", "9" * 400)),
        d("metric-unknown", ("--metric", "nosuch"), _summary(), ("--metric", "nosuch")),
        d("markdown-under-file", ("--markdown", "afile"), _summary(),
          ("--markdown", "{w}/afile/x.md"), (("afile", "x"),)),
        d("markdown-proc", ("--markdown", "/proc"), _summary(), ("--markdown", "/proc/x.md")),
        Case("diff-bless-root", "diff", ("diff", "/", "{w}/good.json", "--bless"), (good,),
             ("--bless", "root")),
        Case("diff-missing", "diff", ("diff", "{w}/good.json", "{w}/none"), (good,),
             ("none", "summary")),
        Case("diff-fifo", "diff", ("diff", "{w}/good.json", "{w}/fifo.json"), (good,),
             ("fifo.json",), fifos=("fifo.json",)),
    ]


def valid_cases() -> list[Case]:
    """Inputs that must be accepted (exit 0): a BOM, a level named Off, `1e-9` text."""
    bom = "\ufeff" + _y(PROBLEM)
    return [
        model_case("valid-base", (), expect="ok", extra=()),
        model_case("valid-bom-problem", (), expect="ok", extra=(), problem=bom),
        Case("diff-valid", "diff", ("diff", "{w}/good.json", "{w}/good.json"),
             (("good.json", _summary()),), expect="ok"),
        Case("components-valid-user-macro", "components",
             ("components", "--library", "{w}/lib.yaml", "show", "mymacro"),
             (("lib.yaml", _y({"macros": [MACRO]})),), expect="ok"),
        Case("ert-valid", "ert", ("ert", "{w}/arch.yaml", "-o", "{w}/out"),
             (("arch.yaml", V4_ARCH_OK),), expect="ok"),
        Case("ert-valid-library-table", "ert",
             ("ert", "{w}/arch.yaml", "-o", "{w}/out", "--library", "{w}/lib.yaml"),
             (("arch.yaml", V4_ARCH_OK), ("lib.yaml", _y({"tables": [TABLE_ROW]}))), expect="ok"),
        Case("export-valid-user-macro", "export",
             ("export", "--design", "cim_rf", "--macro", "mymacro", "--gemm", "64,64,64",
              "--iso-area", "-o", "{w}/d"), (("lib.yaml", _y({"macros": [MACRO]})),),
             expect="ok", env=(("CIM_PLUGIN_LIBRARY", "{w}/lib.yaml"),)),
        Case("export-valid-empty-folder", "export",
             ("export", "--design", "cim_rf", "--macro", "analog6T", "--gemm", " 64, 64 ,64",
              "--banks", "1x2", "--threshold", "8", "-o", "{w}/empty"), (), expect="ok",
             dirs=("empty",)),
        Case("compare-valid", "compare", ("compare", "{w}/run", "--tolerance", "0"),
             _run_folder(), expect="ok"),
    ]


def corpus() -> list[Case]:
    """Every error case of the corpus."""
    return list(_corpus())


@lru_cache(maxsize=1)
def _corpus() -> tuple[Case, ...]:
    return (*_problem_cases(), *_arch_cases(), *_mapping_cases(), *_table_cases(),
            *_model_paths(), *_weak_message_cases(), *_map_cases(), *_ert_library_cases(),
            *_components_cases(), *_study_cases(), *_diff_cases(), *_export_cases(),
            *_workload_cases(),
            *_compare_cases())


# ----------------------------------------------------------------------------- running

def _fill(text: str, w: Path, decoy: Path) -> str:
    return text.replace("{w}", str(w)).replace("{decoy}", str(decoy))


def prepare(case: Case, root: Path) -> tuple[Path, Path, list[str], dict[str, str]]:
    """Write a case's files under root/work and a decoy folder under root/decoy;
    returns (work, decoy, argv, environment overrides)."""
    w, decoy = root / "work", root / "decoy"
    w.mkdir(parents=True)
    decoy.mkdir(parents=True)
    (decoy / "precious.txt").write_text("do not touch\n")
    (decoy / "sub").mkdir()
    (decoy / "sub" / "data.bin").write_bytes(b"\x00\x01")
    for name, content in case.files:
        p = w / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(_fill(content, w, decoy), encoding="utf-8")
    for name in case.fifos:
        os.mkfifo(w / name)
    for name in case.dirs:
        (w / name).mkdir(parents=True, exist_ok=True)
    for name, target in case.links:
        (w / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(_fill(target, w, decoy), w / name)
    argv = [_fill(a, w, decoy) for a in case.argv]
    env = {k: _fill(v, w, decoy) for k, v in case.env}
    return w, decoy, argv, env


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under a folder with its type and content hash (links not followed)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(folder))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            elif p.is_file():
                st = p.stat()
                out[rel] = f"file:{hashlib.sha256(p.read_bytes()).hexdigest()}:{st.st_mtime_ns}"
            else:
                out[rel] = "other"
    return out


def classify(case: Case, rc: int | None, out: str, err: str, before: dict[str, str],
             after: dict[str, str], decoy_before: dict[str, str],
             decoy_after: dict[str, str]) -> Outcome:
    """clean: exit 2 with one named line; unclear: exit 2 without the names or on several
    lines; internal: exit 1 or a traceback; silent: exit 0 on an error case; ok: a
    valid case accepted; failed: a valid case refused."""
    problems: list[str] = []
    if decoy_after != decoy_before:
        problems.append("the decoy folder changed")
    if case.expect == "ok":
        status = "ok" if rc == 0 and not problems else "failed"
        return Outcome(case, status, rc, err, problems)
    if before != after:
        changed = sorted(set(before.items()) ^ set(after.items()))
        problems.append(f"the work folder changed: {changed[:3]}")
    if rc is None:
        return Outcome(case, "hang", rc, err, problems)
    if rc == 0:
        return Outcome(case, "silent", rc, err, problems)
    if rc != 2 or "Traceback" in err or "internal error" in err:
        return Outcome(case, "internal", rc, err, problems)
    lines = err.strip("\n").split("\n")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines")
    line = lines[-1]
    if ": error: " not in line:
        problems.append("no 'error:' prefix")
    if "(expected " not in line and "(see " not in line:
        problems.append("no '(expected ...)'")
    for name in case.names:
        if name.lower() not in line.lower():
            problems.append(f"does not name {name!r}")
    return Outcome(case, "clean" if not problems else "unclear", rc, err, problems)


__all__ = ["Case", "Outcome", "classify", "corpus", "prepare", "snapshot", "valid_cases"]
