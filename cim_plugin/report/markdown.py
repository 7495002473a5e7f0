"""Text from users (workload, GEMM and macro names, error messages) inside Markdown.

Markdown renders inline HTML and interprets punctuation, so a workload named
`<script>...` would become a live script in a rendered report, and a `|` would break a
table. `md_text` backslash-escapes the characters Markdown gives a meaning to (a
backslash-escaped `<` is shown, never parsed as HTML) and folds line breaks, so a name
always renders as the literal text it is; `md_code` gives a code span instead.
`plot_text` does the same for matplotlib labels, where `$` starts mathtext.
"""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = frozenset("\\`*[]<>|~&$")


def md_text(value: Any, limit: int = 200) -> str:
    """One line of literal text for Markdown (escaped, line breaks folded, bounded).

    `_` is escaped where it could open or close emphasis (next to a non-word character);
    inside a word, as in `cim_smem`, it is plain text and stays as written.
    """
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    out = []
    for i, c in enumerate(text):
        if c in _MD_SPECIAL:
            out.append(f"\\{c}")
        elif c == "_" and not (0 < i < len(text) - 1 and text[i - 1].isalnum()
                               and text[i + 1].isalnum()):
            out.append("\\_")
        else:
            out.append(c)
    return "".join(out)


def md_code(value: Any, limit: int = 200) -> str:
    """Literal text as a Markdown code span (nothing inside a code span is parsed); the
    fence is longer than any run of backticks in the text."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plot_text(value: Any, limit: int = 60) -> str:
    """A label for matplotlib: `$` would start mathtext (and can fail to parse)."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.replace("$", r"\$")


__all__ = ["md_code", "md_text", "plot_text"]
