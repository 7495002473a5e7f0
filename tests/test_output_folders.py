"""Output folders: which ones may be used, the marker cim-plugin leaves in its own, and
writes that never follow a link and publish all outputs or none."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from cim_plugin.cli import main
from cim_plugin.errors import InputError
from cim_plugin.io.outdir import MARKER, check_output_dir
from cim_plugin.io.safeio import SafeFolder, Staging, write_text_atomic
from tests.hostile_corpus import MAP_DOC, PROBLEM
from tests.test_model_tensor_core import TENSOR_CORE_ARCH, TENSOR_CORE_ART, TENSOR_CORE_ERT


@pytest.fixture
def specs(tmp_path):
    files = {"arch.yaml": {"architecture": copy.deepcopy(TENSOR_CORE_ARCH)},
             "problem.yaml": PROBLEM, "map.yaml": MAP_DOC, "ert.yaml": TENSOR_CORE_ERT,
             "art.yaml": TENSOR_CORE_ART}
    src = tmp_path / "specs"
    src.mkdir()
    for name, doc in files.items():
        (src / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return [str(src / "arch.yaml"), str(src / "problem.yaml"), "--mapping", str(src / "map.yaml"),
            "--ert", str(src / "ert.yaml"), "--art", str(src / "art.yaml")]


def test_model_marks_its_folder_and_may_write_there_again(specs, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["model", *specs, "-o", str(out)]) == 0
    assert (out / MARKER).is_file()
    assert main(["model", *specs, "-o", str(out)]) == 0            # its own folder: no --force
    capsys.readouterr()


def test_foreign_folder_needs_force(specs, tmp_path, capsys):
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["model", *specs, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not made by cim-plugin" in err and "--force" in err
    assert sorted(os.listdir(out)) == ["notes.txt"]
    assert main(["model", *specs, "-o", str(out), "--force"]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "stats.txt").is_file()


@pytest.mark.parametrize("target", ["/", "/etc", "/usr", "/proc/x", "/sys/kernel/x", "/dev/x"])
def test_system_folders_are_refused_even_with_force(target):
    with pytest.raises(InputError) as e:
        check_output_dir(Path(target), "-o", force=True)
    assert e.value.field == "-o"


def test_dangling_link_as_output_folder(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(InputError, match="link to nothing"):
        check_output_dir(tmp_path / "link", "-o", force=False)
    assert not (tmp_path / "nowhere").exists()


def test_unwritable_path_is_an_input_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError) as e:
        write_text_atomic(tmp_path / "file" / "sub" / "r.json", "{}")
    assert "r.json" in str(e.value) and "cannot write" in str(e.value)


def test_write_replaces_a_link_without_following_it(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "report.md").symlink_to(target)
    with SafeFolder.open(folder) as f:
        f.write_bytes("report.md", b"new")
    assert target.read_text() == "keep"
    assert not (folder / "report.md").is_symlink() and (folder / "report.md").read_text() == "new"
    write_text_atomic(folder / "other.md", "x")
    (folder / "link.md").symlink_to(target)
    write_text_atomic(folder / "link.md", "y")
    assert target.read_text() == "keep" and (folder / "link.md").read_text() == "y"


def test_subfolder_link_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "cache").symlink_to(elsewhere)
    with SafeFolder.open(out) as f, pytest.raises(InputError, match="symbolic link"):
        f.subfolder("cache")
    assert list(elsewhere.iterdir()) == []


def test_staging_publishes_all_or_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.txt").mkdir()                  # an output name taken by a folder
    staging = Staging()
    staging.add("a.txt", "A")
    staging.add("b.txt", "B")
    with SafeFolder.open(out) as f, pytest.raises(InputError, match="is a folder"):
        staging.publish(f)
    assert sorted(os.listdir(out)) == ["b.txt"]                   # no a.txt, no temporary files
    (out / "b.txt").rmdir()
    with SafeFolder.open(out) as f:
        staging.publish(f)
    assert (out / "a.txt").read_text() == "A" and (out / "b.txt").read_text() == "B"
    assert sorted(os.listdir(out)) == ["a.txt", "b.txt"]


def test_temporary_names_are_unpredictable(tmp_path):
    with SafeFolder.open(tmp_path) as f:
        names = {f.write_temp("x.png", b"1") for _ in range(20)}
    assert len(names) == 20 and all(n.startswith(".x.png.") and n.endswith(".tmp") for n in names)


def test_usage_errors_are_one_line(capsys):
    assert main(["study", "--jobs"]) == 2
    assert main(["diff", "only-one"]) == 2
    assert main(["components", "bogus"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(": error: " in line and "--help" in line for line in lines)
