"""The `cim-plugin` console script.

Each subcommand lives in `cim_plugin.commands.<name>` and exposes
`add_arguments(parser)` and `run(args) -> int`. Exit codes: 0 ok, 2 bad input,
1 internal failure. Errors print one line unless `--debug` is given.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cim_plugin import __version__
from cim_plugin.errors import CimPluginError, InputError

# name -> one-line help; order is the order shown in --help
COMMANDS: dict[str, str] = {
    "model": "evaluate a mapping on an architecture (embedded model or timeloop-model)",
    "map": "search the best mapping for an architecture and problem",
    "ert": "write Accelergy ERT/ART tables for an architecture from the component library",
    "components": "list or show the CiM macro and component library",
    "export": "render a Timeloop-ready design folder (arch, problem, constraints, mapping)",
    "study": "run the what/when/where CiM study and write results, plots and a report",
    "workload": "the GEMMs of an ONNX model, a Hugging Face config or a workload, as a table "
                "and a GEMM list",
    "compare": "re-evaluate a Timeloop output folder with the embedded model and diff it",
    "diff": "compare two study results and flag regressions",
}


def _load(name: str):
    return importlib.import_module(f"cim_plugin.commands.{name}")


class UsageError(Exception):
    """A command line argparse refused; reported in one line with exit status 2."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block) and lets
    `main` return status 2 instead of exiting."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(self.prog, message)


def one_line(text: str, limit: int = 2000) -> str:
    """A message as one bounded line: newlines shown as \\n, overlong text shortened."""
    flat = text.replace("\r", "\\r").replace("\n", "\\n")
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cim-plugin",
        description="What / when / where to compute-in-memory: Timeloop-compatible evaluation, "
                    "mapping and studies of SRAM CiM macros against a tensor-core baseline.",
    )
    parser.add_argument("--version", action="version", version=f"cim-plugin {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = _load(name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks on errors")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(one_line(f"{exc.prog}: error: {exc} (see {exc.prog} --help)"), file=sys.stderr)
        return 2
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except CimPluginError as exc:
        if args.debug:
            raise
        print(one_line(f"cim-plugin {args.command}: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, like other command-line tools
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"cim-plugin {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence for users
        if args.debug:
            raise
        print(one_line(f"cim-plugin {args.command}: internal error: {type(exc).__name__}: "
                       f"{exc} (rerun with --debug for a traceback)"), file=sys.stderr)
        return 1


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()

__all__ = ["COMMANDS", "InputError", "build_parser", "main"]
