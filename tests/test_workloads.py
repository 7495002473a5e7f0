"""Workload library: shipped lists, user lists, sweeps and model-derived GEMMs."""

from __future__ import annotations

import csv

import pytest

from cim_plugin.errors import InputError
from cim_plugin.study.workloads import (
    ConvLayer,
    Gemm,
    cnn_gemms,
    conv_out,
    gptj_6b,
    list_workloads,
    load_gemm_csv,
    load_workload,
    model_gemms,
    powers_of_two,
    resnet50,
    resnet50_layers,
    sweep,
    transformer_gemms,
    workload_from_yaml,
)
from tests.conftest import REFERENCE, needs_reference

P2 = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]


# ------------------------------------------------------------------ shipped library

def test_list_contains_models_and_sweeps():
    names = list_workloads()
    for n in ("bert-large", "gpt-j-6b", "dlrm", "resnet50", "all-gemms", "regular-gemms",
              "irregular-gemms", "mgemms-16", "mgemms-8192", "k-256gemms", "n-256gemms"):
        assert n in names


def test_shipped_files_cite_their_source():
    for n in list_workloads():
        w = load_workload(n)
        assert w.source["repository"] == "tanvisharma/WWWtoCiM"
        assert w.source["file"].startswith("inputs/my-inputs/workloads/")


def test_bert_list_shapes_and_counts():
    # Method: BERT-Large has 5 GEMMs with M = 512.
    w = load_workload("bert")
    assert w.shapes() == [(512, 1024, 1024), (512, 512, 1024), (512, 1024, 512),
                          (512, 4096, 1024), (512, 1024, 4096)]
    # Hand count per layer: 4 projections of 512*1024*1024, score and context of
    # 512*512*1024 each, two FFN GEMMs of 512*4096*1024 each; times 24 layers.
    per_layer = 4 * 512 * 1024 * 1024 + 2 * 512 * 512 * 1024 + 2 * 512 * 4096 * 1024
    assert per_layer == 6_979_321_856
    assert w.total_macs == 24 * per_layer


def test_gptj_dlrm_shapes():
    # Method: GPT-J-6B 6 GEMMs incl. M=1 decode and M=2048 prefill; DLRM 2 GEMMs with M=1.
    g = load_workload("gpt-j-6b")
    assert len(g) == 6 and {x.m for x in g} == {1, 2048}
    assert g.gemms[1].shape == (2048, 4096, 4096)
    d = load_workload("dlrm")
    assert d.shapes() == [(1, 256, 512), (1, 64, 256)]
    assert d.total_macs == 256 * 512 + 64 * 256


def test_sweeps_sizes_and_order():
    a = load_workload("all-gemms")
    assert len(a) == 1000
    assert a.gemms[0].shape == (16, 16, 16) and a.gemms[1].shape == (16, 16, 32)   # K fastest
    assert a.gemms[-1].shape == (8192, 8192, 8192)
    r = load_workload("regular-gemms")
    assert r.shapes() == [(x, x, x) for x in P2]
    m = load_workload("m-256gemms")        # alias of mgemms-256 (identical reference lists)
    assert m.shapes() == [(x, 256, 256) for x in P2]
    ir = load_workload("irregular-gemms")
    assert len(ir) == 30 and ir.gemms[10].shape == (256, 16, 256) and ir.gemms[29].shape == (256, 256, 8192)


def test_sweep_function():
    w = sweep(powers_of_two(16, 64), [128, 256])
    assert w.shapes() == [(16, 128, 128), (16, 256, 256), (32, 128, 128), (32, 256, 256),
                          (64, 128, 128), (64, 256, 256)]
    assert powers_of_two() == P2


def test_gemm_properties():
    g = Gemm("x", 512, 1024, 1024, count=3)
    assert g.macs == 536_870_912 and g.total_macs == 3 * 536_870_912
    # reference bert.txt "AlgorithmReuse" of (512,1024,1024) is 256 = MNK/(MK+NK+MN)
    assert g.algorithmic_reuse == pytest.approx(256.0)
    assert g.problem().bounds == {"M": 512, "N": 1024, "K": 1024}


@needs_reference
def test_shipped_lists_match_reference_files():
    """Every shipped list reproduces the M, N, K and #MACs columns of its source file."""
    folder = REFERENCE / "wwwcim" / "inputs" / "my-inputs" / "workloads"
    for n in list_workloads():
        w = load_workload(n)
        src = folder / w.source["file"].rsplit("/", 1)[1]
        rows = list(csv.reader(src.open(), delimiter="\t"))[1:]
        ref = [(int(r[1]), int(r[2]), int(r[3])) for r in rows if r]
        assert w.shapes() == ref, n
        assert [g.macs for g in w] == [int(r[4]) for r in rows if r], n


# --------------------------------------------------------------------- user lists

def test_csv_user_list(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("name,M,N,K,count\nproj,64,128,256,3\nffn,64,512,128,\n")
    w = load_workload(f)
    assert w.name == "mine"
    assert [(g.name, g.shape, g.count) for g in w] == [("proj", (64, 128, 256), 3),
                                                       ("ffn", (64, 512, 128), 1)]
    assert w.total_macs == 3 * 64 * 128 * 256 + 64 * 512 * 128


def test_tab_separated_reference_style(tmp_path):
    f = tmp_path / "ref.txt"
    f.write_text("ML Workload type\tM\tN\tK\t#MACs\nX\t2\t3\t4\t24\n")
    w = load_gemm_csv(f)
    assert w.shapes() == [(2, 3, 4)]


@pytest.mark.parametrize("body,field", [
    ("M,N,K\n1,2,x\n", "row 2, column k"),
    ("M,N,K\n1,2,3\n0,2,3\n", "row 3, column m"),
    ("M,N,K,count\n1,2,3,-1\n", "row 2, column count"),
    ("M,N,K\n1,2\n", "row 2, column k"),
    ("M,N\n1,2\n", "header"),
])
def test_csv_errors_name_file_row_field(tmp_path, body, field):
    f = tmp_path / "bad.csv"
    f.write_text(body)
    with pytest.raises(InputError) as ei:
        load_workload(f)
    assert ei.value.file == str(f)
    assert ei.value.field == field


def test_yaml_user_list_and_errors(tmp_path):
    good = tmp_path / "w.yaml"
    good.write_text("name: w\ngemms:\n  - {name: a, m: 4, n: 8, k: 16, count: 2}\n"
                    "sweeps:\n  - {m: [1, 2], nk: [8]}\n")
    w = load_workload(good)
    assert w.shapes() == [(4, 8, 16), (1, 8, 8), (2, 8, 8)] and w.gemms[0].count == 2
    bad = tmp_path / "b.yaml"
    bad.write_text("gemms:\n  - {m: 4, n: 8}\n")
    with pytest.raises(InputError) as ei:
        load_workload(bad)
    assert ei.value.file == str(bad) and ei.value.field == "gemms[0].k"
    with pytest.raises(InputError) as ei:
        workload_from_yaml({"gemms": [{"m": 4, "n": 2.5, "k": 1}]}, file="x.yaml")
    assert ei.value.field == "gemms[0].n"
    with pytest.raises(InputError) as ei:
        workload_from_yaml({"sweeps": [{"m": [1], "n": [2]}]}, file="x.yaml")
    assert ei.value.field == "sweeps[0]"


def test_unknown_workload_lists_valid_names():
    with pytest.raises(InputError) as ei:
        load_workload("no-such-model")
    assert "bert-large" in str(ei.value)
    with pytest.raises(InputError):
        load_workload("missing.csv")


# ------------------------------------------------------------ model descriptions

def test_bert_prefill_derivation_equals_shipped_list():
    """hidden 1024, 16 heads, seq 512, FFN 4096, 24 layers -> the shipped BERT list.

    The shipped list folds the heads into K (score) and N (context); "merged" does
    the same. Per-head GEMMs have the same MACs.
    """
    derived = transformer_gemms(hidden=1024, heads=16, seq_len=512, ffn_hidden=4096,
                                layers=24, attention="merged").merged()
    shipped = load_workload("bert-large")
    assert derived.shapes() == shipped.shapes()
    assert [g.count for g in derived] == [g.count for g in shipped]
    per_head = transformer_gemms(hidden=1024, heads=16, seq_len=512, ffn_hidden=4096,
                                 layers=24)
    score = [g for g in per_head if g.name.endswith("attn_score")][0]
    context = [g for g in per_head if g.name.endswith("attn_context")][0]
    assert score.shape == (512, 512, 64) and score.count == 16 * 24
    assert context.shape == (512, 64, 512) and context.count == 16 * 24
    assert per_head.total_macs == shipped.total_macs


def test_gptj_decode_derivation_matches_shipped_decode_gemms():
    shipped = load_workload("gpt-j-6b")
    decode = gptj_6b(phase="decode", kv_len=2048, attention="merged").merged()
    prefill = gptj_6b(phase="prefill", seq_len=2048, attention="merged")
    shipped_decode = [g.shape for g in shipped if g.m == 1]
    assert decode.shapes() == shipped_decode
    assert [g.count for g in decode] == [g.count for g in shipped if g.m == 1]
    assert prefill.gemms[0].shape == shipped.gemms[1].shape == (2048, 4096, 4096)


def test_transformer_hand_counts():
    # batch 2, seq 8, hidden 16, 4 heads (d_head 4), FFN x4 = 64, 3 layers, prefill
    w = transformer_gemms(hidden=16, heads=4, seq_len=8, batch=2, layers=3)
    got = {g.name.split(".")[1]: (g.shape, g.count) for g in w}
    assert got == {
        "qkv_proj": ((16, 16, 16), 9),
        "attn_score": ((8, 8, 4), 4 * 2 * 3),
        "attn_context": ((8, 4, 8), 4 * 2 * 3),
        "out_proj": ((16, 16, 16), 3),
        "ffn_up": ((16, 64, 16), 3),
        "ffn_down": ((16, 16, 64), 3),
    }
    d = transformer_gemms(hidden=16, heads=4, seq_len=8, batch=2, phase="decode", kv_len=10)
    got = {g.name.split(".")[1]: g.shape for g in d}
    assert got["qkv_proj"] == (2, 16, 16) and got["attn_score"] == (1, 10, 4)
    assert got["attn_context"] == (1, 4, 10)


def test_transformer_rejects_bad_input():
    with pytest.raises(InputError):
        transformer_gemms(hidden=10, heads=3, seq_len=4)
    with pytest.raises(InputError):
        transformer_gemms(hidden=16, heads=4, seq_len=4, phase="train")


def test_cnn_lowering_hand_case():
    # 3x3 conv, 32 -> 64 channels, 14x14 output, batch 2: M = 14*14*2, N = 64, K = 9*32
    w = cnn_gemms([ConvLayer("c", 32, 64, 3, 3, 14, 14)], batch=2)
    assert w.shapes() == [(392, 64, 288)]
    assert conv_out(224, 7, 2, 3) == 112 and conv_out(56, 3, 2) == 28


def test_resnet50_preset_reproduces_shipped_list():
    """Without the 4 projection shortcuts (which the reference list omits) the preset
    equals the shipped ResNet50 list row by row."""
    shipped = load_workload("resnet50")
    assert resnet50(include_downsample=False).shapes() == shipped.shapes()
    full = resnet50()
    extra = [g for g in full if g.name.endswith("downsample")]
    # the omitted shortcuts: 1x1 convs 64->256 @56x56, 256->512 @28, 512->1024 @14, 1024->2048 @7
    assert [g.shape for g in extra] == [(3136, 256, 64), (784, 512, 256), (196, 1024, 512),
                                        (49, 2048, 1024)]
    assert full.total_macs == shipped.total_macs + sum(g.macs for g in extra)
    assert len(resnet50_layers()) == 54


def test_model_gemms_dispatch():
    assert model_gemms("bert").name == "bert-large"
    assert model_gemms("resnet50", batch=4).gemms[0].shape == (12544 * 4, 64, 147)
    with pytest.raises(InputError):
        model_gemms("vgg")


def test_to_frame():
    df = load_workload("dlrm").to_frame()
    assert list(df["macs"]) == [131072, 16384]
    assert df["total_macs"].sum() == 147456


def test_per_head_and_merged_attention_have_equal_macs():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=40, deadline=None)
    @given(st.integers(1, 8), st.integers(1, 16), st.integers(1, 64), st.integers(1, 4),
           st.integers(1, 3), st.sampled_from(["prefill", "decode"]), st.integers(1, 64))
    def check(heads, d_head, seq, batch, layers, phase, kv):
        kw = dict(hidden=heads * d_head, heads=heads, seq_len=seq, batch=batch, layers=layers,
                  phase=phase, kv_len=kv)
        a = transformer_gemms(**kw)
        b = transformer_gemms(**kw, attention="merged")
        assert a.total_macs == b.total_macs
        h = heads * d_head
        q = seq if phase == "prefill" else 1
        # hand formula: 4 projections + FFN (4h) on batch*q rows, score + context q*kv*h
        assert a.total_macs == layers * batch * (q * (4 * h * h + 2 * 4 * h * h) + 2 * q * kv * h)

    check()
