"""`cim-plugin ert`: write Accelergy ERT.yaml / ART.yaml for an architecture.

The energies and areas come from the component library (CiM macros, baseline
tables), the same code the Accelergy plug-in runs for our compound components, so
Accelergy gives these tables too. CiM areas are the real macro areas; `--paper-compat`
gives the WWW placeholder (1 um^2 per CiM instance) instead. `--library` adds the
user's own macro/table files. `--plugin-path` prints the Accelergy estimator plug-in
file to list under `globals: accelergy_plug_ins`.

Like `model` and `map`, the output folder gets cim-plugin's marker; an existing,
non-empty folder cim-plugin did not make is refused unless `--force` is given. Both
tables are written to temporary names and renamed into place together.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from cim_plugin.errors import InputError, blame
from cim_plugin.io.outdir import check_output_paths, mark_output_dir
from cim_plugin.io.safeio import SafeFolder, Staging
from cim_plugin.library.ert_gen import DEFAULT_TOP, generate_tables
from cim_plugin.spec.arch import load_architecture
from cim_plugin.spec.yamlio import load_inputs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="*", metavar="SPEC.yaml",
                   help="files holding the architecture (processed subtree/local or v0.4 nodes "
                        "form), merged in order")
    p.add_argument("-o", "--output-dir", metavar="DIR", help="write ERT.yaml and ART.yaml here")
    p.add_argument("--library", metavar="EXTRA.yaml", action="append", default=[],
                   help="extra macro/table file (repeatable; also $CIM_PLUGIN_LIBRARY)")
    p.add_argument("--paper-compat", action="store_true",
                   help="CiM area as the WWW placeholder (1 um^2 per CiM instance) instead of "
                        "the real macro area")
    p.add_argument("--plugin-path", action="store_true",
                   help="print the absolute path of the Accelergy plug-in file and exit")
    p.add_argument("--force", action="store_true",
                   help="write into an existing, non-empty -o folder that cim-plugin did not make")


def top_name(doc: dict) -> str:
    """Name prefix Accelergy gives tables: the first subtree node's name."""
    arch = doc.get("architecture") or {}
    subtree = arch.get("subtree") if isinstance(arch, dict) else None
    if isinstance(subtree, list) and subtree and isinstance(subtree[0], dict):
        return str(subtree[0].get("name") or DEFAULT_TOP)
    return DEFAULT_TOP


def run(args: argparse.Namespace) -> int:
    if args.plugin_path:
        from cim_plugin.library import plugin_path

        print(plugin_path())
        return 0
    if not args.specs:
        raise InputError("no spec files given", field="SPEC.yaml",
                         expected="cim-plugin ert SPEC.yaml [MORE.yaml ...] -o DIR")
    if not args.output_dir:
        raise InputError("no output folder given", field="-o/--output-dir",
                         expected="a folder for ERT.yaml and ART.yaml")
    check_output_paths(None, args.output_dir, args.force)
    doc, origin = load_inputs(args.specs)
    spec_file = origin.get("architecture", ", ".join(args.specs))
    arch = load_architecture(doc, spec_file)
    with blame(spec_file):                   # a component the library cannot estimate
        ert, art = generate_tables(arch, extra=list(args.library), top_name=top_name(doc),
                                   paper_compat=bool(args.paper_compat))
    out = Path(args.output_dir)
    staging = Staging()                      # both tables published together, or neither
    for name, body in (("ERT.yaml", ert.to_yaml_dict()), ("ART.yaml", art.to_yaml_dict())):
        staging.add(name, yaml.safe_dump(body, sort_keys=False))
    with SafeFolder.open(out, flag="-o") as folder:
        staging.publish(folder)
    mark_output_dir(out, "ert")
    print(f"wrote {out / 'ERT.yaml'} and {out / 'ART.yaml'} "
          f"({len(ert.tables)} energy tables, {len(art.areas)} areas)")
    return 0
