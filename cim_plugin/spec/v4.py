"""Flatten Timeloop v0.4 architectures (`nodes` with `!Container/!Component/!Parallel`).

Timeloop itself only reads the processed `subtree/local` form; timeloopfe's
v4_to_v3 transpiler produces it. We follow the same rules so a v0.4 design (ours
or a user's) becomes the exact level list Timeloop would run:

- leaves are emitted outermost first under `<first container>_top_level`;
- container attributes flow down to later leaves;
- a fan-out (`spatial: {meshX, meshY}`) multiplies the running mesh, leaves become
  `name[1..meshX*meshY]` with cumulative meshX/meshY;
- a node with a fan-out gets a dummy storage `inter_<name>_spatial` above it that
  bypasses everything, and its *spatial* constraints move to that dummy;
- `!Parallel` children become consecutive levels, each bypassing what its
  siblings keep; `enabled: false` leaves are dropped; the last leaf must compute.

Attribute values may be expressions over `variables` (e.g. `depth: Rh`,
`width: Ch*8`); they are evaluated with a small arithmetic evaluator (never
`eval`). A string that is not a valid expression stays a string ("LPDDR4").
"""

from __future__ import annotations

import ast
import functools
import math
import operator
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.classes import component_kind
from cim_plugin.spec.limits import MAX_INSTANCES
from cim_plugin.spec.names import check_identifier
from cim_plugin.spec.problem import GEMM_DIMS, GEMM_TENSORS
from cim_plugin.spec.values import show
from cim_plugin.spec.yamlio import TAG_KEY

DUMMY_ATTRS = {"width": 1, "depth": 1, "datawidth": 1, "technology": -1}

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv,
           ast.Mod: operator.mod, ast.Pow: operator.pow}
_FUNCS = {"min": min, "max": max, "ceil": math.ceil, "floor": math.floor,
          "log2": math.log2, "int": int, "round": round}


#: longest attribute text evaluated as an expression
MAX_EXPRESSION = 256
#: largest magnitude an expression may reach on the way (beyond: kept as text, refused
#: where a number is due)
MAX_MAGNITUDE = 2**128


class _Unresolved(Exception):
    """The text is not an expression over known names: keep it as a string."""


def _number(value: Any) -> int | float:
    """Arithmetic works on numbers only (`"a" * 10**9` would build a huge string)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Unresolved(type(value).__name__)
    if isinstance(value, float) and not math.isfinite(value):
        raise _Unresolved("not finite")
    if abs(value) > MAX_MAGNITUDE:
        raise _Unresolved("too large")
    return value


def _eval_node(node: ast.AST, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _eval_node(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        raise _Unresolved(node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left = _number(_eval_node(node.left, names))
        right = _number(_eval_node(node.right, names))
        if isinstance(node.op, ast.Pow) and abs(left) > 1 and abs(right) > 256:
            raise _Unresolved("too large")
        return _number(_BINOPS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _number(_eval_node(node.operand, names))
        return -v if isinstance(node.op, ast.USub) else v
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCS and not node.keywords):
        args = [_number(_eval_node(a, names)) for a in node.args]
        return _number(_FUNCS[node.func.id](*args))
    raise _Unresolved(type(node).__name__)


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> ast.Expression | None:
    """The expression tree of an attribute text (None: not an expression), parsed once:
    a design rendered for many macros repeats the same texts (`45nm`, `depth * 2`). The
    tree is only read, never changed."""
    try:
        return ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def resolve_value(value: Any, names: dict[str, Any]) -> Any:
    """Evaluate a string attribute as an arithmetic expression over `names`.

    Only numbers take part in arithmetic and no intermediate value may exceed
    MAX_MAGNITUDE, so `2**2**2**30` or `"a" * 10**9` stay text instead of hanging.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or len(text) > MAX_EXPRESSION:
        return value
    tree = _parsed(text)
    if tree is None:
        return value
    try:
        out = _eval_node(tree, names)
        if isinstance(out, int | float) and not isinstance(out, bool):
            _number(out)
    except (SyntaxError, _Unresolved, TypeError, ZeroDivisionError, ValueError, OverflowError,
            RecursionError, MemoryError):
        return value
    if isinstance(out, float) and out.is_integer() and not any(c in text for c in ".eE"):
        return int(out)
    return out


def _resolve_attrs(attrs: dict[str, Any], names: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    scope = dict(names)
    for key, value in attrs.items():
        # Keep number-looking strings (e.g. "1e-9") exactly as written.
        resolved = resolve_value(value, scope) if not _looks_numeric(value) else value
        out[key] = resolved
        scope[key] = resolved
    return out


def _mapping(value: Any, file: str | None, where: str, expected: str) -> dict[str, Any]:
    """A mapping field of a node (None: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{show(value)} is not a mapping", file=file, field=where,
                         expected=expected)
    return value


def _looks_numeric(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _tag(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    return str(node.get(TAG_KEY) or "")


def _mesh(node: dict[str, Any], names: dict[str, Any], where: str, file: str | None) -> tuple[int, int]:
    spatial = _mapping(node.get("spatial"), file, f"{where}.spatial", "{meshX: n, meshY: n}")
    out = []
    for axis in ("meshX", "meshY"):
        v = resolve_value(spatial.get(axis, 1), names)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_INSTANCES:
            raise InputError(f"{axis} must be a positive integer, got {show(spatial.get(axis))}",
                             file=file, field=f"{where}.spatial.{axis}",
                             expected=f"an integer from 1 to {MAX_INSTANCES}")
        out.append(v)
    return out[0], out[1]


def _leaves(nodes: list[Any], file: str | None, where: str) -> list[tuple[dict[str, Any], int | None]]:
    """Depth-first list of (node, parallel group id) in emission order."""
    out: list[tuple[dict[str, Any], int | None]] = []
    group = [0]

    def walk(items: list[Any], path: str, par: int | None) -> None:
        if not isinstance(items, list):
            raise InputError("nodes must be a list", file=file, field=path, expected="a list of nodes")
        for i, node in enumerate(items):
            tag = _tag(node)
            here = f"{path}[{i}]"
            if tag in ("Parallel", "Hierarchical", "Pipelined"):
                gid = None
                if tag == "Parallel":
                    group[0] += 1
                    gid = group[0]
                walk(node.get("nodes") or [], f"{here}.nodes", gid if gid is not None else par)
            elif tag == "Nothing":
                continue
            elif tag in ("Container", "Component"):
                if "name" not in node:
                    raise InputError("node has no name", file=file, field=here,
                                     expected="every !Container/!Component has a name")
                check_identifier(node["name"], file=file, field=f"{here}.name", what="node name")
                out.append((node, par))
            else:
                raise InputError(f"unknown node tag {tag or '(none)'!r}", file=file, field=here,
                                 expected="!Container, !Component, !Parallel, !Hierarchical")

    walk(nodes, where, None)
    return out


def _fmt_factors(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        parts = [str(v).replace(" ", "") for v in value]
    else:
        parts = str(value).replace(",", " ").split()
    return ",".join(p.replace(" ", "") for p in parts if p)


def _fmt_perm(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v).strip() for v in value)
    return "".join(str(value).replace(",", " ").split())


def _copy_fields(target: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Copy constraint fields into a processed target, in Timeloop's factor/permutation form."""
    for key, value in fields.items():
        if key in ("target", "type"):
            continue
        if key == "factors":
            target["factors"] = _fmt_factors(value)
        elif key == "permutation":
            target["permutation"] = _fmt_perm(value)
        else:
            target[key] = value
    return target


def _constraint_targets(name: str, constraints: dict[str, Any], spatial_target: str,
                        file: str | None = None) -> list[dict[str, Any]]:
    """Processed targets for one node's `constraints:`; spatial goes to `spatial_target`."""
    out: list[dict[str, Any]] = []
    where = f"architecture.{name}.constraints"
    for kind in ("temporal", "spatial"):
        c = _mapping(constraints.get(kind), file, f"{where}.{kind}",
                     "{factors, permutation, ...}")
        if not c:
            continue
        t: dict[str, Any] = {"target": spatial_target if kind == "spatial" else name, "type": kind}
        out.append(_copy_fields(t, c))
    ds = _mapping(constraints.get("dataspace"), file, f"{where}.dataspace", "{keep, bypass}")
    if ds:
        t = {"target": name, "type": "bypass"}
        for key in ("keep", "bypass", "keep_only", "bypass_only", "no_coalesce"):
            if ds.get(key) is not None:
                if not isinstance(ds[key], list):
                    raise InputError(f"{show(ds[key])} is not a list of tensors", file=file,
                                     field=f"{where}.dataspace.{key}", expected="a list such as [A, B]")
                t[key] = list(ds[key])
        out.append(t)
    return out


def flatten_v4_full(arch: dict[str, Any], file: str | None = None,
                    variables: dict[str, Any] | None = None,
                    dims: tuple[str, ...] = GEMM_DIMS,
                    dataspaces: tuple[str, ...] = tuple(GEMM_TENSORS)
                    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(processed architecture, constraint targets taken from the nodes)."""
    processed, targets, groups = _flatten(arch, file, variables, dims, dataspaces)
    _apply_parallel_bypass(targets, groups)
    return processed, targets


def _flatten(arch: dict[str, Any], file: str | None, variables: dict[str, Any] | None,
             dims: tuple[str, ...], dataspaces: tuple[str, ...]
             ) -> tuple[dict[str, Any], list[dict[str, Any]], list[list[str]]]:
    if not isinstance(arch, dict) or "nodes" not in arch:
        raise InputError("architecture has no 'nodes'", file=file, field="architecture.nodes",
                         expected="the v0.4 form {version: 0.4, nodes: [...]}")
    version = arch.get("version", 0.4)
    if str(version) not in ("0.4",):
        raise InputError(f"architecture version {version!r}", file=file, field="architecture.version",
                         expected="0.4")
    names: dict[str, Any] = dict(_mapping(variables, file, "variables", "{name: value}"))
    names = _resolve_attrs(names, {})
    items = _leaves(arch["nodes"], file, "architecture.nodes")
    if not items or _tag(items[0][0]) != "Container":
        top_name = "system"
    else:
        top_name = str(items[0][0]["name"])

    top_attrs: dict[str, Any] = dict(names)
    inherited: dict[str, Any] = {}
    mesh_x, mesh_y = 1, 1
    local: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    groups: dict[int, list[str]] = {}
    first = True
    seen: set[str] = set()
    for node, group in items:
        tag = _tag(node)
        name = str(node["name"])
        where = f"architecture.{name}"
        if name in seen:
            raise InputError(f"two nodes named {name!r}", file=file, field=f"{where}.name",
                             expected="distinct node names (each becomes one level)")
        seen.add(name)
        scope = {**names, **inherited}
        fx, fy = _mesh(node, scope, where, file)
        constraints = _mapping(node.get("constraints"), file, f"{where}.constraints",
                               "{temporal, spatial, dataspace}")
        spatial_target = name
        if fx * fy > 1:
            dummy_name = f"inter_{name}_spatial"
            attrs = {**inherited, **DUMMY_ATTRS, "meshX": mesh_x, "meshY": mesh_y}
            local.append({"name": f"{dummy_name}[1..{mesh_x * mesh_y}]", "class": "dummy_storage",
                          "attributes": attrs, "enabled": True})
            targets.append({"target": dummy_name, "type": "temporal",
                            "factors": ",".join(f"{d}=1" for d in dims),
                            "permutation": "".join(dims)})
            targets.append({"target": dummy_name, "type": "bypass", "bypass": list(dataspaces)})
            spatial_target = dummy_name
            mesh_x, mesh_y = mesh_x * fx, mesh_y * fy
            if mesh_x * mesh_y > MAX_INSTANCES:
                raise InputError(f"{mesh_x * mesh_y} instances below {name}", file=file,
                                 field=f"{where}.spatial",
                                 expected=f"fan-outs multiplying to at most {MAX_INSTANCES}")
        node_attrs = _mapping(node.get("attributes"), file, f"{where}.attributes",
                              "{attribute: value}")
        if tag == "Container":
            attrs = _resolve_attrs(dict(node_attrs), scope)
            if first:
                top_attrs.update(attrs)
            inherited.update(attrs)
            targets.extend(_constraint_targets(name, constraints, spatial_target, file))
            first = False
            continue
        first = False
        if node.get("enabled") is False:
            continue
        if "class" not in node:
            raise InputError("component has no class", file=file, field=f"{where}.class",
                             expected="a storage or compute class")
        own = _resolve_attrs(dict(node_attrs), scope)
        attrs = {**inherited, **own, "meshX": mesh_x, "meshY": mesh_y}
        leaf: dict[str, Any] = {"name": f"{name}[1..{mesh_x * mesh_y}]", "class": node["class"]}
        if node.get("subclass") is not None:
            leaf["subclass"] = node["subclass"]
        leaf["attributes"] = attrs
        for key in ("required_actions", "area_scale", "energy_scale"):
            if node.get(key) is not None:
                leaf[key] = node[key]
        leaf["enabled"] = True
        local.append(leaf)
        node_targets = _constraint_targets(name, constraints, spatial_target, file)
        targets.extend(node_targets)
        if group is not None:
            groups.setdefault(group, []).append(name)
    for leaf in local:
        component_kind(leaf["class"], file=file,
                       field=f"architecture.{leaf['name'].split('[')[0]}.class")
    if not local or component_kind(local[-1]["class"], file=file) != "compute":
        raise InputError("the last node must be a compute component", file=file,
                         field="architecture.nodes", expected="a last !Component of class mac/compute")
    processed = {"version": "0.4",
                 "subtree": [{"name": f"{top_name}_top_level", "attributes": top_attrs, "local": local}]}
    return processed, targets, list(groups.values())


def _apply_parallel_bypass(targets: list[dict[str, Any]], groups: list[list[str]]) -> None:
    """Each `!Parallel` branch bypasses what its siblings keep (timeloopfe Dataspace2Branch)."""
    for members in groups:
        keeps = {name: [ds for t in targets if t["target"] == name and t["type"] == "bypass"
                        for ds in (t.get("keep") or t.get("keep_only") or [])]
                 for name in members}
        for name in members:
            sibling = [ds for other in members if other != name for ds in keeps[other]]
            for t in targets:
                if t["target"] != name or t["type"] != "bypass":
                    continue
                own = set(t.get("keep") or t.get("keep_only") or [])
                byp = list(t.get("bypass") or [])
                byp += [ds for ds in sibling if ds not in byp and ds not in own]
                if byp:
                    t["bypass"] = byp


def flatten_v4(arch: dict[str, Any], file: str | None = None,
               variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The processed (`subtree/local`) architecture of a v0.4 `nodes` architecture."""
    return flatten_v4_full(arch, file=file, variables=variables)[0]


def problem_names(doc: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(dimensions, tensors) of the document's problem, for the targets the flattening
    adds itself (a fan-out's `inter_*_spatial` level keeps nothing and has factors 1);
    the GEMM's M, N, K and A, B, Z without a problem (`load_problem` validates it)."""
    shape = (doc.get("problem") or {}).get("shape") if isinstance(doc.get("problem"), dict) \
        else None
    if isinstance(shape, dict):
        dims = shape.get("dimensions")
        spaces = shape.get("data_spaces")
        if isinstance(dims, list) and isinstance(spaces, list) and all(
                isinstance(d, str) for d in dims) and all(
                isinstance(ds, dict) and isinstance(ds.get("name"), str) for ds in spaces):
            return tuple(dims), tuple(ds["name"] for ds in spaces)
    return GEMM_DIMS, tuple(GEMM_TENSORS)


def flatten_v4_constraints(doc: dict[str, Any], file: str | None = None) -> dict[str, Any]:
    """`architecture_constraints: {targets}` of a v0.4 document (node + top-level constraints).

    Top-level targets naming a container with a fan-out are moved to its
    `inter_<name>_spatial` level, as timeloopfe does; `dataspace` becomes `bypass`.
    Targets are listed in level order (timeloopfe attaches top-level targets to their
    nodes before emitting them), so moving a node's constraints to the top level
    leaves the result unchanged; targets naming no node come last.
    """
    arch = doc.get("architecture") or {}
    variables = {k: v for k, v in _mapping(doc.get("variables"), file, "variables",
                                           "{name: value}").items() if k != "version"}
    _, targets, groups = _flatten(arch, file, variables, *problem_names(doc))
    fanout_names = {str(n["name"]) for n, _ in _leaves(arch.get("nodes") or [], file, "architecture.nodes")
                    if any(resolve_value((n.get("spatial") or {}).get(a, 1), variables) != 1
                           for a in ("meshX", "meshY"))}
    position: dict[str, int] = {}
    for n, _ in _leaves(arch.get("nodes") or [], file, "architecture.nodes"):
        if str(n["name"]) in fanout_names:
            position.setdefault(f"inter_{n['name']}_spatial", len(position))
        position.setdefault(str(n["name"]), len(position))
    top = _mapping(doc.get("constraints"), file, "constraints", "{targets: [...]}")
    top_targets = top.get("targets") or []
    if not isinstance(top_targets, list):
        raise InputError(f"{show(top_targets)} is not a list", file=file, field="constraints.targets",
                         expected="a list of {target, type, ...}")
    for i, t in enumerate(top_targets):
        if not isinstance(t, dict) or "target" not in t or "type" not in t:
            raise InputError("each constraint needs target and type", file=file,
                             field=f"constraints.targets[{i}]", expected="{target, type, ...}")
        name = str(t["target"])
        kind = str(t["type"])
        out: dict[str, Any] = {"target": name, "type": "bypass" if kind == "dataspace" else kind}
        if kind == "spatial" and name in fanout_names:
            out["target"] = f"inter_{name}_spatial"
        targets.append(_copy_fields(out, t))
    targets.sort(key=lambda t: position.get(str(t["target"]), len(position)))
    _apply_parallel_bypass(targets, groups)
    return {"targets": targets}
