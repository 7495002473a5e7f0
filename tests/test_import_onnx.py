"""GEMMs of ONNX graphs built in the tests (tests/onnx_models.py): ResNet-50 against the
shipped list, a MobileNet-like net and a BERT-like encoder against hand-derived shapes,
the lowering rules one by one, bad models, and a study that names a model file."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from cim_plugin.cli import main  # noqa: E402
from cim_plugin.errors import InputError  # noqa: E402
from cim_plugin.study.importers import import_model, load_entry  # noqa: E402
from cim_plugin.study.importers import lowering as low  # noqa: E402
from cim_plugin.study.workloads import load_workload, workload_from_yaml  # noqa: E402
from tests import onnx_models  # noqa: E402


def _rows(gemms) -> list[tuple[str, int, int, int, int]]:
    return [(g.name, g.m, g.n, g.k, g.count) for g in gemms]


def _counts(gemms) -> dict[tuple[int, int, int], int]:
    out: dict[tuple[int, int, int], int] = {}
    for g in gemms:
        out[g.shape] = out.get(g.shape, 0) + g.count
    return out


# ------------------------------------------------------------------------------ ResNet-50

def test_resnet50_graph_gives_the_shipped_list(tmp_path):
    """torchvision's ResNet-50 has 53 convolutions and the FC layer. The shipped list (the
    method's) omits the four 1x1 projection shortcuts; every other layer, in graph order,
    has the shipped name, M, N, K and count. The shortcuts, hand-derived: 1x1 convs from
    c_in to 4*width at the stage's output size -- layer1: 56x56 = 3136, 64 -> 256;
    layer2: 28x28 = 784, 256 -> 512; layer3: 14x14 = 196, 512 -> 1024; layer4: 7x7 = 49,
    1024 -> 2048."""
    path = onnx_models.save(onnx_models.resnet50(), tmp_path / "resnet50.onnx")
    imp = import_model(path)
    shortcuts = [g for g in imp.raw if "downsample" in g.name]
    others = [g for g in imp.raw if "downsample" not in g.name]
    assert _rows(others) == _rows(load_workload("resnet50").gemms)
    assert _rows(shortcuts) == [("layer1.0.downsample.0", 3136, 256, 64, 1),
                                ("layer2.0.downsample.0", 784, 512, 256, 1),
                                ("layer3.0.downsample.0", 196, 1024, 512, 1),
                                ("layer4.0.downsample.0", 49, 2048, 1024, 1)]
    # 4.09 G multiply-accumulates: the figure usually quoted for ResNet-50 at 224x224
    assert imp.workload.total_macs == 4_089_184_256
    # merged: identical shapes once, with their multiplicity, nothing lost
    assert _counts(imp.workload.gemms) == _counts(imp.raw)
    assert len(imp.workload.gemms) == 21 and sum(g.count for g in imp.workload.gemms) == 54
    # skipped: 53 BatchNorms and the pooling read their inputs; the stem's max pool
    # 64x112x112 -> 64x56x56 takes 9 elements per output: 64*56*56*9 = 1,806,336
    ops = {s.op_type: (s.nodes, s.ops) for s in imp.skipped}
    assert ops["BatchNormalization"][0] == 53 and ops["MaxPool"] == (1, 1_806_336)
    assert ops["GlobalAveragePool"] == (1, 2048 * 7 * 7)


def test_symbolic_batch_takes_the_command_line_value(tmp_path, capsys):
    path = onnx_models.save(onnx_models.resnet50(batch="N"), tmp_path / "r.onnx")
    assert main(["workload", path]) == 2
    err = capsys.readouterr().err
    assert "r.onnx" in err and "graph.input[input].shape[0]" in err and "'N'" in err
    assert "--batch" in err and len(err.strip().splitlines()) == 1
    one = {g.name: g for g in load_workload("resnet50").gemms}
    two = import_model(path, batch=2)
    for g in two.raw:
        if g.name in one:
            assert (g.m, g.n, g.k) == (2 * one[g.name].m, one[g.name].n, one[g.name].k)


# -------------------------------------------------------------------------- MobileNet-like

def test_depthwise_grouped_strided_dilated_and_transposed_convolutions(tmp_path):
    """Hand-derived from a 1x3x32x32 image, out = (in + pads - ((k-1)*dilation + 1)) //
    stride + 1:
    stem 3->16, k3 s2 p1: 16x16 -> M 256, N 16, K 3*9 = 27;
    dw1 depthwise 16, k3 p1: 16x16 -> 16 GEMMs of M 256, N 1, K 9;
    pw1 1x1 16->32: M 256, N 32, K 16;
    dw2 depthwise 32 -> 64 (multiplier 2), k3 s2 p1: 8x8 -> 32 GEMMs of M 64, N 2, K 9;
    grouped 64->64 in 4 groups, k3 dilation 2 pad 2 (span 5): 8x8 -> 4 GEMMs of M 64,
    N 16, K 16*9 = 144;
    asym 64->32, k 3x1, strides 2x1, pads (top 0, left 0, bottom 1, right 0):
    H (8+1-3)//2+1 = 4, W 8 -> M 32, N 32, K 64*3 = 192;
    same 32->32, k3 s2 SAME_UPPER: ceil(4/2) x ceil(8/2) = 2x4 -> M 8, N 32, K 288;
    up ConvTranspose 32->16, k2 s2 on 2x4: per input pixel M 8, N 16*4 = 64, K 32 (its
    4x8 output gets one tap per pixel and channel: 16*4*8*32 = 16384 MACs = 8*64*32);
    fc 16->10: M 1, N 10, K 16."""
    path = onnx_models.save(onnx_models.mobilenet_like(), tmp_path / "mnet.onnx")
    imp = import_model(path)
    assert _rows(imp.workload.gemms) == [
        ("stem", 256, 16, 27, 1), ("dw1", 256, 1, 9, 16), ("pw1", 256, 32, 16, 1),
        ("dw2", 64, 2, 9, 32), ("grouped", 64, 16, 144, 4), ("asym", 32, 32, 192, 1),
        ("same", 8, 32, 288, 1), ("up", 8, 64, 32, 1), ("fc", 1, 10, 16, 1)]
    assert imp.workload.gemms[7].total_macs == 16 * 4 * 8 * 32
    # ReLU on 16x16x16 = 4096 elements, global pooling reads 16x4x8 = 512
    assert {s.op_type: s.ops for s in imp.skipped} == {"Relu": 4096,
                                                       "GlobalAveragePool": 512,
                                                       "Flatten": 0}


# ------------------------------------------------------------------------------ BERT-like

@pytest.mark.parametrize("einsum", [False, True])
def test_bert_like_encoder_with_attention_matmuls(tmp_path, einsum):
    """2 layers, hidden 64, 4 heads of 16, FFN 256, batch 2, sequence 8 (both symbolic in
    the graph). Rows = 2*8 = 16: Q, K, V, output projections 16x64x64, 4 per layer x 2
    layers = 8; scores Q.K^T per head 8x8x16 and context P.V 8x16x8, batch 2 x 4 heads x
    2 layers = 16 each; FFN 16x256x64 and 16x64x256, 2 each. Softmax reads 2*4*8*8 = 512
    elements per layer."""
    model = onnx_models.bert_like(einsum=einsum)
    path = onnx_models.save(model, tmp_path / "bert.onnx")
    imp = import_model(path, batch=2, seq_len=8)
    assert _counts(imp.workload.gemms) == {(16, 64, 64): 8, (8, 8, 16): 16, (8, 16, 8): 16,
                                           (16, 256, 64): 2, (16, 64, 256): 2}
    assert [g.name for g in imp.raw[:5]] == ["layer0.query", "layer0.key", "layer0.value",
                                             "layer0.scores", "layer0.context"]
    ops = {s.op_type: s.ops for s in imp.skipped}
    assert ops["Softmax"] == 2 * 512 and ops["Reshape"] == 0
    assert imp.source["dimensions"] == {"batch_size": 2, "sequence_length": 8}


def test_missing_sequence_length_names_the_input(tmp_path, capsys):
    path = onnx_models.save(onnx_models.bert_like(), tmp_path / "bert.onnx")
    assert main(["workload", path, "--batch", "1"]) == 2
    err = capsys.readouterr().err
    assert "bert.onnx" in err and "shape[1]" in err and "sequence_length" in err
    assert main(["workload", path, "--batch", "1", "--dim", "sequence_length=4"]) == 0
    assert main(["workload", path, "--batch", "1", "--seq-len", "4", "--dim", "nosuch=3"]) == 2
    assert "--dim" in capsys.readouterr().err


# ----------------------------------------------------------------------- lowering rules

@pytest.mark.parametrize("a, b, expected", [
    ([2, 8, 64], [64, 32], low.Shape3(16, 32, 64, 1)),          # linear layer: batch into M
    ([2, 4, 8, 16], [2, 4, 16, 8], low.Shape3(8, 8, 16, 8)),    # attention: batch x heads
    ([2, 4, 8, 16], [1, 4, 16, 8], low.Shape3(16, 8, 16, 4)),   # B shared over the batch
    ([8, 16], [3, 16, 5], low.Shape3(8, 5, 16, 3)),             # A shared: one per B
    ([16], [16, 5], low.Shape3(1, 5, 16, 1)),                   # vector x matrix
    ([7, 16], [16], low.Shape3(7, 1, 16, 1)),                   # matrix x vector
])
def test_matmul_lowering(a, b, expected):
    assert low.matmul(a, b) == expected


def test_conv_output_sizes_follow_onnx():
    # (in + pads - ((k-1)*d + 1)) // s + 1
    assert low.conv_output(224, 7, 2, 1, 3, 3, "NOTSET") == 112
    assert low.conv_output(10, 3, 1, 3, 0, 0, "NOTSET") == 4      # span 7
    assert low.conv_output(10, 3, 3, 1, 0, 0, "VALID") == 3
    assert low.conv_output(10, 3, 3, 1, 0, 0, "SAME_LOWER") == 4  # ceil(10/3)
    with pytest.raises(low.NotLowerable):
        low.conv_output(2, 5, 1, 1, 0, 0, "NOTSET")


@pytest.mark.parametrize("eq, a, b, expected", [
    ("bsh,hn->bsn", [2, 8, 64], [64, 32], low.Shape3(16, 32, 64, 1)),
    ("bhqd,bhkd->bhqk", [2, 4, 8, 16], [2, 4, 8, 16], low.Shape3(8, 8, 16, 8)),
    ("...qd,...kd->...qk", [2, 4, 8, 16], [2, 4, 8, 16], low.Shape3(8, 8, 16, 8)),
    ("ik,jk", [3, 5], [7, 5], low.Shape3(3, 7, 5, 1)),          # implicit output ij
    ("ij,ij->ij", [3, 5], [3, 5], None),                         # elementwise
    ("ij,jk->i", [3, 5], [5, 7], None),                          # k summed in B only
    ("ii,ij->ij", [3, 3], [3, 4], None),                         # a diagonal
])
def test_einsum_lowering(eq, a, b, expected):
    assert low.einsum(eq, a, b) == expected


def test_weights_in_external_data_are_never_read(tmp_path):
    """A model saved with its weights in a separate file (as large models are): only the
    shapes matter, so the GEMMs are the same with the weights file present or gone."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((64, 32), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 32])], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="w.bin",
                    size_threshold=0)
    assert _rows(import_model(path, batch=3).raw) == [("mm", 3, 32, 64, 1)]
    (tmp_path / "w.bin").unlink()
    assert _rows(import_model(path, batch=3).raw) == [("mm", 3, 32, 64, 1)]


def test_einsum_that_is_not_a_gemm_is_skipped(tmp_path):
    """A one-operand Einsum (a trace) and an elementwise one are listed as skipped, next
    to the GEMM-like Einsum of the same graph (8x16 . 16x4 -> M 8, N 4, K 16) and a MatMul
    (8x4 . 4x8 -> M 8, N 8, K 4)."""
    g = onnx_models.Graph()
    x, w = g.input("x", [8, 16]), g.weight("w", [16, 4])
    y = g.op("Einsum", [x, w], "proj", equation="mk,kn->mn")
    y = g.op("Einsum", [y, y], "square", equation="ij,ij->ij")
    t = g.op("Einsum", [g.op("MatMul", [y, g.weight("w2", [4, 8])], "mm")], "trace",
             equation="ii->")
    imp = import_model(onnx_models.save(g.model(t), tmp_path / "e.onnx"))
    assert _rows(imp.raw) == [("proj", 8, 4, 16, 1), ("mm", 8, 8, 4, 1)]
    assert {s.op_type: s.nodes for s in imp.skipped} == {"Einsum": 2}


# --------------------------------------------------------------------------- bad models

def test_corrupt_and_unsupported_files(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07\x12\x04junk\xff\xff\xff")
    assert main(["workload", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.onnx" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(InputError, match="no GEMM"):
        g = onnx_models.Graph()
        x = g.op("Relu", [g.input("x", [1, 4])], "relu")
        import_model(onnx_models.save(g.model(x), tmp_path / "relu.onnx"))


def test_inner_dimensions_that_disagree_name_the_node(tmp_path):
    g = onnx_models.Graph()
    x = g.op("Gemm", [g.input("x", [4, 8]), g.weight("w", [8, 16])], "fc1", transB=1)
    model = g.model(x)
    with pytest.raises(InputError, match="fc1"):
        import_model(onnx_models.save(model, tmp_path / "m.onnx"))


# ----------------------------------------------------------------- command and study

def test_command_writes_a_list_the_study_reads(tmp_path, capsys):
    path = onnx_models.save(onnx_models.mobilenet_like(), tmp_path / "mnet.onnx")
    out = tmp_path / "gemms.yaml"
    assert main(["workload", path, "-o", str(out)]) == 0
    table = capsys.readouterr().out
    assert "dw2" in table and "not GEMMs" in table and "GlobalAveragePool" in table
    back = workload_from_yaml(yaml.safe_load(out.read_text()), file=str(out))
    assert _rows(back.gemms) == _rows(import_model(path).workload.gemms)
    assert load_entry(path).total_macs == back.total_macs == 1_192_096


def test_study_runs_a_model_file_like_a_shipped_workload(tmp_path):
    """`workloads: [tiny.onnx]`: a 1x8x8x64 input through a 64x64 linear layer (M = 64
    rows, N = K = 64) and a 3x3 conv 64 -> 32 with pad 1 (M = 8*8, N = 32, K = 576)."""
    path = onnx_models.save(onnx_models.tiny(), tmp_path / "tiny.onnx")
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"designs: [cim_rf]\nmacros: [analog6T]\nworkloads: [{path}]\n"
                   "sweep_m: []\n")
    out = tmp_path / "out"
    assert main(["study", str(cfg), "-o", str(out), "--jobs", "1", "--no-progress"]) == 0
    df = pd.read_csv(out / "results.csv")
    assert set(df["workload"]) == {"tiny"}
    assert {(r.m, r.n, r.k) for r in df.itertuples()} == {(64, 64, 64), (64, 32, 576)}
    assert "tiny" in (out / "report.md").read_text()
