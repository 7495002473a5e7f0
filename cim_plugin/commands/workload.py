"""`cim-plugin workload FILE|NAME`: the GEMMs of a model, as a table and a GEMM list.

FILE is an ONNX model (.onnx) or a Hugging Face config (.json); NAME a shipped
workload or a GEMM list that `study` reads. `-o gemms.yaml` writes the list `study`
accepts under `workloads:`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cim_plugin.argtypes import positive_int


def _dim(text: str) -> tuple[str, int]:
    name, sep, value = text.rpartition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (expected e.g. "
                                         "sequence_length=128)")
    return name.strip(), positive_int(value)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="FILE|NAME",
                   help="an ONNX model (.onnx), a Hugging Face config (.json), a shipped "
                        "workload name or a GEMM list (.yaml/.csv)")
    p.add_argument("-o", "--output", metavar="GEMMS.yaml",
                   help="write the GEMM list here (a file `study` reads under workloads:)")
    p.add_argument("--batch", type=positive_int, metavar="B",
                   help="batch size (symbolic batch dimensions of an ONNX model; a config's "
                        "batch, default 1)")
    p.add_argument("--seq-len", type=positive_int, metavar="S",
                   help="sequence length (symbolic sequence dimensions of an ONNX model; a "
                        "config's prompt length in prefill, its context in decode)")
    p.add_argument("--phase", choices=("prefill", "decode"),
                   help="a config's phase: the prompt pass (default) or one decode step")
    p.add_argument("--attention", choices=("per_head", "merged"),
                   help="a config's attention GEMMs: one per head (default) or heads folded "
                        "into K and N, as the method's lists")
    p.add_argument("--dim", type=_dim, action="append", metavar="NAME=VALUE",
                   help="value of a symbolic ONNX input dimension (repeatable)")
    p.add_argument("--name", help="workload name (default: the file's name)")


def run(args: argparse.Namespace) -> int:
    from cim_plugin.errors import InputError
    from cim_plugin.io.outdir import check_output_file
    from cim_plugin.io.safeio import write_text_atomic
    from cim_plugin.spec.names import check_label
    from cim_plugin.study.importers import Imported, import_model, is_model_file
    from cim_plugin.study.importers.table import format_table, gemm_list_yaml
    from cim_plugin.study.workloads import load_workload

    if args.output:
        check_output_file(Path(args.output), "--output")
    name = check_label(args.name, field="--name", what="workload name") if args.name else None
    dims = dict(args.dim or [])
    if is_model_file(args.model):
        imp = import_model(args.model, batch=args.batch, seq_len=args.seq_len,
                           phase=args.phase, attention=args.attention, dims=dims, name=name)
    else:
        given = [flag for flag, v in (("--batch", args.batch), ("--seq-len", args.seq_len),
                                      ("--phase", args.phase), ("--attention", args.attention),
                                      ("--dim", args.dim)) if v is not None]
        if given:
            raise InputError(f"{given[0]} applies to model files only", field=given[0],
                             expected="an .onnx model or a Hugging Face config .json")
        w = load_workload(args.model)
        if name:
            w = type(w)(name, w.gemms, w.description, w.source)
        imp = Imported(w, w.gemms, source=dict(w.source))
    text = gemm_list_yaml(imp) if args.output else None
    print(format_table(imp))
    if args.output and text is not None:
        write_text_atomic(Path(args.output), text)
        print(f"wrote {args.output}")
    return 0
