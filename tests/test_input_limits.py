"""Input limits (cim_plugin.spec.limits): oversized files are refused before they are read,
YAML alias bombs and deep nesting before anything is built, so memory stays bounded; the
numbers are Python's own allocations (tracemalloc), not timings."""

from __future__ import annotations

import tracemalloc

import pytest

from cim_plugin.cli import main
from cim_plugin.errors import InputError
from cim_plugin.spec.limits import MAX_NESTING, MAX_YAML_NODES, SIZE_ENV_VAR, max_input_bytes
from cim_plugin.spec.yamlio import load_yaml, loads_yaml
from cim_plugin.study.workloads import load_gemm_csv
from tests.hostile_corpus import BOMB

MiB = 2**20


def _peak(fn) -> tuple[int, Exception | None]:
    """Peak bytes Python allocated while `fn` ran, and what it raised."""
    tracemalloc.start()
    try:
        fn()
        raised = None
    except InputError as exc:
        raised = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, raised


def test_alias_bomb_is_refused_before_expansion():
    """Nine levels of nine aliases expand to 9^9 = 387 million strings: refused while
    scanning the event stream, with a peak allocation far below one expansion level."""
    peak, exc = _peak(lambda: loads_yaml(BOMB + "x: *i\n", "bomb.yaml"))
    assert isinstance(exc, InputError)
    assert exc.file == "bomb.yaml" and f"{MAX_YAML_NODES}" in str(exc)
    assert peak < 5 * MiB


def test_alias_bomb_through_the_command_line(tmp_path, capsys):
    spec = tmp_path / "problem.yaml"
    spec.write_text(BOMB + "problem:\n  shape: {name: x, dimensions: *i, data_spaces: []}\n"
                           "  instance: {M: 1}\n")
    for argv in (["model", str(spec), "--mapping", str(spec)],
                 ["map", str(spec), "-o", str(tmp_path / "o")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "problem.yaml" in err and "alias" in err
    assert not (tmp_path / "o").exists()


def test_small_aliases_still_work():
    doc = loads_yaml("base: &b {width: 8, depth: 16}\nrf: {<<: *b, depth: 32}\n")
    assert doc["rf"] == {"width": 8, "depth": 32}


def test_nesting_limit():
    depth = MAX_NESTING - 1                       # plus the top-level mapping
    ok = "a: " + "[" * depth + "]" * depth + "\n"
    assert loads_yaml(ok) is not None
    deep = "a: " + "[" * (depth + 1) + "]" * (depth + 1) + "\n"
    with pytest.raises(InputError, match="nested more than"):
        loads_yaml(deep, "deep.yaml")


def test_oversized_yaml_is_not_read(tmp_path):
    """A 50 MB YAML file (the default limit is 8 MiB) is refused from its size alone."""
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(50 * 10**6)
    peak, exc = _peak(lambda: load_yaml(big))
    assert isinstance(exc, InputError) and "input limit" in str(exc) and SIZE_ENV_VAR in str(exc)
    assert peak < 1 * MiB


def test_five_million_row_csv_is_refused_early(tmp_path):
    """The 45 MB, 5-million-row GEMM list: refused before reading (size), and with the
    size limit raised, refused at row 100001 without splitting the whole text."""
    csv = tmp_path / "huge.csv"
    with open(csv, "w") as fh:
        fh.write("m,n,k\n")
        for _ in range(50):
            fh.write("16,16,16\n" * 100_000)
    assert csv.stat().st_size > 45 * 10**6
    peak, exc = _peak(lambda: load_gemm_csv(csv))
    assert isinstance(exc, InputError) and "input limit" in str(exc)
    assert peak < 1 * MiB


def test_row_limit_with_a_raised_size_limit(tmp_path, monkeypatch):
    csv = tmp_path / "rows.csv"
    csv.write_text("m,n,k\n" + "16,16,16\n" * 100_001)
    monkeypatch.setenv(SIZE_ENV_VAR, "64")
    assert max_input_bytes() == 64 * MiB
    peak, exc = _peak(lambda: load_gemm_csv(csv))
    assert isinstance(exc, InputError) and exc.field == "rows" and "100000" in str(exc)
    # the text itself (~0.9 MB) plus the rows kept so far; not a multiple of the file
    assert peak < 40 * MiB


@pytest.mark.parametrize("value", ["0", "-1", "lots", "1.5", "１"])
def test_size_limit_variable_must_be_a_whole_number(monkeypatch, value):
    monkeypatch.setenv(SIZE_ENV_VAR, value)
    with pytest.raises(InputError) as e:
        max_input_bytes()
    assert e.value.field == SIZE_ENV_VAR


def test_huge_integer_literal_is_an_input_error():
    with pytest.raises(InputError, match="too many digits"):
        loads_yaml("M: " + "9" * 5000 + "\n", "p.yaml")


def test_utf8_bom_is_accepted(tmp_path):
    csv = tmp_path / "bom.csv"
    csv.write_bytes("\ufeffname,m,n,k\nproj,64,256,256\n".encode())
    w = load_gemm_csv(csv)
    assert [(g.name, g.m, g.n, g.k) for g in w.gemms] == [("proj", 64, 256, 256)]
    y = tmp_path / "bom.yaml"
    y.write_bytes("\ufeffa: 1\n".encode())
    assert load_yaml(y) == {"a": 1}
