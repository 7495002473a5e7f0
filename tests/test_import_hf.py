"""GEMMs of Hugging Face configs written in the tests: BERT-Large and GPT-J against the
shipped lists, Llama-3-8B (GQA, SwiGLU) and Mixtral-8x7B (experts) against hand-derived
shapes and the models' published parameter counts, and bad configs."""

from __future__ import annotations

import json

import pytest

from cim_plugin.cli import main
from cim_plugin.errors import InputError
from cim_plugin.study.importers import import_model
from cim_plugin.study.workloads import load_workload

BERT_LARGE = {"architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": 1024,
              "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
              "vocab_size": 30522, "max_position_embeddings": 512, "hidden_act": "gelu"}
GPT_J = {"architectures": ["GPTJForCausalLM"], "model_type": "gptj", "n_embd": 4096,
         "n_layer": 28, "n_head": 16, "n_inner": None, "vocab_size": 50400,
         "n_positions": 2048, "rotary_dim": 64}
LLAMA_3_8B = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
              "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
              "num_key_value_heads": 8, "vocab_size": 128256, "rope_theta": 500000.0,
              "tie_word_embeddings": False}
MIXTRAL_8X7B = {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral",
                "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
                "num_local_experts": 8, "num_experts_per_tok": 2, "sliding_window": None}
GPT2 = {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": None,
        "vocab_size": 50257, "n_positions": 1024}


def _write(tmp_path, doc, name="config.json"):
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


def _counts(gemms) -> dict[tuple[int, int, int], int]:
    out: dict[tuple[int, int, int], int] = {}
    for g in gemms:
        out[g.shape] = out.get(g.shape, 0) + g.count
    return out


def _linear_weights(gemms) -> int:
    """Weights of the linear layers a pass uses: N*K per run, attention products and the
    LM head left out (each layer's matrix runs once in a dense prefill)."""
    return sum(g.n * g.k * g.count for g in gemms
               if "attn_" not in g.name and "lm_head" not in g.name)


def test_bert_large_config_gives_the_shipped_list(tmp_path):
    """The shipped list folds the heads into K and N (`attention: merged`); per head the
    score is 512x512x64 and the context 512x64x512, 16 heads x 24 layers = 384 each."""
    p = _write(tmp_path, BERT_LARGE)
    merged = import_model(p, seq_len=512, attention="merged")
    assert _counts(merged.workload.gemms) == _counts(load_workload("bert-large").gemms)
    per_head = _counts(import_model(p, seq_len=512).workload.gemms)
    assert per_head[(512, 512, 64)] == 384 and per_head[(512, 64, 512)] == 384
    assert per_head[(512, 1024, 1024)] == 96
    with pytest.raises(InputError, match="encoder"):
        import_model(p, seq_len=512, phase="decode")


def test_gpt_j_config_gives_the_shipped_list(tmp_path):
    """The shipped GPT-J list is one decode step at context 2048 (heads folded) without
    the LM head, plus the Q/K/V/output projections of a 2048-token prefill."""
    p = _write(tmp_path, GPT_J)
    decode = import_model(p, seq_len=2048, phase="decode", attention="merged").raw
    prefill = import_model(p, seq_len=2048, phase="prefill", attention="merged").raw
    assert [(g.m, g.n, g.k, g.count) for g in decode if "lm_head" in g.name] == [
        (1, 50400, 4096, 1)]
    combined = [g for g in decode if "lm_head" not in g.name] + [
        g for g in prefill if g.name.split(".")[1] in ("q_proj", "k_proj", "v_proj", "o_proj")]
    assert _counts(combined) == _counts(load_workload("gpt-j-6b").gemms)


def test_llama_3_8b_grouped_query_attention_and_swiglu(tmp_path):
    """Llama-3-8B prefill of 2048 tokens, batch 1, by hand: head_dim 4096/32 = 128, K and
    V projections 8 KV heads x 128 = 1024 wide; per layer Q and O 2048x4096x4096, K and V
    2048x1024x4096, gate and up 2048x14336x4096, down 2048x4096x14336, score 2048x2048x128
    and context 2048x128x2048 for each of 32 heads; 32 layers; the LM head 1x128256x4096
    (the next token's logits)."""
    p = _write(tmp_path, LLAMA_3_8B)
    imp = import_model(p, seq_len=2048)
    assert _counts(imp.workload.gemms) == {
        (2048, 4096, 4096): 64, (2048, 1024, 4096): 64, (2048, 14336, 4096): 64,
        (2048, 4096, 14336): 32, (2048, 2048, 128): 1024, (2048, 128, 2048): 1024,
        (1, 128256, 4096): 1}
    # the published 8,030,261,248 parameters: the linear layers, the embedding and the
    # untied LM head (128256 x 4096 each) and 65 RMSNorm weights of 4096
    assert _linear_weights(imp.raw) + 2 * 128256 * 4096 + 65 * 4096 == 8_030_261_248
    decode = _counts(import_model(p, seq_len=4096, phase="decode", batch=4).workload.gemms)
    assert decode == {(4, 4096, 4096): 64, (4, 1024, 4096): 64, (4, 14336, 4096): 64,
                      (4, 4096, 14336): 32, (1, 4096, 128): 32 * 32 * 4,
                      (1, 128, 4096): 32 * 32 * 4, (4, 128256, 4096): 1}


def test_mixtral_8x7b_experts_with_routing_counts(tmp_path):
    """Mixtral-8x7B, 8 experts, 2 per token. A decode step (1 token): the router
    1x8x4096 and 2 experts of 1x14336x4096 (gate, up) and 1x4096x14336 (down) per layer.
    A 5-token prefill: 10 token-expert pairs over 8 experts -> 2 experts get 2 tokens and
    6 get 1."""
    p = _write(tmp_path, MIXTRAL_8X7B)
    decode = import_model(p, seq_len=4096, phase="decode")
    assert _counts(decode.workload.gemms) == {
        (1, 4096, 4096): 64, (1, 1024, 4096): 64, (1, 4096, 128): 1024, (1, 128, 4096): 1024,
        (1, 8, 4096): 32, (1, 14336, 4096): 2 * 2 * 32, (1, 4096, 14336): 2 * 32,
        (1, 32000, 4096): 1}
    # the published 12.9 B active parameters per token: what a decode step multiplies
    active = (_linear_weights(decode.raw) + 2 * 32000 * 4096 + 65 * 4096)
    assert active == 12_879_925_248
    five = _counts(import_model(p, seq_len=5).workload.gemms)
    assert five[(2, 14336, 4096)] == 2 * 2 * 32 and five[(2, 4096, 14336)] == 2 * 32
    assert five[(1, 14336, 4096)] == 6 * 2 * 32 and five[(1, 4096, 14336)] == 6 * 32
    # 2048 tokens: 4096 pairs, 512 tokens for each of the 8 experts; every expert's
    # weights run once per layer, so the linear weights are the published 46.7 B
    # parameters less the embedding, the LM head and the norms
    full = import_model(p, seq_len=2048)
    assert _counts(full.workload.gemms)[(512, 14336, 4096)] == 2 * 8 * 32
    assert _linear_weights(full.raw) + 2 * 32000 * 4096 + 65 * 4096 == 46_702_792_704


def test_gpt2_fused_qkv_and_published_size(tmp_path):
    """GPT-2 small: one fused QKV projection 768 -> 2304; 124,439,808 parameters =
    linear weights + biases (6912 per layer) + LayerNorms (4 x 768 per layer, 2 x 768
    final) + token (50257 x 768) and position (1024 x 768) embeddings."""
    imp = import_model(_write(tmp_path, GPT2), seq_len=1024)
    assert _counts(imp.workload.gemms)[(1024, 2304, 768)] == 12
    rest = 12 * (6912 + 4 * 768) + 2 * 768 + 50257 * 768 + 1024 * 768
    assert _linear_weights(imp.raw) + rest == 124_439_808


@pytest.mark.parametrize("doc, shape", [
    ({"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336,
      "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
      "vocab_size": 32000}, (16, 1024, 4096)),
    ({"model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944,
      "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
      "vocab_size": 152064}, (16, 512, 3584)),                          # 4 x 3584/28
    ({"model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288,
      "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
      "head_dim": 128, "vocab_size": 151936}, (16, 1024, 4096)),
])
def test_other_llama_like_families(tmp_path, doc, shape):
    counts = _counts(import_model(_write(tmp_path, doc), seq_len=16).workload.gemms)
    assert counts[shape] == 2 * doc["num_hidden_layers"]            # K and V projections


@pytest.mark.parametrize("change, field", [
    ({"model_type": "t5"}, "model_type"),
    ({"hidden_size": 1.5}, "hidden_size"),
    ({"hidden_size": "4096"}, "hidden_size"),
    ({"num_hidden_layers": True}, "num_hidden_layers"),
    ({"num_key_value_heads": 5}, "num_key_value_heads"),
    ({"num_attention_heads": 0}, "num_attention_heads"),
    ({"vocab_size": 10**12}, "vocab_size"),
    ({"intermediate_size": None}, "intermediate_size"),
])
def test_bad_config_fields_are_named(tmp_path, capsys, change, field):
    p = _write(tmp_path, {**LLAMA_3_8B, **change})
    assert main(["workload", str(p), "--seq-len", "16"]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and field in err and len(err.strip().splitlines()) == 1


def test_config_needs_a_sequence_length(tmp_path, capsys):
    p = _write(tmp_path, LLAMA_3_8B)
    assert main(["workload", str(p)]) == 2
    assert "seq_len" in capsys.readouterr().err


def test_study_models_entry_with_a_config(tmp_path):
    """A config under `models:` with its sequence length; a bad one names the entry."""
    import pandas as pd

    p = _write(tmp_path, {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
                          "num_hidden_layers": 2, "num_attention_heads": 4,
                          "num_key_value_heads": 2, "vocab_size": 100}, "tiny.json")
    cfg = tmp_path / "s.yaml"
    cfg.write_text("designs: [cim_smem]\nmacros: [digital6T]\nworkloads: []\nsweep_m: []\n"
                   f"models:\n  - {{model: {p}, seq_len: 16, phase: decode, name: tinyd}}\n")
    out = tmp_path / "o"
    assert main(["study", str(cfg), "-o", str(out), "--jobs", "1", "--no-progress"]) == 0
    df = pd.read_csv(out / "results.csv")
    assert set(df["workload"]) == {"tinyd"}
    # decode, batch 1: Q/O 1x64x64, K/V 1x32x64 (2 KV heads x 16), gate/up 1x128x64,
    # down 1x64x128, score 1x16x16, context 1x16x16, router none, LM head 1x100x64
    assert {(r.m, r.n, r.k) for r in df.itertuples()} == {
        (1, 64, 64), (1, 32, 64), (1, 128, 64), (1, 64, 128), (1, 16, 16), (1, 100, 64)}


def test_missing_onnx_package_is_one_clear_line(tmp_path, capsys, monkeypatch):
    """Without the optional onnx package an .onnx input says what to install."""
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)          # `import onnx` fails
    p = tmp_path / "m.onnx"
    p.write_bytes(b"\x08\x07")
    assert main(["workload", str(p)]) == 1
    err = capsys.readouterr().err
    assert "onnx package" in err and "cim-plugin[onnx]" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
