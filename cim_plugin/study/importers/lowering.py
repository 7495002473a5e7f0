"""Operators lowered to GEMM shapes, from their input shapes and attributes alone.

Convention (the method's, and the shipped lists'): Z[M,N] = A[M,K] . B[N,K], where B is
the second operand -- the weights of a layer. So for every operator:

- MatMul A[..., M, K] x B[..., K, N]: M, N, K as written. Batch dimensions that B does
  not have (or has as 1) fold into M: a linear layer on [batch, seq, hidden] is one
  GEMM with M = batch*seq. Batch dimensions of B (attention with heads: [b, h, s, d])
  become the GEMM's count: one GEMM shape, run b*h times.
- Gemm: A[M,K] (or [K,M] with transA) x B[K,N] (or [N,K] with transB).
- Conv (im2col): M = batch*H_out*W_out, N = C_out/groups, K = C_in/groups*kh*kw, count =
  groups; a depthwise conv is C_in GEMMs of N = channel multiplier and K = kh*kw. Output
  sizes follow strides, pads (or auto_pad) and dilations as ONNX defines them.
- ConvTranspose: each input pixel scatters a kernel-sized patch, so M = batch*H_in*W_in,
  N = C_out/groups*kh*kw, K = C_in/groups, count = groups (the same MACs as the
  operator, without the zeros a stride-inserted convolution would multiply).
- Einsum of two operands where every label is a batch (both operands and the output),
  an M (first operand and output), an N (second operand and output) or a K label
  (both operands, summed); anything else is not a GEMM.

Functions raise `NotLowerable(reason)`; the caller names the node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


class NotLowerable(ValueError):
    """The operator's shapes or attributes do not describe a valid GEMM."""


@dataclass(frozen=True)
class Shape3:
    """One GEMM shape and how many times it runs."""

    m: int
    n: int
    k: int
    count: int = 1


def _positive(dims: Sequence[int], what: str) -> None:
    for d in dims:
        if d < 1:
            raise NotLowerable(f"{what} has a dimension of {d}")


def _fold_batches(a_batch: Sequence[int], b_batch: Sequence[int]) -> tuple[int, int]:
    """(factor folded into M, count) of broadcast batch dimensions (numpy rules)."""
    rank = max(len(a_batch), len(b_batch))
    a = [1] * (rank - len(a_batch)) + list(a_batch)
    b = [1] * (rank - len(b_batch)) + list(b_batch)
    fold, count = 1, 1
    for x, y in zip(a, b):
        if y == 1:
            fold *= x                   # B shared across this dimension: more rows of A
        elif x == 1 or x == y:
            count *= y                  # a separate B per index: one more GEMM
        else:
            raise NotLowerable(f"batch dimensions {list(a_batch)} and {list(b_batch)} "
                               "do not broadcast")
    return fold, count


def matmul(a: Sequence[int], b: Sequence[int]) -> Shape3:
    """numpy.matmul semantics: 1-D operands are a row (A) or a column (B)."""
    if not a or not b:
        raise NotLowerable("an operand is a scalar")
    _positive(a, "input A")
    _positive(b, "input B")
    am = [1, a[0]] if len(a) == 1 else list(a)
    bm = [b[0], 1] if len(b) == 1 else list(b)
    m, k = am[-2], am[-1]
    k2, n = bm[-2], bm[-1]
    if k != k2:
        raise NotLowerable(f"inner dimensions differ: A {list(a)} x B {list(b)}")
    fold, count = _fold_batches(am[:-2], bm[:-2])
    return Shape3(m * fold, n, k, count)


def gemm(a: Sequence[int], b: Sequence[int], *, trans_a: bool, trans_b: bool) -> Shape3:
    """ONNX Gemm (Y = alpha*A'B' + beta*C); the bias C is not a GEMM."""
    if len(a) != 2 or len(b) != 2:
        raise NotLowerable(f"Gemm needs 2-D inputs, got {list(a)} and {list(b)}")
    _positive(a, "input A")
    _positive(b, "input B")
    m, k = (a[1], a[0]) if trans_a else (a[0], a[1])
    k2, n = (b[1], b[0]) if trans_b else (b[0], b[1])
    if k != k2:
        raise NotLowerable(f"inner dimensions differ: A {list(a)} x B {list(b)} "
                           f"(transA={int(trans_a)}, transB={int(trans_b)})")
    return Shape3(m, n, k)


def _attr_list(value: Sequence[int] | None, default: int, size: int, name: str) -> list[int]:
    if value is None or len(value) == 0:
        return [default] * size
    if len(value) != size:
        raise NotLowerable(f"attribute {name} has {len(value)} values, expected {size}")
    return list(value)


def conv_output(size: int, kernel: int, stride: int, dilation: int, pad_begin: int,
                pad_end: int, auto_pad: str) -> int:
    """Output length of one spatial axis of an ONNX Conv."""
    if stride < 1 or dilation < 1 or pad_begin < 0 or pad_end < 0:
        raise NotLowerable("strides and dilations must be >= 1 and pads >= 0")
    span = (kernel - 1) * dilation + 1
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return -(-size // stride)
    if auto_pad == "VALID":
        out = (size - span) // stride + 1
    elif auto_pad in ("", "NOTSET"):
        out = (size + pad_begin + pad_end - span) // stride + 1
    else:
        raise NotLowerable(f"auto_pad {auto_pad!r} is not one of NOTSET, SAME_UPPER, "
                           "SAME_LOWER, VALID")
    if out < 1:
        raise NotLowerable(f"the kernel (span {span}) is larger than the padded input "
                           f"({size})")
    return out


def _groups(group: int, c_in: int, c_out: int) -> None:
    if group < 1 or c_in % group or c_out % group:
        raise NotLowerable(f"group {group} does not divide the channels ({c_in} in, "
                           f"{c_out} out)")


def _conv_operands(op: str, x: Sequence[int], w: Sequence[int],
                   kernel_shape: Sequence[int] | None) -> tuple[int, int, list[int], list[int]]:
    """(batch, input channels, spatial sizes, kernel sizes) of checked X and W."""
    if len(x) < 3 or len(w) != len(x):
        raise NotLowerable(f"{op} needs X [N, C, spatial...] and W of the same rank, got "
                           f"{list(x)} and {list(w)}")
    _positive(x, "input X")
    _positive(w, "weights W")
    kernel = list(w[2:])
    if kernel_shape and list(kernel_shape) != kernel:
        raise NotLowerable(f"kernel_shape {list(kernel_shape)} differs from W {list(w)}")
    return x[0], x[1], list(x[2:]), kernel


def conv(x: Sequence[int], w: Sequence[int], *, group: int = 1,
         kernel_shape: Sequence[int] | None = None, strides: Sequence[int] | None = None,
         pads: Sequence[int] | None = None, dilations: Sequence[int] | None = None,
         auto_pad: str = "NOTSET") -> Shape3:
    """Conv lowered by im2col (see module docstring); 1-D, 2-D and 3-D alike."""
    batch, c_in, spatial, kernel = _conv_operands("Conv", x, w, kernel_shape)
    c_out, c_per_group = w[0], w[1]
    nd = len(spatial)
    _groups(group, c_in, c_out)
    if c_per_group * group != c_in:
        raise NotLowerable(f"W has {c_per_group} input channels per group, X has {c_in} "
                           f"channels in {group} group(s)")
    st = _attr_list(strides, 1, nd, "strides")
    dl = _attr_list(dilations, 1, nd, "dilations")
    pd = _attr_list(pads, 0, 2 * nd, "pads")
    out = [conv_output(spatial[i], kernel[i], st[i], dl[i], pd[i], pd[i + nd], auto_pad)
           for i in range(nd)]
    return Shape3(batch * math.prod(out), c_out // group, c_per_group * math.prod(kernel),
                  group)


def conv_transpose(x: Sequence[int], w: Sequence[int], *, group: int = 1,
                   kernel_shape: Sequence[int] | None = None) -> Shape3:
    """ConvTranspose lowered per input pixel (see module docstring)."""
    batch, c_in, spatial, kernel = _conv_operands("ConvTranspose", x, w, kernel_shape)
    if w[0] != c_in:
        raise NotLowerable(f"W has {w[0]} input channels, X has {c_in}")
    c_out = w[1] * group
    _groups(group, c_in, c_out)
    return Shape3(batch * math.prod(spatial), w[1] * math.prod(kernel), c_in // group, group)


# ------------------------------------------------------------------------------ einsum

def _expand(term: str, rank: int, ellipsis_rank: int) -> list[str]:
    """Labels of one operand, its '...' spelled as ellipsis labels '0', '1', ... (right
    aligned across operands, as numpy broadcasts them)."""
    if "..." not in term:
        labels = list(term)
    else:
        head, tail = term.split("...", 1)
        if "..." in tail:
            raise NotLowerable("more than one '...' in an operand")
        own = rank - len(head) - len(tail)
        if own < 0:
            raise NotLowerable("an operand has fewer dimensions than its labels")
        labels = list(head) + [str(ellipsis_rank - own + i) for i in range(own)] + list(tail)
    for c in labels:
        if not (c.isdigit() or ("a" <= c <= "z") or ("A" <= c <= "Z")):
            raise NotLowerable(f"label {c!r} is not a letter")
    if len(labels) != rank:
        raise NotLowerable(f"operand has {rank} dimensions but {len(labels)} labels")
    return labels


def einsum(equation: str, a: Sequence[int], b: Sequence[int]) -> Shape3 | None:
    """A two-operand Einsum as a (batched) GEMM, or None when it is not one."""
    eq = equation.replace(" ", "")
    if eq.count("->") > 1:
        raise NotLowerable(f"equation {equation!r} has more than one '->'")
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != 2:
        return None
    _positive(a, "input A")
    _positive(b, "input B")
    ell = max(len(a) - len(terms[0].replace("...", "")) if "..." in terms[0] else 0,
              len(b) - len(terms[1].replace("...", "")) if "..." in terms[1] else 0)
    la = _expand(terms[0], len(a), ell)
    lb = _expand(terms[1], len(b), ell)
    if "->" not in eq:                  # implicit output: labels seen once, sorted
        seen = la + lb
        rhs_labels = sorted({c for c in seen if seen.count(c) == 1 and not c.isdigit()})
        rhs_labels = [str(i) for i in range(ell)] + rhs_labels
    else:
        rhs_labels = _expand(rhs, len(rhs.replace("...", "")) + (ell if "..." in rhs else 0),
                             ell)
    if len(set(la)) != len(la) or len(set(lb)) != len(lb) or len(set(rhs_labels)) != len(rhs_labels):
        return None                     # a repeated label takes a diagonal: not a GEMM
    size: dict[str, int] = {}
    for labels, dims in ((la, a), (lb, b)):
        for c, d in zip(labels, dims):
            if c in size and size[c] != d and 1 not in (size[c], d):
                raise NotLowerable(f"label {c!r} has sizes {size[c]} and {d}")
            size[c] = max(size.get(c, 1), d)
    out = set(rhs_labels)
    if out - set(la) - set(lb):
        raise NotLowerable(f"output labels {sorted(out - set(la) - set(lb))} are not in an "
                           "operand")
    sa, sb = set(la), set(lb)
    if (sa - sb) - out or (sb - sa) - out:
        return None                     # a label summed within one operand only
    ks = (sa & sb) - out
    if not ks:
        return None                     # no contraction: an outer or elementwise product
    m = math.prod(size[c] for c in sa - sb)
    n = math.prod(size[c] for c in sb - sa)
    k = math.prod(size[c] for c in ks)
    batch = [c for c in la if c in sb and c in out]
    a_dim = dict(zip(la, a))
    b_dim = dict(zip(lb, b))
    fold, count = _fold_batches([a_dim[c] for c in batch], [b_dim[c] for c in batch])
    return Shape3(m * fold, n, k, count)


__all__ = ["NotLowerable", "Shape3", "conv", "conv_output", "conv_transpose", "einsum",
           "gemm", "matmul"]
