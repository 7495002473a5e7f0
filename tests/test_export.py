"""`cim-plugin export`: folder contents, portability, atomicity, bad input.

What a Timeloop user does with the folder is checked here without the tools: the
timeloopfe top files are rendered with the template functions timeloopfe gives them
(`cwd`, `include`, `include_all`, `add_to_path`, as Accelergy's utils/yaml.py defines
them), and the embedded model, which reproduces timeloop-model (test_model_reference),
evaluates the exported mapping with Timeloop's one cycle per compute. The real tools
run the same folders in test_timeloop_roundtrip.py.
"""

from __future__ import annotations

import argparse
import glob
import json
import shutil
from pathlib import Path

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from cim_plugin.cli import main
from cim_plugin.commands import export as export_cmd
from cim_plugin.errors import InputError
from cim_plugin.export.readme import MAPPER_COMMAND, MODEL_COMMAND, RAW_COMMAND
from cim_plugin.library import ert_gen
from cim_plugin.model.evaluate import ModelOptions, evaluate
from cim_plugin.spec.arch import load_architecture
from cim_plugin.spec.mapping import load_mapping
from cim_plugin.spec.problem import load_problem
from cim_plugin.spec.yamlio import load_yaml
from tests.test_templates import MACROS

FILES = ["README.md", "arch.yaml", "components", "constraints.yaml", "map.v4.yaml", "map.yaml",
         "mapper.yaml", "model.yaml.jinja2", "problem.yaml", "top.yaml.jinja2"]


@pytest.fixture(autouse=True)
def local_macros(monkeypatch):
    """Use the method's primitives (cited in test_templates) independent of the library state."""
    def get(name):
        if name not in MACROS:
            raise InputError(f"unknown macro {name!r}", field="macro", expected="a library macro")
        return MACROS[name]
    monkeypatch.setattr(export_cmd, "get_macro", get)


def _export(out: Path, *argv: str) -> Path:
    assert main(["export", *argv, "-o", str(out)]) == 0
    return out


def render_like_timeloopfe(top: Path) -> dict:
    """The top file rendered with timeloopfe's template functions; includes are checked
    to exist (and to hold the included key) and replaced by what they include."""
    folder = top.parent

    def pick(path: Path, key: str):
        doc = load_yaml(path)
        for part in key.split("."):
            doc = doc[part]
        return doc

    def include(p: str, key: str = "") -> str:
        path = folder / p
        assert path.is_file(), p
        return json.dumps(pick(path, key))

    def include_all(p: str, key: str = "") -> str:
        found = sorted(glob.glob(str(folder / p)))
        assert found, p
        out = []
        for f in found:
            out.extend(pick(Path(f), key))
        return json.dumps(out)

    env = SandboxedEnvironment(undefined=StrictUndefined)
    env.globals.update(cwd=lambda: str(folder), include=include, include_all=include_all,
                       add_to_path=lambda p: "")
    return yaml.safe_load(env.from_string(top.read_text()).render())


def test_export_cim_rf(tmp_path, capsys):
    out = _export(tmp_path / "d", "--design", "cim_rf", "--macro", "analog6T", "--gemm",
                  "512,1024,1024", "--banks", "1x4", "--threshold", "4")
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert sorted(p.name for p in (out / "components").iterdir()) == [
        "cim_components.yaml", "cim_plugin_accelergy.py"]
    arch = load_yaml(out / "arch.yaml")
    assert arch["architecture"]["nodes"][0]["!"] == "Container"
    assert load_yaml(out / "problem.yaml")["problem"]["instance"] == {"M": 512, "N": 1024, "K": 1024}
    m = load_mapping(out / "map.yaml")
    # hand derivation in test_priority.test_bert_analog6T_hand_derivation
    assert m.levels["SMEM"].temporal == {"M": 512, "N": 1, "K": 2}
    assert m.levels["inter_CiMBank_spatial"].spatial == {"M": 1, "N": 4, "K": 1}
    cons = yaml.safe_load((out / "constraints.yaml").read_text())["constraints"]["targets"]
    assert {"target": "DRAM", "type": "temporal", "factors": "M=1,N=4,K=8",
            "permutation": "KNM"} in cons
    # nothing but the output folder is left behind
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_export_is_portable(tmp_path):
    """No absolute path in the folder; moved elsewhere, its top files still find every
    file they include and the Accelergy plug-in entry in the folder's components/."""
    out = _export(tmp_path / "here", "--design", "cim_smem", "--macro", "digital6T",
                  "--gemm", "64,256,256")
    import cim_plugin

    forbidden = {str(tmp_path), str(Path(cim_plugin.__file__).resolve().parent.parent),
                 str(Path.cwd())}
    for f in out.rglob("*"):
        if f.is_file():
            text = f.read_text()
            assert not any(s in text for s in forbidden), f.name
    moved = Path(shutil.move(str(out), str(tmp_path / "elsewhere" / "design")))
    for top in ("top.yaml.jinja2", "model.yaml.jinja2"):
        doc = render_like_timeloopfe(moved / top)
        (entry,) = doc["globals"]["accelergy_plug_ins"]
        assert Path(entry) == moved / "components" / "cim_plugin_accelergy.py"
        assert Path(entry).is_file()
        names = {c["name"] for c in doc["components"]["classes"]}
        assert {"custom_storage", "cimmac_unit", "smartbuffer_metadata", "DRAM"} <= names
        assert doc["architecture"]["nodes"] and doc["problem"]["instance"]["K"] == 256
    assert "constraints" in render_like_timeloopfe(moved / "top.yaml.jinja2")
    model_doc = render_like_timeloopfe(moved / "model.yaml.jinja2")
    assert "constraints" not in model_doc and model_doc["mapping"]


@pytest.mark.parametrize("argv", [
    ("--design", "tensor_core", "--gemm", "64,128,256"),
    ("--design", "tensor_core_l2", "--gemm", "32,256,128"),
    ("--design", "cim_rf", "--macro", "analog6T", "--gemm", "64,128,256"),
    ("--design", "cim_smem", "--macro", "digital8T", "--gemm", "16,512,256", "--banks", "1x4"),
    ("--design", "cim_smem_beside", "--macro", "digital6T", "--gemm", "64,256,256"),
    ("--design", "cim_l2", "--macro", "analog8T", "--gemm", "16,256,512", "--banks", "2x4"),
])
def test_every_design_carries_a_mapping_that_timeloop_semantics_evaluate(tmp_path, argv):
    """map.yaml and map.v4.yaml hold the same complete mapping; evaluated with Timeloop's
    rule (one cycle per compute) on the exported architecture it gives the figures the
    README promises, which are `cim-plugin model`'s (macro latency applied): the CiM
    storage's read bandwidth of 1/latency makes Timeloop's cycles the macro's."""
    out = _export(tmp_path / "d", *argv)
    doc = {**load_yaml(out / "arch.yaml"), **load_yaml(out / "problem.yaml")}
    arch, problem = load_architecture(doc), load_problem(doc)
    mapping = load_mapping(out / "map.yaml", dims=problem.dimensions)
    assert load_yaml(out / "map.yaml")["architecture_constraints"] == {"targets": []}
    # the v0.4 form names nodes: spatial loops of node X are those of inter_X_spatial
    v4 = load_yaml(out / "map.v4.yaml")["mapping"]
    for e in v4:
        assert isinstance(e["factors" if "factors" in e else "keep"], list)
        level = f"inter_{e['target']}_spatial" if e["type"] == "spatial" else e["target"]
        lm = mapping.levels[level]
        if e["type"] == "dataspace":
            assert (set(e["keep"]), set(e["bypass"])) == (lm.keep, lm.bypass)
            continue
        factors = dict(f.split("=") for f in e["factors"])
        got = lm.spatial if e["type"] == "spatial" else lm.temporal
        assert {d: int(v) for d, v in factors.items()} == {d: got.get(d, 1) for d in factors}
    assert {e["target"] for e in v4 if e["type"] == "temporal"} == {
        s.base_name for s in arch.storage if not s.dummy}
    ert, art = ert_gen.generate_tables(arch)
    timeloop_rule = evaluate(arch, problem, mapping, ert, art, ModelOptions(compute_latency_cycles=1))
    r = tmp_path / "r.json"
    assert main(["model", str(out / "arch.yaml"), str(out / "problem.yaml"),
                 str(out / "constraints.yaml"), "--mapping", str(out / "map.yaml"),
                 "--json", str(r)]) == 0
    ours = json.loads(r.read_text())
    assert not [w for w in ours["warnings"] if "constraint" in w]   # map.yaml obeys constraints.yaml
    assert timeloop_rule.cycles == ours["cycles"]
    assert timeloop_rule.energy_pJ == pytest.approx(ours["energy_pJ"], rel=1e-9)
    readme = (out / "README.md").read_text()
    assert f"Cycles: {ours['cycles']}, Energy: {ours['energy_pJ'] / 1e6:.2f} uJ." in readme
    for command in (MODEL_COMMAND, MAPPER_COMMAND, RAW_COMMAND):
        assert command in readme


def test_latency_is_the_cim_storage_read_bandwidth(tmp_path):
    """analog8T: 144 cycles per operation (method.md). C0 = 64*128*256 / (4*64*4 CiM cells
    with N=4 x K=64 per macro array, 4 banks over N) = 2048 compute cycles; x 144 = 294912."""
    out = _export(tmp_path / "d", "--design", "cim_rf", "--macro", "analog8T", "--gemm",
                  "64,128,256", "--banks", "1x4")
    nodes = load_yaml(out / "arch.yaml")["architecture"]["nodes"]
    leaves = [n for n in nodes if "nodes" not in n] + [c for n in nodes for c in n.get("nodes", [])]
    storage = next(n for n in leaves if n.get("name") == "CiMStorage")
    unit = next(n for n in leaves if n.get("name") == "CiMUnit")
    assert storage["attributes"]["read_bandwidth"] == pytest.approx(1 / 144)
    assert unit["attributes"]["cim_latency_cycles"] == 144
    text = (out / "arch.yaml").read_text()
    # Accelergy evaluates unquoted attribute strings as expressions: strings stay quoted
    assert 'type: "zero"' in text and 'type: "analog8T"' in text and 'technology: "45nm"' in text
    assert "Cycles: 294912," in (out / "README.md").read_text()


def test_export_baseline_and_presets(tmp_path):
    b = _export(tmp_path / "b", "--design", "tensor_core", "--gemm", "64,64,64")
    assert (b / "map.yaml").is_file()
    assert "One cycle per MAC" in (b / "README.md").read_text()
    s = _export(tmp_path / "s", "--design", "cim_smem", "--macro", "digital6T", "--gemm",
                "147,1000,147", "--preset", "method", "--duplicate")
    arch = load_yaml(s / "arch.yaml")["architecture"]["nodes"]
    bank = next(n for n in arch if n.get("name") == "CiMBank")
    assert bank["spatial"] == {"meshX": 1, "meshY": 48}      # method preset, SMEM digital6T
    assert "cim-plugin export --design cim_smem --macro digital6T --gemm 147,1000,147 " \
           "--duplicate --preset method" in (s / "README.md").read_text()


def test_paper_compat_export_carries_the_placeholder_area(tmp_path):
    out = _export(tmp_path / "d", "--design", "cim_rf", "--macro", "analog6T", "--gemm",
                  "64,64,64", "--paper-compat")
    assert (out / "arch.yaml").read_text().count('cim_area: "placeholder"') == 4
    assert main(["ert", str(out / "arch.yaml"), "-o", str(tmp_path / "t")]) == 0
    areas = load_yaml(tmp_path / "t" / "ART.yaml")["ART"]["tables"]
    cim = {t["name"].split(".", 1)[1].split("[")[0]: t["area"] for t in areas}
    assert [cim[n] for n in ("CiMInpBuffer", "CiMOutBuffer", "CiMStorage", "CiMUnit")] == [1.0] * 4
    assert "WWW placeholder" in (out / "README.md").read_text()


@pytest.mark.parametrize("argv, field", [
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "0,4,4"], "--gemm"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,-1,4"], "--gemm"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,4,2.5"], "--gemm"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,4"], "--gemm"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "6_4,4,4"], "--gemm"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,\uff14,4"], "--gemm"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4294967296,4,4"], "--gemm"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "2147483648,2147483648,2"], "--gemm"),
    (["--design", "cim_l9", "--macro", "analog6T", "--gemm", "4,4,4"], "design"),
    (["--design", "cim_rf", "--macro", "nope", "--gemm", "4,4,4"], "macro"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,4,4", "--banks", "0x4"], "--banks"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,4,4", "--banks", "100000x100000"],
     "--banks"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,4,4", "--banks", "1x\uff14"],
     "--banks"),
    (["--design", "cim_l2", "--macro", "analog6T", "--gemm", "4,4,4", "--preset", "method"], "preset"),
])
def test_bad_input_names_parameter(tmp_path, argv, field):
    p = argparse.ArgumentParser()
    export_cmd.add_arguments(p)
    args = p.parse_args([*argv, "-o", str(tmp_path / "x")])
    with pytest.raises(InputError) as e:
        export_cmd.write_folder(tmp_path / "x", args)
    assert e.value.field == field
    assert list(tmp_path.iterdir()) == []


def test_cli_exit_code_on_bad_input(tmp_path, capsys):
    rc = main(["export", "--design", "cim_rf", "--macro", "analog6T", "--gemm", "0,1,1",
               "-o", str(tmp_path / "x")])
    assert rc == 2
    assert "M" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["empty", "absent", "decoy"])
def test_output_link_is_refused_and_left_alone(tmp_path, capsys, target):
    """`-o` naming a symbolic link (to an empty folder, to nothing, to someone else's
    folder) is refused in one line before any work; the link and its target stay as
    they were and no temporary folder is left behind."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "decoy").mkdir()
    (tmp_path / "decoy" / "keep.txt").write_text("mine")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / target)
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = main(["export", "--design", "cim_rf", "--macro", "analog6T", "--gemm", "64,64,64",
               "-o", str(link)])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "symbolic link" in err
    assert str(link) in err and "-o" in err
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == before
    assert list((tmp_path / "empty").iterdir()) == []
    assert [p.name for p in (tmp_path / "decoy").iterdir()] == ["keep.txt"]


def test_link_planted_before_publishing_is_not_followed(tmp_path, monkeypatch):
    """A link that appears at the output path while the folder is written is reported,
    never renamed over or written through; the finished temporary folder is removed."""
    from cim_plugin.export import folder as folder_mod

    out, elsewhere = tmp_path / "d", tmp_path / "elsewhere"
    elsewhere.mkdir()
    real_make = folder_mod._make_tmp_dir

    def make_then_plant(o):
        tmp = real_make(o)
        o.symlink_to(elsewhere)
        return tmp

    monkeypatch.setattr(folder_mod, "_make_tmp_dir", make_then_plant)
    parser = argparse.ArgumentParser()
    export_cmd.add_arguments(parser)
    args = parser.parse_args(["--design", "cim_rf", "--macro", "analog6T", "--gemm", "64,64,64",
                              "-o", str(out)])
    with pytest.raises(InputError) as e:
        export_cmd.write_folder(out, args)
    assert e.value.file == str(out) and e.value.field == "-o"
    assert out.is_symlink() and list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "elsewhere"]
