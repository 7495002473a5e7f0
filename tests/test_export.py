"""`cim-plugin export`: folder contents, atomicity, bad input."""

from __future__ import annotations

import pytest
import yaml
from test_templates import MACROS

from cim_plugin.cli import main
from cim_plugin.commands import export as export_cmd
from cim_plugin.errors import InputError
from cim_plugin.spec.mapping import load_mapping
from cim_plugin.spec.yamlio import load_yaml


@pytest.fixture(autouse=True)
def local_macros(monkeypatch):
    """Use the method's primitives (cited in test_templates) independent of the library state."""
    def get(name):
        if name not in MACROS:
            raise InputError(f"unknown macro {name!r}", field="macro", expected="a library macro")
        return MACROS[name]
    monkeypatch.setattr(export_cmd, "get_macro", get)


def test_export_cim_rf(tmp_path, capsys):
    out = tmp_path / "d"
    rc = main(["export", "--design", "cim_rf", "--macro", "analog6T", "--gemm", "512,1024,1024",
               "--banks", "1x4", "--threshold", "4", "-o", str(out)])
    assert rc == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["arch.yaml", "components", "constraints.yaml", "map.yaml", "mapper.yaml",
                     "problem.yaml", "top.yaml.jinja2"]
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
    assert "accelergy_plug_ins" in (out / "top.yaml.jinja2").read_text()
    # nothing but the output folder is left behind
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_export_baseline_and_presets(tmp_path):
    assert main(["export", "--design", "tensor_core", "--gemm", "64,64,64", "-o", str(tmp_path / "b")]) == 0
    assert not (tmp_path / "b" / "map.yaml").exists()
    assert main(["export", "--design", "cim_smem", "--macro", "digital6T", "--gemm", "147,1000,147",
                 "--preset", "method", "--duplicate", "-o", str(tmp_path / "s")]) == 0
    arch = load_yaml(tmp_path / "s" / "arch.yaml")["architecture"]["nodes"]
    bank = next(n for n in arch if n.get("name") == "CiMBank")
    assert bank["spatial"] == {"meshX": 1, "meshY": 48}      # method preset, SMEM digital6T


@pytest.mark.parametrize("argv, field", [
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "0,4,4"], "M"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,-1,4"], "N"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,4,2.5"], "K"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,4"], "gemm"),
    (["--design", "cim_l9", "--macro", "analog6T", "--gemm", "4,4,4"], "design"),
    (["--design", "cim_rf", "--macro", "nope", "--gemm", "4,4,4"], "macro"),
    (["--design", "cim_rf", "--macro", "analog6T", "--gemm", "4,4,4", "--banks", "0x4"], "banks"),
    (["--design", "cim_l2", "--macro", "analog6T", "--gemm", "4,4,4", "--preset", "method"], "preset"),
])
def test_bad_input_names_parameter(tmp_path, argv, field):
    import argparse

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
