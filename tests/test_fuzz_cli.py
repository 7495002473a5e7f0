"""Hostile and mistaken inputs through the command line (tests/hostile_corpus.py) and
random ones (hypothesis): every one ends with exit status 2 and one line naming the
file, the field and what would be valid; no traceback, no partial output, nothing
touched in a decoy folder; valid inputs (a UTF-8 byte-order mark, a level named `Off`)
are accepted."""

from __future__ import annotations

import math
import re
import signal
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cim_plugin.cli import main
from tests.hostile_corpus import Case, classify, corpus, prepare, snapshot, valid_cases

#: longest a case may run before it counts as a hang (none comes close)
HANG_SECONDS = 60


class _Hang(BaseException):
    """Raised by the alarm; a BaseException so the CLI's handlers do not turn it into an
    ordinary error."""


def run_case(case: Case, root: Path, capsys, monkeypatch):
    w, decoy, argv, env = prepare(case, root)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    before, decoy_before = snapshot(w), snapshot(decoy)

    def on_alarm(signum, frame):
        raise _Hang

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HANG_SECONDS)
    try:
        rc: int | None = main(argv)
    except _Hang:
        rc = None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    cap = capsys.readouterr()
    return classify(case, rc, cap.out, cap.err, before, snapshot(w), decoy_before, snapshot(decoy))


@pytest.mark.parametrize("case", corpus(), ids=lambda c: c.id)
def test_hostile_input_gets_one_clear_line(case, tmp_path, capsys, monkeypatch):
    outcome = run_case(case, tmp_path, capsys, monkeypatch)
    assert outcome.status == "clean", (outcome.status, outcome.problems, outcome.err)


@pytest.mark.parametrize("case", valid_cases(), ids=lambda c: c.id)
def test_valid_input_is_accepted(case, tmp_path, capsys, monkeypatch):
    outcome = run_case(case, tmp_path, capsys, monkeypatch)
    assert outcome.status == "ok", (outcome.problems, outcome.err)


def test_corpus_covers_every_subcommand_it_owns():
    """The corpus exercises each command whose inputs are validated here."""
    counts: dict[str, int] = {}
    for c in corpus():
        counts[c.command] = counts.get(c.command, 0) + 1
    assert set(counts) == {"model", "map", "ert", "components", "study", "diff", "export",
                           "compare", "workload"}
    assert min(counts.values()) >= 5


# ----------------------------------------------------------------------------- random

_TOKEN = st.one_of(
    st.text(alphabet=string.printable, max_size=12),
    st.text(max_size=6),                                   # any unicode, full-width digits included
    st.integers(-10**30, 10**30).map(str),
    st.sampled_from(["0", "-1", "1_0", "１", "nan", "inf", "1e999", "1.5", " 4", "4 ", "0x10"]),
)


def _one_line_exit(argv: list[str], capsys) -> tuple[int, str]:
    rc = main(argv)
    err = capsys.readouterr().err
    return rc, err


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_TOKEN)
def test_random_jobs_values(value, capsys, tmp_path):
    """--jobs accepts ASCII positive integers only; anything else is one line, exit 2, and
    nothing is created (the config is missing, so even a valid value stops there)."""
    out = tmp_path / "never"
    rc, err = _one_line_exit(["study", str(tmp_path / "missing.yaml"), "-o", str(out),
                              "--jobs", value], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    text = value.strip(" \t")
    is_positive_ascii = re.fullmatch(r"[+-]?[0-9]{1,40}", text) is not None and int(text) > 0
    assert ("--jobs" in err) != is_positive_ascii          # refused exactly when invalid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_TOKEN)
def test_random_regression_thresholds(value, capsys, tmp_path):
    summary = tmp_path / "s.json"
    summary.write_text('{"schema_version": 1, "points": {}}')
    if value.startswith("-"):
        value = " " + value          # let argparse pass it on as a value
    rc, err = _one_line_exit(["diff", str(summary), str(summary), "--max-regression", value],
                             capsys)
    assert rc in (0, 2) and "Traceback" not in err
    if rc == 2:
        assert len(err.strip().splitlines()) == 1 and "--max-regression" in err


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_random_study_configs(text, capsys, tmp_path):
    """Random text as a study config: refused in one line (exit 2) before anything is
    written; the empty config is the default study, which is not run here."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text + "\ncolour: 1\n", encoding="utf-8")
    out = tmp_path / "o"
    rc, err = _one_line_exit(["study", str(cfg), "-o", str(out)], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "c.yaml" in err and not out.exists()


def _is_ascii_int(text: str) -> bool:
    return re.fullmatch(r"[+-]?[0-9]{1,40}", text.strip(" \t")) is not None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_TOKEN)
def test_random_gemm_values(value, capsys, tmp_path):
    """--gemm takes ASCII integers within the bounds only; the baseline design then refuses
    --macro, so a valid GEMM ends there (exit 2 naming --macro) before any work."""
    out = tmp_path / "never"
    rc, err = _one_line_exit(["export", "--design", "tensor_core", "--macro", "analog6T",
                              "--gemm", f"{value},64,64", "-o", str(out)], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    valid = _is_ascii_int(value) and 1 <= int(value) <= 2**31
    assert ("--gemm" in err) != valid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=_TOKEN, y=st.sampled_from(["4", "１", "0", "4096", "1_0"]))
def test_random_banks_values(x, y, capsys, tmp_path):
    """--banks takes XxY of ASCII integers within the bank limits; a valid grid goes on to
    the (unknown) macro, which ends the command."""
    out = tmp_path / "never"
    rc, err = _one_line_exit(["export", "--design", "cim_rf", "--macro", "nosuch",
                              "--gemm", "64,64,64", "--banks", f"{x}x{y}", "-o", str(out)],
                             capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    x_text = x.lstrip(" \t")                # blanks around the whole grid are dropped
    valid = (_is_ascii_int(x_text) and x_text.rstrip(" \t") == x_text and _is_ascii_int(y)
             and 1 <= int(x) <= 1024 and 1 <= int(y) <= 1024 and int(x) * int(y) <= 4096)
    assert ("--banks" in err) != valid, err


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_TOKEN)
def test_random_tolerances(value, capsys, tmp_path):
    """--tolerance takes a finite ASCII number >= 0; a valid one goes on to the (missing)
    folder, which ends the command."""
    folder = tmp_path / "absent"
    rc, err = _one_line_exit(["compare", str(folder), f"--tolerance={value}"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    text = value.strip(" \t")
    number = re.fullmatch(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", text)
    valid = (number is not None and len(text) <= 40 and math.isfinite(float(text))
             and float(text) >= 0)
    assert ("--tolerance" in err) != valid, err
