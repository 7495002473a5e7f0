"""GEMMs of an ONNX graph, read with the `onnx` package (no runtime, weights never used).

Steps: parse the protobuf and check it (`onnx.checker`); give every symbolic input
dimension a value (`--dim NAME=VALUE`, else `--batch` for batch-like names and axis 0,
`--seq-len` for sequence-like names; a dimension left without a value is an error
naming the input); inline local functions; infer shapes with data propagation; then
walk the top-level nodes: MatMul, Gemm, Conv, ConvTranspose, a GEMM-like Einsum and
their quantized forms become GEMMs (`cim_plugin.study.importers.lowering`), every other
operator is summarised as skipped with its arithmetic (`SkippedOps`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError, NotAvailableError
from cim_plugin.spec.limits import MAX_DIMENSION
from cim_plugin.spec.yamlio import read_input_bytes
from cim_plugin.study.importers import lowering
from cim_plugin.study.importers.result import Imported, SkippedOps, imported
from cim_plugin.study.workloads import Gemm

#: protobuf's own limit on one message; larger models keep weights in external files,
#: which are never read
MAX_ONNX_BYTES = 2**31 - 1
EXPECTED = "an ONNX model (.onnx)"

BATCH_NAME = re.compile(r"batch|^(n|b|bs|bsz)$", re.IGNORECASE)
SEQ_NAME = re.compile(r"seq|sequence|length|len$|token|^(s|t|l)$", re.IGNORECASE)

#: operator -> (index of A / X, index of B / W) among its inputs
GEMM_INPUTS = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3),
               "Gemm": (0, 1), "Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3),
               "ConvTranspose": (0, 1), "Einsum": (0, 1)}
#: operators that only move or reinterpret data
LAYOUT_OPS = frozenset({
    "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Concat", "Split", "Slice",
    "Gather", "GatherElements", "GatherND", "Shape", "Size", "Constant", "ConstantOfShape",
    "Identity", "Cast", "CastLike", "Expand", "Tile", "Pad", "Dropout", "Range", "ScatterND",
    "ScatterElements", "DepthToSpace", "SpaceToDepth", "NonZero", "EyeLike", "Trilu",
    "OneHot", "SplitToSequence", "SequenceAt", "QuantizeLinear", "DequantizeLinear"})
#: operators that read every input element once (reductions, softmax, normalisations)
PER_INPUT_OPS = frozenset({
    "Softmax", "LogSoftmax", "Hardmax", "LayerNormalization", "BatchNormalization",
    "InstanceNormalization", "GroupNormalization", "RMSNormalization", "LpNormalization",
    "MeanVarianceNormalization", "LRN", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool",
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "TopK",
    "CumSum"})
POOL_OPS = frozenset({"MaxPool", "AveragePool", "LpPool"})
#: operators whose subgraphs are not read (their arithmetic is unknown)
CONTROL_FLOW_OPS = frozenset({"If", "Loop", "Scan"})


def _onnx():
    try:
        import onnx
        import onnx.shape_inference
    except ImportError:
        raise NotAvailableError("reading ONNX models needs the onnx package: "
                                "pip install 'cim-plugin[onnx]'") from None
    return onnx


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _label(text: str, fallback: str) -> str:
    """A node or tensor name as a displayable label (printable, at most 100 characters)."""
    clean = "".join(c if c.isprintable() else "?" for c in text).strip()
    return clean[:100] if clean else fallback


# ----------------------------------------------------------------------------- loading

def _parse(path: Path):
    onnx = _onnx()
    data = read_input_bytes(path, EXPECTED, limit=MAX_ONNX_BYTES,
                            raise_with="keep the weights in external data files")
    file = str(path)
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and others
        raise InputError(f"not an ONNX model: {_first_line(exc)}", file=file,
                         field="(protobuf)", expected=EXPECTED) from None
    if not model.graph.node:
        raise InputError("the file holds no ONNX graph nodes", file=file, field="graph",
                         expected=EXPECTED)
    _external_weights_as_inputs(model)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - ValidationError and protobuf errors
        raise InputError(f"invalid ONNX model: {_first_line(exc)}", file=file,
                         field="graph", expected="a model that onnx.checker accepts") from None
    return model


def _external_weights_as_inputs(model) -> None:
    """Initializers kept in external data files become typed graph inputs: only their
    shapes matter, so the files are never read and need not be present (the checker
    would otherwise look for them relative to the working folder)."""
    from onnx import TensorProto, helper

    external = [t for t in model.graph.initializer if t.data_location == TensorProto.EXTERNAL]
    if not external:
        return
    kept = [t for t in model.graph.initializer if t.data_location != TensorProto.EXTERNAL]
    declared = {vi.name for vi in model.graph.input}
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    model.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                             for t in external if t.name not in declared)


def _value_for(param: str, axis: int, dims: Mapping[str, int], batch: int | None,
               seq_len: int | None) -> int | None:
    if param in dims:
        return dims[param]
    if param and SEQ_NAME.search(param) and not BATCH_NAME.search(param):
        return seq_len
    if (param and BATCH_NAME.search(param)) or axis == 0:
        return batch
    return None


def _fix_inputs(model, file: str, dims: Mapping[str, int], batch: int | None,
                seq_len: int | None) -> dict[str, int]:
    """Every symbolic dimension of a graph input set to its value; returns the values."""
    initializers = {t.name for t in model.graph.initializer}
    used: dict[str, int] = {}
    for inp in model.graph.input:
        if inp.name in initializers or not inp.type.HasField("tensor_type"):
            continue
        tt = inp.type.tensor_type
        if not tt.HasField("shape"):
            raise InputError(f"input {_label(inp.name, '?')!r} has no shape", file=file,
                             field=f"graph.input[{_label(inp.name, '?')}]",
                             expected="inputs with a declared rank")
        for axis, d in enumerate(tt.shape.dim):
            where = f"graph.input[{_label(inp.name, '?')}].shape[{axis}]"
            if d.HasField("dim_value"):
                if not 1 <= d.dim_value <= MAX_DIMENSION:
                    raise InputError(f"dimension {d.dim_value} is out of range", file=file,
                                     field=where, expected=f"1 to {MAX_DIMENSION}")
                continue
            param = d.dim_param if d.HasField("dim_param") else ""
            value = _value_for(param, axis, dims, batch, seq_len)
            if value is None:
                name = f"symbolic dimension {param!r}" if param else "an unknown dimension"
                raise InputError(f"{name} has no value", file=file, field=where,
                                 expected="a value: --batch B, --seq-len S or --dim "
                                          f"{param or 'NAME'}=VALUE (in a study: models: "
                                          "[{model: FILE, batch: B, seq_len: S}])")
            d.dim_value = value
            if param:
                used[param] = value
    unused = sorted(set(dims) - set(used))
    if unused:
        raise InputError(f"no input dimension is named {unused[0]!r}", file=file,
                         field="--dim", expected="names of symbolic input dimensions")
    return used


def _infer(model, file: str):
    onnx = _onnx()
    del model.graph.value_info[:]            # recomputed from the fixed inputs
    for out in model.graph.output:
        if out.type.HasField("tensor_type"):
            out.type.tensor_type.ClearField("shape")
    try:
        if model.functions:
            import onnx.inliner

            model = onnx.inliner.inline_local_functions(model)
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True,
                                                 data_prop=True)
    except Exception as exc:  # noqa: BLE001 - InferenceError, ValidationError, RuntimeError
        raise InputError(f"shape inference failed: {_first_line(exc)}", file=file,
                         field="graph", expected="a model whose shapes ONNX can infer "
                                                 "once the input dimensions have values") \
            from None


def _shapes(model) -> dict[str, list[int | None]]:
    shapes: dict[str, list[int | None]] = {}
    for t in model.graph.initializer:
        shapes[t.name] = [int(d) for d in t.dims]
    for vi in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
        if tt is not None and tt.HasField("shape"):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None
                               for d in tt.shape.dim]
    return shapes


# ----------------------------------------------------------------------------- walking

def _attrs(node) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _operand(node, index: int, shapes: dict[str, list[int | None]], producers: dict[str, Any],
             file: str, where: str) -> list[int]:
    if index >= len(node.input) or not node.input[index]:
        raise InputError(f"input {index} is missing", file=file, field=where,
                         expected=f"a {node.op_type} with its operands")
    shape = shapes.get(node.input[index])
    if shape is None or any(d is None for d in shape):
        name = _label(node.input[index], "?")
        maker = producers.get(node.input[index])
        if maker is not None and maker.domain not in ("", "ai.onnx"):
            raise InputError(f"the shape of input {name!r} is unknown: it comes from node "
                             f"{_label(maker.name, '?')!r} ({maker.domain}.{maker.op_type}), "
                             "whose shapes ONNX cannot infer", file=file, field=where,
                             expected="a model of standard ONNX operators (exported without "
                                      "runtime-specific fusions)")
        raise InputError(f"the shape of input {name!r} is unknown ({shape})", file=file,
                         field=where, expected="shapes ONNX can infer: give the symbolic "
                                               "dimensions values (--batch, --seq-len, --dim "
                                               "NAME=VALUE)")
    return [int(d) for d in shape]


def _lower(node, shapes, producers, file: str, where: str) -> lowering.Shape3 | None:
    if node.op_type == "Einsum" and len(node.input) != 2:
        return None                          # one operand (a trace) or three: not a GEMM
    ia, ib = GEMM_INPUTS[node.op_type]
    a = _operand(node, ia, shapes, producers, file, where)
    b = _operand(node, ib, shapes, producers, file, where)
    at = _attrs(node)
    op = node.op_type
    if op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
        return lowering.matmul(a, b)
    if op == "Gemm":
        return lowering.gemm(a, b, trans_a=bool(at.get("transA", 0)),
                             trans_b=bool(at.get("transB", 0)))
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        pad = at.get("auto_pad", b"NOTSET")
        return lowering.conv(a, b, group=int(at.get("group", 1)),
                             kernel_shape=at.get("kernel_shape"), strides=at.get("strides"),
                             pads=at.get("pads"), dilations=at.get("dilations"),
                             auto_pad=pad.decode() if isinstance(pad, bytes) else str(pad))
    if op == "ConvTranspose":
        return lowering.conv_transpose(a, b, group=int(at.get("group", 1)),
                                       kernel_shape=at.get("kernel_shape"))
    eq = at.get("equation", b"")
    return lowering.einsum(eq.decode() if isinstance(eq, bytes) else str(eq), a, b)


def _elements(shape: list[int | None] | None) -> int | None:
    if shape is None or any(d is None for d in shape):
        return None
    return math.prod(int(d) for d in shape)


def _skipped_ops(node, shapes) -> int | None:
    """Arithmetic of an operator that is not a GEMM (see `SkippedOps`)."""
    op = node.op_type
    if op in CONTROL_FLOW_OPS:
        return None
    if op in LAYOUT_OPS:
        return 0
    if op in PER_INPUT_OPS:
        return _elements(shapes.get(node.input[0])) if node.input else None
    out = _elements(shapes.get(node.output[0])) if node.output else None
    if op in POOL_OPS and out is not None:
        return out * math.prod(_attrs(node).get("kernel_shape") or [1])
    return out


def read_onnx(path: str | Path, *, batch: int | None = None, seq_len: int | None = None,
              dims: Mapping[str, int] | None = None, name: str | None = None) -> Imported:
    """GEMMs of an ONNX model; symbolic input dimensions take the given values."""
    p = Path(path)
    file = str(p)
    model = _parse(p)
    values = _fix_inputs(model, file, dict(dims or {}), batch, seq_len)
    model = _infer(model, file)
    shapes = _shapes(model)
    producers = {out: node for node in model.graph.node for out in node.output}
    raw: list[Gemm] = []
    skipped: dict[str, list[int]] = {}          # op -> [nodes, ops, unknown]
    for i, node in enumerate(model.graph.node):
        label = _label(node.name, f"{node.op_type}_{i}")
        where = f"node {label!r} ({node.op_type})"
        shape = None
        if node.domain in ("", "ai.onnx") and node.op_type in GEMM_INPUTS:
            try:
                shape = _lower(node, shapes, producers, file, where)
            except lowering.NotLowerable as exc:
                raise InputError(str(exc), file=file, field=where,
                                 expected=f"a valid {node.op_type}") from None
        if shape is not None:
            raw.append(Gemm(label, shape.m, shape.n, shape.k, shape.count))
            continue
        op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        ops = _skipped_ops(node, shapes)
        row = skipped.setdefault(op, [0, 0, 0])
        row[0] += 1
        if ops is None:
            row[2] += 1
        else:
            row[1] += ops
    source = {"file": p.name, "format": "onnx"}
    if values:
        source["dimensions"] = dict(sorted(values.items()))
    summary = tuple(SkippedOps(op, n, ops, unknown)
                    for op, (n, ops, unknown) in sorted(skipped.items(),
                                                         key=lambda kv: (-kv[1][1], kv[0])))
    wname = name or _label(p.stem, "model")
    return imported(wname, raw, file=file, skipped=summary, source=source,
                    description=f"GEMMs of the ONNX model {p.name}"
                                + (f" ({', '.join(f'{k}={v}' for k, v in sorted(values.items()))})"
                                   if values else ""))


__all__ = ["MAX_ONNX_BYTES", "read_onnx"]
