"""GEMM workloads of the study: shipped lists, user lists, sweeps and model-derived GEMMs.

GEMM notation (method): Z[M,N] = A[M,K] . B[N,K]; B are the weights. A `Gemm` carries a
`count`: how many times the shape runs in one pass of its workload (repeated layers,
heads, batch), so per-model totals weight repeated layers. Per-GEMM statistics (mean
and std over a workload's GEMMs, as the method plots them) are taken over the listed
entries, unweighted.

Shipped lists live in `cim_plugin/study/workloads/*.yaml`; each names its source.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.spec.limits import (
    MAX_COUNT,
    MAX_DIMENSION,
    MAX_GEMMS,
    check_bound,
    check_macs,
)
from cim_plugin.spec.names import check_label
from cim_plugin.spec.problem import Problem, gemm_problem
from cim_plugin.spec.values import show, to_int
from cim_plugin.spec.yamlio import load_yaml, read_input_text

WORKLOAD_DIR = Path(__file__).resolve().parent / "workloads"

#: other spellings accepted by `load_workload` (the reference file names among them)
ALIASES = {
    "bert": "bert-large",
    "gptj": "gpt-j-6b",
    "gpt-j": "gpt-j-6b",
    "resnet": "resnet50",
    "resnet-50": "resnet50",
    "m-32gemms": "mgemms-32",
    "m-128gemms": "mgemms-128",
    "m-256gemms": "mgemms-256",
}


@dataclass(frozen=True)
class Gemm:
    """One GEMM shape and how often it runs in its workload."""

    name: str
    m: int
    n: int
    k: int
    count: int = 1
    workload: str = ""

    @property
    def macs(self) -> int:
        """MACs of one execution (M*N*K)."""
        return self.m * self.n * self.k

    @property
    def total_macs(self) -> int:
        """MACs of all `count` executions."""
        return self.macs * self.count

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.m, self.n, self.k)

    @property
    def algorithmic_reuse(self) -> float:
        """MACs per element of A, B and Z (the reference lists' "AlgorithmReuse" column)."""
        return self.macs / (self.m * self.k + self.n * self.k + self.m * self.n)

    def problem(self) -> Problem:
        """Timeloop's gemm_ABZ problem of this shape."""
        return gemm_problem(self.m, self.n, self.k, name=self.name or "gemm_ABZ")


@dataclass(frozen=True)
class Workload:
    """A named list of GEMMs (one pass: one inference, one decode step, one sweep)."""

    name: str
    gemms: tuple[Gemm, ...]
    description: str = ""
    source: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.gemms)

    def __iter__(self):
        return iter(self.gemms)

    @property
    def total_macs(self) -> int:
        """Count-weighted MACs of the whole workload."""
        return sum(g.total_macs for g in self.gemms)

    def shapes(self) -> list[tuple[int, int, int]]:
        return [g.shape for g in self.gemms]

    def merged(self) -> Workload:
        """Equal shapes combined (counts added), first-appearance order."""
        by_shape: dict[tuple[int, int, int], Gemm] = {}
        for g in self.gemms:
            if g.shape in by_shape:
                prev = by_shape[g.shape]
                by_shape[g.shape] = replace(prev, name=f"{prev.name}+{g.name}",
                                            count=prev.count + g.count)
            else:
                by_shape[g.shape] = g
        return replace(self, gemms=tuple(by_shape.values()))

    def to_frame(self):
        """pandas DataFrame: workload, gemm, m, n, k, count, macs, total_macs."""
        import pandas as pd

        return pd.DataFrame(
            [{"workload": self.name, "gemm": g.name, "m": g.m, "n": g.n, "k": g.k,
              "count": g.count, "macs": g.macs, "total_macs": g.total_macs}
             for g in self.gemms],
            columns=["workload", "gemm", "m", "n", "k", "count", "macs", "total_macs"])


# --------------------------------------------------------------------------- loading

def list_workloads() -> list[str]:
    """Names of the shipped workloads."""
    return sorted(p.stem for p in WORKLOAD_DIR.glob("*.yaml"))


def load_workload(name_or_path: str | Path) -> Workload:
    """A shipped workload by name, or a user list from a .yaml/.yml/.csv/.tsv/.txt file."""
    text = str(name_or_path)
    p = Path(text)
    if p.suffix.lower() in (".yaml", ".yml", ".csv", ".tsv", ".txt") or p.exists():
        if not p.exists():
            raise InputError("workload file not found", file=text, field="workloads",
                             expected="an existing .yaml or .csv file, or one of "
                                      + ", ".join(list_workloads()))
        if p.suffix.lower() in (".yaml", ".yml"):
            return workload_from_yaml(load_yaml(p), file=str(p))
        return load_gemm_csv(p)
    key = ALIASES.get(text.lower(), text.lower())
    shipped = WORKLOAD_DIR / f"{key}.yaml"
    if not shipped.is_file():
        raise InputError(f"unknown workload {text!r}", field="workload",
                         expected="a file path or one of " + ", ".join(list_workloads()))
    return workload_from_yaml(load_yaml(shipped), file=str(shipped))


def _positive_int(value: Any, *, file: str | None, field_name: str,
                  maximum: int = MAX_DIMENSION) -> int:
    """A positive integer written plainly: `6_4`, full-width digits, `1.5` and `true`
    are refused rather than coerced (`cim_plugin.spec.values`)."""
    return to_int(value, file=file, field=field_name, minimum=1, maximum=maximum,
                  expected=f"a positive integer of at most {maximum}")


def _gemm(name: Any, dims: list[int], count: int, workload: str, *, file: str | None,
          where: str, name_field: str) -> Gemm:
    """A checked GEMM: a displayable name, MACs x count within the limits."""
    label = check_label(name, file=file, field=name_field, what="GEMM name")
    check_macs(dims, file=file, field=where, count=count)
    return Gemm(label, dims[0], dims[1], dims[2], count, workload)


def check_workload(w: Workload, *, file: str | None = None, field: str = "gemms") -> Workload:
    """Every GEMM of a workload within the limits (dimensions, MACs x count, how many)."""
    if len(w.gemms) > MAX_GEMMS:
        raise InputError(f"{len(w.gemms)} GEMMs", file=file, field=field,
                         expected=f"at most {MAX_GEMMS} GEMMs in one workload")
    for i, g in enumerate(w.gemms):
        where = f"{field}[{i}] ({g.name})"
        for label, v in (("m", g.m), ("n", g.n), ("k", g.k)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise InputError(f"{label}={show(v)} is not an integer", file=file, field=where,
                                 expected="positive integers")
            check_bound(v, file=file, field=where, what=f"{label.upper()}")
        to_int(g.count, file=file, field=f"{where}.count", minimum=1, maximum=MAX_COUNT)
        check_macs((g.m, g.n, g.k), file=file, field=where, count=g.count)
    return w


def workload_from_yaml(doc: Any, *, file: str | None = None, name: str | None = None) -> Workload:
    """Workload from a YAML document with `gemms:` and/or `sweeps:` (see shipped files)."""
    if not isinstance(doc, dict):
        raise InputError("a workload file must be a mapping", file=file, field="(top level)",
                         expected="keys name, gemms and/or sweeps")
    wname = check_label(doc.get("name") or name or (Path(file).stem if file else "workload"),
                        file=file, field="name", what="workload name")
    unknown = set(doc) - {"name", "gemms", "sweeps", "source", "description", "count_basis"}
    if unknown:
        raise InputError(f"unknown key(s) {sorted(map(str, unknown))}", file=file,
                         field=str(sorted(map(str, unknown))[0]),
                         expected="name, description, source, count_basis, gemms, sweeps")
    gemms: list[Gemm] = []
    entries = doc.get("gemms") or []
    if not isinstance(entries, list):
        raise InputError("gemms must be a list", file=file, field="gemms",
                         expected="a list of {name, m, n, k, count}")
    if len(entries) > MAX_GEMMS:
        raise InputError(f"{len(entries)} GEMMs", file=file, field="gemms",
                         expected=f"at most {MAX_GEMMS} GEMMs in one workload")
    for i, e in enumerate(entries):
        where = f"gemms[{i}]"
        if not isinstance(e, dict):
            raise InputError("each GEMM must be a mapping", file=file, field=where,
                             expected="{name, m, n, k, count}")
        unknown = set(e) - {"name", "m", "n", "k", "count", "note"}
        if unknown:
            raise InputError(f"unknown key(s) {sorted(unknown)}", file=file, field=where,
                             expected="name, m, n, k, count, note")
        dims = {}
        for d in ("m", "n", "k"):
            if d not in e:
                raise InputError(f"missing {d}", file=file, field=f"{where}.{d}",
                                 expected="a positive integer")
            dims[d] = _positive_int(e[d], file=file, field_name=f"{where}.{d}")
        count = _positive_int(e.get("count", 1), file=file, field_name=f"{where}.count",
                              maximum=MAX_COUNT)
        gemms.append(_gemm(e.get("name") or f"g{i}", [dims["m"], dims["n"], dims["k"]], count,
                           wname, file=file, where=where, name_field=f"{where}.name"))
    sweeps = doc.get("sweeps") or []
    if not isinstance(sweeps, list):
        raise InputError("sweeps must be a list", file=file, field="sweeps",
                         expected="a list of {m: [...], n: [...], k: [...]} (or nk, mnk)")
    for i, s in enumerate(sweeps):
        gemms.extend(_sweep_from_spec(s, file=file, where=f"sweeps[{i}]", workload=wname,
                                      room=MAX_GEMMS - len(gemms)))
    if not gemms:
        raise InputError("no GEMMs", file=file, field="gemms",
                         expected="a non-empty gemms or sweeps list")
    source = doc.get("source") if isinstance(doc.get("source"), dict) else {}
    return Workload(wname, tuple(gemms), str(doc.get("description") or ""), dict(source))


_SWEEP_KEYS = ("m", "n", "k", "nk", "mnk")


def _sweep_from_spec(spec: Any, *, file: str | None, where: str, workload: str,
                     room: int = MAX_GEMMS) -> list[Gemm]:
    if not isinstance(spec, dict) or not spec or set(spec) - set(_SWEEP_KEYS):
        raise InputError("bad sweep", file=file, field=where,
                         expected="a mapping with lists under m, n, k, nk (N=K) or mnk (M=N=K)")
    values: dict[str, list[int]] = {}
    for key, vals in spec.items():
        if not isinstance(vals, list) or not vals:
            raise InputError("sweep values must be a non-empty list", file=file,
                             field=f"{where}.{key}", expected="a list of positive integers")
        values[key] = [_positive_int(v, file=file, field_name=f"{where}.{key}[{j}]")
                       for j, v in enumerate(vals)]
        if len(set(values[key])) != len(values[key]):
            raise InputError("a sweep value repeats", file=file, field=f"{where}.{key}",
                             expected="distinct values")
    covered = "".join(values)
    if sorted(covered) != ["k", "m", "n"]:
        raise InputError(f"sweep covers dimensions {covered!r}", file=file, field=where,
                         expected="each of m, n, k exactly once (via m, n, k, nk or mnk)")
    size = math.prod(len(v) for v in values.values())
    if size > room:
        raise InputError(f"the sweep has {size} GEMMs", file=file, field=where,
                         expected=f"at most {MAX_GEMMS} GEMMs in one workload")
    biggest = {c: max(v) for key, v in values.items() for c in key}
    check_macs(biggest.values(), file=file, field=where)
    return grid(values, workload=workload)


def grid(values: dict[str, Sequence[int]], *, workload: str = "sweep") -> list[Gemm]:
    """Cartesian product over keys among m, n, k, nk (N=K tied), mnk (M=N=K tied).

    Order: the key holding M outermost, then N, then K (the reference lists' order).
    """
    order = sorted(values, key=lambda key: min("mnk".index(c) for c in key))
    out: list[Gemm] = []
    for combo in itertools.product(*(values[key] for key in order)):
        dims: dict[str, int] = {}
        for key, v in zip(order, combo):
            for c in key:
                dims[c] = int(v)
        m, n, k = dims["m"], dims["n"], dims["k"]
        out.append(Gemm(f"M{m}_N{n}_K{k}", m, n, k, 1, workload))
    return out


def sweep(ms: Iterable[int], nks: Iterable[int], *, name: str = "sweep") -> Workload:
    """Synthetic sweep: every M in `ms` times every N=K in `nks` (e.g. powers of two)."""
    return Workload(name, tuple(grid({"m": list(ms), "nk": list(nks)}, workload=name)),
                    "synthetic sweep: M x (N=K)")


def powers_of_two(lo: int = 16, hi: int = 8192) -> list[int]:
    """16, 32, ..., 8192 (the method's synthetic range by default)."""
    return [1 << e for e in range(int(math.log2(lo)), int(math.log2(hi)) + 1)]


_CSV_ALIASES = {
    "m": "m", "n": "n", "k": "k", "count": "count", "repeat": "count", "repeats": "count",
    "name": "name", "gemm": "name", "layer": "name",
    "workload": "workload", "workload type": "workload", "ml workload type": "workload",
}


def load_gemm_csv(path: str | Path, *, name: str | None = None) -> Workload:
    """GEMMs from a CSV (or tab-separated) file with a header naming M, N, K [, count, name].

    Extra columns (e.g. the reference lists' #MACs, reuse figures) are ignored.
    """
    p = Path(path)
    file = str(p)
    text = read_input_text(p, "a CSV GEMM list with columns m, n, k [, count, name]")
    lines: list[str] = []
    for ln in io.StringIO(text):            # lazily: stop at the row limit, not after a split
        ln = ln.rstrip("\r\n")
        if ln.strip() and not ln.lstrip().startswith("#"):
            lines.append(ln)
            if len(lines) - 1 > MAX_GEMMS:
                raise InputError(f"more than {MAX_GEMMS} GEMM rows", file=file, field="rows",
                                 expected=f"at most {MAX_GEMMS} GEMMs in one workload")
    if not lines:
        raise InputError("empty GEMM list", file=file, field="header",
                         expected="a header with columns m, n, k [, count, name]")
    delim = "\t" if "\t" in lines[0] else ","
    try:
        rows = list(csv.reader(lines, delimiter=delim))
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", file=file, field="rows",
                         expected="comma- or tab-separated rows") from None
    header = [_CSV_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in rows[0]]
    missing = [c for c in ("m", "n", "k") if c not in header]
    if missing:
        raise InputError(f"missing column(s) {missing}", file=file, field="header",
                         expected="columns m, n, k [, count, name]")
    col = {h: i for i, h in reversed(list(enumerate(header)))}
    wname = check_label(name or p.stem, file=file, field="name", what="workload name")
    gemms: list[Gemm] = []
    for r, row in enumerate(rows[1:], start=2):          # file line numbers (header = 1)
        def cell(key: str, default: Any = None, row=row) -> Any:
            i = col.get(key)
            return row[i].strip() if i is not None and i < len(row) and row[i].strip() else default
        dims = [_positive_int(cell(d), file=file, field_name=f"row {r}, column {d}")
                for d in ("m", "n", "k")]
        count = _positive_int(cell("count", 1), file=file, field_name=f"row {r}, column count",
                              maximum=MAX_COUNT)
        gemms.append(_gemm(cell("name") or f"row{r}", dims, count, wname, file=file,
                           where=f"row {r}", name_field=f"row {r}, column name"))
    if not gemms:
        raise InputError("no GEMM rows", file=file, field="rows", expected="at least one row")
    return Workload(wname, tuple(gemms), f"GEMM list from {p.name}")


# ----------------------------------------------------------------- model descriptions

def transformer_gemms(*, hidden: int, heads: int, seq_len: int, batch: int = 1,
                      ffn_mult: float = 4.0, ffn_hidden: int | None = None, layers: int = 1,
                      phase: str = "prefill", kv_len: int | None = None,
                      attention: str = "per_head", name: str = "transformer") -> Workload:
    """GEMMs of a transformer encoder/decoder stack (weights B = the [N, K] operand).

    phase "prefill": seq_len query tokens attend to kv_len (default seq_len) keys.
    phase "decode": one new token per sequence attends to kv_len cached keys.
    attention "per_head": the score Q.K^T and the context P.V are per-head GEMMs
    (M=queries, N=keys, K=head_dim) and (M=queries, N=head_dim, K=keys) with count
    heads*batch*layers. "merged": heads folded into K and N respectively (M=queries,
    N=keys, K=hidden) and (M=queries, N=hidden, K=keys) -- the same MACs, and the
    convention of the method's BERT/GPT-J lists.
    Projections act on batch*queries rows. Softmax, norms and biases are not GEMMs.
    """
    for label, v in (("hidden", hidden), ("heads", heads), ("seq_len", seq_len),
                     ("batch", batch), ("layers", layers)):
        _preset_int(label, v)
    if ffn_hidden is not None:
        _preset_int("ffn_hidden", ffn_hidden)
    if isinstance(ffn_mult, bool) or not isinstance(ffn_mult, int | float) \
            or not 0 < ffn_mult <= 1e6:
        raise InputError(f"ffn_mult={show(ffn_mult)}", field="ffn_mult",
                         expected="a number > 0 and at most 1e6")
    if hidden % heads:
        raise InputError(f"hidden {hidden} is not divisible by heads {heads}", field="heads",
                         expected="a divisor of hidden")
    if phase not in ("prefill", "decode"):
        raise InputError(f"phase={show(phase)}", field="phase", expected="prefill or decode")
    if attention not in ("per_head", "merged"):
        raise InputError(f"attention={show(attention)}", field="attention",
                         expected="per_head or merged")
    queries = seq_len if phase == "prefill" else 1
    kv = kv_len if kv_len is not None else seq_len
    _preset_int("kv_len", kv)
    ffn = ffn_hidden if ffn_hidden is not None else int(round(hidden * ffn_mult))
    d_head = hidden // heads
    rows = batch * queries
    if attention == "per_head":
        score = (queries, kv, d_head, heads * batch * layers)
        context = (queries, d_head, kv, heads * batch * layers)
    else:
        score = (queries, kv, hidden, batch * layers)
        context = (queries, hidden, kv, batch * layers)
    spec = [
        ("qkv_proj", rows, hidden, hidden, 3 * layers),
        ("attn_score", *score),
        ("attn_context", *context),
        ("out_proj", rows, hidden, hidden, layers),
        ("ffn_up", rows, ffn, hidden, layers),
        ("ffn_down", rows, hidden, ffn, layers),
    ]
    gemms = tuple(Gemm(f"{phase}.{g}", m, n, k, c, name) for g, m, n, k, c in spec)
    return check_workload(
        Workload(name, gemms, f"{phase}: hidden {hidden}, {heads} heads, seq {seq_len}, "
                              f"kv {kv}, batch {batch}, FFN {ffn}, {layers} layers"),
        field=name)


def _preset_int(label: str, v: Any) -> None:
    """A model parameter: a positive integer (not a bool, not 1.5) within the limits."""
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_DIMENSION:
        raise InputError(f"{label}={show(v)}", field=label,
                         expected=f"a positive integer of at most {MAX_DIMENSION}")


@dataclass(frozen=True)
class ConvLayer:
    """A 2-D convolution by its output size (groups = 1)."""

    name: str
    c_in: int
    c_out: int
    r: int                 # kernel height
    s: int                 # kernel width
    h_out: int
    w_out: int
    count: int = 1


def conv_out(size: int, kernel: int, stride: int = 1, padding: int | None = None) -> int:
    """Output size of a convolution (padding defaults to kernel // 2, 'same' style)."""
    pad = kernel // 2 if padding is None else padding
    return (size + 2 * pad - kernel) // stride + 1


def cnn_gemms(layers: Iterable[ConvLayer], *, batch: int = 1, name: str = "cnn") -> Workload:
    """Convolutions lowered to GEMM (im2col): M = H_out*W_out*batch, N = C_out, K = R*S*C_in."""
    gemms = tuple(Gemm(c.name, c.h_out * c.w_out * batch, c.c_out, c.r * c.s * c.c_in,
                       c.count, name) for c in layers)
    return Workload(name, gemms, f"convolutions lowered to GEMM, batch {batch}")


def resnet50_layers(*, image: int = 224, include_downsample: bool = True) -> list[ConvLayer]:
    """ResNet-50 (v1.5: stride on the 3x3 conv of a bottleneck) conv layers and the FC layer.

    The FC layer is a 1x1 "convolution" on a 1x1 map. `include_downsample=False` drops
    the four 1x1 projection shortcuts, as the method's ResNet50 list does.
    """
    out: list[ConvLayer] = []
    h = conv_out(image, 7, 2, 3)
    out.append(ConvLayer("conv1", 3, 64, 7, 7, h, h))
    h = conv_out(h, 3, 2, 1)                         # max pool 3x3/2
    c_in = 64
    for stage, (blocks, width, stride) in enumerate(((3, 64, 1), (4, 128, 2),
                                                     (6, 256, 2), (3, 512, 2)), start=1):
        c_out = 4 * width
        for b in range(blocks):
            st = stride if b == 0 else 1
            h2 = conv_out(h, 3, st, 1)
            pre = f"layer{stage}.{b}"
            out.append(ConvLayer(f"{pre}.conv1", c_in, width, 1, 1, h, h))
            out.append(ConvLayer(f"{pre}.conv2", width, width, 3, 3, h2, h2))
            out.append(ConvLayer(f"{pre}.conv3", width, c_out, 1, 1, h2, h2))
            if b == 0 and include_downsample:
                out.append(ConvLayer(f"{pre}.downsample", c_in, c_out, 1, 1, h2, h2))
            c_in, h = c_out, h2
    out.append(ConvLayer("fc", c_in, 1000, 1, 1, 1, 1))
    return out


def bert_large(*, seq_len: int = 512, batch: int = 1, attention: str = "per_head") -> Workload:
    """BERT-Large encoder: hidden 1024, 16 heads, FFN 4096, 24 layers (Devlin et al. 2019)."""
    return transformer_gemms(hidden=1024, heads=16, seq_len=seq_len, batch=batch,
                             ffn_hidden=4096, layers=24, attention=attention, name="bert-large")


def gptj_6b(*, phase: str = "decode", seq_len: int = 2048, kv_len: int | None = None,
            batch: int = 1, attention: str = "per_head") -> Workload:
    """GPT-J-6B: hidden 4096, 16 heads, FFN 16384, 28 layers (EleutherAI model card).

    The LM head (4096 -> 50400) is not included, as in the method's list.
    """
    return transformer_gemms(hidden=4096, heads=16, seq_len=seq_len, batch=batch,
                             ffn_hidden=16384, layers=28, phase=phase, kv_len=kv_len,
                             attention=attention, name="gpt-j-6b")


def resnet50(*, batch: int = 1, image: int = 224, include_downsample: bool = True) -> Workload:
    """ResNet-50 inference GEMMs (He et al. 2016; torchvision v1.5 strides)."""
    _preset_int("batch", batch)
    _preset_int("image", image)
    if not isinstance(include_downsample, bool):
        raise InputError(f"include_downsample={show(include_downsample)}",
                         field="include_downsample", expected="true or false")
    return check_workload(
        cnn_gemms(resnet50_layers(image=image, include_downsample=include_downsample),
                  batch=batch, name="resnet50"), field="resnet50")


PRESETS = {"bert-large": bert_large, "gpt-j-6b": gptj_6b, "resnet50": resnet50}


def model_gemms(model: str, **kwargs: Any) -> Workload:
    """GEMMs of a preset model description (bert-large, gpt-j-6b, resnet50)."""
    if not isinstance(model, str):
        raise InputError(f"model {show(model)} is not a name", field="model",
                         expected=", ".join(sorted(PRESETS)))
    key = ALIASES.get(model.lower(), model.lower())
    if key not in PRESETS:
        raise InputError(f"unknown model {model!r}", field="model",
                         expected=", ".join(sorted(PRESETS)))
    return PRESETS[key](**kwargs)
