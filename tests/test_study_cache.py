"""The study's result cache: an entry is reused only when it verifies, and the key covers
everything that decides a result (library contents included).

Each corruption of an entry (garbage bytes, `null`, `[]`, a missing result, an energy
multiplied by ten, an entry written for another key, a link in its place) makes the
study evaluate that point again and rewrite the entry; the recomputed record equals the
original, so the damage never reaches the results.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from cim_plugin.library import loader
from cim_plugin.study import runner
from cim_plugin.study.cache import decode_entry, encode_entry, entry_name, fingerprint
from cim_plugin.study.config import load_config
from cim_plugin.study.runner import Point, run_points, study_gemms, study_points

CONFIG = "designs: [cim_rf]\nmacros: [analog6T]\nworkloads: []\nsweep_m: [16]\nsweep_nk: [256]\n"


def _cfg(tmp: Path):
    path = tmp / "s.yaml"
    path.write_text(CONFIG)
    cfg = load_config(path)
    return cfg, study_points(cfg, study_gemms(cfg))


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """One evaluated study folder (2 points) and its records."""
    tmp = tmp_path_factory.mktemp("cache")
    cfg, points = _cfg(tmp)
    out = tmp / "out"
    out.mkdir()
    records = run_points(cfg, points, out, jobs=1, progress=False)
    assert all(isinstance(r, dict) for r in records.values())
    return cfg, points, out, records


@pytest.fixture
def counting(monkeypatch):
    """Counts real evaluations (the evaluation itself is the real one)."""
    calls: list[Point] = []
    real = runner.evaluate_point

    def wrapper(point, cfg, *rest):
        calls.append(point)
        return real(point, cfg, *rest)

    monkeypatch.setattr(runner, "evaluate_point", wrapper)
    return calls


def _stable(records: dict) -> dict:
    """Records without the mapper's wall-clock seconds (the only field a rerun changes)."""
    out = {}
    for p, rec in records.items():
        rec = json.loads(json.dumps(rec))
        rec["mapper"].pop("seconds", None)
        out[p] = rec
    return out


def _copy(base_run, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(base_run[2], out, symlinks=True)
    return out


def _entry(cfg, point: Point, out: Path) -> Path:
    return out / "cache" / entry_name(point.key(cfg))


def test_rerun_uses_every_verified_entry(base_run, tmp_path, counting):
    cfg, points, _, records = base_run
    out = _copy(base_run, tmp_path)
    again = run_points(cfg, points, out, jobs=1, progress=False)
    assert counting == [] and again == records


def _energy_times_ten(data: bytes) -> bytes:
    doc = json.loads(data)
    doc["record"]["result"]["energy_pJ"] *= 10
    return json.dumps(doc).encode()


def _drop_result(data: bytes) -> bytes:
    doc = json.loads(data)
    del doc["record"]["result"]
    return json.dumps(doc).encode()


def _other_key(data: bytes) -> bytes:
    doc = json.loads(data)
    return encode_entry("0" * 64, doc["record"])


CORRUPTIONS = {
    "garbage": lambda data: os.urandom(64) + b"\x00\xff",
    "null": lambda data: b"null",
    "empty-list": lambda data: b"[]",
    "truncated": lambda data: data[: len(data) // 2],
    "missing-result": _drop_result,
    "energy-x10": _energy_times_ten,
    "entry-of-another-key": _other_key,
    "empty-file": lambda data: b"",
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupt_entry_is_recomputed(base_run, tmp_path, counting, name):
    cfg, points, _, records = base_run
    out = _copy(base_run, tmp_path)
    victim = points[-1]                                   # the CiM point
    path = _entry(cfg, victim, out)
    path.write_bytes(CORRUPTIONS[name](path.read_bytes()))
    again = run_points(cfg, points, out, jobs=1, progress=False)
    assert counting == [victim]                          # only the damaged point
    assert _stable(again) == _stable(records)            # the damage did not reach the results
    rewritten = decode_entry(path.read_bytes(), victim.key(cfg), victim.__dict__)
    assert _stable({victim: rewritten}) == _stable({victim: records[victim]})


def test_energy_x10_would_change_the_result_if_trusted(base_run):
    """The tampered entry differs from the real record, so the test above is meaningful."""
    cfg, points, out, records = base_run
    victim = points[-1]
    data = _entry(cfg, victim, out).read_bytes()
    tampered = json.loads(_energy_times_ten(data))["record"]
    assert tampered["result"]["energy_pJ"] == pytest.approx(10 * records[victim]["result"]["energy_pJ"])
    assert decode_entry(_energy_times_ten(data), victim.key(cfg), victim.__dict__) is None


def test_link_in_place_of_an_entry_is_not_followed(base_run, tmp_path, counting):
    cfg, points, _, records = base_run
    out = _copy(base_run, tmp_path)
    victim = points[0]
    decoy = tmp_path / "decoy.json"
    shutil.copy(_entry(cfg, victim, out), decoy)
    before = decoy.read_bytes()
    _entry(cfg, victim, out).unlink()
    _entry(cfg, victim, out).symlink_to(decoy)
    again = run_points(cfg, points, out, jobs=1, progress=False)
    assert counting == [victim] and _stable(again) == _stable(records)
    assert decoy.read_bytes() == before                   # read neither trusted nor written through
    assert not _entry(cfg, victim, out).is_symlink()      # replaced by a real entry


def _library_with_analog6t_energy(path: Path, pj: float) -> Path:
    doc = yaml.safe_load(loader.builtin_library_path().read_text())
    entry = next(m for m in doc["macros"] if m["name"] == "analog6T")
    path.write_text(yaml.safe_dump({"macros": [{**entry, "energy_per_mac": f"{pj} pJ"}]}))
    return path


def test_library_change_invalidates_the_cache(base_run, tmp_path, counting, monkeypatch):
    """A user library (CIM_PLUGIN_LIBRARY) that overrides analog6T with twice its energy
    per MAC: every point is recomputed and the CiM point's energy changes; editing the
    same file again recomputes again; removing it brings the original entries back."""
    cfg, points, _, records = base_run
    out = _copy(base_run, tmp_path)
    lib = _library_with_analog6t_energy(tmp_path / "lib.yaml", 0.30)
    monkeypatch.setenv(loader.ENV_VAR, str(lib))
    loader.clear_cache()
    changed = run_points(cfg, points, out, jobs=1, progress=False)
    assert sorted(map(str, counting)) == sorted(map(str, points))
    cim = points[-1]
    assert changed[cim]["result"]["energy_pJ"] > records[cim]["result"]["energy_pJ"]
    counting.clear()
    _library_with_analog6t_energy(lib, 0.45)              # same path, new contents
    loader.clear_cache()
    third = run_points(cfg, points, out, jobs=1, progress=False)
    assert len(counting) == len(points)
    assert third[cim]["result"]["energy_pJ"] > changed[cim]["result"]["energy_pJ"]
    counting.clear()
    monkeypatch.delenv(loader.ENV_VAR)
    loader.clear_cache()
    assert run_points(cfg, points, out, jobs=1, progress=False) == records
    assert counting == []


def test_key_covers_configuration_and_fingerprint(base_run, tmp_path):
    cfg, points, _, _ = base_run
    p = points[-1]
    import dataclasses

    fp = fingerprint(cfg.backend)
    keys = {p.key(cfg, fp), p.key(dataclasses.replace(cfg, objective="energy"), fp),
            p.key(dataclasses.replace(cfg, search="exact"), fp),
            p.key(dataclasses.replace(cfg, sizing="iso-area"), fp),
            p.key(dataclasses.replace(cfg, banks=(1, 2)), fp),
            p.key(cfg, "0" * 64)}
    assert len(keys) == 6
    # fields that do not reach one point's evaluation leave its key alone
    assert p.key(dataclasses.replace(cfg, paper_compat=True, workloads=("dlrm",)), fp) \
        == p.key(cfg, fp)


def test_cache_folder_that_is_a_link_is_refused(base_run, tmp_path, counting):
    from cim_plugin.errors import InputError

    cfg, points, _, _ = base_run
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "cache").symlink_to(elsewhere)
    with pytest.raises(InputError) as e:
        run_points(cfg, points, out, jobs=1, progress=False)
    assert "symbolic link" in str(e.value) and "cache" in str(e.value)
    assert list(elsewhere.iterdir()) == [] and counting == []
