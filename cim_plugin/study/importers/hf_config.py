"""GEMMs of a transformer from its Hugging Face `config.json` (read as JSON; no
`transformers` needed).

Families (by `model_type`): bert and roberta (encoders), gpt2, gptj, llama, mistral,
qwen2, qwen3 (decoders) and mixtral (a decoder with mixture-of-experts FFNs).

Per layer, with rows = batch x queries (queries = seq_len in prefill, 1 in decode) and
keys = seq_len (the prompt in prefill, the cached context in decode):

- projections as the model's modules run them: separate Q, K, V and output
  projections (GPT-2: one fused QKV projection, N = 3 x hidden); K and V have
  N = kv_heads x head_dim (grouped-query attention);
- attention, `per_head` (default): the score Q.K^T is (M=queries, N=keys, K=head_dim)
  and the context P.V is (M=queries, N=head_dim, K=keys), each run heads x batch times
  (a KV head shared by a group of query heads does not save MACs); `merged`: heads
  folded into K and N (M=queries, N=keys, K=heads x head_dim), run batch times -- the
  same MACs, and the convention of the method's BERT-Large and GPT-J lists;
- FFN: up and down projections; Llama-style SwiGLU has three (gate, up, down);
- Mixtral: a router (N = experts) and, per expert, the three SwiGLU projections on
  the tokens routed to it. Routing is taken as balanced: rows x experts_per_token
  token-expert pairs spread evenly over the experts, so q = pairs // experts tokens
  go to every expert and one more to `pairs % experts` of them (a decode step of one
  token: 2 experts of M = 1).

Decoders add the LM head once per sequence (M = batch: the next-token logits, in
prefill of the prompt's last token); encoders (BERT) have none. Embedding lookups,
norms, softmax, rotary embeddings and activations are not GEMMs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.limits import MAX_DIMENSION
from cim_plugin.spec.values import show
from cim_plugin.spec.yamlio import load_json
from cim_plugin.study.importers.result import Imported, imported
from cim_plugin.study.workloads import Gemm

EXPECTED = "a Hugging Face config.json"
ENCODERS = ("bert", "roberta")
LLAMA_LIKE = ("llama", "mistral", "qwen2", "qwen3", "mixtral")
FAMILIES = (*ENCODERS, "gpt2", "gptj", *LLAMA_LIKE)
PHASES = ("prefill", "decode")
ATTENTION = ("per_head", "merged")


@dataclass(frozen=True)
class Transformer:
    """The dimensions of a transformer that decide its GEMMs."""

    family: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    experts: int = 0          # 0: a dense FFN
    experts_per_token: int = 0

    @property
    def encoder(self) -> bool:
        return self.family in ENCODERS


class _Fields:
    """Typed access to the config's fields, each error naming the file and the field."""

    def __init__(self, doc: dict[str, Any], file: str) -> None:
        self.doc = doc
        self.file = file

    def int(self, key: str, default: int | None = None, *, maximum: int = MAX_DIMENSION) -> int:
        value = self.doc.get(key, default)
        if value is None:
            if key in self.doc:
                raise InputError("is null", file=self.file, field=key,
                                 expected=f"a positive integer of at most {maximum}")
            raise InputError("missing", file=self.file, field=key,
                             expected=f"a positive integer of at most {maximum}")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
            raise InputError(f"{show(value)} is not valid", file=self.file, field=key,
                             expected=f"a positive integer of at most {maximum}")
        return value

    def optional(self, key: str, default: int) -> int:
        return default if self.doc.get(key) is None else self.int(key)


def read_transformer(doc: Any, file: str) -> Transformer:
    """The dimensions of a config document, checked field by field."""
    if not isinstance(doc, dict):
        raise InputError("a config must be a JSON object", file=file, field="(top level)",
                         expected=EXPECTED)
    family = doc.get("model_type")
    if not isinstance(family, str) or family not in FAMILIES:
        raise InputError(f"model_type {show(family)} is not supported", file=file,
                         field="model_type", expected="one of " + ", ".join(FAMILIES))
    f = _Fields(doc, file)
    if family in ("gpt2", "gptj"):
        hidden, layers, heads = f.int("n_embd"), f.int("n_layer"), f.int("n_head")
        ffn = f.optional("n_inner", 4 * hidden)
        kv_heads, head_dim = heads, _head_dim(hidden, heads, file, "n_head")
    else:
        hidden, layers = f.int("hidden_size"), f.int("num_hidden_layers")
        heads, ffn = f.int("num_attention_heads"), f.int("intermediate_size")
        kv_heads = f.optional("num_key_value_heads", heads) if family in LLAMA_LIKE else heads
        head_dim = (f.int("head_dim") if doc.get("head_dim") is not None
                    else _head_dim(hidden, heads, file, "num_attention_heads"))
        if heads % kv_heads:
            raise InputError(f"{heads} attention heads are not a multiple of {kv_heads} KV "
                             "heads", file=file, field="num_key_value_heads",
                             expected="a divisor of num_attention_heads")
    experts = per_token = 0
    if family == "mixtral":
        experts = f.int("num_local_experts", maximum=4096)
        per_token = f.int("num_experts_per_tok", maximum=experts)
    return Transformer(family, hidden, layers, heads, kv_heads, head_dim, ffn,
                       f.int("vocab_size"), experts, per_token)


def _head_dim(hidden: int, heads: int, file: str, field: str) -> int:
    if hidden % heads:
        raise InputError(f"hidden size {hidden} is not divisible by {heads} heads", file=file,
                         field=field, expected="a divisor of the hidden size (or head_dim)")
    return hidden // heads


def transformer_gemms(t: Transformer, *, seq_len: int, batch: int = 1, phase: str = "prefill",
                      attention: str = "per_head") -> list[Gemm]:
    """One GEMM per projection and attention product, counts over the layers."""
    if phase not in PHASES:
        raise InputError(f"phase {show(phase)}", field="phase", expected="prefill or decode")
    if attention not in ATTENTION:
        raise InputError(f"attention {show(attention)}", field="attention",
                         expected="per_head or merged")
    if t.encoder and phase == "decode":
        raise InputError(f"{t.family} is an encoder: it has no decode phase", field="phase",
                         expected="prefill")
    queries = seq_len if phase == "prefill" else 1
    rows = batch * queries
    h, q_width, kv_width = t.hidden, t.heads * t.head_dim, t.kv_heads * t.head_dim
    spec: list[tuple[str, int, int, int, int]] = []       # name, m, n, k, count per layer
    if t.family == "gpt2":
        spec.append(("qkv_proj", rows, 3 * q_width, h, 1))
    else:
        spec += [("q_proj", rows, q_width, h, 1), ("k_proj", rows, kv_width, h, 1),
                 ("v_proj", rows, kv_width, h, 1)]
    if attention == "per_head":
        spec += [("attn_score", queries, seq_len, t.head_dim, t.heads * batch),
                 ("attn_context", queries, t.head_dim, seq_len, t.heads * batch)]
    else:
        spec += [("attn_score", queries, seq_len, q_width, batch),
                 ("attn_context", queries, q_width, seq_len, batch)]
    spec.append(("o_proj", rows, h, q_width, 1))
    if t.experts:
        spec.append(("router", rows, t.experts, h, 1))
        tokens, extra = divmod(rows * t.experts_per_token, t.experts)
        for m, n_experts in ((tokens + 1, extra), (tokens, t.experts - extra)):
            if m and n_experts:
                spec += [("expert.gate_proj", m, t.ffn, h, n_experts),
                         ("expert.up_proj", m, t.ffn, h, n_experts),
                         ("expert.down_proj", m, h, t.ffn, n_experts)]
    elif t.family in LLAMA_LIKE:
        spec += [("gate_proj", rows, t.ffn, h, 1), ("up_proj", rows, t.ffn, h, 1),
                 ("down_proj", rows, h, t.ffn, 1)]
    else:
        spec += [("ffn_up", rows, t.ffn, h, 1), ("ffn_down", rows, h, t.ffn, 1)]
    gemms = [Gemm(f"{phase}.{name}", m, n, k, c * t.layers) for name, m, n, k, c in spec]
    if not t.encoder:
        gemms.append(Gemm(f"{phase}.lm_head", batch, t.vocab, h, 1))
    return gemms


def read_hf_config(path: str | Path, *, seq_len: int | None = None, batch: int | None = None,
                   phase: str | None = None, attention: str | None = None,
                   name: str | None = None) -> Imported:
    """GEMMs of one prefill pass or one decode step of a Hugging Face model config."""
    p = Path(path)
    file = str(p)
    t = read_transformer(load_json(p, EXPECTED), file)
    if seq_len is None:
        raise InputError("a sequence length is needed", file=file, field="seq_len",
                         expected="--seq-len S (in a study: models: [{model: FILE, seq_len: "
                                  "S, phase: prefill}])")
    phase = phase or "prefill"
    batch = batch or 1
    try:
        raw = transformer_gemms(t, seq_len=seq_len, batch=batch, phase=phase,
                                attention=attention or "per_head")
    except InputError as exc:
        raise InputError(exc.detail, file=file, field=exc.field, expected=exc.expected) from None
    base = p.parent.name if p.stem == "config" and p.parent.name else p.stem
    experts = (f", {t.experts} experts ({t.experts_per_token} per token)" if t.experts else "")
    desc = (f"{t.family} {phase}, seq {seq_len}, batch {batch}: hidden {t.hidden}, "
            f"{t.layers} layers, {t.heads} heads ({t.kv_heads} KV), FFN {t.ffn}{experts}")
    source = {"file": p.name, "format": "huggingface-config", "model_type": t.family,
              "phase": phase, "seq_len": seq_len, "batch": batch,
              "attention": attention or "per_head"}
    return imported(name or base or t.family, raw, file=file, description=desc, source=source)


__all__ = ["FAMILIES", "Transformer", "read_hf_config", "read_transformer",
           "transformer_gemms"]
