"""ONNX graphs built with `onnx.helper` for the importer's tests (no download).

Weights are graph inputs with static shapes rather than initializers, so a
ResNet-50 stays a few kilobytes: the importer needs their shapes, never their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import onnx
from onnx import TensorProto, helper


class Graph:
    """A graph under construction: nodes in order, weights as typed inputs."""

    def __init__(self, name: str = "g") -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.inits: list[onnx.TensorProto] = []

    def input(self, name: str, shape: Sequence[int | str]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        return name

    def weight(self, name: str, shape: Sequence[int]) -> str:
        return self.input(name, shape)

    def ints(self, name: str, values: Sequence[int]) -> str:
        self.inits.append(helper.make_tensor(name, TensorProto.INT64, [len(values)],
                                             list(values)))
        return name

    def op(self, op_type: str, inputs: Sequence[str], name: str, **attrs: Any) -> str:
        out = f"{name}:out"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=name, **attrs))
        return out

    def model(self, output: str, opset: int = 17) -> onnx.ModelProto:
        """The model, its output typed by shape inference (as exporters write it)."""
        graph = helper.make_graph(self.nodes, self.name, self.inputs, [],
                                  initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        inferred = onnx.shape_inference.infer_shapes(model)
        typed = [vi for vi in inferred.graph.value_info if vi.name == output]
        model.graph.output.extend(typed or [helper.make_tensor_value_info(
            output, TensorProto.FLOAT, [])])
        return model

    def conv_bn(self, x: str, name: str, c_in: int, c_out: int, k: int, stride: int = 1,
                pad: int = 0, relu: bool = True) -> str:
        """torchvision's conv (no bias) + BatchNorm (+ ReLU)."""
        w = self.weight(f"{name}.weight", [c_out, c_in, k, k])
        y = self.op("Conv", [x, w], name, kernel_shape=[k, k], strides=[stride, stride],
                    pads=[pad] * 4)
        bn = name.replace("conv", "bn") if "conv" in name else f"{name}.bn"
        params = [self.weight(f"{bn}.{p}", [c_out]) for p in ("weight", "bias", "mean", "var")]
        y = self.op("BatchNormalization", [y, *params], bn)
        return self.op("Relu", [y], f"{name}.relu") if relu else y


def resnet50(batch: int | str = 1) -> onnx.ModelProto:
    """ResNet-50 as torchvision builds it (v1.5: the stride on the 3x3 conv), 224x224."""
    g = Graph("resnet50")
    x = g.input("input", [batch, 3, 224, 224])
    x = g.conv_bn(x, "conv1", 3, 64, 7, 2, 3)
    x = g.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    c_in = 64
    for stage, (blocks, width, stride) in enumerate(((3, 64, 1), (4, 128, 2), (6, 256, 2),
                                                     (3, 512, 2)), start=1):
        for b in range(blocks):
            s = stride if b == 0 else 1
            pre = f"layer{stage}.{b}"
            y = g.conv_bn(x, f"{pre}.conv1", c_in, width, 1)
            y = g.conv_bn(y, f"{pre}.conv2", width, width, 3, s, 1)
            y = g.conv_bn(y, f"{pre}.conv3", width, 4 * width, 1, relu=False)
            if b == 0:
                x = g.conv_bn(x, f"{pre}.downsample.0", c_in, 4 * width, 1, s, relu=False)
            x = g.op("Relu", [g.op("Add", [y, x], f"{pre}.add")], f"{pre}.relu")
            c_in = 4 * width
    x = g.op("GlobalAveragePool", [x], "avgpool")
    x = g.op("Flatten", [x], "flatten", axis=1)
    x = g.op("Gemm", [x, g.weight("fc.weight", [1000, 2048]), g.weight("fc.bias", [1000])],
             "fc", transB=1)
    return g.model(x)


def mobilenet_like() -> onnx.ModelProto:
    """Depthwise, grouped, dilated, strided, asymmetric, auto-padded and transposed
    convolutions on a 1x3x32x32 image (shapes derived in tests/test_import_onnx.py)."""
    g = Graph("mobilenet_like")
    x = g.input("image", [1, 3, 32, 32])
    x = g.op("Conv", [x, g.weight("stem.w", [16, 3, 3, 3])], "stem", strides=[2, 2],
             pads=[1, 1, 1, 1])
    x = g.op("Relu", [x], "stem.relu")
    x = g.op("Conv", [x, g.weight("dw1.w", [16, 1, 3, 3])], "dw1", group=16, pads=[1] * 4)
    x = g.op("Conv", [x, g.weight("pw1.w", [32, 16, 1, 1])], "pw1")
    x = g.op("Conv", [x, g.weight("dw2.w", [64, 1, 3, 3])], "dw2", group=32, strides=[2, 2],
             pads=[1] * 4)
    x = g.op("Conv", [x, g.weight("grouped.w", [64, 16, 3, 3])], "grouped", group=4,
             dilations=[2, 2], pads=[2] * 4)
    x = g.op("Conv", [x, g.weight("asym.w", [32, 64, 3, 1])], "asym", strides=[2, 1],
             pads=[0, 0, 1, 0])
    x = g.op("Conv", [x, g.weight("same.w", [32, 32, 3, 3])], "same", strides=[2, 2],
             auto_pad="SAME_UPPER")
    x = g.op("ConvTranspose", [x, g.weight("up.w", [32, 16, 2, 2])], "up", strides=[2, 2])
    x = g.op("GlobalAveragePool", [x], "pool")
    x = g.op("Flatten", [x], "flatten")
    x = g.op("Gemm", [x, g.weight("fc.w", [10, 16])], "fc", transB=1)
    return g.model(x)


def bert_like(layers: int = 2, hidden: int = 64, heads: int = 4, ffn: int = 256,
              batch: int | str = "batch_size", seq: int | str = "sequence_length",
              einsum: bool = False) -> onnx.ModelProto:
    """A BERT-style encoder on hidden states [batch, seq, hidden]: Q/K/V projections,
    per-head attention MatMuls (or Einsums), output projection, FFN, LayerNorms."""
    g = Graph("bert_like")
    d = hidden // heads
    x = g.input("hidden_states", [batch, seq, hidden])
    split = g.ints("split_heads", [0, 0, heads, d])
    merge = g.ints("merge_heads", [0, 0, hidden])
    for i in range(layers):
        p = f"layer{i}"

        def proj(src: str, name: str, n: int, k: int, p: str = p) -> str:
            y = g.op("MatMul", [src, g.weight(f"{p}.{name}.w", [k, n])], f"{p}.{name}")
            return g.op("Add", [y, g.weight(f"{p}.{name}.b", [n])], f"{p}.{name}.bias")

        q, k, v = (g.op("Reshape", [proj(x, t, hidden, hidden), split], f"{p}.{t}.split")
                   for t in ("query", "key", "value"))
        q = g.op("Transpose", [q], f"{p}.q.t", perm=[0, 2, 1, 3])
        v = g.op("Transpose", [v], f"{p}.v.t", perm=[0, 2, 1, 3])
        if einsum:
            k = g.op("Transpose", [k], f"{p}.k.t", perm=[0, 2, 1, 3])
            s = g.op("Einsum", [q, k], f"{p}.scores", equation="bhqd,bhkd->bhqk")
        else:
            k = g.op("Transpose", [k], f"{p}.k.t", perm=[0, 2, 3, 1])
            s = g.op("MatMul", [q, k], f"{p}.scores")
        s = g.op("Softmax", [s], f"{p}.softmax", axis=-1)
        c = g.op("MatMul", [s, v], f"{p}.context")
        c = g.op("Reshape", [g.op("Transpose", [c], f"{p}.c.t", perm=[0, 2, 1, 3]), merge],
                 f"{p}.merge")
        a = g.op("Add", [proj(c, "attn_out", hidden, hidden), x], f"{p}.residual1")
        a = g.op("LayerNormalization", [a, g.weight(f"{p}.ln1.g", [hidden])], f"{p}.ln1",
                 axis=-1)
        f = g.op("Relu", [proj(a, "ffn_up", ffn, hidden)], f"{p}.act")
        f = g.op("Add", [proj(f, "ffn_down", hidden, ffn), a], f"{p}.residual2")
        x = g.op("LayerNormalization", [f, g.weight(f"{p}.ln2.g", [hidden])], f"{p}.ln2",
                 axis=-1)
    return g.model(x)


def tiny(batch: int | str = 1) -> onnx.ModelProto:
    """One linear layer and one 3x3 conv: a model small enough for a whole study."""
    g = Graph("tiny")
    x = g.input("x", [batch, 8, 8, 64])
    y = g.op("MatMul", [x, g.weight("proj.w", [64, 64])], "proj")
    y = g.op("Transpose", [y], "nchw", perm=[0, 3, 1, 2])
    y = g.op("Conv", [y, g.weight("conv.w", [32, 64, 3, 3])], "conv", pads=[1] * 4)
    return g.model(y)


def save(model: onnx.ModelProto, path) -> str:
    onnx.save_model(model, str(path))
    return str(path)


__all__ = ["Graph", "bert_like", "mobilenet_like", "resnet50", "save", "tiny"]
