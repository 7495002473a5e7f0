"""Compare two study summaries (summary.json) and flag regressions per design point.

Used to review a change of the model or of a design in CI: run the study on the base
branch and on the change, diff the two summaries, post the Markdown table as a
pull-request comment and fail when a tracked metric got worse by more than a
threshold. Direction matters: higher is better for throughput and efficiency, lower
is better for energy, latency, EDP and area; a metric without a known direction
(e.g. `macs`) counts as a regression whenever it changes by more than the threshold.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim_plugin.errors import InputError
from cim_plugin.io.safeio import write_text_atomic
from cim_plugin.report.markdown import md_code, md_text
from cim_plugin.spec.values import show
from cim_plugin.spec.yamlio import loads_json, read_input_text

SCHEMA_VERSION = 1
SUMMARY_NAME = "summary.json"
DEFAULT_METRICS = ("tops_per_w", "gops", "energy_J", "latency_s")

_HIGHER = ("tops_per_w", "gops", "utilization")
_LOWER = ("energy_J", "latency_s", "edp_Js", "area_mm2")
#: metric -> +1 (higher is better) or -1 (lower is better)
DIRECTIONS: dict[str, int] = {
    **{m: +1 for m in _HIGHER}, **{f"{m}_vs_baseline": +1 for m in _HIGHER},
    **{f"{m}_ratio_mean": +1 for m in _HIGHER},
    **{m: -1 for m in _LOWER}, **{f"{m}_vs_baseline": -1 for m in _LOWER},
}

IMPROVED, REGRESSED, CHANGED, UNCHANGED = "improved", "regressed", "changed", "unchanged"


@dataclass(frozen=True)
class Summary:
    """One side of a diff: the summary file and its design points."""

    path: Path
    baseline: str
    points: dict[str, dict[str, Any]]
    text: str


@dataclass(frozen=True)
class Change:
    """One metric of one design point that differs between OLD and NEW."""

    point: str
    metric: str
    old: float | None
    new: float | None
    rel: float | None          # (new - old) / |old|; None when a side has no value
    status: str                # improved, regressed, changed (no direction / value lost)
    fails: bool                # beyond the threshold (or any difference with exact=True)


@dataclass
class DiffResult:
    """Everything `cim-plugin diff` reports."""

    old: Summary
    new: Summary
    metrics: tuple[str, ...]
    threshold: float
    exact: bool = False
    changes: list[Change] = field(default_factory=list)
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)
    compared: int = 0
    allow_missing: bool = False

    @property
    def failures(self) -> list[Change]:
        return [c for c in self.changes if c.fails]

    @property
    def missing_fails(self) -> bool:
        """Points gone from NEW fail unless allowed; any one-sided point fails when exact."""
        if self.exact:
            return bool(self.only_old or self.only_new)
        return bool(self.only_old) and not self.allow_missing

    @property
    def failed(self) -> bool:
        return bool(self.failures) or self.missing_fails

    @property
    def identical(self) -> bool:
        return not self.changes and not self.only_old and not self.only_new


# ----------------------------------------------------------------------------- input

def summary_path(path: str | Path) -> Path:
    """A results folder holds summary.json; a file path is taken as is."""
    p = Path(path)
    return p / SUMMARY_NAME if p.is_dir() else p


def load_summary(path: str | Path) -> Summary:
    """Read and validate a study summary.json (schema_version 1)."""
    p = summary_path(path)
    if not p.is_file():
        raise InputError("no study summary here", file=str(p),
                         expected=f"a {SUMMARY_NAME} file or a study output folder holding one")
    expected = "a summary.json written by `cim-plugin study`"
    text = read_input_text(p, expected)
    doc = loads_json(text, str(p), expected)
    if not isinstance(doc, dict):
        raise InputError("not a study summary", file=str(p), field="(top level)",
                         expected="a JSON object with schema_version and points")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"schema_version {doc.get('schema_version')!r} is not supported",
                         file=str(p), field="schema_version", expected=str(SCHEMA_VERSION))
    points = doc.get("points")
    if not isinstance(points, dict):
        raise InputError("points missing or not an object", file=str(p), field="points",
                         expected='{"<design>/<macro>/<workload>": {metric: value}}')
    for key, vals in points.items():
        if not isinstance(vals, dict):
            raise InputError("a design point must be an object", file=str(p),
                             field=f"points.{key}", expected="{metric: number}")
        for m, v in vals.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise InputError(f"{show(v)} is not a number", file=str(p),
                                 field=f"points.{key}.{m}", expected="a finite number or null")
            if v is not None and (abs(v) > 1e300 or not math.isfinite(v)):
                raise InputError(f"{show(v)} is not finite or too large", file=str(p),
                                 field=f"points.{key}.{m}", expected="a finite number or null")
    return Summary(p, str(doc.get("baseline", "")), points, text)


_THRESHOLD = re.compile(r"^[ \t]*([0-9]{1,15}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})[ \t]*%?[ \t]*$",
                        re.ASCII)


def parse_threshold(text: str | float) -> float:
    """'2%', '2' (percent either way) or '0.5%' -> a fraction (0.02, 0.02, 0.005).

    ASCII digits only, so `２%` or `1_0%` are refused rather than read as 2 % or 10 %.
    """
    m = _THRESHOLD.match(str(text))
    if not m:
        raise InputError(f"{show(text)} is not a percentage", field="--max-regression",
                         expected="a non-negative percentage such as 2% or 0.5%")
    return float(m.group(1)) / 100.0


# --------------------------------------------------------------------------- compare

def _number(v: Any) -> float | None:
    if v is None:
        return None
    x = float(v)
    return None if math.isnan(x) else x


def _compare(point: str, metric: str, old: Any, new: Any, threshold: float,
             exact: bool) -> Change | None:
    a, b = _number(old), _number(new)
    if a == b:
        return None
    direction = DIRECTIONS.get(metric, 0)
    if a is None or b is None:
        # a value that appears is reported; one that is lost is a regression
        status = CHANGED if a is None else REGRESSED
        return Change(point, metric, a, b, None, status, exact or b is None)
    if a == 0:
        rel = math.copysign(math.inf, b)
    else:
        rel = (b - a) / abs(a)
    if direction == 0:
        status, worse = CHANGED, abs(rel)
    else:
        worse = -rel * direction
        status = REGRESSED if worse > 0 else IMPROVED
    return Change(point, metric, a, b, rel, status, exact or worse > threshold)


def all_metrics(*summaries: Summary) -> tuple[str, ...]:
    names: set[str] = set()
    for s in summaries:
        for vals in s.points.values():
            names.update(vals)
    return tuple(sorted(names))


def diff_summaries(old: Summary, new: Summary, metrics: tuple[str, ...] | None = None,
                   threshold: float = 0.0, *, exact: bool = False,
                   allow_missing: bool = False) -> DiffResult:
    """Per design point and tracked metric: what improved, regressed or changed.

    `metrics=None` tracks DEFAULT_METRICS; ("all",) tracks every metric in either file.
    `exact=True` makes any difference a failure (golden files).
    """
    known = all_metrics(old, new)
    if metrics is None or not metrics:
        metrics = DEFAULT_METRICS
    if "all" in metrics:
        metrics = known
    unknown = [m for m in metrics if m not in known and m not in DIRECTIONS]
    if unknown:
        raise InputError(f"unknown metric(s) {unknown}", field="--metric",
                         expected=f"'all' or some of {', '.join(known)}")
    res = DiffResult(old, new, tuple(metrics), threshold, exact, allow_missing=allow_missing)
    res.only_old = sorted(set(old.points) - set(new.points))
    res.only_new = sorted(set(new.points) - set(old.points))
    for point in sorted(set(old.points) & set(new.points)):
        res.compared += 1
        for metric in metrics:
            c = _compare(point, metric, old.points[point].get(metric),
                         new.points[point].get(metric), threshold, exact)
            if c is not None:
                res.changes.append(c)
    return res


# ---------------------------------------------------------------------------- output

def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.6g}"


def _fmt_rel(c: Change) -> str:
    if c.rel is None:
        return "n/a"
    if math.isinf(c.rel):
        return "+inf%" if c.rel > 0 else "-inf%"
    pct = 100 * c.rel
    return f"{pct:+.2g}%" if abs(pct) < 0.01 else f"{pct:+.2f}%"   # tiny changes stay visible


def _ordered(res: DiffResult) -> list[Change]:
    """Failures first, then the rest; each group by point and metric."""
    return sorted(res.changes, key=lambda c: (not c.fails, c.point, res.metrics.index(c.metric)
                                              if c.metric in res.metrics else 0))


def headline(res: DiffResult) -> str:
    n_reg = sum(1 for c in res.changes if c.status == REGRESSED)
    n_imp = sum(1 for c in res.changes if c.status == IMPROVED)
    n_chg = sum(1 for c in res.changes if c.status == CHANGED)
    limit = "failing in exact mode" if res.exact else f"beyond {100 * res.threshold:g}%"
    verdict = "FAIL" if res.failed else "OK"
    names = ", ".join(res.metrics) if len(res.metrics) <= 6 else f"{len(res.metrics)} metrics"
    return (f"{verdict}: {res.compared} design points compared on {names}; "
            f"{n_reg} regressed ({len(res.failures)} {limit}), {n_imp} improved, "
            f"{n_chg} changed; {len(res.only_old)} only in OLD, {len(res.only_new)} only in NEW")


def _rows(res: DiffResult) -> list[list[str]]:
    return [[c.point, c.metric, _fmt(c.old), _fmt(c.new), _fmt_rel(c),
             c.status + (" (fails)" if c.fails else "")] for c in _ordered(res)]


HEADER = ["design point", "metric", "old", "new", "change", "status"]


def format_text(res: DiffResult) -> str:
    """A plain table for the terminal (only what differs)."""
    lines = [f"OLD {res.old.path}", f"NEW {res.new.path}"]
    if res.old.baseline != res.new.baseline:
        lines.append(f"note: baselines differ ({res.old.baseline} vs {res.new.baseline})")
    rows = _rows(res)
    if rows:
        widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
        for r in [HEADER, ["-" * w for w in widths], *rows]:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    for label, pts in (("only in OLD (missing from NEW)", res.only_old),
                       ("only in NEW", res.only_new)):
        for p in pts:
            lines.append(f"{label}: {p}")
    lines.append(headline(res))
    return "\n".join(lines) + "\n"


MARKER = "<!-- cim-plugin-diff -->"


def _md_table(rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(md_text(cell) for cell in r) + " |" for r in rows]
    return out


def format_markdown(res: DiffResult, title: str = "CiM study diff") -> str:
    """Markdown for a pull-request comment: verdict, failures, then the other changes.

    Starts with a hidden marker so a CI job can find and update its own comment.
    """
    parts = [MARKER, f"### {md_text(title)}", "", f"**{md_text(headline(res), 2000)}**", ""]
    if res.old.baseline != res.new.baseline:
        parts += [f"Baselines differ: {md_code(res.old.baseline)} vs {md_code(res.new.baseline)}.",
                  ""]
    if res.identical:
        parts += ["No differences.", ""]
        return "\n".join(parts)
    fails = [r for c, r in zip(_ordered(res), _rows(res)) if c.fails]
    rest = [r for c, r in zip(_ordered(res), _rows(res)) if not c.fails]
    if fails:
        parts += ["#### Regressions beyond the threshold", "", *_md_table(fails), ""]
    if rest:
        parts += [f"<details><summary>Other changes ({len(rest)})</summary>", "",
                  *_md_table(rest), "", "</details>", ""]
    if res.only_old or res.only_new:
        parts += ["#### Design points on one side only", ""]
        parts += [f"- only in OLD (missing from NEW): {md_code(p)}" for p in res.only_old]
        parts += [f"- only in NEW: {md_code(p)}" for p in res.only_new]
        parts.append("")
    return "\n".join(parts)


def bless_target(old_path: str | Path) -> Path:
    """The file `--bless` writes: OLD itself, or the summary.json of the folder OLD names."""
    p = Path(old_path)
    # a folder, or a new path without .json, names a study folder
    folder = p.is_dir() or (not p.exists() and p.suffix.lower() != ".json")
    return p / SUMMARY_NAME if folder else p


def bless(old_path: str | Path, new: Summary) -> Path:
    """Copy NEW's summary.json over OLD's (atomically), accepting NEW as the golden file."""
    target = bless_target(old_path)
    if target.resolve() == new.path.resolve():
        return target
    write_text_atomic(target, new.text)
    return target


__all__ = ["DEFAULT_METRICS", "DIRECTIONS", "Change", "DiffResult", "Summary", "bless",
           "bless_target",
           "diff_summaries", "format_markdown", "format_text", "headline", "load_summary",
           "parse_threshold", "summary_path"]
