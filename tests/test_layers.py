"""The package's rooms and the direction of their imports, read from the source (ast).

Data flows spec -> mapping -> evaluation -> results -> report. As in Timeloop, the
mapping as a data type (`spec/mapping.py`) is low, the model evaluates it, and the
search (`mapping/`, Timeloop's `mapspaces/` + `search/`) calls the model; the public
API (`api.py`, ZigZag's) sits on top of model and search, below the exported designs
and the backends (which map through it), the study, its report,
the design-space exploration that drives studies and reports (`dse/`) and the command
line. A room may import its own modules and any lower room, never a
higher one; nothing imports `commands/`; there is no import cycle between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cim_plugin"

#: rank of each room; a module may import only rooms of a lower or equal rank
#: (equal: the same room, or sibling rooms that share no modules)
RANK = {
    "__init__": 0, "errors": 0, "resources": 0,
    "spec": 1,
    "io": 2, "library": 2,
    "model": 3,
    "mapping": 4,
    "api": 5,
    "export": 6, "backends": 6,
    "study": 7,
    "report": 8,
    "dse": 9,
    "argtypes": 10, "commands": 11, "cli": 12, "__main__": 13,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str | None = None) -> set[str]:
    """Modules of the package that `path` (module `name`) imports, at any depth of the
    file: a function-level import counts as much as one at the top."""
    name = name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("cim_plugin"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("cim_plugin"):
                continue
            for a in node.names:            # `from pkg import module` imports the module
                sub = f"{mod}.{a.name}"
                if _exists(sub):
                    out.add(sub)
                else:
                    out.add(mod)
    return out


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


GRAPH = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_room_has_a_rank():
    assert {_room(m) for m in GRAPH} <= set(RANK), "a new room needs its place in RANK"


def _upward(module: str, deps: set[str]) -> list[str]:
    """The imports of `module` that reach a room of its own rank or higher."""
    return sorted(d for d in deps
                  if _room(d) != _room(module) and RANK[_room(d)] >= RANK[_room(module)]
                  and not (RANK[_room(d)] == RANK[_room(module)] == 0))


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_room_imports_a_higher_one(module):
    up = _upward(module, GRAPH[module])
    assert not up, f"{module} imports a room at or above its own: {up}"


def test_nothing_imports_commands():
    users = sorted(m for m, deps in GRAPH.items()
                   for d in deps if _room(d) == "commands" and _room(m) != "cli")
    assert not users, users


def test_commands_import_no_other_command():
    users = sorted((m, d) for m, deps in GRAPH.items() if _room(m) == "commands"
                   for d in deps if _room(d) == "commands" and d != "cim_plugin.commands")
    assert not users, users


def test_no_import_cycle():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(GRAPH.get(m, ())):
            if d == m or d not in GRAPH:
                continue
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_the_checker_sees_a_planted_upward_import(tmp_path):
    """Relative and function-level imports are resolved, so an upward one is caught."""
    planted = tmp_path / "x.py"
    planted.write_text("from . import values\n\n\ndef f():\n"
                       "    from ..report import study_report\n")
    deps = _imports(planted, "cim_plugin.spec.x")
    assert deps == {"cim_plugin.spec.values", "cim_plugin.report.study_report"}
    assert _upward("cim_plugin.spec.x", deps) == ["cim_plugin.report.study_report"]
